"""The rep's page: today's calls with the script, and every lead to follow up.

A rep sees only their own day and leads; a manager can look at anyone's. The
address ``?lead=ID`` (every e-mail links there) opens that lead first.
"""

from __future__ import annotations

import logging
from datetime import date
from zoneinfo import ZoneInfo

import streamlit as st
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from outreach import clock
from outreach.access import NotAllowed, Viewer, check_rep, lead_for
from outreach.business_hours import WorkCalendar
from outreach.calls.planner import local_day, plan_day, visible_plan
from outreach.calls.script import Person, render_script
from outreach.leads.leads import lead_histories, lead_history, leads_to_follow_up
from outreach.leads.thanks import referral_counts
from outreach.models import FRONT_DESK, Call, Customer, Lead, Rep
from outreach.runtime import team_settings
from outreach.team_settings import TeamSettings
from outreach.ui.actions import flash
from outreach.ui.auth import current_viewer
from outreach.ui.call_card import customer_card
from outreach.ui.context import get_runtime
from outreach.ui.lead_detail import appointments_due_panel, lead_detail
from outreach.ui.lead_list import OPENED, lead_panel, live_countdown
from outreach.ui.params import row_id
from outreach.ui.phone import phone_friendly
from outreach.ui.text import md_escape
from outreach.ui.thanks_panel import thank_you_panel

log = logging.getLogger(__name__)

EVERYONE = "everyone"
FORMS_SHOWN = 30  # the most urgent; the countdown table above lists every lead


# A phone is held in one hand: links and choices a thumb can hit (44 px, Apple's and WCAG's minimum),
# and on a narrow screen the leads as cards, since a wide table hides the next reminder off the side.
def whose_day(viewer: Viewer, reps: list[Rep]) -> int | None:
    """A rep sees their own day; a manager picks a rep, or everyone's leads."""
    if not viewer.is_manager:
        return viewer.rep_id
    names = {EVERYONE: "Everyone's leads", **{str(r.id): r.name for r in reps}}
    chosen = st.selectbox("Show", list(names), format_func=names.get, key="whose_day")
    return None if chosen == EVERYONE else int(chosen)


def todays_calls(viewer: Viewer, rep: Rep, team: TeamSettings) -> None:
    runtime = get_runtime()
    day = local_day(clock.now(), rep)
    with runtime.db.session() as session:
        plan = visible_plan(session, viewer, rep.id, day)
        outcomes = dict(session.execute(select(Call.planned_call_id, Call.outcome).where(
            Call.planned_call_id.in_([p.id for p, _ in plan]))).all())
        referred = referral_counts(session, [c.id for _, c in plan])
    st.subheader(f"{'Your' if rep.id == viewer.rep_id else md_escape(rep.name + chr(39) + 's')} calls · "
                 f"{day:%A} {day.day} {day:%B}")
    if not plan:
        no_plan(viewer, rep, day, team)
        return
    counted = [p for p, _ in plan if p.status in ("open", "done")]
    done = sum(1 for p in counted if p.status == "done")
    st.progress(done / max(len(counted), 1), text=f"{done} of {len(counted)} done")
    caller = Person(rep.first_name, rep.name)
    first_open = next(((p.id, c) for p, c in plan if p.status == "open"), None)
    if first_open is not None:  # read as it will be said, to the next customer on the list
        next_customer = first_open[1]
        script = render_script(team.referral_script,
                               Person(next_customer.first_name, next_customer.full_name), caller)
        st.info(f"**The script** · {md_escape(script)}", icon=":material/record_voice_over:")
    for planned, customer in plan:
        said = render_script(team.referral_script, Person(customer.first_name, customer.full_name), caller)
        customer_card(viewer, planned, customer, team.phone_region, said,
                      first_open is not None and planned.id == first_open[0], outcomes.get(planned.id),
                      referred.get(customer.id))


def no_plan(viewer: Viewer, rep: Rep, day: date, team: TeamSettings) -> None:
    calendar = WorkCalendar(team)
    if rep.daily_calls == 0:
        st.caption("No daily calls for this person (Daily Calls is 0 on the Reps tab).")
    elif not calendar.is_workday(day):
        st.caption(f"{md_escape(calendar.holiday_name(day) or 'Not a workday')}: no calls today.")
    elif st.button("Build today's list now", key="build_plan"):
        try:
            with get_runtime().db.session() as session, session.begin():
                check_rep(viewer, rep.id)
                plan_day(session, day, [rep], team_settings(session), clock.now())
        except SQLAlchemyError:
            # Most likely the worker built it at the same moment: show whatever is there now.
            log.warning("building %s's list for %s failed; showing what is there", rep.email, day,
                        exc_info=True)
        st.rerun()
    else:
        st.caption(f"Your list is built before {team.call_list_time:%H:%M} and e-mailed to you.")


