"""The thank-you on Today and in the morning e-mail, and the Team page's Referrers, with AppTest."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.access import Viewer
from outreach.calls.call_list import compose_call_list
from outreach.calls.planner import build_due_plans
from outreach.leads.leads import log_followup
from outreach.models import Customer, PlannedCall, Rep, ThankYou
from outreach.runtime import Runtime, team_settings
from outreach.team.metrics import Filters
from outreach.team.referrers import referrers_csv
from tests.apptest import MANAGER, open_app
from tests.factories import add_lead
from tests.shown import shown
from tests.test_rep_page import JORDAN, MONDAY_9AM_NY


@pytest.fixture
def thanked(demo_app: Runtime) -> Iterator[tuple[Runtime, int]]:
    """Monday 09:00: Jordan's plan is built; a referral from his first customer has just been reached."""
    with time_machine.travel(MONDAY_9AM_NY, tick=False):
        with demo_app.db.session() as session, session.begin():
            team = team_settings(session)
            build_due_plans(session, MONDAY_9AM_NY, team)
            jordan = session.scalar(select(Rep).where(Rep.email == JORDAN))
            planned = session.scalar(select(PlannedCall).where(PlannedCall.rep_id == jordan.id)
                                     .order_by(PlannedCall.position).limit(1))
            customer = session.get(Customer, planned.customer_id)
            customer.owner_email = JORDAN  # his own customer: the thank-you is his to say
            lead = add_lead(session, jordan, "Dana Whitfield", referring_customer_id=customer.id)
            log_followup(session, Viewer.of(jordan), lead.id, "connected", MONDAY_9AM_NY,
                         next_step="appointment")
        yield demo_app, customer.id


def test_the_thank_you_is_at_the_top_of_today_and_one_click_marks_it_done(thanked) -> None:  # type: ignore[no-untyped-def]
    runtime, customer_id = thanked
    at = open_app(as_email=JORDAN)
    assert not at.exception, at.exception
    with runtime.db.session() as session:
        thanks = session.scalar(select(ThankYou))
        customer = session.get(Customer, customer_id)
    assert at.subheader[0].value == "Say thank you (1)"
    item = next(m for m in at.markdown if "say thank you" in shown(m.value))
    said = f"{customer.full_name}'s referral Dana Whitfield booked an appointment — say thank you"
    assert said in shown(item.value)
    assert f"tel:{customer.phone}" in item.value
    assert any("has referred 1 (0 won)" in shown(c.value) for c in at.caption)
    at.text_input(key=f"thanks{thanks.id}_note").input("Called, she was delighted")
    at.button(key=f"thanks{thanks.id}_done").click().run()
    assert not at.exception, at.exception
    assert not any(s.value.startswith("Say thank you") for s in at.subheader)
    with runtime.db.session() as session:
        done = session.get(ThankYou, thanks.id)
        assert done.done_note == "Called, she was delighted" and done.done_at is not None
        assert session.get(Customer, customer_id).last_asked_at is None  # no ask, no cooldown


def test_a_manager_without_calls_sees_the_thank_yous_they_owe_whatever_the_view(demo_app: Runtime) -> None:
    """Maya makes no daily calls (no morning list) and opens Today on everyone's leads: hers show anyway."""
    with time_machine.travel(MONDAY_9AM_NY, tick=False):
        with demo_app.db.session() as session, session.begin():
            jordan = session.scalar(select(Rep).where(Rep.email == JORDAN))
            maya = session.scalar(select(Rep).where(Rep.email == MANAGER))
            hers = reached_referral(session, jordan, "Dana Whitfield", owner=maya, first=True)
            reached_referral(session, jordan, "Eli Stone", owner=jordan, first=False)
            owed = session.scalar(select(ThankYou).where(ThankYou.rep_id == maya.id))
            assert maya.daily_calls == 0 and owed is not None
        at = open_app(as_email=MANAGER)
        assert not at.exception, at.exception
        assert at.selectbox(key="whose_day").value == "everyone"
        assert at.subheader[0].value == "Say thank you (1)"
        assert any(f"{hers}'s referral Dana Whitfield was reached" in shown(m.value) for m in at.markdown)
        # Looking at Jordan's day: hers first, then his, each under its own heading.
        at.selectbox(key="whose_day").set_value(str(jordan.id)).run()
        assert [h.value for h in at.subheader[:2]] == ["Say thank you (1)", "Jordan Rivera's thank-yous (1)"]
        at.button(key=f"thanks{owed.id}_done").click().run()
        assert not at.exception, at.exception
        with demo_app.db.session() as session:
            assert session.get(ThankYou, owed.id).done_by_id == maya.id
        thanks = [h.value for h in at.subheader if "thank" in h.value.lower()]
        assert thanks == ["Jordan Rivera's thank-yous (1)"]


def reached_referral(session: Session, taker: Rep, name: str, *, owner: Rep, first: bool) -> str:
    """A referral ``taker`` reached, from a customer of ``owner``'s (who owes the thank-you); the customer."""
    order = Customer.id if first else Customer.id.desc()
    customer = session.scalar(select(Customer).where(Customer.active.is_(True), Customer.phone.is_not(None))
                              .order_by(order).limit(1))
    customer.owner_email = owner.email
    lead = add_lead(session, taker, name, referring_customer_id=customer.id)
    log_followup(session, Viewer.of(taker), lead.id, "connected", MONDAY_9AM_NY)
    return customer.full_name


def test_the_morning_email_lists_the_thank_you(thanked) -> None:  # type: ignore[no-untyped-def]
    runtime, _ = thanked
    with runtime.db.session() as session:
        jordan = session.scalar(select(Rep).where(Rep.email == JORDAN))
        email = compose_call_list(session, jordan, MONDAY_9AM_NY.date(), team_settings(session),
                                  MONDAY_9AM_NY)
    assert "Say thank you (1)" in email.text and "Dana Whitfield booked an appointment" in email.text
    assert "Say thank you (1)" in email.html


def test_the_team_page_ranks_the_referrers_and_downloads_them(thanked) -> None:  # type: ignore[no-untyped-def]
    runtime, customer_id = thanked
    at = open_app("team.py", as_email=MANAGER)
    assert not at.exception, at.exception
    assert any(s.value == "Referrers" for s in at.subheader)
    with runtime.db.session() as session:
        name = session.get(Customer, customer_id).full_name
    table = next(d.value for d in at.dataframe if "Appointments" in d.value.columns)
    assert list(table.iloc[0][["Customer", "Owner", "Referrals", "Reached", "Appointments", "Won"]]) == [
        name, "Jordan Rivera", 1, 1, 1, 0]
    # The CSV is made when the button is clicked (AppTest has no server to click through): the same function.
    assert [b.proto.id.endswith("-referrers_csv") for b in at.download_button].count(True) == 1
    with runtime.db.session() as session:
        manager = Viewer.of(session.scalar(select(Rep).where(Rep.email == MANAGER)))
        today = MONDAY_9AM_NY.astimezone(team_settings(session).zone).date()
        month = Filters(today - timedelta(days=29), today)
        data = referrers_csv(session, manager, month, team_settings(session))
    rows = list(csv.reader(io.StringIO(data.decode())))
    assert rows[0][:5] == ["Customer ID", "Customer", "Company", "Owner", "Referrals"]
    assert rows[1][1] == name and len(rows) == 2
