"""The rep's leads: most urgent first, a live countdown to the next reminder, and the follow-up form."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from outreach import clock
from outreach.access import Viewer
from outreach.humanize import duration
from outreach.leads.lead_life import event_text
from outreach.leads.leads import FOLLOW_UP_OUTCOMES, NEXT_STEPS
from outreach.models import Lead, LeadEvent
from outreach.phones import display
from outreach.ui.actions import followup_prefix, save_followup
from outreach.ui.text import email_link, phone_link
from outreach.ui.text import md_escape as _md

KIND_ICONS = {"referral": ":material/handshake:", "inbound": ":material/move_to_inbox:",
              "concern": ":material/warning:"}
KIND_LABELS = {"referral": "Referral", "inbound": "Inbound", "concern": "Concern"}
OPENED = "opened_lead"  # the lead whose row or card the rep last tapped


def panel_key(lead_id: int) -> str:
    return f"panel{lead_id}"


def next_reminder(lead: Lead, now: datetime) -> str:
    if lead.next_reminder_at is None:
        return "—"
    wait = (lead.next_reminder_at - now).total_seconds()
    return "due now" if wait <= 0 else f"in {duration(wait)}"


def countdown_rows(leads: list[Lead], owners: dict[int, str] | None, now: datetime) -> pd.DataFrame:
    """One row a lead; the Owner column only when ``owners`` is given (a manager's view)."""
    rows = []
    for lead in leads:
        row = {"Kind": KIND_LABELS.get(lead.kind, lead.kind), "Lead": lead.full_name}
        if owners is not None:
            row["Owner"] = owners.get(lead.owner_id, "")
        row.update({"Age": duration((now - lead.created_at).total_seconds()), "Attempts": lead.attempts,
                    "Next reminder": next_reminder(lead, now)})
        rows.append(row)
    return pd.DataFrame(rows)


def open_lead(lead_id: int) -> None:
    """Open that lead's panel; the page is redrawn whole so the panel (outside the fragment) opens."""
    st.session_state[OPENED] = lead_id
    st.session_state[panel_key(lead_id)] = True
    st.session_state["redraw_page"] = True


def _open_selected_row(lead_ids: list[int]) -> None:
    rows = st.session_state["countdown"].selection.rows
    if rows and rows[0] < len(lead_ids):
        open_lead(lead_ids[rows[0]])


@st.fragment(run_every="10s")
def live_countdown(leads: list[Lead], owners: dict[int, str] | None) -> None:
    """Redrawn every 10 s while the page is open (not a scheduler: the worker sends reminders).

    A wide screen gets the table; a phone gets one card a lead (CSS in today.py shows one of them),
    so the next reminder never hides off the side. Either opens the lead when tapped.
    """
    if st.session_state.pop("redraw_page", False):
        st.rerun()  # a fragment's rerun would leave the panels below as they were
    now = clock.now()
    lead_ids = [lead.id for lead in leads]
    with st.container(key="countdown_table"):
        st.dataframe(countdown_rows(leads, owners, now), hide_index=True, width="stretch",
                     key="countdown", on_select=partial(_open_selected_row, lead_ids),
                     selection_mode="single-row")
    with st.container(key="countdown_cards"):
        for lead in leads:
            st.button(f"**{_md(lead.full_name)}** · {KIND_LABELS.get(lead.kind, lead.kind).lower()} · "
                      f"next reminder {next_reminder(lead, now)}", key=f"card{lead.id}",
                      icon=KIND_ICONS.get(lead.kind), width="stretch", on_click=open_lead,
                      args=(lead.id,))


def lead_facts(lead: Lead, owner_name: str, referrer: str) -> list[tuple[str, str]]:
    """A concern is the customer's own: "Concern from" them, never "Referred by" themselves."""
    concern = lead.kind == "concern"
    return [("Owner", owner_name), ("Concern from" if concern else "Referred by", referrer),
            ("How they know them", lead.relationship), ("Concern" if concern else "Needs", lead.need),
            ("Best time", lead.best_time), ("Heard about us", lead.heard_about)]


def lead_contact(lead: Lead, region: str) -> None:
    """The lead's phone and e-mail as links; a typo kept rather than lose the caller, flagged for the rep."""
    if lead.phone:
        st.markdown(f":material/call: {phone_link(display(lead.phone, region), lead.phone)}")
    elif lead.phone_as_typed:
        st.warning(f"Check the number: it was typed as {_md(lead.phone_as_typed)}, which cannot be dialled",
                   icon=":material/phone_disabled:")
    if lead.email:
        st.markdown(f":material/mail: {email_link(lead.email)}")
    elif lead.email_as_typed:
        st.warning(f"Check the e-mail: it was typed as {_md(lead.email_as_typed)}, which is not an address",
                   icon=":material/mail_off:")


def lead_panel(viewer: Viewer, lead: Lead, history: list[LeadEvent], owner_name: str, referrer: str,
               region: str, zone: ZoneInfo, expanded: bool) -> None:
    now = clock.now()
    # Only what never changes goes in the label: the expander's identity includes it, so a label that
    # counted attempts or age would make a new, closed panel after every save and every passing minute.
    title = f"{_md(lead.full_name)} · {KIND_LABELS.get(lead.kind, lead.kind).lower()}"
    key = panel_key(lead.id)
    prefix = followup_prefix(lead.id)
    if expanded:
        st.session_state.setdefault(key, True)  # opened on arrival; the rep may still close it
    if st.session_state.get(f"{prefix}outcome") or st.session_state.get(f"{prefix}errors"):
        # A panel the rep is filling in stays open whatever else the page redraws (a save, a flash).
        st.session_state[key] = True
    # Keyed and tracked: its open state lives here, not in the browser, so no rerun collapses it.
    with st.expander(title, key=key, on_change="rerun", icon=KIND_ICONS.get(lead.kind)):
        st.caption(f"{duration((now - lead.created_at).total_seconds())} old · "
                   f"{lead.attempts} attempt{'s' if lead.attempts != 1 else ''}")
        lead_contact(lead, region)
        facts = lead_facts(lead, owner_name, referrer)
        st.caption("  \n".join(f"{label}: {_md(value)}" for label, value in facts if value))
        for event in history:
            st.caption(f"{event.created_at.astimezone(zone):%d %b %H:%M} · {_md(event_text(event, None))}"
                       + (f" · {_md(event.note)}" if event.note else ""))
        followup_form(viewer, lead, prefix)


def followup_form(viewer: Viewer, lead: Lead, prefix: str) -> None:
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