def leads_section(viewer: Viewer, owner_id: int | None, team: TeamSettings, linked: int | None) -> None:
    """Who is waiting (live countdown, a tap opens the lead), then the follow-up forms."""
    runtime = get_runtime()
    with runtime.db.session() as session:
        leads = leads_to_follow_up(session, viewer, clock.now(), owner_id)
        owners = {r.id: r.name for r in session.scalars(select(Rep))}
        referrers = {c.id: c.full_name for c in session.scalars(
            select(Customer).where(Customer.id.in_([lead.referring_customer_id for lead in leads
                                                    if lead.referring_customer_id])))}
        shown = forms_shown(leads, st.session_state.get(OPENED))
        histories = lead_histories(session, shown)
    st.subheader(f"Leads to follow up ({len(leads)})")
    if not leads:
        st.caption("Nothing waiting. Every name from today's calls will show up here.")
        return
    # A rep's own list: every row is theirs, so an Owner column would only push the countdown aside.
    live_countdown(leads, owners if viewer.is_manager else None)
    st.subheader("Follow up")
    zone = ZoneInfo(viewer.time_zone)
    for lead in shown:
        if lead.id != linked:
            lead_panel(viewer, lead, histories[lead.id], owners.get(lead.owner_id, ""),
                       referrers.get(lead.referring_customer_id or 0, ""), team.phone_region,
                       zone, False)
    if len(shown) < len(leads):
        st.toggle(f"Show all {len(leads)} leads", key="all_leads")


def forms_shown(leads: list[Lead], opened: int | None) -> list[Lead]:
    """The most urgent forms, with the lead the rep just tapped first (wherever it sits in the list)."""
    shown = leads if st.session_state.get("all_leads") else leads[:FORMS_SHOWN]
    tapped = [lead for lead in leads if lead.id == opened]
    return tapped + [lead for lead in shown if lead.id != opened]


def linked_lead(viewer: Viewer, team: TeamSettings) -> int | None:
    """``?lead=ID``: that lead, opened, at the top (or why it cannot be shown)."""
    raw = st.query_params.get("lead")
    if not raw:
        return None
    lead_id = row_id(raw)
    if lead_id is None:  # the address is typed text: never echoed
        st.warning("The lead in this link is not one of your leads.")
        return None
    runtime = get_runtime()
    try:
        with runtime.db.session() as session:
            lead = lead_for(session, viewer, lead_id)
            history = lead_history(session, viewer, lead.id)
            owner = session.get(Rep, lead.owner_id)
            referrer = (session.get(Customer, lead.referring_customer_id)
                        if lead.referring_customer_id else None)
    except NotAllowed:
        st.warning(f"Lead {lead_id} is not one of your leads.")
        return None
    st.subheader("The lead from your e-mail")
    if not lead.is_open:  # followed up already: its history and next step, not the follow-up form
        lead_detail(viewer, lead.id, key="today")
        return lead.id
    lead_panel(viewer, lead, history, owner.name if owner else "",
               referrer.full_name if referrer else "", team.phone_region,
               ZoneInfo(viewer.time_zone), True)
    return lead.id


def render() -> None:
    viewer = current_viewer()
    runtime = get_runtime()
    with runtime.db.session() as session:
        team = team_settings(session)
        # The front desk makes no calls and owns no leads: nobody's day to look at.
        reps = list(session.scalars(select(Rep).where(Rep.active.is_(True), Rep.role != FRONT_DESK)
                                    .order_by(Rep.name)))
    st.title("Today")
    phone_friendly()
    flash()
    linked = linked_lead(viewer, team)
    owner_id = whose_day(viewer, reps)
    # Keyed and tracked, so a save (which redraws the page) leaves the rep on the tab they were on.
    rep = next((r for r in reps if r.id == owner_id), None)
    # A customer whose referral got somewhere hears it first. The viewer's own thank-yous show whatever
    # the view: a manager with no daily calls opens on everyone's leads and gets no morning list.
    thank_you_panel(viewer, viewer.rep_id, team.phone_region)
    if rep is not None and rep.id != viewer.rep_id:
        thank_you_panel(viewer, rep.id, team.phone_region, whose=rep.name)
    calls_tab, leads_tab = st.tabs(["Calls", "Leads"], key="today_tab", on_change="rerun")
    with calls_tab:
        if rep is not None:
            todays_calls(viewer, rep, team)
        else:
            st.caption("Pick a rep above to see their calls.")
    with leads_tab:
        appointments_due_panel(viewer, owner_id)  # booked, passed, nothing logged: how did it go?
        leads_section(viewer, owner_id, team, linked)


render()
