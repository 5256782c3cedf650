"""Today's "Say thank you" items: the customers whose referral was reached, booked or won.

Each is one line with the customer's number, an optional note and one click to mark it done.
Logging any call with the customer marks it done too (outreach.leads.thanks). Today shows the
viewer's own whatever rep is picked, then, for a manager looking at someone's day, that rep's.
"""

from __future__ import annotations

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from outreach import clock
from outreach.access import Viewer
from outreach.errors import OutreachError
from outreach.leads.thanks import ThankYouItem, mark_done, open_thank_yous
from outreach.phones import display
from outreach.ui.context import get_runtime
from outreach.ui.text import md_escape, phone_link


def thank_you_panel(viewer: Viewer, rep_id: int, region: str, whose: str = "") -> None:
    """The thank-yous ``rep_id`` owes; ``whose``: their name, when they are not the viewer (a manager)."""
    with get_runtime().db.session() as session:
        items = open_thank_yous(session, viewer, rep_id)
    if not items:
        return
    heading = f"{md_escape(whose)}'s thank-yous" if whose else "Say thank you"
    st.subheader(f"{heading} ({len(items)})")
    for item in items:
        _item(viewer, item, region)


def _item(viewer: Viewer, item: ThankYouItem, region: str) -> None:
    with st.container(border=True, key=f"thanks{item.id}"):
        call = f" · {phone_link(display(item.phone, region), item.phone)}" if item.phone else ""
        st.markdown(f":material/volunteer_activism: {md_escape(item.text)}{call}")
        note, done = st.columns([3, 1], vertical_alignment="bottom")
        note.text_input("Note (optional)", key=f"thanks{item.id}_note", placeholder="e.g. left a voicemail")
        done.button("Thanked", key=f"thanks{item.id}_done", on_click=_done, args=(viewer, item.id),
                    icon=":material/check:", width="stretch")


def _done(viewer: Viewer, thank_you_id: int) -> None:
    note = str(st.session_state.get(f"thanks{thank_you_id}_note", "") or "")
    try:
        with get_runtime().db.session() as session, session.begin():
            mark_done(session, viewer, thank_you_id, note, clock.now())
    except (OutreachError, SQLAlchemyError) as exc:
        # Kept as typed: the note stays in its box for the next try.
        why = exc if isinstance(exc, OutreachError) else type(exc).__name__
        st.session_state["flash_error"] = f"Not marked: {why}."
        return
    st.session_state["flash"] = "Marked as thanked."
