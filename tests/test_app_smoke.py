"""Every page of the app renders without an exception on the demo data."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from outreach import clock
from outreach.models import OutboxMessage, SyncRun
from outreach.runtime import Runtime
from outreach.settings import PROJECT_ROOT
from outreach.sheet.sync import run_sync, sync_status
from tests.apptest import MANAGER, open_app
from tests.shown import shown

PAGES = ["today.py", "team.py", "outbox.py", "data_status.py"]
REP_PAGES = ["today.py", "outbox.py"]


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_without_exception(demo_app: Runtime, page: str) -> None:
    at = open_app(page, as_email=MANAGER)
    assert not at.exception, at.exception
    if page in REP_PAGES:
        assert not open_app(page).exception


def test_a_rep_is_not_shown_the_manager_pages(demo_app: Runtime) -> None:
    at = open_app()  # the demo's first rep
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("outreach/ui/pages/team.py")


def test_data_status_lists_skipped_rows(demo_app: Runtime) -> None:
    at = open_app("data_status.py", as_email=MANAGER)
    assert any(s.value.startswith("Sheet: synced just now") for s in at.success)
    assert "need attention" in at.subheader[0].value


def sync_runs(runtime: Runtime) -> list[SyncRun]:
    with runtime.db.session() as session:
        return list(session.scalars(select(SyncRun).order_by(SyncRun.id)))


def test_sync_now_reads_the_sheet_and_says_so(demo_app: Runtime) -> None:
    at = open_app("data_status.py", as_email=MANAGER)
    before = sync_runs(demo_app)
    at.button(key="sync_now").click().run()
    assert not at.exception, at.exception
    (status,) = at.status
    assert (status.label, status.state) == ("Sync finished", "complete")
    after = sync_runs(demo_app)
    assert len(after) == len(before) + 1 and after[-1].ok


def test_a_failed_sync_shows_the_problem_as_typed(demo_app: Runtime, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import streamlit as st

    monkeypatch.setenv("OUTREACH_WORKBOOK", str(tmp_path / "[Open](http:" / "evil.example).xlsx"))
    st.cache_resource.clear()  # a Runtime that reads the missing workbook
    at = open_app("data_status.py", as_email=MANAGER)
    at.button(key="sync_now").click().run()
    assert not at.exception, at.exception
    (status,) = at.status
    assert status.state == "error" and "[Open](http:/evil.example).xlsx" in shown(status.label)
    sources = [status.label, *(e.value for e in at.error), *(w.value for w in at.warning),
               *(c.value for c in at.caption)]
    assert not [s for s in sources if re.search(r"(?<!\\)\]\(", s)], sources  # no live link anywhere
    assert any("[Open](http:/evil.example).xlsx" in shown(e.value) for e in at.error)  # the health panel


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(what: str, check: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"{what} did not happen in {seconds:.0f} s"
        time.sleep(0.5)


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health") as resp:
            return resp.status == 200
    except OSError:
        return False


def test_make_runs_server_serves_the_page_and_works_before_anyone_opens_it(
        tmp_path: Path, sqlite_runtime: Runtime) -> None:
    """`make run`'s launcher: health and page answer, and the worker syncs with no visitor at all."""
    port = free_port()
    env = {**os.environ,
           "OUTREACH_DATABASE_URL": sqlite_runtime.settings.database_url.reveal(),
           "OUTREACH_WORKBOOK": str(sqlite_runtime.settings.workbook),
           "OUTREACH_SECRETS_FILE": str(tmp_path / "none.toml"),
           "OUTREACH_RUN_WORKER_IN_APP": "true"}
    server = subprocess.Popen(
        [sys.executable, "-m", "outreach.serve", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for("the app answering /_stcore/health", lambda: healthy(port))

        def synced() -> bool:
            with sqlite_runtime.db.session() as session:
                return sync_status(session).last_run is not None

        wait_for("the worker's first sync, before any browser connected", synced, 30)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as resp:
            assert resp.status == 200
            assert b"<div id=\"root\">" in resp.read()
        with sqlite_runtime.db.session() as session:  # the demo's inbound leads were alerted
            alerts = list(session.scalars(select(OutboxMessage.html).where(OutboxMessage.kind == "alert")))
        assert alerts and all(f'href="http://127.0.0.1:{port}/?lead=' in html for html in alerts)
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_every_page_says_when_the_sheet_cannot_be_read(demo_app: Runtime, tmp_path: Path) -> None:
    from datetime import timedelta

    from outreach.sheet.sheet_source import WorkbookSource

    broken = WorkbookSource(tmp_path / "gone.xlsx")
    run_sync(demo_app.db, broken, clock.now() + timedelta(seconds=1))
    at = open_app("today.py")
    (banner,) = [w.value for w in at.warning]
    assert banner.startswith("Last synced just now: cannot read the workbook")
    at = open_app("data_status.py", as_email=MANAGER)
    (said,) = [e.value for e in at.error if "goes on with the last good snapshot" in e.value]
    assert "cannot read the workbook" in said
    assert not [w for w in at.warning if w.value.startswith("Last synced")]  # said once, not twice


def test_outbox_shows_the_e_mails_the_product_would_send(demo_app: Runtime) -> None:
    from datetime import UTC, datetime

    import time_machine

    from outreach.worker import Worker

    with time_machine.travel(datetime(2026, 11, 23, 12, 31, tzinfo=UTC), tick=False):
        Worker(demo_app).run_once()  # 07:31 in New York: the call lists go out
    at = open_app("outbox.py", as_email=MANAGER)
    assert not at.exception
    table = at.dataframe[0].value
    # The call lists, and the alerts for the demo's two inbound leads.
    assert set(table["kind"]) == {"call-list", "alert"} and set(table["status"]) == {"sent"}
    assert "embedded outbox" in at.caption[0].value
    # A rep sees only the e-mails addressed to them.
    rep = "jordan.rivera@example.com"
    at = open_app("outbox.py", as_email=rep)
    assert at.title[0].value == "Your e-mails"
    assert set(at.dataframe[0].value["to"]) == {rep}


def test_the_outbox_shows_a_subject_as_typed_and_why_a_reminder_waits(demo_app: Runtime) -> None:
    from outreach.mail.outbox import Email, enqueue

    with demo_app.db.session() as session, session.begin():
        enqueue(session, Email(key="reminder:test:1", kind="reminder", to_email="jordan.rivera@example.com",
                               subject="Reminder: *Bob* [x](http://evil.example) is still waiting",
                               text="t", html="<p>h</p>"), clock.now())
        session.execute(OutboxMessage.__table__.update().values(
            last_error="waiting for Jordan Rivera's business hours (Tue 24 Nov 08:00 America/New_York)"))
    at = open_app("outbox.py", as_email=MANAGER)
    assert not at.exception, at.exception
    (subject,) = [m.value for m in at.markdown if "Bob" in m.value]
    assert shown(subject).startswith("**Reminder: *Bob* [x](http://evil.example) is still waiting**\n"
                                     "To: [jordan.rivera@example.com](mailto:jordan.rivera@example.com)")
    assert re.findall(r"(?<!\\)\]\((.*?)\)", subject) == ["mailto:jordan.rivera@example.com"]
    assert any("business hours" in c.value for c in at.caption)
    assert at.dataframe[0].value["note"].iloc[0].startswith("waiting for Jordan Rivera")
