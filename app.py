"""Streamlit entry point: `streamlit run app.py` (or `make run`)."""

from outreach.ui.app import main

main()
