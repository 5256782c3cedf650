"""Data status: is the sheet being read, and which rows need the manager's attention."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from outreach import clock
from outreach.app_address import DEFAULT, DEFAULT_SOURCE, SERVED, resolve
from outreach.errors import OutreachError
from outreach.runtime import team_settings
from outreach.sheet.sync import SyncStatus, sync_now
from outreach.ui.auth import current_viewer, require_manager
from outreach.ui.context import get_runtime
from outreach.ui.health import health_summary, mail_failures_table, read_health, set_aside_table
from outreach.ui.text import md_escape


def sync_now_button() -> None:
    runtime = get_runtime()
    if not st.button("Sync now", key="sync_now", type="primary"):
        return
    with st.status("Reading the sheet…", expanded=False) as status:
        result = sync_now(runtime.db, runtime.source, clock.now())
        if result.ok:
            status.update(label="Sync finished", state="complete")
        elif result.busy:  # the worker is reading it right now: nothing went wrong
            status.update(label="The sheet is being synced right now; the page shows it in a moment",
                          state="complete")
        else:
            status.update(label=f"Sync failed: {md_escape(result.error)}", state="error")


def source_label() -> str:
    try:
        return get_runtime().source().label
    except OutreachError as exc:  # e.g. no service account: the banner and the sync say why
        return f"the Google Sheet (cannot be opened: {exc})"


def render() -> None:
    runtime = get_runtime()
    viewer = current_viewer()
    require_manager(viewer)  # the skipped rows show customers' details
    st.title("Data status")
    st.caption(f"Source: {md_escape(source_label())}")
    sync_now_button()  # first: what follows shows the sync it may just have run
    now = clock.now()
    with runtime.db.session() as session:
        health = read_health(session, viewer, now)
        links = resolve(team_settings(session).sheet_app_url)
    st.caption(f"E-mail links open {md_escape(links.url)} (from {md_escape(links.source)})",
               help="Set App URL in the Settings tab, or OUTREACH_APP_URL, when people reach the app "
                    "at another address.")
    if not runtime.settings.run_worker_in_app and links.source in (SERVED, DEFAULT_SOURCE):
        st.warning("The worker runs as its own process and cannot know this server's address: its "
                   f"reminders link to {DEFAULT}. Set App URL in the Settings tab, or OUTREACH_APP_URL.",
                   icon=":material/link_off:")
    health_summary(health, now)
    sheet_details(health.sync, now)
    set_aside_table(health, ZoneInfo(viewer.time_zone))
    mail_failures_table(health, ZoneInfo(viewer.time_zone))


def sheet_details(status: SyncStatus, now: datetime) -> None:
    skipped = status.skipped_note(now)
    if skipped:
        st.info(skipped, icon=":material/sync_lock:")
    if status.last_run is None:
        st.info("The sheet has not been read yet. Press **Sync now**.")
        return
    if status.problem and not status.failing:  # a failure is in the health panel above
        st.warning(md_escape(status.problem))
    problems = (status.last_good or status.last_run).problems
    if not problems:
        st.caption("Every row of the sheet was imported.")
        return
    st.subheader(f"{len(problems)} row(s) need attention in the sheet")
    frame = pd.DataFrame(problems)[["tab", "row", "column", "value", "reason", "skipped"]]
    st.dataframe(frame, hide_index=True, width="stretch")


render()
