"""The front desk in Debian's Chromium: keyboard only, three kinds of caller, a double click, a failed
save, a handover, and a front-desk person kept to their own pages."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from outreach.access import Viewer
from outreach.db import Database
from outreach.leads.front_desk import IntakeInput, save_intake
from outreach.models import Customer, Lead, Rep
from outreach.runtime import team_settings
from tests.browser.test_rep_page_browser import MONDAY_11AM_NY, chromium, screenshot_path, serve

pytestmark = pytest.mark.browser
ROSA = "rosa.alvarez@example.com"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    yield from serve(tmp_path, history=False)


def database(tmp_path: Path) -> Database:
    return Database(f"sqlite:///{tmp_path / 'browser.db'}")


def take_in_earlier(db: Database, first_name: str, minutes_ago: int) -> None:
    with db.session() as session, session.begin():
        rosa = Viewer.of(session.scalar(select(Rep).where(Rep.email == ROSA)))
        save_intake(session, rosa, IntakeInput(first_name=first_name, phone="(617) 555-0133",
                                               client_token=f"earlier-{first_name}"),
                    team_settings(session), MONDAY_11AM_NY - timedelta(minutes=minutes_ago))


def as_front_desk(page: Page, server: str) -> None:
    page.goto(server)
    page.get_by_test_id("stSidebar").get_by_role("combobox").first.click()
    page.get_by_text("Rosa Alvarez (front desk)").click()
    expect(page.get_by_role("heading", name="Front desk")).to_be_visible(timeout=30_000)


def field(page: Page, label: str):  # type: ignore[no-untyped-def]
    """The visible input of that label (the last caller's form lingers, hidden, for a moment)."""
    return page.locator(f'input[aria-label="{label}"]:visible')


def type_caller(page: Page, phone: str, first: str, last: str = "", reason: str = "") -> None:
    """As a receptionist would: phone, Tab (the lookup runs), e-mail, Tab, names, reason, Enter."""
    expect(field(page, "Phone")).to_have_value("")
    field(page, "Phone").fill(phone)
    field(page, "Phone").press("Tab")
    page.wait_for_timeout(600)
    page.keyboard.press("Tab")  # past the e-mail
    field(page, "First name").fill(first)
    field(page, "Last name").fill(last)
    field(page, "Why they are calling").fill(reason)


def leads_named(db: Database, first_name: str) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(Lead).where(Lead.first_name == first_name))


def test_the_front_desk_takes_three_kinds_of_caller_by_keyboard(server: str, tmp_path: Path) -> None:
    db = database(tmp_path)
    with db.session() as session:
        customer = session.scalar(select(Customer).where(
            Customer.phone.is_not(None), Customer.active.is_(True), Customer.owner_email.is_not(None))
            .order_by(Customer.id))
    take_in_earlier(db, "Waited", minutes_ago=20)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1250})
        as_front_desk(page, server)
        nav = page.get_by_test_id("stSidebarNav")
        expect(nav.get_by_role("link")).to_have_text([re.compile("Front desk$"), re.compile("Outbox$")])

        # Someone new: Enter in the last field saves, and the desk is told what to say.
        type_caller(page, "(617) 555-0190", "Lena", "Park", "Kitchen remodel")
        field(page, "Why they are calling").press("Enter")
        expect(page.get_by_text("will call you back within 5 minutes")).to_be_visible(timeout=15_000)
        expect(field(page, "First name")).to_have_value("")

        # A customer: recognised as the phone is typed; saving makes a concern.
        type_caller(page, customer.phone, customer.first_name, reason="Billing question")
        expect(page.get_by_text(f"Existing customer: {customer.full_name}")).to_be_visible()
        field(page, "Why they are calling").press("Enter")
        expect(page.get_by_text(f"Concern: {customer.first_name}")).to_be_visible(timeout=15_000)

        # The new lead calls again: no second lead.
        type_caller(page, "617-555-0190", "Lena", reason="Still waiting")
        expect(page.get_by_text("Already a lead: Lena Park")).to_be_visible()
        field(page, "Why they are calling").press("Enter")
        expect(page.get_by_text("Called again: Lena")).to_be_visible(timeout=15_000)
        assert leads_named(db, "Lena") == 1

        # A double click makes one lead.
        type_caller(page, "(617) 555-0191", "Mo")
        page.get_by_role("button", name="Save and alert the rep").dblclick()
        expect(page.get_by_text("New lead: Mo")).to_be_visible(timeout=15_000)
        page.wait_for_timeout(1000)
        assert leads_named(db, "Mo") == 1

        # The one nobody has called back in 15 minutes goes to the next rep.
        page.get_by_role("button", name="Waited has waited over 15 min: hand to the next rep").click()
        expect(page.get_by_text("Handed on to")).to_be_visible(timeout=15_000)
        expect(page.get_by_test_id("stDataFrame")).to_be_visible()
        expect(page.get_by_text("handed on, waiting 20 min")).to_be_attached()  # a cell of the canvas grid
        page.get_by_role("heading", name="Front desk").scroll_into_view_if_needed()
        page.wait_for_timeout(800)
        page.screenshot(path=str(screenshot_path("front-desk.png", tmp_path)))



def test_a_failed_save_keeps_what_the_desk_typed(server: str, tmp_path: Path) -> None:
    db_file = tmp_path / "browser.db"
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        as_front_desk(page, server)
        type_caller(page, "(617) 555-0192", "Nia", "Cole", "Urgent: water leak")
        with sqlite3.connect(db_file) as conn:
            conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON leads "
                         "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END")
        field(page, "Why they are calling").press("Enter")
        expect(page.get_by_text("Nothing you typed was lost")).to_be_visible(timeout=15_000)
        expect(field(page, "First name")).to_have_value("Nia")
        expect(field(page, "Phone")).to_have_value("(617) 555-0192")
        expect(field(page, "Why they are calling")).to_have_value("Urgent: water leak")
        with sqlite3.connect(db_file) as conn:
            conn.execute("DROP TRIGGER refuse")
        page.get_by_role("button", name="Save and alert the rep").click()
        expect(page.get_by_text("New lead: Nia Cole")).to_be_visible(timeout=15_000)
    assert leads_named(database(tmp_path), "Nia") == 1
