"""Thanking the customer who referred, and seeing who refers: hand-built histories."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.access import NotAllowed, Viewer
from outreach.calls.script import check_thank_you
from outreach.db import Database
from outreach.leads.lead_life import log_next_step
from outreach.leads.leads import log_followup, reassign
from outreach.leads.thanks import done_by_call, mark_done, note_milestone, open_thank_yous, referral_counts
from outreach.mail.outbox import deliver_due
from outreach.models import Call, Customer, Lead, OutboxMessage, ThankYou
from outreach.team.metrics import Filters
from outreach.team.referrers import referrer_report, referrer_rows, referrers_for
from outreach.team_settings import TeamSettings, parse_team_settings
from tests.conftest import MONDAY_9AM_NY
from tests.factories import add_customer, add_lead, add_rep
from tests.fakes.sendgrid_server import FakeSendGrid

NOW = MONDAY_9AM_NY
Team = dict[str, int]  # the fixture's people and customers, by first name
WEEK = Filters((NOW - timedelta(days=6)).date(), NOW.date())


@pytest.fixture
def team(database: Database) -> Team:
    """Maya manages Ann and Bob; Carla is Ann's customer, Dev has no owner, Fay asked not to be called."""
    with database.session() as session, session.begin():
        maya = add_rep(session, "maya@example.com", role="manager", daily_calls=0, name="Maya Chen")
        ann = add_rep(session, "ann@example.com", manager="maya@example.com", name="Ann Archer")
        bob = add_rep(session, "bob@example.com", manager="maya@example.com", name="Bob Brown")
        carla = add_customer(session, "Carla Diaz", owner="ann@example.com", email="carla@example.org")
        dev = add_customer(session, "Dev Evans", email="dev@example.org")
        fay = add_customer(session, "Fay Gold", owner="ann@example.com", email="fay@example.org",
                           do_not_call=True)
        ids = {"maya": maya.id, "ann": ann.id, "bob": bob.id, "carla": carla.id, "dev": dev.id, "fay": fay.id}
    return ids


def viewer(session: Session, rep_id: int) -> Viewer:
    from outreach.models import Rep

    return Viewer.of(session.get(Rep, rep_id))


def referral(session: Session, taker: int, customer: int, name: str, **fields: object) -> Lead:
    """A referral taken on a call by ``taker`` from ``customer``."""
    call = Call(rep_id=taker, customer_id=customer, outcome="connected", created_at=NOW,
                client_token=f"call-{name}")
    session.add(call)
    session.flush()
    from outreach.models import Rep

    return add_lead(session, session.get(Rep, taker), name, referring_customer_id=customer, call_id=call.id,
                    **fields)


def setting(**values: str) -> TeamSettings:
    team, problems = parse_team_settings((k, v, None) for k, v in values.items())
    assert problems == []
    return team


def thank_yous(session: Session) -> list[ThankYou]:
    return list(session.scalars(select(ThankYou).order_by(ThankYou.id)))


def test_a_referral_reached_owes_the_customers_owner_a_thank_you_task(database: Database, team: Team) -> None:
    with database.session() as session, session.begin():
        dana = referral(session, team["bob"], team["carla"], "Dana Whitfield")
        log_followup(session, viewer(session, team["bob"]), dana.id, "voicemail", NOW)
        assert thank_yous(session) == []  # an attempt is no milestone
        log_followup(session, viewer(session, team["bob"]), dana.id, "connected", NOW)
        thanks, = thank_yous(session)
        assert (thanks.rep_id, thanks.milestone, thanks.done_at) == (team["ann"], "reached", None)
        item, = open_thank_yous(session, viewer(session, team["ann"]), team["ann"])
        assert item.text == "Carla Diaz's referral Dana Whitfield was reached — say thank you"
        # The default is a task: nothing is e-mailed to the customer.
        assert session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "thank-you")).all() == []


