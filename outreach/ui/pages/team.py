"""The manager's view: is the team calling, asking, and following up fast?

Everything here comes from one team report (outreach.team.metrics) for the chosen
dates and reps; the same per-rep table is the CSV download and the sheet's
Team Summary tab.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st
from sqlalchemy import select

from outreach import clock
from outreach.access import Viewer
from outreach.csv_export import csv_bytes
from outreach.humanize import duration, short_duration
from outreach.leads.leads import duplicate_candidates, match_reason, recent_duplicates, working_reps
from outreach.models import Lead, Rep
from outreach.phones import display
from outreach.runtime import team_settings
from outreach.team.metrics import (
    SUMMARY_DAYS,
    SUMMARY_HEADER,
    Filters,
    OverdueLead,
    RepStats,
    TeamReport,
    overdue_lead,
    report_for,
    summary_rows,
)
from outreach.team.referrers import REFERRERS_HEADER, REP_HEADER, referrer_rows, referrers_csv, referrers_for
from outreach.team_settings import TeamSettings
from outreach.ui import charts
from outreach.ui.actions import flash, reassign_lead
from outreach.ui.auth import current_viewer, require_manager
from outreach.ui.context import get_runtime
from outreach.ui.health import health_summary, read_health
from outreach.ui.params import row_id
from outreach.ui.team_actions import close_duplicate_of, undo_duplicate_of


def choose_filters(reps: list[Rep], today: date) -> Filters:
    left, right = st.columns([1, 2])
    picked = left.date_input("Dates", value=(today - timedelta(days=SUMMARY_DAYS - 1), today),
                             max_value=today, key="team_dates", format="YYYY-MM-DD")
    # While the second date is being picked the widget holds one date: show that day.
    start, end = (picked[0], picked[-1]) if isinstance(picked, tuple) and picked else (today, today)
    names = {r.id: r.name for r in reps}
    chosen = right.multiselect("Reps", list(names), format_func=names.get, key="team_reps",
                               placeholder="Everyone")
    return Filters(start=start, end=end, rep_ids=frozenset(chosen) or None)


def headline(report: TeamReport) -> None:
    team = report.totals
    cols = st.columns(5)
    cols[0].metric("Calls made / planned", f"{team.calls_done} / {team.calls_planned}",
                   f"-{team.shortfall} short" if team.shortfall else None,
                   help="Referral calls logged against the reps' daily lists in these dates.")
    cols[1].metric("Conversations", team.conversations,
                   help="Connected calls with customers plus connected follow-ups of leads. "
                        "The funnel's customer conversations are the first part alone.")
    cols[2].metric("Referrals", team.referrals,
                   help="Names given on connected customer calls (every connected call ends with the ask).")
    if team.referrals_per_ask is not None:  # a ratio, not a change since last time: no arrow
        cols[2].caption(f"{team.referrals_per_ask:.2f} per ask")
    within_5 = team.share_within(5)
    cols[3].metric("Reached within 5 min", f"{within_5:.0%}" if within_5 is not None else "–",
                   help="Share of the leads that arrived in these dates whose first conversation came "
                        "within 5 minutes. Leads still waiting count as missed once 5 minutes old.")
    median = team.median_minutes
    cols[4].metric("Median time to talk", short_duration(median) if median is not None else "–",
                   help="Median time from a lead arriving to the first logged conversation, "
                        "nights and weekends included: that is what the lead experiences.")
    never_line(team)


def never_line(team: RepStats) -> None:
    """The habit the product exists to break, in one sentence."""
    if team.tries:
        st.markdown(f"**{team.excuses} of {team.tries}** calls and follow-up attempts never became a "
                    f"conversation ({team.voicemail} voicemail, {team.no_answer} no answer, "
                    f"{team.wrong_number} wrong number). A voicemail is not a follow-up.")


# What fits a laptop without sideways scrolling; the CSV keeps SUMMARY_HEADER whole.
PAGE_COLUMNS = ["Rep", "Calls made", "Quota met (%)", "Conversations", "Referrals", "Referrals per ask",
                "Median minutes to talk", "Reached within 5 min (%)", "Overdue leads",
                "Never a conversation (%)"]


def rep_table(report: TeamReport) -> None:
    st.subheader("By rep")
    rows = summary_rows(report)
    if not rows:
        st.info("No reps match these filters.")
        return
    st.dataframe(pd.DataFrame(rows, columns=PAGE_COLUMNS), hide_index=True, width="stretch",
                 column_config={"Rep": st.column_config.TextColumn("Rep", pinned=True)})
    st.caption(f"The CSV download has all {len(SUMMARY_HEADER)} columns, each kind of missed call too.")
    st.download_button("Download CSV", csv_bytes(rows, SUMMARY_HEADER), "team-summary.csv",
                       "text/csv", key="team_csv", icon=":material/download:")


def team_charts(report: TeamReport) -> None:
    left, right = st.columns(2)
    with left:
        st.subheader("Calls per day vs. quota")
        st.altair_chart(charts.calls_per_day(report.daily), width="stretch")
    with right:
        st.subheader("Speed to lead")
        st.altair_chart(charts.speed_to_lead(report.speed_minutes, report.unreached), width="stretch")
    st.subheader("From ask to deal")
    st.altair_chart(charts.funnel(report.funnel), width="stretch")


REFERRERS_SHOWN = 100  # the best referrers on the page; the CSV has every one
REFERRER_COUNTS = ("Referrals", "Reached", "Appointments", "Won")


def referrers_section(viewer: Viewer, filters: Filters, team: TeamSettings) -> None:
    """Who refers: customers ranked by referrals given, and each rep's referrals from taken to won."""
    with get_runtime().db.session() as session:
        report = referrers_for(session, viewer, filters, team, limit=REFERRERS_SHOWN)
    st.subheader("Referrers")
    if not report.customers:
        st.caption("No referrals were taken in these dates.")
        return
    rows = [dict(zip(REFERRERS_HEADER, row, strict=True)) for row in referrer_rows(report)]
    # The counts must read without sideways scrolling: the ID and the company are in the CSV.
    shown = [c for c in REFERRERS_HEADER if c not in ("Customer ID", "Company")
             and (c != "Value Won" or team.average_deal_value is not None)]
    small = {c: st.column_config.NumberColumn(c, width="small") for c in REFERRER_COUNTS}
    small["Do Not Call"] = st.column_config.TextColumn("DNC", width="small", help="Do Not Call")
    customers, reps = st.container(), st.columns([3, 2])[0]  # stacked: the counts need the width
    with customers:
        st.dataframe(pd.DataFrame(rows, columns=shown), hide_index=True, width="stretch",
                     column_config={"Customer": st.column_config.TextColumn("Customer", pinned=True),
                                    **small})
        st.caption(f"The best {len(rows)} of {report.total}; the CSV has all." if report.total > len(rows)
                   else "Referrals taken in these dates, by the customer who gave them.")
    with reps:
        by_rep = [[r.name, r.taken, r.reached, r.won] for r in report.reps]
        st.dataframe(pd.DataFrame(by_rep, columns=REP_HEADER), hide_index=True, width="stretch")
        st.caption("Credited to the rep who took the referral, whoever owns the lead now.")
    # Made when clicked: a year holds tens of thousands of referrers, and most visits download nothing.
    st.download_button("Download CSV", lambda: _referrers_csv(viewer, filters, team), "referrers.csv",
                       "text/csv", key="referrers_csv", icon=":material/download:", on_click="ignore")


