"""Is the machinery working? Sheet sync, the worker's heartbeat and mail failures.

Shown on the Team page (briefly) and the Data status page (in full): a manager
should learn that the worker stopped before a rep's leads go cold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st
from sqlalchemy.orm import Session

from outreach import job_problems, lease
from outreach.access import Viewer, require_manager
from outreach.humanize import ago
from outreach.mail.outbox import recent_messages
from outreach.models import JobProblem, OutboxMessage
from outreach.sheet.sync import SyncStatus, sync_status
from outreach.ui.text import md_escape
from outreach.worker import LEASE_NAME, scheduler_alive


@dataclass(frozen=True)
class Health:
    sync: SyncStatus
    heartbeat: tuple[str, datetime] | None  # (worker, when)
    mail_failures: list[OutboxMessage]
    set_aside: list[JobProblem] = field(default_factory=list)  # what a job could not do lately

    def worker_alive(self, now: datetime) -> bool:
        return scheduler_alive(self.heartbeat[1] if self.heartbeat else None, now)


def read_health(session: Session, viewer: Viewer, now: datetime, failures: int = 20) -> Health:
    """The sheet's, the worker's and the mail's state: a manager's to see (it names customers)."""
    require_manager(viewer, "the sheet's and the worker's state")
    return Health(sync=sync_status(session, now), heartbeat=lease.last_heartbeat(session, LEASE_NAME),
                  mail_failures=recent_messages(session, limit=failures, statuses=["failed"]),
                  set_aside=job_problems.recent(session, now))


def health_summary(health: Health, now: datetime) -> None:
    """Three lines: sheet, worker, mail. Green when fine, red when someone must act."""
    sheet, worker, mail = st.columns(3)
    if health.sync.last_run is None:
        sheet.info("Sheet: never synced", icon=":material/sync:")
    elif health.sync.failing:
        # The problem quotes the sheet (a tab's name, a cell): shown literally, not as Markdown.
        sheet.error(f"Sheet: last good sync {health.sync.last_good_ago(now)}; the app goes on with "
                    f"the last good snapshot. {md_escape(health.sync.problem)}",
                    icon=":material/sync_problem:")
    else:
        skipped = len(health.sync.last_run.problems)
        sheet.success(f"Sheet: synced {ago(health.sync.last_run.started_at, now)}"
                      + (f", {skipped} row(s) need attention" if skipped else ""), icon=":material/sync:")
    if health.worker_alive(now) and health.set_aside:
        worker.warning(f"Worker: alive; {len(health.set_aside)} set aside lately, each failing on its own "
                       "(see Data status)", icon=":material/favorite:")
    elif health.worker_alive(now):
        worker.success(f"Worker: alive, last heartbeat {ago(health.heartbeat[1], now)}",
                       icon=":material/favorite:")
    elif health.heartbeat is None:
        worker.warning("Worker: has never run. Reminders are not being sent.", icon=":material/heart_broken:")
    else:
        worker.error(f"Worker: silent since {ago(health.heartbeat[1], now)}. Reminders are not "
                     "being sent; restart it.", icon=":material/heart_broken:")
    if health.mail_failures:
        latest = health.mail_failures[0]
        # SendGrid's reason can quote an address as typed: shown literally, not as Markdown.
        mail.error(f"Mail: {len(health.mail_failures)} recent failure(s); latest: "
                   f"{md_escape(latest.last_error or '')}", icon=":material/mail:")
    else:
        mail.success("Mail: no failures", icon=":material/mail:")


def mail_failures_table(health: Health, zone: ZoneInfo) -> None:
    if not health.mail_failures:
        return
    st.subheader("E-mails that could not be delivered")
    st.dataframe(pd.DataFrame([{
        "when": m.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        "kind": m.kind, "to": m.to_email, "subject": m.subject, "attempts": m.attempts,
        "reason": m.last_error or ""} for m in health.mail_failures]),
        hide_index=True, width="stretch")


def set_aside_table(health: Health, zone: ZoneInfo) -> None:
    """What the worker could not do for one lead or person, while the rest went on."""
    if not health.set_aside:
        return
    st.subheader("Set aside by the worker")
    st.caption("Each of these failed on its own; everything else was sent. Fix the lead (or tell "
               "whoever runs the app) and it is tried again within the hour.")
    st.dataframe(pd.DataFrame([{
        "last seen": p.last_seen_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"), "job": p.job,
        "what": p.subject, "reason": p.reason, "times": p.times} for p in health.set_aside]),
        hide_index=True, width="stretch")
