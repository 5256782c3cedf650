"""The rep's leads: most urgent first, a live countdown to the next reminder, and the follow-up form."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from outreach import clock
from outreach.access import Viewer
from outreach.humanize import duration
from outreach.leads import FOLLOW_UP_OUTCOMES, NEXT_STEPS
from outreach.models import Lead, LeadEvent
from outreach.phones import display
from outreach.ui.actions import save_followup
from outreach.ui.text import email_link, phone_link
from outreach.ui.text import md_escape as _md

KIND_ICONS = {"referral": ":material/handshake:", "inbound": ":material/move_to_inbox:",
              "concern": ":material/warning:"}
KIND_LABELS = {"referral": "Referral", "inbound": "Inbound", "concern": "Concern"}


def countdown_rows(leads: list[Lead], owners: dict[int, str], now: datetime) -> pd.DataFrame:
    rows = []
    for lead in leads:
        wait = (lead.next_reminder_at - now).total_seconds() if lead.next_reminder_at else None
        rows.append({
            "Kind": KIND_LABELS.get(lead.kind, lead.kind), "Lead": lead.full_name,
            "Owner": owners.get(lead.owner_id, ""),
            "Age": duration((now - lead.created_at).total_seconds()),
            "Attempts": lead.attempts,
            "Next reminder": ("due now" if wait is not None and wait <= 0
                              else f"in {duration(wait)}" if wait is not None else "—"),
        })
    return pd.DataFrame(rows)


@st.fragment(run_every="10s")
def live_countdown(leads: list[Lead], owners: dict[int, str]) -> None:
    """Redrawn every 10 s while the page is open (not a scheduler: the worker sends reminders)."""
    st.dataframe(countdown_rows(leads, owners, clock.now()), hide_index=True, width="stretch")


def lead_panel(viewer: Viewer, lead: Lead, history: list[LeadEvent], owner_name: str, referrer: str,
               region: str, zone: ZoneInfo, expanded: bool) -> None:
    now = clock.now()
    title = (f"{_md(lead.full_name)} · {KIND_LABELS.get(lead.kind, lead.kind).lower()} · "
             f"{duration((now - lead.created_at).total_seconds())} old · "
             f"{lead.attempts} attempt{'s' if lead.attempts != 1 else ''}")
    with st.expander(title, expanded=expanded, icon=KIND_ICONS.get(lead.kind)):
        if lead.phone:
            st.markdown(f":material/call: {phone_link(display(lead.phone, region), lead.phone)}")
        elif lead.phone_as_typed:  # kept rather than lose the caller: the rep finds the number
            st.warning(f"Check the number: it was typed as {_md(lead.phone_as_typed)}, which cannot be "
                       "dialled", icon=":material/phone_disabled:")
        if lead.email:
            st.markdown(f":material/mail: {email_link(lead.email)}")
        facts = [("Owner", owner_name), ("Referred by", referrer), ("How they know them", lead.relationship),
                 ("Needs" if lead.kind != "concern" else "Concern", lead.need),
                 ("Best time", lead.best_time), ("Heard about us", lead.heard_about)]
        st.caption("  \n".join(f"{label}: {_md(value)}" for label, value in facts if value))
        for event in history:
            st.caption(f"{event.created_at.astimezone(zone):%d %b %H:%M} · "
                       f"{FOLLOW_UP_OUTCOMES.get(event.outcome, event.outcome)}"
                       + (f" → {NEXT_STEPS[event.next_step]}" if event.next_step else "")
                       + (f" · {_md(event.note)}" if event.note else ""))
        followup_form(viewer, lead)


def followup_form(viewer: Viewer, lead: Lead) -> None:
    prefix = f"lead{lead.id}_"
    errors = st.session_state.get(f"{prefix}errors", {})
    st.radio("Follow-up", list(FOLLOW_UP_OUTCOMES), format_func=FOLLOW_UP_OUTCOMES.get,
             key=f"{prefix}outcome", index=None, horizontal=True,
             help="Only Connected counts as followed up; the rest are attempts.")
    if st.session_state.get(f"{prefix}outcome") == "connected":
        st.selectbox("Next step", list(NEXT_STEPS), format_func=NEXT_STEPS.get, key=f"{prefix}step")
    st.text_input("Note", key=f"{prefix}note")
    if "form" in errors:
        st.error(_md(errors["form"]))
    st.button("Save follow-up", key=f"{prefix}save", type="primary", on_click=save_followup,
              args=(viewer, lead.id, prefix))