def test_one_thank_you_per_milestone_and_the_furthest_when_it_jumps(database: Database, team: Team) -> None:
    with database.session() as session, session.begin():
        ann = viewer(session, team["ann"])
        eli = referral(session, team["ann"], team["carla"], "Eli Stone")
        log_followup(session, ann, eli.id, "connected", NOW, next_step="won")  # straight to won
        assert [(t.milestone, t.done_at) for t in thank_yous(session)] == [("won", None)]
        gus = referral(session, team["ann"], team["carla"], "Gus Hale")
        log_followup(session, ann, gus.id, "connected", NOW)
        log_next_step(session, ann, gus.id, "appointment", NOW + timedelta(hours=1),
                      appointment_at=NOW + timedelta(days=2))
        log_next_step(session, ann, gus.id, "appointment", NOW + timedelta(hours=2),
                      appointment_at=NOW + timedelta(days=3))  # moved, not a new milestone
        gus_thanks = [t for t in thank_yous(session) if t.lead_id == gus.id]
        assert [(t.milestone, t.done_at is None) for t in gus_thanks] == [
            ("reached", False), ("appointment", True)]
        assert gus_thanks[0].done_note == "folded into: booked an appointment"
        assert len(open_thank_yous(session, ann, team["ann"])) == 2  # Eli won, Gus booked


def test_a_customer_without_an_owner_is_thanked_by_the_rep_who_took_the_referral(
        database: Database, team: Team) -> None:
    with database.session() as session, session.begin():
        hal = referral(session, team["bob"], team["dev"], "Hal Moss")
        log_followup(session, viewer(session, team["bob"]), hal.id, "connected", NOW)
        assert thank_yous(session)[0].rep_id == team["bob"]


def test_done_by_a_click_with_a_note_or_by_any_call_and_never_touching_the_cooldown(
        database: Database, team: Team) -> None:
    with database.session() as session, session.begin():
        ann, bob = viewer(session, team["ann"]), viewer(session, team["bob"])
        for name in ("Ivy Lane", "Jo March"):
            lead = referral(session, team["ann"], team["carla"], name)
            log_followup(session, ann, lead.id, "connected", NOW)
        first, _second = open_thank_yous(session, ann, team["ann"])
        with pytest.raises(NotAllowed):
            mark_done(session, bob, first.id, "", NOW)  # not Bob's to tick
        done = mark_done(session, ann, first.id, "  Sent flowers  ", NOW)
        assert (done.done_note, done.done_by_id) == ("Sent flowers", team["ann"])
        done_by_call(session, team["carla"], team["ann"], NOW + timedelta(days=1))
        assert open_thank_yous(session, ann, team["ann"]) == []
        carla = session.get(Customer, team["carla"])
        assert carla.last_asked_at is None  # thanking is not asking: the cooldown is untouched


def test_with_email_the_customer_gets_one_from_the_rep_never_a_do_not_call_one(
        database: Database, team: Team) -> None:
    emails = setting(**{"Thank Referrers": "email"})
    with database.session() as session, session.begin():
        kim = referral(session, team["ann"], team["carla"], "Kim Young", status="connected",
                       first_contact_at=NOW)
        note_milestone(session, kim, NOW, emails)
        note_milestone(session, kim, NOW, emails)  # the same milestone again: nothing more
        lou = referral(session, team["ann"], team["fay"], "Lou Reed", status="connected",
                       first_contact_at=NOW)
        note_milestone(session, lou, NOW, emails)
        session.get(Customer, team["dev"]).email = None  # nowhere to send it
        max_ = referral(session, team["bob"], team["dev"], "Max Ward", status="won", first_contact_at=NOW)
        note_milestone(session, max_, NOW, emails)
        sent = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "thank-you")).all()
        assert [(m.to_email, m.reply_to_email, m.from_name) for m in sent] == [
            ("carla@example.org", "ann@example.com", "Ann Archer")]
        assert "Kim" in sent[0].text and "Ann Archer" in sent[0].text
        # E-mailed: no task left. Fay (Do Not Call): nothing owed. Dev (no address): a task instead.
        assert {t.lead_id: (t.done_at is not None, t.done_note) for t in thank_yous(session)} == {
            kim.id: (True, "e-mail queued"), lou.id: (True, "not thanked: Do Not Call"), max_.id: (False, "")}