def _referrers_csv(viewer: Viewer, filters: Filters, team: TeamSettings) -> bytes:
    with get_runtime().db.session() as session:
        return referrers_csv(session, viewer, filters, team)


OVERDUE_COLUMNS = ["lead", "kind", "owner", "waiting", "attempts", "status", "arrived", "phone"]


def overdue_rows(overdue: list[OverdueLead], team: TeamSettings, zone: ZoneInfo) -> list[dict[str, object]]:
    return [{
        "lead": o.name, "kind": o.kind, "owner": o.owner_name,
        "waiting": duration(o.age_minutes * 60), "attempts": o.attempts, "status": o.status,
        "arrived": o.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        "phone": display(o.phone, team.phone_region) if o.phone else ""} for o in overdue]


def overdue_leads(viewer: Viewer, report: TeamReport, reps: list[Rep], team: TeamSettings) -> None:
    overdue = report.overdue
    st.subheader(f"Overdue leads right now ({len(overdue)})")
    if not overdue:
        st.success("Every lead has been reached in time.")
        return
    if report.value_at_risk is not None:
        st.warning(f"Value at risk: {report.value_at_risk:,.0f} "
                   f"({len(overdue)} lead(s) × the average deal value in the Settings tab).")
    rows = overdue_rows(overdue, team, ZoneInfo(viewer.time_zone))
    st.dataframe(pd.DataFrame(rows, columns=OVERDUE_COLUMNS), hide_index=True, width="stretch")
    st.download_button("Download CSV", csv_bytes(rows, OVERDUE_COLUMNS), "overdue-leads.csv",
                       "text/csv", key="overdue_csv", icon=":material/download:")
    lead_actions(viewer, overdue, reps)


def lead_actions(viewer: Viewer, overdue: list[OverdueLead], reps: list[Rep],
                 prefix: str = "overdue_") -> None:
    by_id = {o.lead_id: o for o in overdue}
    pick, owner, reassign = st.columns([3, 2, 1.4], vertical_alignment="bottom")
    lead_id = pick.selectbox("Lead", list(by_id), key=f"{prefix}lead",
                             format_func=lambda i: f"{by_id[i].name} ({by_id[i].owner_name}, "
                                                   f"{duration(by_id[i].age_minutes * 60)})")
    if lead_id is None:
        return
    others = {r.id: r.name for r in reps if r.id != by_id[lead_id].owner_id}
    owner.selectbox("New owner", list(others), format_func=others.get, key=f"{prefix}owner")
    reassign.button("Reassign", key=f"{prefix}reassign", on_click=reassign_lead,
                    args=(viewer, lead_id, f"{prefix}owner"), disabled=not others)
    duplicate_control(viewer, lead_id, prefix)


