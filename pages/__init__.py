"""Streamlit pages: each module has a render() and small private helpers; pages only draw."""
