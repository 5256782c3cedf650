"""The Streamlit pages. The only part of `outreach` that imports Streamlit.

Pages are thin: they read widgets, call the domain, and show the result.
"""
