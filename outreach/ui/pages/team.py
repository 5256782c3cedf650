"""The manager's view: is the team calling, asking, and following up fast?

Everything here comes from one team report (outreach.metrics) for the chosen
dates and reps; the same per-rep table is the CSV download and the sheet's
Team Summary tab.
"""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st
from sqlalchemy import select

from outreach import clock
from outreach.access import Viewer
from outreach.csv_export import csv_bytes
from outreach.humanize import duration, short_duration
from outreach.metrics import (
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
from outreach.models import Rep
from outreach.phones import display
from outreach.runtime import team_settings
from outreach.team_settings import TeamSettings
from outreach.ui import charts
from outreach.ui.actions import close_duplicate, flash, reassign_lead
from outreach.ui.auth import current_viewer, require_manager
from outreach.ui.context import get_runtime
from outreach.ui.health import health_summary, read_health
from outreach.ui.params import row_id


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
                   help="Connected calls with customers plus connected follow-ups of leads.")
    cols[2].metric("Referrals", team.referrals,
                   f"{team.referrals_per_ask:.2f} per ask" if team.referrals_per_ask is not None else None,
                   delta_color="off",
                   help="Names given on connected customer calls (every connected call ends with the ask).")
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


def rep_table(report: TeamReport) -> None:
    st.subheader("By rep")
    rows = summary_rows(report)
    if not rows:
        st.info("No reps match these filters.")
        return
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
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
    pick, owner, reassign, close = st.columns([3, 2, 1, 1.4], vertical_alignment="bottom")
    lead_id = pick.selectbox("Lead", list(by_id), key=f"{prefix}lead",
                             format_func=lambda i: f"{by_id[i].name} ({by_id[i].owner_name}, "
                                                   f"{duration(by_id[i].age_minutes * 60)})")
    if lead_id is None:
        return
    others = {r.id: r.name for r in reps if r.id != by_id[lead_id].owner_id}
    owner.selectbox("New owner", list(others), format_func=others.get, key=f"{prefix}owner")
    reassign.button("Reassign", key=f"{prefix}reassign", on_click=reassign_lead,
                    args=(viewer, lead_id, f"{prefix}owner"), disabled=not others)
    close.button("Close as duplicate", key=f"{prefix}close", on_click=close_duplicate,
                 args=(viewer, lead_id))


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
        reps = list(session.scalars(select(Rep).where(Rep.active.is_(True)).order_by(Rep.name)))
        health = read_health(session, now)
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
    overdue_leads(viewer, report, reps, team)


render()