def test_with_email_a_customer_without_an_address_is_thanked_by_phone_and_nothing_claims_an_email(
        database: Database, team: Team) -> None:
    with database.session() as session, session.begin():
        session.get(Customer, team["carla"]).email = None
        for mode in ("email", "both"):
            lead = referral(session, team["bob"], team["carla"], f"Pat {mode.title()}", status="connected",
                            first_contact_at=NOW)
            thanks = note_milestone(session, lead, NOW, setting(**{"Thank Referrers": mode}))
            assert (thanks.rep_id, thanks.done_at, thanks.done_note) == (team["ann"], None, ""), mode
        items = open_thank_yous(session, viewer(session, team["ann"]), team["ann"])
        assert [i.text for i in items] == [
            "Carla Diaz's referral Pat Email was reached — say thank you",
            "Carla Diaz's referral Pat Both was reached — say thank you"]
        assert session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "thank-you")).all() == []


def test_a_do_not_call_customer_is_owed_no_thank_you_in_any_mode(database: Database, team: Team) -> None:
    with database.session() as session, session.begin():
        for mode in ("task", "email", "both"):
            lead = referral(session, team["ann"], team["fay"], f"Rex {mode.title()}", status="won",
                            first_contact_at=NOW)
            thanks = note_milestone(session, lead, NOW, setting(**{"Thank Referrers": mode}))
            assert (thanks.milestone, thanks.done_at, thanks.done_note) == (
                "won", NOW, "not thanked: Do Not Call"), mode
        # Neither a call to make (no task on Today, none in the morning e-mail) nor an e-mail.
        assert open_thank_yous(session, viewer(session, team["ann"]), team["ann"]) == []
        assert session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "thank-you")).all() == []


def test_a_call_logged_with_the_customer_on_the_call_log_marks_the_thank_you_done(
        database: Database, team: Team) -> None:
    from outreach.calls.calls import CallInput, log_call
    from outreach.models import PlannedCall

    later = NOW + timedelta(hours=1)
    with database.session() as session, session.begin():
        bob = viewer(session, team["bob"])
        for name, customer in (("Wes Hart", team["carla"]), ("Yan Li", team["dev"])):
            lead = referral(session, team["bob"], customer, name)
            log_followup(session, bob, lead.id, "connected", NOW)
        planned = PlannedCall(plan_date=NOW.date(), rep_id=team["ann"], customer_id=team["carla"], position=1,
                              status="open", created_at=NOW)
        session.add(planned)
        session.flush()
        # Ann's call with Carla, on the rep's own call log: even no answer is a call with her.
        log_call(session, viewer(session, team["ann"]), CallInput(planned.id, "no_answer", "carla-call"),
                 TeamSettings(), later)
        carla, dev = thank_yous(session)
        assert (carla.customer_id, carla.done_at, carla.done_by_id, carla.done_note) == (
            team["carla"], later, team["ann"], "a call was logged")
        assert (dev.customer_id, dev.done_at) == (team["dev"], None)  # a call with Carla thanks only Carla
        assert [i.customer for i in open_thank_yous(session, bob, team["bob"])] == ["Dev Evans"]


