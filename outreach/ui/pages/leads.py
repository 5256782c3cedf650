"""Every lead, whatever became of it: filter by status, search, open one to see its whole life.

A rep sees their own leads, a manager everyone's (the domain's search decides). The
address ``?lead=ID`` opens that lead, whatever the filters say.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st
from sqlalchemy import select

from outreach.access import Viewer
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
    st.dataframe(result_rows(found, owners, region, ZoneInfo(viewer.time_zone)), hide_index=True,
                 width="stretch")
    return found


def render() -> None:
    viewer = current_viewer()
    st.title("Leads")
    flash()
    appointments_due_panel(viewer)
    linked = linked_lead()
    found = results(viewer)
    names = {lead.id: f"{lead.full_name} ({STATUS_LABELS.get(lead.status, lead.status)})" for lead in found}
    chosen = st.selectbox("Open a lead", list(names), format_func=names.get, index=None, key="leads_open",
                          placeholder="Choose a lead to see its history and log what happened")
    opened = chosen or linked
    if opened is not None:
        lead_detail(viewer, opened, key="leads")


render()
