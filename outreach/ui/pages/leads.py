"""Every lead, whatever became of it: filter by status, search, open one to see its whole life.

A rep sees their own leads, a manager everyone's (the domain's search decides). The
address ``?lead=ID`` opens that lead, whatever the filters say.
"""

from __future__ import annotations

from functools import partial
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st
from sqlalchemy import select

from outreach.access import NotAllowed, Viewer, lead_for
from outreach.leads.lead_life import FILTER_LABELS, SEARCH_LIMIT, search_leads
from outreach.leads.leads import working_reps
from outreach.models import Lead, Rep
from outreach.phones import display
from outreach.runtime import team_settings
from outreach.sheet.write_back import STATUS_LABELS
from outreach.ui.actions import flash
from outreach.ui.auth import current_viewer
from outreach.ui.context import get_runtime
from outreach.ui.lead_detail import appointments_due_panel, lead_detail
from outreach.ui.params import row_id
from outreach.ui.phone import phone_friendly
from outreach.ui.text import md_escape

CARDS_SHOWN = 50  # on a phone a longer list is a search away


def result_rows(leads: list[Lead], owners: dict[int, str], region: str, zone: ZoneInfo) -> pd.DataFrame:
    return pd.DataFrame([{
        "Lead": lead.full_name, "Status": STATUS_LABELS.get(lead.status, lead.status),
        "Kind": lead.kind.title(), "Owner": owners.get(lead.owner_id, ""),
        "Phone": display(lead.phone, region) if lead.phone else lead.phone_as_typed,
        "Email": lead.email or lead.email_as_typed,
        "Received": lead.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        "Appointment": (lead.appointment_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
                        if lead.status == "appointment" and lead.appointment_at else ""),
    } for lead in leads], columns=["Lead", "Status", "Kind", "Owner", "Phone", "Email", "Received",
                                   "Appointment"])


def linked_lead() -> int | None:
    """``?lead=ID`` from an e-mail or a link on another page; typed text is never echoed."""
    raw = st.query_params.get("lead")
    if not raw:
        return None
    lead_id = row_id(raw)
    if lead_id is None:
        st.warning("The lead in this link is not one of your leads.")
    return lead_id


EVERYONE = "everyone"


def owner_filter(viewer: Viewer, reps: list[Rep]) -> int | None:
    """A manager may narrow the list to one owner; a rep's list is theirs already."""
    if not viewer.is_manager:
        return None
    names = {EVERYONE: "Everyone", **{str(r.id): r.name for r in reps}}
    chosen = st.selectbox("Owner", list(names), format_func=names.get, key="leads_owner")
    return None if chosen in (None, EVERYONE) else int(chosen)


def results(viewer: Viewer) -> list[Lead]:
    filters = st.multiselect("Status", list(FILTER_LABELS), default=["open"], format_func=FILTER_LABELS.get,
                             key="leads_status")
    text = st.text_input("Search by name, phone or e-mail", key="leads_search")
    runtime = get_runtime()
    with runtime.db.session() as session:
        owner_id = owner_filter(viewer, working_reps(session))
        found = search_leads(session, viewer, filters, text, owner_id=owner_id) if filters else []
        owners = {r.id: r.name for r in session.scalars(select(Rep))}
        region = team_settings(session).phone_region
    if not found:
        st.caption("No leads match." if filters else "Choose at least one status.")
        return found
    more = " (the newest; narrow the search for the rest)" if len(found) == SEARCH_LIMIT else ""
    st.caption(f"{len(found)} lead{'s' if len(found) != 1 else ''}{more}")
    lead_ids = [lead.id for lead in found]
    with st.container(key="leads_table"):  # a desk: the table, a row opens its lead
        st.dataframe(result_rows(found, owners, region, ZoneInfo(viewer.time_zone)), hide_index=True,
                     width="stretch", key="leads_rows", on_select=partial(_open_selected_row, lead_ids),
                     selection_mode="single-row")
    with st.container(key="leads_cards"):  # a phone: one card a lead, tapped to open it
        if st.session_state.get("leads_open") is not None:
            # The opened lead is drawn below: 50 cards above it would leave it a long scroll away.
            st.button(f"All {len(found)} lead{'s' if len(found) != 1 else ''}", key="leads_back",
                      icon=":material/arrow_back:", width="stretch", on_click=_close)
            return found
        for lead in found[:CARDS_SHOWN]:
            st.button(f"**{md_escape(lead.full_name)}** · {STATUS_LABELS.get(lead.status, lead.status)} · "
                      f"{lead.kind}", key=f"leads_card{lead.id}", width="stretch", on_click=_open,
                      args=(lead.id,))
        if len(found) > CARDS_SHOWN:
            st.caption(f"The first {CARDS_SHOWN}: search to find the others.")
    return found


def _label(lead: Lead, zone: ZoneInfo) -> str:
    """What never changes while the lead is worked on (a status in it would go stale in the browser)."""
    return f"{lead.full_name} ({lead.kind}, {lead.created_at.astimezone(zone):%d %b %Y})"


def keep_open(viewer: Viewer, names: dict[int, str]) -> None:
    """The lead being worked on stays open when the filters no longer match it (marked Won, say)."""
    opened = st.session_state.get("leads_open")
    if opened is None or opened in names:
        return
    try:
        with get_runtime().db.session() as session:
            names[opened] = _label(lead_for(session, viewer, opened), ZoneInfo(viewer.time_zone))
    except NotAllowed:  # the viewer changed (the demo picker): not theirs to see
        st.session_state.pop("leads_open", None)


def _close() -> None:
    st.session_state["leads_open"] = None


def _open(lead_id: int) -> None:
    st.session_state["leads_open"] = lead_id


def _open_selected_row(lead_ids: list[int]) -> None:
    rows = st.session_state["leads_rows"].selection.rows
    if rows and rows[0] < len(lead_ids):
        _open(lead_ids[rows[0]])


def render() -> None:
    viewer = current_viewer()
    st.title("Leads")
    phone_friendly()
    flash()
    appointments_due_panel(viewer)
    linked = linked_lead()
    found = results(viewer)
    names = {lead.id: _label(lead, ZoneInfo(viewer.time_zone)) for lead in found}
    keep_open(viewer, names)
    chosen = st.selectbox("Open a lead", list(names), format_func=names.get, index=None, key="leads_open",
                          placeholder="Choose a lead to see its history and log what happened")
    opened = chosen or linked
    if opened is not None:
        lead_detail(viewer, opened, key="leads")


render()