def duplicate_control(viewer: Viewer, lead_id: int, prefix: str) -> None:
    """Close as duplicate of a chosen lead, the likeliest match first (same phone, e-mail, name)."""
    with get_runtime().db.session() as session:
        lead = session.get(Lead, lead_id)
        names = dict(session.execute(select(Rep.id, Rep.name)).all())
        candidates = duplicate_candidates(session, viewer, lead_id)
        zone = ZoneInfo(viewer.time_zone)
        options = {c.id: candidate_label(lead, c, names, zone) for c in candidates}
    # The key names the lead: another lead's choices never carry over to this one.
    kept_key = f"{prefix}kept_{lead_id}"
    kept, close = st.columns([5, 1.4], vertical_alignment="bottom")
    kept.selectbox("Duplicate of (the lead to keep)", list(options), format_func=options.get, key=kept_key,
                   placeholder="No other lead to keep")
    close.button("Close as duplicate", key=f"{prefix}close", on_click=close_duplicate_of,
                 args=(viewer, lead_id, kept_key), disabled=not options)


def candidate_label(lead: Lead | None, other: Lead, names: dict[int, str], zone: ZoneInfo) -> str:
    """"Name (owner, status, arrived) · same phone": enough to tell two people of one name apart."""
    why = match_reason(lead, other) if lead is not None else ""
    return (f"{other.full_name} ({names.get(other.owner_id, '?')}, {other.status.replace('_', ' ')}, "
            f"{other.created_at.astimezone(zone):%Y-%m-%d})" + (f" · {why}" if why else ""))


UNDO_DAYS = 30  # how far back the Team page offers to take a "duplicate" back


def undo_duplicates(viewer: Viewer, now: datetime) -> None:
    with get_runtime().db.session() as session:
        closed = recent_duplicates(session, viewer, now - timedelta(days=UNDO_DAYS))
        kept = {lead.id: lead.full_name for lead in session.scalars(
            select(Lead).where(Lead.id.in_([c.duplicate_of_id for c in closed if c.duplicate_of_id])))}
    if not closed:
        return
    st.subheader(f"Closed as duplicates, last {UNDO_DAYS} days ({len(closed)})")
    zone = ZoneInfo(viewer.time_zone)
    labels = {c.id: f"{c.full_name} (duplicate of {kept.get(c.duplicate_of_id or 0, 'an unnamed lead')}, "
                    f"closed {c.closed_at.astimezone(zone):%Y-%m-%d})" for c in closed}
    pick, undo = st.columns([5, 1.4], vertical_alignment="bottom")
    pick.selectbox("Lead closed as a duplicate", list(labels), format_func=labels.get, key="undo_lead")
    undo.button("Undo duplicate", key="undo_duplicate", on_click=undo_duplicate_of,
                args=(viewer, "undo_lead"))


def linked_lead(viewer: Viewer, reps: list[Rep], team: TeamSettings) -> None:
    """``?lead=ID``, where every escalation e-mail links: that lead's reassign control, first
    (whatever the filters below show)."""
    raw = st.query_params.get("lead")
    if not raw:
        return
    lead_id = row_id(raw)
    if lead_id is None:
        st.info("That link does not name a lead.")  # the address is typed text: never echoed
        return
    with get_runtime().db.session() as session:
        linked = overdue_lead(session, viewer, lead_id, clock.now(), team)
    if linked is None:
        st.info(f"Lead {lead_id} is no longer waiting: it was reached or closed since the e-mail.")
        return
    st.subheader("The lead from your e-mail")
    lead_actions(viewer, [linked], reps, prefix="linked_")


def render() -> None:
    viewer = current_viewer()
    require_manager(viewer)
    runtime = get_runtime()
    now = clock.now()
    with runtime.db.session() as session:
        team = team_settings(session)
        reps = working_reps(session)
        health = read_health(session, viewer, now)
    st.title("Team")
    flash()
    linked_lead(viewer, reps, team)
    health_summary(health, now)
    filters = choose_filters(reps, now.astimezone(team.zone).date())
    with st.spinner("Counting calls and leads…"), runtime.db.session() as session:
        report = report_for(session, viewer, filters, now, team)
    headline(report)
    rep_table(report)
    team_charts(report)
    with st.container(key="referrers"):
        referrers_section(viewer, filters, team)
    overdue_leads(viewer, report, reps, team)
    undo_duplicates(viewer, now)


render()
