"""Saving a call: one transaction, one token, nothing doubled, every problem named."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from outreach.access import NotAllowed, Viewer
from outreach.calls.calls import CallInput, FormErrors, ReferralInput, log_call
from outreach.calls.planner import plan_day
from outreach.db import Database
from outreach.leads.leads import log_followup
from outreach.models import Call, Lead, OutboxMessage, PlannedCall, Rep
from outreach.team_settings import TeamSettings
from tests.conftest import MONDAY_9AM_NY
from tests.factories import add_customer, add_lead, add_rep

TEAM = TeamSettings()
NOW = MONDAY_9AM_NY


def setup(session):  # type: ignore[no-untyped-def]
    ann = add_rep(session, "ann@example.com")
    bob = add_rep(session, "bob@example.com")
    for n in range(5):
        add_customer(session, f"Customer {n}", owner="ann@example.com")
    plan_day(session, MONDAY_9AM_NY.date(), [ann], TEAM, NOW)
    first = session.scalar(select(PlannedCall).order_by(PlannedCall.id).limit(1))
    return Viewer.of(ann), Viewer.of(bob), first


def two_referrals(first_planned_id: int, token: str = "form-1") -> CallInput:
    return CallInput(planned_call_id=first_planned_id, outcome="connected", client_token=token,
                     referrals=(ReferralInput(first_name="Dara", phone="(617) 555-0190"),
                                ReferralInput(first_name="Eli", email="eli@example.org")))


def count(session, model) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_double_click_never_makes_two_calls_or_leads(database: Database) -> None:
    with database.session() as session, session.begin():
        ann, _, planned = setup(session)
        first = log_call(session, ann, two_referrals(planned.id), TEAM, NOW)
        again = log_call(session, ann, two_referrals(planned.id), TEAM, NOW + timedelta(seconds=1))
        assert again.repeated_submit and again.call_id == first.call_id
        assert again.lead_ids == first.lead_ids
        assert (count(session, Call), count(session, Lead)) == (1, 2)
        assert count(session, OutboxMessage) == 2  # one alert per lead


def test_a_logged_call_cannot_be_logged_again_from_a_fresh_form(database: Database) -> None:
    """The page clears the form after a save; a late second click arrives with a new token."""
    with database.session() as session, session.begin():
        ann, _, planned = setup(session)
        log_call(session, ann, two_referrals(planned.id, token="first"), TEAM, NOW)
        with pytest.raises(FormErrors, match="already logged"):
            log_call(session, ann, two_referrals(planned.id, token="second"), TEAM, NOW)
        assert (count(session, Call), count(session, Lead)) == (1, 2)


def test_another_reps_call_cannot_be_logged(database: Database) -> None:
    with database.session() as session, session.begin():
        _, bob, planned = setup(session)
        with pytest.raises(FormErrors, match="no longer on your list"):
            log_call(session, bob, two_referrals(planned.id), TEAM, NOW)


def test_every_problem_is_named_by_field(database: Database) -> None:
    with database.session() as session, session.begin():
        ann, _, planned = setup(session)
        bad = CallInput(planned_call_id=planned.id, outcome="voicemail", client_token="t",
                        concern=True, referrals=(ReferralInput(last_name="NoContact"),
                                                 ReferralInput(first_name="X", phone="12")))
        with pytest.raises(FormErrors) as caught:
            log_call(session, ann, bad, TEAM, NOW)
        assert set(caught.value.errors) == {"referrals", "do_better", "concern",
                                            "referral.0.phone", "referral.1.phone"}
        assert count(session, Call) == 0


def test_the_same_person_twice_in_one_form_is_flagged(database: Database) -> None:
    with database.session() as session, session.begin():
        ann, _, planned = setup(session)
        twice = CallInput(planned_call_id=planned.id, outcome="connected", client_token="t",
                          referrals=(ReferralInput(first_name="A", phone="617-555-0190"),
                                     ReferralInput(first_name="B", phone="(617) 555-0190")))
        with pytest.raises(FormErrors) as caught:
            log_call(session, ann, twice, TEAM, NOW)
        assert caught.value.errors["referral.1.phone"] == "same person as referral 1"


def test_a_rep_cannot_log_a_follow_up_on_another_reps_lead(database: Database) -> None:
    with database.session() as session, session.begin():
        ann, bob, _ = setup(session)
        lead = add_lead(session, session.get(Rep, ann.rep_id), "Private Lead")
        with pytest.raises(NotAllowed):
            log_followup(session, bob, lead.id, "connected", NOW)
        assert log_followup(session, ann, lead.id, "connected", NOW).status == "connected"


def test_a_duplicate_is_named_next_to_its_own_row_and_another_reps_lead_stays_private(
        database: Database) -> None:
    with database.session() as session, session.begin():
        ann, bob, planned = setup(session)
        add_lead(session, session.get(Rep, bob.rep_id), "Secret Person", phone="+16175550177")
        form = CallInput(planned_call_id=planned.id, outcome="connected", client_token="t",
                         referrals=(ReferralInput(), ReferralInput(first_name="Nope", phone="12"),
                                    ReferralInput(first_name="Sam", phone="617-555-0177")))
        with pytest.raises(FormErrors) as caught:
            log_call(session, ann, form, TEAM, NOW)
        flagged = caught.value.errors["referral.2.duplicate"]
        assert "another rep's lead" in flagged and "Secret" not in flagged and "?lead=" not in flagged
        assert "referral.1.phone" in caught.value.errors
