"""One lead's whole life on a page, and the form that logs its next step at any time.

Reusable: the Leads page opens a lead with :func:`lead_detail`, and any page can
list the passed appointments that need an answer with :func:`appointments_due_panel`.
Everything typed by people is shown literally (dataframes, or md_escape'd Markdown).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from outreach import clock
from outreach.access import NotAllowed, Viewer
from outreach.errors import OutreachError
from outreach.leads.lead_life import (
    LATER_STEPS,
    HistoryEntry,
    LeadLife,
    appointments_due,
    lead_life,
    log_next_step,
)
from outreach.runtime import team_settings
from outreach.sheet.write_back import STATUS_LABELS
from outreach.ui.context import get_runtime
from outreach.ui.lead_list import lead_contact
from outreach.ui.text import md_escape

LEADS_PAGE = "outreach/ui/pages/leads.py"  # as st.navigation registered it (app.py)
SAVE_FAILED = "The save failed ({}). Nothing you typed was lost: try again in a moment."
DEFAULT_MEETING = time(10, 0)


def _when(at: datetime | None, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%a %d %b %Y %H:%M") if at else ""


def history_rows(history: list[HistoryEntry], zone: ZoneInfo) -> pd.DataFrame:
    """A dataframe shows notes as typed, with no Markdown to escape."""
    return pd.DataFrame([{"When": _when(e.at, zone), "Who": e.who, "What": e.what,
                          "Appointment": _when(e.appointment_at, zone), "Note": e.note}
                         for e in history], columns=["When", "Who", "What", "Appointment", "Note"])


def lead_detail(viewer: Viewer, lead_id: int, key: str = "detail") -> bool:
    """The lead's facts, its history and the next-step form; a warning if the viewer may not see it."""
    runtime = get_runtime()
    try:
        with runtime.db.session() as session:
            life = lead_life(session, viewer, lead_id)
            region = team_settings(session).phone_region
    except NotAllowed:
        st.warning(f"Lead {lead_id} is not one of your leads.")
        return False
    zone = ZoneInfo(viewer.time_zone)
    _facts(life, region, zone)
    st.markdown("**History**")
    if life.history:
        with st.container(key=f"history_table_{key}{lead_id}"):
            st.dataframe(history_rows(life.history, zone), hide_index=True, width="stretch",
                         key=f"{key}{lead_id}_history")
        with st.container(key=f"history_cards_{key}{lead_id}"):  # a phone: one line an event
            for entry in life.history:
                st.caption(md_escape(" · ".join(part for part in (
                    _when(entry.at, zone), entry.who, entry.what, _when(entry.appointment_at, zone),
                    entry.note) if part)))
    else:
        st.caption("Nothing logged yet.")
    next_step_form(viewer, life, next_step_prefix(key, lead_id), zone, _form_counter(key, lead_id))
    return True


def _facts(life: LeadLife, region: str, zone: ZoneInfo) -> None:
    lead = life.lead
    status = STATUS_LABELS.get(lead.status, lead.status)
    st.subheader(f"{md_escape(lead.full_name)} · {md_escape(status)}")
    lead_contact(lead, region)
    concern = lead.kind == "concern"  # the customer's own: never "Referred by" themselves
    facts = [("Owner", life.owner_name), ("Kind", lead.kind.replace("_", " ")),
             ("Received", _when(lead.created_at, zone)),
             ("Concern from" if concern else "Referred by", life.referrer),
             ("How they know them", lead.relationship), ("Concern" if concern else "Needs", lead.need),
             ("Best time", lead.best_time),
             ("Appointment", _when(lead.appointment_at, zone) if lead.status == "appointment" else ""),
             ("Lost because", lead.lost_reason if lead.status == "lost" else "")]
    st.caption("  \n".join(f"{label}: {md_escape(value)}" for label, value in facts if value))


def _form_counter(key: str, lead_id: int) -> str:
    return f"{key}{lead_id}_form"


