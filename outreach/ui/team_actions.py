"""What the Team page's duplicate buttons do: one transaction each, then a flash message.

Kept apart from outreach.ui.actions (the rep page's buttons) so the two pages change
independently; the messages go through the same flash keys.
"""

from __future__ import annotations

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from outreach import clock
from outreach.access import Viewer
from outreach.errors import OutreachError
from outreach.leads.leads import close_as_duplicate, undo_duplicate
from outreach.models import Lead
from outreach.runtime import team_settings
from outreach.ui.actions import SAVE_FAILED
from outreach.ui.context import get_runtime


def _failed(exc: Exception) -> None:
    st.session_state["flash_error"] = (str(exc) if isinstance(exc, OutreachError)
                                       else SAVE_FAILED.format(type(exc).__name__))


def close_duplicate_of(viewer: Viewer, lead_id: int, kept_key: str) -> None:
    """Close the lead as a repeat of the one chosen under ``kept_key`` (that one is kept)."""
    kept_id = st.session_state.get(kept_key)
    if not kept_id:
        st.session_state["flash_error"] = "Choose the lead it duplicates (the one to keep)."
        return
    try:
        with get_runtime().db.session() as session, session.begin():
            name = close_as_duplicate(session, viewer, lead_id, clock.now(), kept_id=int(kept_id)).full_name
    except (OutreachError, SQLAlchemyError) as exc:
        _failed(exc)
        return
    st.session_state["flash"] = f"{name} closed as a duplicate: no more reminders."


def undo_duplicate_of(viewer: Viewer, key: str) -> None:
    """Take back the "closed as duplicate" chosen under ``key``: its status and reminders return."""
    lead_id = st.session_state.get(key)
    if not lead_id:
        return
    try:
        with get_runtime().db.session() as session, session.begin():
            lead: Lead = undo_duplicate(session, viewer, int(lead_id), team_settings(session), clock.now())
            name, status = lead.full_name, lead.status
    except (OutreachError, SQLAlchemyError) as exc:
        _failed(exc)
        return
    st.session_state["flash"] = f"{name} is no longer a duplicate: back to {status.replace('_', ' ')}."
