"""A rep's whole day and a manager's clean-up, in Debian's Chromium, on a desk screen and a phone.

The rep logs a call with a referral and a concern, follows the referral up, finds it later on the
Leads page and marks it Won. The manager reassigns an overdue lead, closes one as a duplicate
of the lead to keep, and takes that back. Run with OUTREACH_UPDATE_DOCS=1 to refresh the
README's screenshots.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.test_phone_browser import PHONE, idle, sideways_scroll, small_targets, styled
from tests.browser.test_rep_page_browser import chromium, screenshot_path, server, server_with_history

pytestmark = pytest.mark.browser
DESK = {"width": 1400, "height": 900}
__all__ = ["server", "server_with_history"]  # the fixtures, shared with the rep page's test


def press(target: Locator, phone: bool) -> None:
    """A thumb on a phone, a mouse on a desk."""
    if phone:
        target.tap()
    else:
        target.click()


def log_call_with_referral_and_concern(page: Page, phone: bool) -> None:
    form = page.get_by_test_id("stExpanderDetails").first
    press(form.get_by_text("Connected", exact=True), phone)
    form.get_by_label("Anything we can do better?").fill("Invoices arrive late")
    press(form.get_by_text("Flag this as a concern", exact=False), phone)
    form.get_by_label("First name").first.fill("Rosa")
    form.get_by_label("Last name").first.fill("Delgado")
    form.get_by_label("Phone").first.fill("(415) 555-0188")
    form.get_by_label("Phone").first.press("Tab")
    page.wait_for_timeout(500)
    idle(page)
    press(form.get_by_role("button", name="Save call"), phone)
    saved = page.get_by_text("Call saved: 2 new leads to follow up", exact=False)
    expect(saved).to_be_visible(timeout=15_000)


def open_leads_tab_panel(page: Page, name: str, phone: bool) -> Locator:
    press(page.get_by_role("tab", name="Leads"), phone)
    panel = page.get_by_test_id("stExpander").filter(has_text=f"{name} · referral")
    if phone:
        press(page.get_by_role("button", name=re.compile(f"^{name} · referral · next reminder")), phone)
    else:
        press(panel.locator("summary"), phone)
    save = panel.get_by_role("button", name="Save follow-up")
    expect(save).to_have_count(1, timeout=15_000)  # a run's stale copy of the panel goes first
    expect(save).to_be_visible(timeout=15_000)
    idle(page)
    return panel


@pytest.mark.parametrize("screen", ["desk", "phone"])
def test_a_reps_day_call_concern_follow_up_and_later_won(server: str, tmp_path: Path, screen: str) -> None:
    phone = screen == "phone"
    with chromium() as browser:
        context = (browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True, device_scale_factor=2)
                   if phone else browser.new_context(viewport=DESK))
        page = context.new_page()
        page.goto(server)
        expect(page.get_by_text("Your calls · Monday 23 November")).to_be_visible(timeout=30_000)
        styled(page)
        log_call_with_referral_and_concern(page, phone)

        panel = open_leads_tab_panel(page, "Rosa Delgado", phone)
        expect(page.get_by_test_id("stExpander").filter(has_text="· concern")).to_have_count(1)
        press(panel.get_by_text("Connected", exact=True), phone)
        expect(panel.get_by_role("radio", name="Connected")).to_be_checked()
        idle(page)
        press(panel.get_by_role("button", name="Save follow-up"), phone)
        expect(page.get_by_text("Conversation logged: no more reminders for this lead.")).to_be_visible(
            timeout=15_000)

        # Days later: the lead is found on the Leads page and marked Won.
        page.goto(f"{server}/leads")
        expect(page.get_by_role("heading", name="Leads")).to_be_visible(timeout=30_000)
        page.get_by_label("Search by name, phone or e-mail").fill("rosa")
        page.get_by_label("Search by name, phone or e-mail").press("Enter")
        if phone:
            card = page.get_by_role("button", name=re.compile(r"^Rosa Delgado · Connected · referral"))
            expect(card).to_be_visible(timeout=15_000)
            expect(page.get_by_test_id("stDataFrame")).to_be_hidden()  # cards, not a wide table
            assert small_targets(page, ".st-key-leads_cards button") == []
            idle(page)
            card.tap()
        else:
            expect(page.get_by_text("1 lead", exact=True)).to_be_visible(timeout=15_000)
            idle(page)
            table = page.locator(".st-key-leads_table [data-testid='stDataFrame']")
            box = table.bounding_box()
            assert box is not None
            page.mouse.click(box["x"] + 16, box["y"] + 35 + 17)  # the row under the header
        expect(page.get_by_role("heading", name="Rosa Delgado · Connected")).to_be_visible(timeout=15_000)
        if phone:  # on screen, not below the other cards
            expect(page.get_by_role("heading", name="Rosa Delgado · Connected")).to_be_in_viewport()
        idle(page)
        press(page.get_by_test_id("stRadio").get_by_text("Won", exact=True), phone)
        idle(page)
        if phone:
            assert small_targets(page, '[data-testid="stRadioOption"]') == []
            assert small_targets(page, 'a[href^="tel:"]') == []
            assert small_targets(page, ".stButton button") == []  # Save next step, the cards
            assert sideways_scroll(page) <= PHONE["width"]
        press(page.get_by_role("button", name="Save next step"), phone)
        expect(page.get_by_text("Rosa Delgado: Won logged.")).to_be_visible(timeout=15_000)
        won = page.get_by_role("heading", name="Rosa Delgado · Won")
        expect(won).to_be_visible(timeout=15_000)
        idle(page)  # the run's stale copy of the old form goes at its end
        expect(page.get_by_test_id("stRadio").get_by_role("radio", name="Won")).not_to_be_checked(
            timeout=15_000)  # a fresh, empty form
        won.evaluate("e => e.scrollIntoView({block: 'center'})")
        page.wait_for_timeout(800)
        page.screenshot(path=str(screenshot_path(f"leads-{screen}.png", tmp_path)))


def test_a_manager_reassigns_closes_a_duplicate_and_takes_it_back(server_with_history: str) -> None:
    with chromium() as browser:
        page = browser.new_page(viewport=DESK)
        page.goto(server_with_history)
        page.get_by_test_id("stSidebar").get_by_role("combobox").first.click()
        page.get_by_text("Maya Chen (manager)").click()
        page.get_by_role("link", name="Team").click()
        expect(page.get_by_text("Overdue leads right now")).to_be_visible(timeout=30_000)
        expect(page.get_by_role("button", name="Reassign")).to_be_visible(timeout=30_000)
        idle(page)
        page.get_by_role("button", name="Reassign").click()
        expect(page.get_by_text("reassigned; the new owner is being alerted.")).to_be_visible(timeout=15_000)
        idle(page)

        page.get_by_role("button", name="Close as duplicate").click()
        expect(page.get_by_text("closed as a duplicate: no more reminders.")).to_be_visible(timeout=15_000)
        idle(page)
        undo = page.get_by_role("button", name="Undo duplicate")
        expect(undo).to_be_visible()
        undo.click()
        expect(page.get_by_text("is no longer a duplicate: back to ", exact=False)).to_be_visible(
            timeout=15_000)
