"""What a rep or the sheet typed is shown exactly as typed, in a real browser: never a link, an image, HTML.

A customer, a lead, a follow-up note and an e-mail subject carry a Markdown link, a Markdown image, an
HTML tag with an onerror handler and a plain web address. Chromium opens every page they appear on; the
test proves that no element links to or loads from those hosts, no script runs, and that the text reads
exactly as typed, without the backslashes of the escaping. (md_escape breaks GFM's autolinks with an
invisible word joiner; the comparison below drops it, as a reader's eye does.)
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from outreach.db import Database
from outreach.mail.outbox import Email, enqueue
from outreach.models import Customer, Lead, PlannedCall, Rep
from tests.browser.test_rep_page_browser import MONDAY_11AM_NY, chromium, serve

pytestmark = pytest.mark.browser

LINK = "[Session expired - sign in again](http://evil.example)"
IMAGE = "![x](http://evil.example/x.png)"
HTML = "<img src=x onerror=alert(1)>"
ADDRESS = "https://acme.com/contact"
NOTE = f"{IMAGE} {HTML} see {ADDRESS}"
WATCHED_HOSTS = {"evil.example", "acme.com"}
WORD_JOINER = "\u2060"


@pytest.fixture
def typed(tmp_path: Path) -> Iterator[tuple[str, dict[str, int]]]:
    """The demo team served, with the hostile text in a customer, a lead and an e-mail of the first rep."""
    for base in serve(tmp_path, history=False):
        db = Database(f"sqlite:///{tmp_path / 'browser.db'}")
        with db.session() as session, session.begin():
            rep = session.scalars(select(Rep).where(Rep.active.is_(True))
                                  .order_by(Rep.role.desc(), Rep.name)).first()  # the demo picker's first
            planned = session.scalars(select(PlannedCall).where(PlannedCall.rep_id == rep.id)
                                      .order_by(PlannedCall.position)).first()
            customer = session.get(Customer, planned.customer_id)
            customer.first_name, customer.last_name, customer.company = "Ann", LINK, "<b>Acme</b>"
            customer.notes = NOTE
            lead = Lead(kind="referral", status="new", owner_id=rep.id, first_name="Bea", last_name=LINK,
                        phone="+16175550142", need=NOTE, attempts=0, reminders_sent=0,
                        created_at=MONDAY_11AM_NY - timedelta(hours=3))
            session.add(lead)
            session.flush()
            enqueue(session, Email(key="test:subject", kind="alert", to_email=rep.email, rep_id=rep.id,
                                   subject=f"New lead: Bea {LINK} {IMAGE}", text="t", html="<p>h</p>"),
                    MONDAY_11AM_NY)
            ids = {"lead": lead.id}
        db.dispose()
        yield base, ids


class Watch:
    """Everything the page requests, every dialog it opens."""

    def __init__(self, page: Page) -> None:
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))


def shown_text(page: Page) -> str:
    return page.inner_text("body").replace(WORD_JOINER, "")


def assert_nothing_live(page: Page, watch: Watch) -> None:
    links = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    images = page.eval_on_selector_all("img[src]", "els => els.map(e => e.src)")
    assert not [u for u in links + images if urlsplit(u).hostname in WATCHED_HOSTS]
    assert not [u for u in watch.requests if urlsplit(u).hostname in WATCHED_HOSTS
                or urlsplit(u).path.endswith("/x")]  # <img src=x>, relative to the app
    assert page.locator("main img[src='x'], main [onerror]").count() == 0
    assert watch.dialogs == []
    assert "\\" not in shown_text(page)  # none of the escaping shows


def test_typed_text_is_shown_exactly_and_nothing_in_it_links_loads_or_runs(
        typed: tuple[str, dict[str, int]]) -> None:
    base, ids = typed
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1600})
        watch = Watch(page)
        page.goto(base)
        page.get_by_role("tab", name="Leads").click(timeout=30_000)  # Today: Calls and Leads are tabs
        expect(page.get_by_text("Leads to follow up")).to_be_visible(timeout=30_000)
        lead = page.get_by_test_id("stExpander").filter(has_text="Bea [Session expired")
        lead.locator("summary").click()
        lead.get_by_label("Note").fill(f"left a message {LINK} {HTML}")
        lead.get_by_label("Note").press("Tab")  # Streamlit takes a text input's value when it loses focus
        page.wait_for_timeout(500)
        lead.get_by_text("Left voicemail", exact=True).click()
        page.wait_for_timeout(500)
        lead.get_by_role("button", name="Save follow-up").click()
        expect(page.get_by_text("Attempt logged")).to_be_visible(timeout=15_000)
        page.wait_for_timeout(1000)  # the rerun after the save draws the panel again
        lead = page.get_by_test_id("stExpander").filter(has_text="Bea [Session expired")
        if lead.locator("details").get_attribute("open") is None:
            lead.locator("summary").click()
        expect(lead.get_by_text("Needs:")).to_be_visible(timeout=15_000)
        text = shown_text(page)
        page.get_by_role("tab", name="Calls").click()
        expect(page.get_by_text("Your calls")).to_be_visible()
        text += shown_text(page)
        for expected in (f"Ann {LINK} · <b>Acme</b>", NOTE, f"Bea {LINK} · referral", f"Needs: {NOTE}",
                         f"left a message {LINK} {HTML}"):
            assert expected in text, expected
        assert_nothing_live(page, watch)

        page.goto(f"{base}/?lead={ids['lead']}")  # the link in every alert e-mail
        expect(page.get_by_text("The lead from your e-mail")).to_be_visible(timeout=30_000)
        assert f"Bea {LINK} · referral" in shown_text(page)
        assert_nothing_live(page, watch)

        page.get_by_role("link", name="Outbox").click()
        expect(page.get_by_role("tab", name="Plain text")).to_be_visible(timeout=30_000)
        assert f"New lead: Bea {LINK} {IMAGE}\nTo:" in shown_text(page)
        assert_nothing_live(page, watch)

        page.get_by_test_id("stSidebar").get_by_role("combobox").first.click()
        page.get_by_text("Maya Chen (manager)").click()
        page.get_by_role("link", name="Team").click()
        expect(page.get_by_text("Overdue leads right now")).to_be_visible(timeout=30_000)
        expect(page.get_by_role("button", name="Close as duplicate")).to_be_visible(timeout=30_000)
        page.wait_for_timeout(1000)  # the page settles before the dropdown opens
        page.get_by_role("combobox", name="Lead", exact=True).click()
        page.keyboard.type("Bea")
        page.get_by_role("option", name=f"Bea {LINK}").click()
        page.wait_for_timeout(1000)  # the rerun that binds the buttons to the chosen lead
        page.get_by_role("button", name="Close as duplicate").click()
        expect(page.get_by_text("closed as a duplicate")).to_be_visible(timeout=15_000)
        said = page.get_by_test_id("stAlertContentSuccess").first.inner_text().replace(WORD_JOINER, "")
        assert said == f"Bea {LINK} closed as a duplicate: no more reminders."
        assert_nothing_live(page, watch)


def test_demo_mode_refuses_a_browser_that_came_through_a_proxy(tmp_path: Path) -> None:
    """The headers a reverse proxy adds reach the demo guard through st.context.headers."""
    for base in serve(tmp_path, history=False):
        with chromium() as browser:
            proxied = browser.new_page(extra_http_headers={"X-Forwarded-For": "203.0.113.9"})
            proxied.goto(base)
            expect(proxied.get_by_text("anyone could act as any rep")).to_be_visible(timeout=30_000)
            expect(proxied.get_by_text("Demo mode: you are")).to_have_count(0)
            direct = browser.new_page()
            direct.goto(base)
            expect(direct.get_by_text("Demo mode: you are")).to_be_visible(timeout=30_000)
