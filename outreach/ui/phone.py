"""Pages a rep can work from a phone: 44 px tap targets, and cards instead of wide tables.

A page puts a wide table in a container keyed ``<name>_table`` and the same rows as tappable
cards in one keyed ``<name>_cards``; the CSS shows one of them by the screen's width.
"""

from __future__ import annotations

import streamlit as st

NARROW_PX = 640
_SWAPPED = ("countdown", "leads", "history")  # the containers that come as a table and as cards

PHONE_CSS = f"""<style>
a[href^="tel:"], a[href^="mailto:"] {{ display: inline-flex; align-items: center; min-height: 44px;
  padding: 0 0.5rem; }}
[data-testid="stRadio"] [role="radiogroup"] label {{ min-height: 44px; display: flex; align-items: center;
  padding-right: 0.75rem; }}
[data-testid="stCheckbox"] label {{ min-height: 44px; display: flex; align-items: center; }}
.stButton button, [data-testid="stTab"], [data-testid="stExpander"] summary {{ min-height: 44px; }}
{", ".join(f".st-key-{name}_cards .stButton button" for name in _SWAPPED)} {{
  justify-content: flex-start; text-align: left; }}
@media (max-width: {NARROW_PX}px) {{ {", ".join(f"[class*='st-key-{name}_table']" for name in _SWAPPED)}
  {{ display: none; }} }}
@media (min-width: {NARROW_PX + 1}px) {{ {", ".join(f"[class*='st-key-{name}_cards']" for name in _SWAPPED)}
  {{ display: none; }} }}
</style>"""


def phone_friendly() -> None:
    st.html(PHONE_CSS)
