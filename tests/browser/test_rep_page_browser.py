"""One real browser: Debian's Chromium, driven by Playwright, against `streamlit run app.py`.

A rep opens the page, logs a call with a referral, and sees the new lead in the
list. The screenshot it takes is the one in the README: run with
OUTREACH_UPDATE_DOCS=1 to refresh docs/rep-page.png (otherwise it stays in the
test's temporary folder, so a test run never changes the checkout).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from outreach.calls.planner import build_due_plans
from outreach.db import Database, migrate
from outreach.demo_data import committed_demo_workbook
from outreach.demo_history import play_history
from outreach.runtime import team_settings
from outreach.settings import PROJECT_ROOT
from outreach.sheet.sheet_source import WorkbookSource
from outreach.sheet.sync import run_sync

CHROMIUM = "/usr/bin/chromium"
MONDAY_11AM_NY = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # 08:00 in Los Angeles
DOCS = PROJECT_ROOT / "docs"


def screenshot_path(name: str, tmp_path: Path) -> Path:
    return (DOCS if os.environ.get("OUTREACH_UPDATE_DOCS") == "1" else tmp_path) / name

pytestmark = pytest.mark.browser


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(tmp_path: Path, *, history: bool) -> Iterator[str]:
    """The demo team on a Monday morning (with four weeks behind it if ``history``), served."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is not installed (apt install chromium)")
    workbook = tmp_path / "workbook.xlsx"
    shutil.copyfile(committed_demo_workbook(), workbook)
    url = f"sqlite:///{tmp_path / 'browser.db'}"
    db = Database(url)
    migrate(db)
    assert run_sync(db, WorkbookSource(workbook), MONDAY_11AM_NY).ok
    with db.session() as session, session.begin():
        if history:
            play_history(session, MONDAY_11AM_NY, team_settings(session))
        build_due_plans(session, MONDAY_11AM_NY, team_settings(session))
    db.dispose()
    port = free_port()
    env = {**os.environ, "OUTREACH_DATABASE_URL": url, "OUTREACH_WORKBOOK": str(workbook),
           "OUTREACH_SECRETS_FILE": str(tmp_path / "none.toml"),
           # The manager's health panel should show a live worker; the rep's test needs a still one.
           "OUTREACH_RUN_WORKER_IN_APP": "true" if history else "false"}
    process = subprocess.Popen(
        [sys.executable, "tests/at.py", MONDAY_11AM_NY.isoformat(), "streamlit", "run", "app.py",
         "--server.port", str(port),
         "--server.address", "localhost", "--server.headless", "true"],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/_stcore/health", timeout=2)
                break
            except OSError:
                assert process.poll() is None, process.stdout.read().decode()
                assert time.monotonic() < deadline, "the app did not come up in 60 s"
                time.sleep(0.5)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    yield from serve(tmp_path, history=False)


@pytest.fixture
def server_with_history(tmp_path: Path) -> Iterator[str]:
    yield from serve(tmp_path, history=True)


def without_moved_clock(environ: Mapping[str, str]) -> dict[str, str]:
    """The browser is not under test: under tests/faketime/run it keeps the real clock (libfaketime
    preloaded into Chromium stops it loading any page)."""
    return {k: v for k, v in environ.items() if k != "LD_PRELOAD" and not k.startswith("FAKETIME")}


@contextmanager
def chromium() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, env=without_moved_clock(os.environ),
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        try:
            yield browser
        finally:
            browser.close()


def test_a_rep_logs_a_call_with_a_referral_and_sees_the_lead(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.goto(server)
        expect(page.get_by_text("Your calls · Monday 23 November")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("0 of 4 done")).to_be_visible()
        form = page.get_by_test_id("stExpanderDetails").first
        form.get_by_text("Connected", exact=True).click()
        form.get_by_label("What do they like best about working with us?").fill(
            "They answer on the first ring")
        form.get_by_label("First name").first.fill("Rosa")
        form.get_by_label("Last name").first.fill("Delgado")
        form.get_by_label("Phone").first.fill("(415) 555-0188")
        form.get_by_label("What they need").first.fill("Two new locations")
        form.get_by_label("What they need").first.press("Tab")
        page.wait_for_timeout(500)
        form.get_by_role("button", name="Save call").click()
        expect(page.get_by_text("Call saved: 1 new lead to follow up")).to_be_visible(timeout=15_000)
        expect(page.get_by_text("1 of 4 done")).to_be_visible()
        page.get_by_role("tab", name="Leads").click()
        expect(page.get_by_test_id("stExpander").filter(has_text="Rosa Delgado · referral")).to_be_visible()
        page.wait_for_timeout(1000)
        page.screenshot(path=str(screenshot_path("rep-page.png", tmp_path)), full_page=False)


def test_a_manager_sees_the_team_at_work(server_with_history: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1900})
        page.goto(server_with_history)
        page.get_by_test_id("stSidebar").get_by_role("combobox").first.click()
        page.get_by_text("Maya Chen (manager)").click()
        page.get_by_role("link", name="Team").click()
        expect(page.get_by_text("By rep")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Calls made / planned")).to_be_visible()
        expect(page.get_by_text("never became a conversation")).to_be_visible()
        for chart in ("Calls per day vs. quota", "Speed to lead", "From ask to deal"):
            expect(page.get_by_text(chart)).to_be_visible()
        expect(page.locator("canvas, svg.marks").first).to_be_visible(timeout=15_000)  # Vega drew
        page.wait_for_timeout(1500)
        page.screenshot(path=str(screenshot_path("team-page.png", tmp_path)), full_page=True)
        referrers = page.locator(".st-key-referrers")
        expect(referrers.get_by_text("Credited to the rep who took the referral")).to_be_visible()
        referrers.scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        referrers.screenshot(path=str(screenshot_path("referrers.png", tmp_path)))
        with page.expect_download() as download:  # made when clicked, by the server
            referrers.get_by_role("button", name="Download CSV").click()
        csv_text = Path(download.value.path()).read_text(encoding="utf-8")
        assert csv_text.startswith('"Customer ID","Customer","Company","Owner","Referrals"')
        assert csv_text.count("\n") > 10