def next_step_prefix(key: str, lead_id: int) -> str:
    """The form's widget keys; a saved form gets new ones, so the browser shows an empty form
    (deleting a widget's value does not clear what the browser shows for it)."""
    saved = st.session_state.get(_form_counter(key, lead_id), 0)
    return f"{key}{lead_id}_" + (f"{saved}_" if saved else "")


def next_step_form(viewer: Viewer, life: LeadLife, prefix: str, zone: ZoneInfo, counter: str) -> None:
    if life.lead.status == "duplicate":
        st.caption("Closed as a duplicate: nothing more to log here.")
        return
    state = st.session_state
    if life.lead.is_open:  # attempts and conversations have their form on Today, with the reminders
        st.caption("Calls and conversations are logged on Today; an outcome can be logged here now.")
    st.radio("Next step", list(LATER_STEPS), format_func=LATER_STEPS.get, key=f"{prefix}step",
             index=None, horizontal=True)
    chosen = state.get(f"{prefix}step")
    if chosen == "appointment":
        today = clock.now().astimezone(zone).date()
        st.date_input("Appointment date", value=today + timedelta(days=1), min_value=today,
                      key=f"{prefix}date")
        st.time_input(f"Time ({md_escape(zone.key)})", value=DEFAULT_MEETING, key=f"{prefix}time", step=900)
    elif chosen == "lost":
        st.text_input("Why was it lost?", key=f"{prefix}reason", max_chars=300)
    st.text_input("Note", key=f"{prefix}note")
    if error := state.get(f"{prefix}error"):
        st.error(md_escape(error))
    st.button("Save next step", key=f"{prefix}save", type="primary", on_click=save_next_step,
              args=(viewer, life.lead.id, prefix, counter))


def _appointment_at(prefix: str, zone: ZoneInfo) -> datetime | None:
    day, at = st.session_state.get(f"{prefix}date"), st.session_state.get(f"{prefix}time")
    if not isinstance(day, date) or not isinstance(at, time):
        return None
    return datetime.combine(day, at, zone)  # typed in the viewer's zone; stored as UTC


def save_next_step(viewer: Viewer, lead_id: int, prefix: str, counter: str) -> None:
    """One transaction; after a failure every field stays as typed and the reason shows."""
    state = st.session_state
    token = state.setdefault(f"{prefix}token", uuid.uuid4().hex)  # a double click is one save
    step = state.get(f"{prefix}step") or ""
    runtime = get_runtime()
    try:
        with runtime.db.session() as session, session.begin():
            lead = log_next_step(
                session, viewer, lead_id, step, clock.now(),
                appointment_at=_appointment_at(prefix, ZoneInfo(viewer.time_zone)) if step == "appointment"
                else None,
                lost_reason=state.get(f"{prefix}reason", "") or "", note=state.get(f"{prefix}note", "") or "",
                client_token=token)
            name = lead.full_name
    except OutreachError as exc:
        state[f"{prefix}error"] = str(exc)
        return
    except SQLAlchemyError as exc:
        state[f"{prefix}error"] = SAVE_FAILED.format(type(exc).__name__)
        return
    for key in [k for k in state if str(k).startswith(prefix) and k != f"{prefix}token"]:
        del state[key]  # the token stays: a double click's second save is recognised and logs nothing
    state[counter] = state.get(counter, 0) + 1
    state["flash"] = f"{name}: {LATER_STEPS[step]} logged."


def appointments_due_panel(viewer: Viewer, owner_id: int | None = None) -> None:
    """Appointments whose time has passed with nothing logged: each links to its lead on the Leads page."""
    zone = ZoneInfo(viewer.time_zone)
    with get_runtime().db.session() as session:
        due = appointments_due(session, viewer, clock.now(), owner_id)
    if not due:
        return
    st.subheader(f"Appointments to log ({len(due)})")
    st.caption("Their time has passed and nothing was logged since: how did they go?")
    for lead in due:
        label = f"{md_escape(lead.full_name)} · was {_when(lead.appointment_at, zone)}"
        st.page_link(LEADS_PAGE, label=label, icon=":material/event:", query_params={"lead": str(lead.id)})