def test_a_thank_you_never_puts_a_customer_on_a_call_list(database: Database, team: Team) -> None:
    from outreach.calls.planner import plan_day
    from outreach.models import Rep

    with database.session() as session, session.begin():
        ann = session.get(Rep, team["ann"])
        ann.daily_calls = 1
        gil = add_customer(session, "Gil Hunt", owner="ann@example.com")  # hers, never asked: first
        carla = session.get(Customer, team["carla"])
        carla.last_asked_at = NOW - timedelta(days=200)  # out of her cooldown, asked longer ago than Gil
        lead = referral(session, team["bob"], team["carla"], "Zia Moor")
        log_followup(session, viewer(session, team["bob"]), lead.id, "connected", NOW, next_step="won")
        owed = open_thank_yous(session, viewer(session, ann.id), ann.id)
        assert [i.customer for i in owed] == ["Carla Diaz"]
        # Owed a thank-you, Carla does not jump the queue: Gil takes Ann's one call.
        assert plan_day(session, NOW.date(), [ann], TeamSettings(), NOW) == {ann.id: [gil.id]}
        # Nor does it lift the cooldown: asked yesterday, she stays off even with room to spare.
        carla.last_asked_at = NOW - timedelta(days=1)
        ann.daily_calls = 3
        tuesday = NOW.date() + timedelta(days=1)
        picks = plan_day(session, tuesday, [ann], TeamSettings(), NOW + timedelta(days=1))
        assert carla.id not in picks[ann.id] and gil.id in picks[ann.id]


def test_the_thank_you_email_matches_sendgrids_contract(database: Database, team: Team,
                                                        sendgrid: FakeSendGrid) -> None:
    from outreach.mail.mail_transport import Sender, SendGridTransport

    both = setting(**{"Thank Referrers": "both"})
    with database.session() as session, session.begin():
        mo = referral(session, team["ann"], team["carla"], "Mo <b>Khan</b>", status="won",
                      first_contact_at=NOW)
        note_milestone(session, mo, NOW, both)
    deliver_due(database, SendGridTransport("SG.test-key", host=sendgrid.host),
                Sender("outreach@example.com", "Outreach"), "w", lambda: NOW)
    body, = sendgrid.messages
    assert body["categories"] == ["thank-you"]
    assert body["reply_to"] == {"email": "ann@example.com", "name": "Ann Archer"}
    assert body["from"] == {"email": "outreach@example.com", "name": "Ann Archer"}
    html = next(c["value"] for c in body["content"] if c["type"] == "text/html")
    assert "Mo &lt;b&gt;Khan&lt;/b&gt;" not in html and "Mo is now a customer" in html
    assert sendgrid.contract_violations == []


def test_the_manager_may_word_the_thank_you_but_not_program_it(database: Database, team: Team) -> None:
    with pytest.raises(ValueError, match="loops"):
        check_thank_you("{% for x in range(10) %}thanks{% endfor %}")
    words = ("Dear {{ customer.first_name }}, {{ friend.first_name }}"
             "{% if milestone == 'won' %} signed{% endif %}!")
    custom = setting(**{"Thank Referrers": "email", "Thank You Email": words})
    with database.session() as session, session.begin():
        nia = referral(session, team["ann"], team["carla"], "Nia Cole", status="won", first_contact_at=NOW)
        note_milestone(session, nia, NOW, custom)
        sent = session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "thank-you"))
    assert sent.text.strip() == "Dear Carla, Nia signed!"


def test_none_thanks_nobody(database: Database, team: Team) -> None:
    with database.session() as session, session.begin():
        ora = referral(session, team["ann"], team["carla"], "Ora Penn", status="won", first_contact_at=NOW)
        assert note_milestone(session, ora, NOW, setting(**{"Thank Referrers": "none"})) is None
        assert thank_yous(session) == []


