"""The rep's page on a phone (390×844, touch) and the leads table's row click, in Debian's Chromium.

A phone is held in one hand: every call link and outcome is a thumb-sized target (44 px), nothing
scrolls sideways, the leads are one tap from the top, and a call, a referral and a follow-up are
logged by tapping (and typing the referral's name and number).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_rep_page_browser import chromium, screenshot_path, serve

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
TAP_TARGET = 44  # px: Apple's and WCAG 2.5.5's minimum

# The visible elements matching a selector, with their on-screen size.
BOXES = """sel => [...document.querySelectorAll(sel)].filter(e => e.getClientRects().length > 0)
  .map(e => { const r = e.getBoundingClientRect();
              return {text: e.textContent.trim().slice(0, 40), width: r.width, height: r.height}; })"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    yield from serve(tmp_path, history=False)


def styled(page: Page) -> None:
    """Wait for the page's own CSS (it arrives with the first run, after the first text shows)."""
    page.wait_for_function("[...document.querySelectorAll('style')].some(s => s.textContent.includes("
                           "'st-key-countdown_cards'))")
    page.wait_for_timeout(300)


def idle(page: Page) -> None:
    """Wait until the app is not running a script (Streamlit shows its status widget while it does)."""
    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=15_000)
    page.wait_for_timeout(200)


def small_targets(page: Page, selector: str) -> list[dict]:
    boxes = page.evaluate(BOXES, selector)
    assert boxes, f"nothing visible matches {selector}"
    return [b for b in boxes if b["height"] < TAP_TARGET]


def sideways_scroll(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def log_call_with_referral(page: Page, first_name: str, phone: str) -> None:
    form = page.get_by_test_id("stExpanderDetails").first
    form.get_by_text("Connected", exact=True).tap()
    form.get_by_label("First name").first.fill(first_name)
    form.get_by_label("Phone").first.fill(phone)
    form.get_by_label("Phone").first.press("Tab")
    page.wait_for_timeout(500)
    form.get_by_role("button", name="Save call").tap()


def test_a_rep_works_the_day_from_a_phone(server: str, tmp_path: Path) -> None:
    with chromium() as browser:
        context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True,
                                      device_scale_factor=2)
        page = context.new_page()
        page.goto(server)
        expect(page.get_by_text("Your calls · Monday 23 November")).to_be_visible(timeout=30_000)
        expect(page.get_by_test_id("stRadioOption").first).to_be_visible()
        styled(page)
        assert small_targets(page, 'a[href^="tel:"]') == []
        assert small_targets(page, '[data-testid="stRadioOption"]') == []
        assert sideways_scroll(page) <= PHONE["width"]

        log_call_with_referral(page, "Rosa", "(415) 555-0188")
        expect(page.get_by_text("Call saved: 1 new lead to follow up")).to_be_visible(timeout=15_000)
        page.screenshot(path=str(screenshot_path("rep-phone-calls.png", tmp_path)))

        page.get_by_role("tab", name="Leads").tap()
        card = page.get_by_role("button", name="Rosa · referral · next reminder")
        expect(card).to_be_visible(timeout=15_000)
        expect(page.get_by_test_id("stDataFrame")).to_be_hidden()  # cards, not a wide table
        assert small_targets(page, ".st-key-countdown_cards button") == []
        assert sideways_scroll(page) <= PHONE["width"]
        card.tap()
        panel = page.get_by_test_id("stExpander").filter(has_text="Rosa · referral")
        expect(panel.get_by_role("button", name="Save follow-up")).to_be_visible(timeout=15_000)
        assert small_targets(page, '[data-testid="stRadioOption"]') == []
        idle(page)  # a tap during a run can land on the element the run is about to replace
        panel.get_by_text("Left voicemail", exact=True).tap()
        expect(panel.get_by_role("radio", name="Left voicemail")).to_be_checked()
        idle(page)
        panel.get_by_role("button", name="Save follow-up").tap()
        expect(page.get_by_text("Attempt logged")).to_be_visible(timeout=15_000)
        expect(panel.get_by_text(re.compile(r" old · 1 attempt$"))).to_be_visible()
        # Still open after the save: the next outcome is one tap away (once the run's stale copy has gone).
        expect(panel.get_by_role("button", name="Save follow-up")).to_have_count(1)
        expect(panel.get_by_role("button", name="Save follow-up")).to_be_visible()
        expect(page.get_by_role("tab", name="Leads")).to_have_attribute("aria-selected", "true")
        assert sideways_scroll(page) <= PHONE["width"]
        page.screenshot(path=str(screenshot_path("rep-phone-leads.png", tmp_path)))


def test_clicking_a_row_of_the_leads_table_opens_that_lead(server: str) -> None:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1400}, has_touch=True)
        page.goto(server)
        expect(page.get_by_text("Your calls · Monday 23 November")).to_be_visible(timeout=30_000)
        log_call_with_referral(page, "Rosa", "(415) 555-0188")
        expect(page.get_by_text("Call saved: 1 new lead to follow up")).to_be_visible(timeout=15_000)
        page.get_by_role("tab", name="Leads").click()
        table = page.get_by_test_id("stDataFrame")
        expect(table).to_be_visible()
        expect(page.get_by_role("button", name="Rosa · referral · next reminder")).to_be_hidden()  # no cards
        first_lead = page.get_by_test_id("stExpander").filter(has_text="Rosa · referral")
        expect(first_lead.get_by_role("button", name="Save follow-up")).to_be_hidden()
        box = table.bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + 16, box["y"] + 35 + 17)  # the first row, under the header
        expect(first_lead.get_by_role("button", name="Save follow-up")).to_be_visible(timeout=15_000)
