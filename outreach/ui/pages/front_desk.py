"""Front desk: the person answering the phone turns a caller into someone's lead in seconds.

Phone and e-mail come first and are looked up as soon as they are typed (Tab or Enter), so the
desk knows before the caller finishes whether it is a customer, a lead who calls again, or
someone new. Enter in any other field saves. Below the form: today's callers and who still waits.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from outreach import clock
from outreach.access import NotAllowed, Viewer
from outreach.leads.front_desk import Caller, look_up_caller
from outreach.leads.front_desk_day import IntakeRow, todays_intakes
from outreach.leads.leads import working_reps
from outreach.runtime import team_settings
from outreach.team_settings import TeamSettings
from outreach.ui.auth import current_viewer
from outreach.ui.context import get_runtime
from outreach.ui.front_desk_actions import NOBODY, form_prefix, hand_on, save
from outreach.ui.text import md_escape

ASK = ("Ask for: first and last name, phone number, how they heard about us, and why they are "
       "calling. The right rep gets an e-mail the moment you save.")


def render() -> None:
    viewer = current_viewer()
    if not (viewer.is_front_desk or viewer.is_manager):
        st.error("This page is for the front desk. Your calls and leads are on the Today page.")
        st.stop()
    runtime = get_runtime()
    with runtime.db.session() as session:
        team = team_settings(session)
        reps = {str(r.id): r.name for r in working_reps(session)}
    st.title("Front desk")
    st.caption(ASK)
    _said()
    prefix = form_prefix()
    errors: dict[str, str] = st.session_state.get(f"{prefix}errors", {})
    left, right = st.columns(2)
    left.text_input("Phone", key=f"{prefix}phone", placeholder="(617) 555-0100")
    _error(left, errors, "phone")
    right.text_input("E-mail", key=f"{prefix}email", placeholder="name@example.com")
    _error(right, errors, "email")
    with runtime.db.session() as session:
        caller = look_up_caller(session, viewer, st.session_state.get(f"{prefix}phone", ""),
                                st.session_state.get(f"{prefix}email", ""), team)
    _caller_note(caller)
    _form(viewer, prefix, caller, reps, errors)
    _intakes(viewer, team)


def _said() -> None:
    """After a save: the sentence to say to the caller, and what was saved (until the next caller)."""
    with st.container():
        if said := st.session_state.get("fd_said"):
            sentence, what = said
            st.success(f"Tell the caller: “{md_escape(sentence)}”  \n{md_escape(what)}",
                       icon=":material/record_voice_over:")
        if message := st.session_state.pop("fd_done", None):
            st.success(md_escape(message))
        if message := st.session_state.pop("fd_error", None):
            st.error(md_escape(message))


def _caller_note(caller: Caller) -> None:
    owner = f" · {md_escape(caller.owner_first_name)}'s" if caller.owner_first_name else ""
    if caller.kind == "customer":
        st.info(f"**Existing customer: {md_escape(caller.name)}**{owner} · {md_escape(caller.detail)}. "
                "Saving makes a concern for their rep, with the manager copied.", icon=":material/person:")
    elif caller.kind == "lead":
        st.info(f"**Already a lead: {md_escape(caller.name)}**{owner} · {md_escape(caller.detail)}. "
                "Saving tells the owner they called again; no second lead.", icon=":material/replay:")


def _form(viewer: Viewer, prefix: str, caller: Caller, reps: dict[str, str], errors: dict[str, str]) -> None:
    with st.form(f"{prefix}form", border=False, enter_to_submit=True):
        left, right = st.columns(2)
        left.text_input("First name", key=f"{prefix}first_name")
        _error(left, errors, "first_name")
        right.text_input("Last name", key=f"{prefix}last_name")
        _error(right, errors, "last_name")
        if caller.kind == "customer":
            st.radio("This call is", ["concern", "new"], key=f"{prefix}what", horizontal=True,
                     format_func={"concern": "A concern or question from a customer",
                                  "new": "A new enquiry (a new lead)"}.get)
        st.text_input("How they heard about us", key=f"{prefix}heard_about")
        _error(st, errors, "heard_about")
        st.text_input("Why they are calling", key=f"{prefix}reason")
        _error(st, errors, "reason")
        st.selectbox("Asked for", [NOBODY, *reps], key=f"{prefix}asked_for",
                     format_func=lambda k: "Nobody in particular: the next rep in turn" if k == NOBODY
                     else reps[k])
        _error(st, errors, "asked_for")
        _error(st, errors, "form")
        st.form_submit_button("Save and alert the rep", type="primary", key=f"{prefix}save",
                              on_click=save, args=(viewer, prefix))


def _error(where: Any, errors: dict[str, str], field: str) -> None:
    """``where``: st or a column, so the message sits under its field."""
    if field in errors:
        where.error(md_escape(errors[field]))


def _intakes(viewer: Viewer, team: TeamSettings) -> None:
    now = clock.now()
    try:
        with get_runtime().db.session() as session:
            rows = todays_intakes(session, viewer, now, team)
    except NotAllowed as exc:
        st.error(md_escape(exc))
        return
    st.subheader(f"Today's callers ({len(rows)})")
    if not rows:
        st.caption("Nobody yet today.")
        return
    zone = ZoneInfo(viewer.time_zone)
    st.dataframe(pd.DataFrame([_row(r, zone) for r in rows]), hide_index=True, key="fd_intakes")
    minutes = int(team.front_desk_handover.total_seconds() // 60)
    for row in (r for r in rows if r.may_hand_over):
        st.button(f"{md_escape(row.name)} has waited over {minutes} min: hand to the next rep",
                  key=f"fd_hand{row.lead_id}", on_click=hand_on, args=(viewer, row.lead_id),
                  icon=":material/forward:")


def _row(row: IntakeRow, zone: ZoneInfo) -> dict[str, str]:
    return {"At": f"{row.at.astimezone(zone):%H:%M}", "Caller": row.name, "What": row.what,
            "Owner": row.owner, "State": row.state}


render()
