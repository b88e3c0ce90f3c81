"""Entry point: page config, navigation over pages/, sidebar with queue and device status."""
from __future__ import annotations

import streamlit as st

from pages import home

st.set_page_config(page_title="Fine-tuning workbench", page_icon="🧪", layout="wide")

PAGES = [
    st.Page(home.render, title="Home", icon="🏠", url_path="home", default=True),
]

st.navigation(PAGES).run()