def test_who_refers_on_hand_built_histories(database: Database, team: Team) -> None:
    valued = replace(TeamSettings(), average_deal_value=Decimal("1500"))
    with database.session() as session, session.begin():
        maya = viewer(session, team["maya"])
        # Carla: three referrals, one reached, one won after Maya handed it from Ann to Bob.
        referral(session, team["ann"], team["carla"], "Pia One")
        referral(session, team["ann"], team["carla"], "Quin Two", first_contact_at=NOW)
        won = referral(session, team["ann"], team["carla"], "Ray Three")
        reassign(session, maya, won.id, team["bob"], valued, NOW)
        log_followup(session, viewer(session, team["bob"]), won.id, "connected", NOW, next_step="won")
        # Fay (Do Not Call) referred once, booked; Dev once, taken by Bob; a month-old one is out of range.
        referral(session, team["ann"], team["fay"], "Sol Four", status="appointment", first_contact_at=NOW,
                 appointment_at=NOW + timedelta(days=1))
        referral(session, team["bob"], team["dev"], "Tia Five")
        referral(session, team["bob"], team["dev"], "Old Six", created_at=NOW - timedelta(days=40))
        report = referrer_report(session, WEEK, valued)
        best = referrer_report(session, WEEK, valued, limit=1)
        with pytest.raises(NotAllowed):
            referrers_for(session, viewer(session, team["ann"]), WEEK, valued)
        counts = referral_counts(session, [team["carla"], team["dev"]])
    assert [(r.name, r.given, r.reached, r.appointments, r.won, r.value, r.owner, r.do_not_call)
            for r in report.customers] == [
        ("Carla Diaz", 3, 2, 1, 1, Decimal("1500"), "Ann Archer", False),
        ("Fay Gold", 1, 1, 1, 0, Decimal("0"), "Ann Archer", True),  # as many given, more reached
        ("Dev Evans", 1, 0, 0, 0, Decimal("0"), "", False)]
    # The won referral stays Ann's: she took it; Bob only closed it.
    assert [(r.name, r.taken, r.reached, r.won) for r in report.reps] == [
        ("Ann Archer", 4, 3, 1), ("Bob Brown", 1, 0, 0)]
    assert ([r.name for r in best.customers], best.total, report.total) == (["Carla Diaz"], 3, 3)
    assert referrer_rows(report)[0][-2:] == ["1500.00", ""]
    assert referrer_rows(report)[1][-1] == "yes"
    assert counts == {team["carla"]: (3, 1), team["dev"]: (2, 0)}  # the card counts every referral ever


def test_a_lost_deal_owes_no_thank_you_and_keeps_the_one_owed(database: Database, team: Team) -> None:
    with database.session() as session, session.begin():
        ann = viewer(session, team["ann"])
        uma = referral(session, team["ann"], team["carla"], "Uma Vale")
        log_followup(session, ann, uma.id, "connected", NOW, next_step="appointment")
        log_next_step(session, ann, uma.id, "lost", NOW + timedelta(days=1), lost_reason="Went elsewhere")
        log_next_step(session, ann, uma.id, "appointment", NOW + timedelta(days=2),
                      appointment_at=NOW + timedelta(days=3))  # booked again: no news, already thanked for
        assert [(t.milestone, t.done_at) for t in thank_yous(session)] == [("appointment", None)]


def test_the_front_desk_never_owes_a_thank_you(database: Database, team: Team) -> None:
    with database.session() as session, session.begin():
        add_rep(session, "desk@example.com", role="front desk", daily_calls=0)
        session.get(Customer, team["carla"]).owner_email = "desk@example.com"
        vic = referral(session, team["bob"], team["carla"], "Vic Ames")
        log_followup(session, viewer(session, team["bob"]), vic.id, "connected", NOW)
        assert thank_yous(session)[0].rep_id == team["bob"]  # the rep who took it, not the desk


def test_the_referrers_csv_defuses_a_name_a_spreadsheet_would_run(database: Database, team: Team) -> None:
    import csv
    import io

    from outreach.team.referrers import referrers_csv

    formula = '=HYPERLINK("http://evil.example","Open")'
    with database.session() as session, session.begin():
        evil = add_customer(session, "Eve Formula", owner="ann@example.com")
        evil.first_name = formula
        referral(session, team["ann"], evil.id, "Vic Friend")
        data = referrers_csv(session, viewer(session, team["maya"]), WEEK, TeamSettings())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    (named,) = [row for row in rows if "Formula" in ",".join(row)]
    assert f"'{formula} Formula" in named and not any(cell.startswith("=") for cell in named)
