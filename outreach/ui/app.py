"""The app's entry: page setup, navigation, and the in-process worker."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from outreach import clock
from outreach.access import Viewer
from outreach.errors import OutreachError
from outreach.sheet.sync import sync_status
from outreach.ui.auth import sign_in
from outreach.ui.context import get_runtime, start_background_worker
from outreach.ui.text import md_escape

# Relative to app.py, as Streamlit resolves page paths from the main script.
PAGES = Path("outreach/ui/pages")


def main() -> None:
    st.set_page_config(page_title="Outreach", page_icon=":material/call:", layout="wide")
    try:
        get_runtime().db.check()
    except OutreachError as exc:
        st.error(md_escape(exc))
        st.stop()
    start_background_worker()
    viewer = sign_in()
    page = st.navigation(pages_for(viewer))
    if page.title not in HEALTH_PAGES:  # those show the sheet's state in their health panel
        stale_sheet_banner()
    page.run()


HEALTH_PAGES = ("Team", "Data status")


def pages_for(viewer: Viewer) -> list[st.Page]:
    """Reps see their day, their leads and their e-mails; managers also see the team, the data and the
    front desk; the front desk sees its page and its own e-mails."""
    desk = st.Page(PAGES / "front_desk.py", title="Front desk", icon=":material/support_agent:",
                   default=viewer.is_front_desk)
    outbox = st.Page(PAGES / "outbox.py", title="Outbox", icon=":material/outbox:")
    if viewer.is_front_desk:
        return [desk, outbox]
    pages = [st.Page(PAGES / "today.py", title="Today", icon=":material/call:", default=True),
             # Every lead and what became of it: a rep's own, a manager's everyone's.
             st.Page(PAGES / "leads.py", title="Leads", icon=":material/contacts:")]
    if viewer.is_manager:
        pages += [st.Page(PAGES / "team.py", title="Team", icon=":material/monitoring:"), desk]
    pages.append(outbox)
    if viewer.is_manager:
        pages.append(st.Page(PAGES / "data_status.py", title="Data status", icon=":material/table_view:"))
    return pages


def stale_sheet_banner() -> None:
    """Everyone should know when the sheet cannot be read: they work from an older copy."""
    with get_runtime().db.session() as session:
        status = sync_status(session)
    if status.failing:
        st.warning(f"Last synced {status.last_good_ago(clock.now())}: {md_escape(status.problem)}",
                   icon=":material/sync_problem:")
