"""Home: what the tool is, and the way to a first per-entity report."""
from __future__ import annotations

import streamlit as st


def render() -> None:
    st.title("Fine-tuning workbench")
    st.write(
        "Fine-tune pretrained transformer encoders on your own data — named-entity "
        "recognition first, text classification second — and read what the model "
        "learned, entity by entity."
    )
