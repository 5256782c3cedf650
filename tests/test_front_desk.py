"""The front desk: a caller becomes the right person's lead, concern or "called again" in seconds."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from outreach.access import NotAllowed, Viewer, lead_for
from outreach.calls.calls import FormErrors
from outreach.leads.front_desk import IntakeInput, look_up_caller, save_intake
from outreach.leads.front_desk_day import hand_to_next, todays_intakes
from outreach.leads.lead_life import lead_life
from outreach.leads.leads import log_followup
from outreach.mail.outbox import deliver_due
from outreach.models import Customer, Lead, LeadEvent, OutboxMessage, Rep
from outreach.runtime import Runtime, sender, team_settings
from outreach.team.metrics import Filters, report_for
from tests.apptest import MANAGER, open_app
from tests.sheets import ManagerSheet
from tests.shown import shown
from tests.test_sync import NOW as SYNC_NOW
from tests.test_sync import sheet, sync

__all__ = ["sheet"]  # the fixture (a local workbook, then Google), imported for pytest to find

MONDAY_10AM_NY = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
MONDAY_8AM_NY = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
MONDAY_10PM_NY = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
TUESDAY_8AM_NY = datetime(2026, 11, 24, 13, 0, tzinfo=UTC)
ROSA, JORDAN = "rosa.alvarez@example.com", "jordan.rivera@example.com"
NY = ZoneInfo("America/New_York")


@pytest.fixture
def desk(demo_app: Runtime) -> Iterator[Runtime]:
    """The demo team on a Monday at 10:00 in New York (the clock stands still)."""
    with time_machine.travel(MONDAY_10AM_NY, tick=False):
        yield demo_app


def viewer(runtime: Runtime, email: str) -> Viewer:
    with runtime.db.session() as session:
        return Viewer.of(session.scalar(select(Rep).where(Rep.email == email)))


def save(runtime: Runtime, who: str = ROSA, at: datetime = MONDAY_10AM_NY, **fields: object):  # type: ignore[no-untyped-def]
    data = IntakeInput(**{"client_token": f"t-{fields.get('first_name')}-{at.timestamp()}", **fields})
    with runtime.db.session() as session, session.begin():
        return save_intake(session, viewer(runtime, who), data, team_settings(session), at)


def a_customer(runtime: Runtime) -> Customer:
    with runtime.db.session() as session:
        return session.scalar(select(Customer).where(Customer.active.is_(True), Customer.phone.is_not(None),
                                                     Customer.owner_email == JORDAN).order_by(Customer.id))


def messages(runtime: Runtime, lead_id: int) -> list[OutboxMessage]:
    with runtime.db.session() as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.lead_id == lead_id)
                                    .order_by(OutboxMessage.id)))


def test_a_new_caller_is_a_lead_for_the_rep_they_asked_for_alerted_at_once(desk: Runtime) -> None:
    jordan = viewer(desk, JORDAN)
    intake = save(desk, first_name="Dana", last_name="Whitfield", phone="(617) 555-0177",
                  heard_about="Radio ad", reason="Quote for a new roof", asked_for_id=jordan.rep_id)
    assert (intake.kind, intake.owner_first_name) == ("new", "Jordan")
    with desk.db.session() as session:
        lead = session.get(Lead, intake.lead_id)
        assert (lead.kind, lead.owner_id, lead.phone, lead.need, lead.heard_about) == (
            "inbound", jordan.rep_id, "+16175550177", "Quote for a new roof", "Radio ad")
        assert lead.created_at == MONDAY_10AM_NY  # speed-to-lead counts from the save
    alert, = messages(desk, intake.lead_id)
    assert (alert.kind, alert.key, alert.to_email) == ("alert", intake.alert_keys[0], JORDAN)
    assert "Rosa Alvarez took this call at the front desk" in alert.text
    # What the desk tells the caller: the first reminder, five minutes on.
    assert intake.callback_by == MONDAY_10AM_NY + timedelta(minutes=5)


def test_the_desk_says_when_the_callback_comes(desk: Runtime) -> None:
    from outreach.leads.front_desk import Intake, what_to_say

    soon = Intake(1, "new", "Jordan", MONDAY_10AM_NY + timedelta(minutes=5), ())
    assert what_to_say(soon, MONDAY_10AM_NY, NY) == "Jordan will call you back within 5 minutes."
    # In the owner's hours, a first reminder as late as tomorrow's (a caller at 17:58): by then.
    tomorrow = Intake(1, "new", "Sam", TUESDAY_8AM_NY, ())
    assert what_to_say(tomorrow, MONDAY_10AM_NY, NY) == "Sam will call you back tomorrow morning, by 08:00."


def test_outside_the_owners_hours_the_desk_names_their_opening_in_a_callers_words() -> None:
    from outreach.leads.front_desk import Intake, what_to_say, who_has_it

    friday_night = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)  # 21:00 in New York
    monday_8am = datetime(2026, 11, 30, 13, 0, tzinfo=UTC)
    weekend = Intake(1, "new", "Sam", monday_8am, (), owner_back_at=monday_8am)
    assert what_to_say(weekend, friday_night, NY) == "Sam will call you back on Monday morning, from 08:00."
    assert who_has_it(weekend, friday_night, NY) == "Sam has the e-mail"  # a new lead's alert: at any hour
    early = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)  # 06:00 in New York
    before_opening = Intake(1, "concern", "Sam", MONDAY_8AM_NY, (), owner_back_at=MONDAY_8AM_NY)
    assert what_to_say(before_opening, early, NY) == "Sam will call you back this morning, from 08:00."
    talked_to = Intake(1, "called_again", "Sam", None, (), owner_back_at=monday_8am, message_held=True)
    assert what_to_say(talked_to, friday_night, NY) == (
        "Sam will get your message on Monday morning, at 08:00.")
    assert who_has_it(talked_to, friday_night, NY) == (
        "Sam gets the e-mail on Monday morning, at 08:00 (outside their hours now)")
    after_christmas = datetime(2026, 12, 28, 13, 0, tzinfo=UTC)
    long_away = Intake(1, "new", "Sam", after_christmas, (), owner_back_at=after_christmas)
    assert what_to_say(long_away, datetime(2026, 12, 19, 2, 0, tzinfo=UTC), NY) == (
        "Sam will call you back on Monday 28 December, from 08:00.")


def test_a_caller_already_talked_to_is_told_the_message_is_passed_on(desk: Runtime) -> None:
    from outreach.leads.front_desk import what_to_say

    first = save(desk, first_name="Una", phone="(617) 555-0172", asked_for_id=viewer(desk, JORDAN).rep_id)
    with desk.db.session() as session, session.begin():
        log_followup(session, viewer(desk, JORDAN), first.lead_id, "connected", MONDAY_10AM_NY)
    assert first.kind == "new"
    later = MONDAY_10AM_NY + timedelta(minutes=30)
    again = save(desk, at=later, first_name="Una", phone="(617) 555-0172", reason="About the quote")
    # Connected: no reminder follows, so no call "in a minute" to promise; the e-mail goes now.
    assert (again.kind, again.callback_by, again.message_held) == ("called_again", None, False)
    assert what_to_say(again, later, NY) == "Jordan has your message now and will get back to you."
    assert messages(desk, first.lead_id)[-1].kind == "called-again"


def test_out_of_hours_the_desk_promises_the_owners_opening_not_a_minute(desk: Runtime) -> None:
    from outreach.leads.front_desk import what_to_say, who_has_it
    from outreach.leads.nagging import NagGate
    from outreach.mail.outbox import SEND

    jordan = viewer(desk, JORDAN).rep_id
    talked = save(desk, first_name="Vera", phone="(617) 555-0173", asked_for_id=jordan)
    with desk.db.session() as session, session.begin():
        log_followup(session, viewer(desk, JORDAN), talked.lead_id, "connected", MONDAY_10AM_NY)
        gate = NagGate(desk.db, team_settings(session))
    # A new caller at 22:00: the alert goes at once, at any hour; the first reminder waits for 08:00.
    new = save(desk, at=MONDAY_10PM_NY, first_name="Walt", phone="(617) 555-0174", asked_for_id=jordan)
    assert (new.callback_by, new.owner_back_at, new.message_held) == (TUESDAY_8AM_NY, TUESDAY_8AM_NY, False)
    assert what_to_say(new, MONDAY_10PM_NY, NY) == "Jordan will call you back tomorrow morning, from 08:00."
    assert who_has_it(new, MONDAY_10PM_NY, NY) == "Jordan has the e-mail"
    alert, = messages(desk, new.lead_id)
    assert gate(alert, MONDAY_10PM_NY) == SEND
    # Walt calls again at 22:05: his "called again" waits for Jordan's opening, and the desk says so.
    late = MONDAY_10PM_NY + timedelta(minutes=5)
    again = save(desk, at=late, first_name="Walt", phone="(617) 555-0174", reason="Still there?")
    assert what_to_say(again, late, NY) == "Jordan will call you back tomorrow morning, from 08:00."
    assert who_has_it(again, late, NY) == (
        "Jordan gets the e-mail tomorrow morning, at 08:00 (outside their hours now)")
    called = messages(desk, new.lead_id)[-1]
    assert called.kind == "called-again" and gate(called, late).hold_until == TUESDAY_8AM_NY
    # Vera, reached already: no reminder, and the message itself waits for the morning.
    vera = save(desk, at=late, first_name="Vera", phone="(617) 555-0173")
    assert what_to_say(vera, late, NY) == "Jordan will get your message tomorrow morning, at 08:00."
    # A customer's concern at night: alert and manager's copy at once, the first reminder at 08:00.
    customer = a_customer(desk)
    concern = save(desk, at=late, first_name=customer.first_name, phone=customer.phone, reason="Leaking")
    assert concern.kind == "concern" and concern.callback_by == TUESDAY_8AM_NY
    assert what_to_say(concern, late, NY) == "Jordan will call you back tomorrow morning, from 08:00."
    alert, = messages(desk, concern.lead_id)
    assert alert.cc == [MANAGER] and gate(alert, late) == SEND


def test_a_caller_talked_to_whose_owner_has_left_reaches_the_next_rep(desk: Runtime) -> None:
    from outreach.leads.front_desk import what_to_say

    first = save(desk, first_name="Xena", phone="(617) 555-0175", asked_for_id=viewer(desk, JORDAN).rep_id)
    with desk.db.session() as session, session.begin():
        log_followup(session, viewer(desk, JORDAN), first.lead_id, "connected", MONDAY_10AM_NY)
        session.scalar(select(Rep).where(Rep.email == JORDAN)).active = False
    later = MONDAY_10AM_NY + timedelta(minutes=3)
    again = save(desk, at=later, first_name="Xena", phone="(617) 555-0175", reason="New question")
    assert (again.kind, again.owner_first_name) == ("called_again", "Priya")
    # A handover of a lead talked to sends no alert: the new owner hears that it called again.
    called = messages(desk, first.lead_id)[-1]
    assert (called.kind, called.to_email, called.key) == ("called-again", "priya.patel@example.com",
                                                          again.alert_keys[0])
    assert "New question" in called.text
    assert what_to_say(again, later, NY) == "Priya has your message now and will get back to you."


def test_the_page_at_night_says_when_the_owner_is_back(desk: Runtime) -> None:
    with time_machine.travel(MONDAY_10PM_NY, tick=False):
        at = fill(as_desk(), phone="(617) 555-0178", first_name="Yul")
        at.button(key="fd0_save").click().run()
        assert not at.exception, at.exception
        said = shown(at.success[0].value)
        assert "New lead: Yul" in said and "has the e-mail" in said
        assert "will call you back tomorrow morning, from" in said
        assert "in a minute" not in said
        fill(at, prefix="fd1_", phone="(617) 555-0178", first_name="Yul")
        at.button(key="fd1_save").click().run()
        said = shown(at.success[0].value)
        assert "Called again: Yul" in said and "gets the e-mail tomorrow morning" in said


def test_nobody_asked_for_goes_round_robin_among_reps_at_work(desk: Runtime) -> None:
    owners = {save(desk, first_name=f"Caller{n}", phone=f"(617) 555-01{n:02d}").owner_first_name
              for n in range(4)}
    # 10:00 in New York is 07:00 in Los Angeles: only the New York reps are at work.
    assert owners == {"Jordan", "Priya"}


def test_a_customer_calling_is_a_concern_for_their_owner_with_the_manager_copied(desk: Runtime) -> None:
    customer = a_customer(desk)
    with desk.db.session() as session:
        caller = look_up_caller(session, viewer(desk, ROSA), customer.phone[2:], "", team_settings(session))
    assert (caller.kind, caller.name, caller.owner_first_name) == ("customer", customer.full_name, "Jordan")
    intake = save(desk, first_name=customer.first_name, phone=customer.phone[2:],
                  reason="Invoice charged twice")
    assert intake.kind == "concern"
    with desk.db.session() as session:
        lead = session.get(Lead, intake.lead_id)
        assert (lead.kind, lead.referring_customer_id, lead.need) == ("concern", customer.id,
                                                                       "Invoice charged twice")
        # The concern's own, tighter schedule: 5, 15, 30, 60 minutes.
        assert lead.next_reminder_at == MONDAY_10AM_NY + timedelta(minutes=5)
    alert, = messages(desk, intake.lead_id)
    assert alert.to_email == JORDAN and alert.cc == [MANAGER]
    assert "Referred by" not in alert.text


def test_a_customer_can_also_be_a_new_enquiry(desk: Runtime) -> None:
    customer = a_customer(desk)
    intake = save(desk, first_name=customer.first_name, phone=customer.phone, as_concern=False,
                  reason="A second site")
    assert intake.kind == "new"


def test_an_open_lead_calling_again_makes_no_second_lead_and_the_owner_hears_at_once(desk: Runtime) -> None:
    first = save(desk, first_name="Eli", last_name="Stone", email="eli.stone@example.org")
    with desk.db.session() as session:
        caller = look_up_caller(session, viewer(desk, ROSA), "", "ELI.STONE@example.org",
                                team_settings(session))
    assert (caller.kind, caller.lead_id) == ("lead", first.lead_id)
    later = MONDAY_10AM_NY + timedelta(minutes=3)
    again = save(desk, at=later, first_name="Eli", email="eli.stone@example.org", reason="Still waiting")
    assert (again.kind, again.lead_id) == ("called_again", first.lead_id)
    with desk.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Lead).where(Lead.first_name == "Eli")) == 1
        life = lead_life(session, viewer(desk, MANAGER), first.lead_id)
    assert [e.what for e in life.history if "front desk" in e.what] == [
        "Taken in at the front desk", "Called again (the front desk took it)"]
    _alert, called = messages(desk, first.lead_id)
    assert called.kind == "called-again" and called.subject.startswith("Eli Stone called again")
    assert "Still waiting" in called.text


def test_saving_the_same_form_twice_makes_one_lead_and_one_email(desk: Runtime) -> None:
    data = IntakeInput(first_name="Fay", phone="(617) 555-0150", client_token="same-form")
    with desk.db.session() as session, session.begin():
        first = save_intake(session, viewer(desk, ROSA), data, team_settings(session), MONDAY_10AM_NY)
    with desk.db.session() as session, session.begin():
        second = save_intake(session, viewer(desk, ROSA), data, team_settings(session), MONDAY_10AM_NY)
    assert second.repeated and second.lead_id == first.lead_id and second.alert_keys == ()
    assert len(messages(desk, first.lead_id)) == 1


def test_bad_input_is_named_by_field_and_a_caller_with_something_to_go_on_is_kept(desk: Runtime) -> None:
    with pytest.raises(FormErrors) as refused:
        save(desk, phone="call me", email="not-an-address")
    assert set(refused.value.errors) == {"first_name", "email", "phone"}
    with pytest.raises(FormErrors) as refused:
        save(desk, first_name="Gus")
    assert "a phone number or an e-mail is needed" in refused.value.errors["phone"]
    # A number that cannot be dialled, but digits to go on: saved, flagged "check the number".
    kept = save(desk, first_name="Gail", phone="555-CALL-9")
    with desk.db.session() as session:
        lead = session.get(Lead, kept.lead_id)
    assert (lead.phone, lead.phone_as_typed) == (None, "555-CALL-9")


def test_the_front_desk_is_refused_leads_calls_and_the_team_in_the_domain(desk: Runtime) -> None:
    from outreach.calls.planner import visible_plan

    rosa = viewer(desk, ROSA)
    taken = save(desk, first_name="Hal", phone="(617) 555-0160")
    with desk.db.session() as session:
        with pytest.raises(NotAllowed):
            lead_for(session, rosa, taken.lead_id)  # even a lead it took in: its history is the rep's
        with pytest.raises(NotAllowed):
            visible_plan(session, rosa, rosa.rep_id, MONDAY_10AM_NY.date())
        with pytest.raises(NotAllowed):
            report_for(session, rosa, Filters(MONDAY_10AM_NY.date(), MONDAY_10AM_NY.date()), MONDAY_10AM_NY,
                       team_settings(session))
        with pytest.raises(NotAllowed):
            log_followup(session, rosa, taken.lead_id, "connected", MONDAY_10AM_NY)
        from outreach.ui.health import read_health

        with pytest.raises(NotAllowed):
            read_health(session, rosa, MONDAY_10AM_NY)
        # A rep cannot take callers in nor see the desk's list.
        with pytest.raises(NotAllowed):
            todays_intakes(session, viewer(desk, JORDAN), MONDAY_10AM_NY, team_settings(session))
        rows = todays_intakes(session, rosa, MONDAY_10AM_NY, team_settings(session))
        assert [r.name for r in rows] == ["Hal"]
    with pytest.raises(NotAllowed):
        save(desk, who=JORDAN, first_name="Ivy", phone="(617) 555-0161")


def test_after_the_handover_time_the_desk_hands_a_waiting_caller_to_the_next_rep(desk: Runtime) -> None:
    taken = save(desk, first_name="Jo", phone="(617) 555-0170", asked_for_id=viewer(desk, JORDAN).rep_id)
    rosa = viewer(desk, ROSA)
    with desk.db.session() as session, session.begin(), pytest.raises(FormErrors, match="15 minutes"):
        hand_to_next(session, rosa, taken.lead_id, team_settings(session), MONDAY_10AM_NY)
    later = MONDAY_10AM_NY + timedelta(minutes=16)
    with desk.db.session() as session, session.begin():
        rows = todays_intakes(session, rosa, later, team_settings(session))
        assert (rows[0].state, rows[0].may_hand_over) == ("waiting 16 min", True)
        owner = hand_to_next(session, rosa, taken.lead_id, team_settings(session), later)
    assert owner.email == "priya.patel@example.com"
    with desk.db.session() as session:  # the new owner gets their own 15 minutes
        row, = todays_intakes(session, rosa, later, team_settings(session))
        assert (row.state, row.may_hand_over) == ("handed on, waiting 16 min", False)
    kinds = {(m.kind, m.to_email) for m in messages(desk, taken.lead_id)}
    assert {("alert", "priya.patel@example.com"), ("left-you", JORDAN)} <= kinds
    with desk.db.session() as session:
        # Once reached, it cannot be handed on.
        log_followup(session, viewer(desk, "priya.patel@example.com"), taken.lead_id, "connected", later)
        session.commit()
        assert todays_intakes(session, rosa, later, team_settings(session))[0].state == "reached"
        with pytest.raises(FormErrors, match="reached already"):
            hand_to_next(session, rosa, taken.lead_id, team_settings(session), later + timedelta(hours=1))


def test_the_alert_leaves_for_sendgrid_at_once_checked_against_the_contract(desk: Runtime, sendgrid) -> None:  # type: ignore[no-untyped-def]
    from outreach.mail.mail_transport import SendGridTransport

    taken = save(desk, first_name="Kim", phone="(617) 555-0180", reason="Leak <b>now</b>")
    transport = SendGridTransport("SG.test-key", host=sendgrid.host)
    with desk.db.session() as session:
        team = team_settings(session)
    deliver_due(desk.db, transport, sender(team), "test", lambda: MONDAY_10AM_NY, keys=list(taken.alert_keys))
    sent, = sendgrid.messages
    assert sent["personalizations"][0]["custom_args"]["outreach_key"] == taken.alert_keys[0]
    html = next(c["value"] for c in sent["content"] if c["type"] == "text/html")
    assert "Leak &lt;b&gt;now&lt;/b&gt;" in html
    assert sendgrid.contract_violations == []


# -- the page ----------------------------------------------------------------------------------

def as_desk(email: str = ROSA) -> AppTest:
    at = open_app(as_email=email)
    assert not at.exception, at.exception
    return at


def fill(at: AppTest, prefix: str = "fd0_", **fields: str) -> AppTest:
    for name in ("phone", "email"):
        if name in fields:
            at.text_input(key=f"{prefix}{name}").input(fields.pop(name)).run()
    for name, value in fields.items():
        at.text_input(key=f"{prefix}{name}").input(value)
    return at


def test_the_front_desk_sees_only_its_page_and_its_emails(desk: Runtime) -> None:
    at = as_desk()
    assert at.title[0].value == "Front desk"
    for page in ("today.py", "team.py", "data_status.py", "leads.py"):  # not even registered for it
        with pytest.raises(ValueError, match=r"front_desk\.py', '.*outbox\.py'"):
            at.switch_page(f"outreach/ui/pages/{page}")
    at.switch_page("outreach/ui/pages/outbox.py").run()
    assert at.title[0].value == "Your e-mails" and not at.exception


def test_the_page_saves_a_new_caller_and_says_what_to_tell_them(desk: Runtime) -> None:
    at = fill(as_desk(), phone="(617) 555-0190", first_name="Lena", last_name="Park",
              heard_about="Google", reason="Kitchen remodel")
    at.button(key="fd0_save").click().run()
    assert not at.exception, at.exception
    said = shown(at.success[0].value)
    assert "will call you back within 5 minutes" in said and "New lead: Lena Park" in said
    assert at.text_input(key="fd1_first_name").value == ""  # the next caller gets an empty form
    assert list(at.dataframe[0].value["Caller"]) == ["Lena Park"]


def test_the_page_recognises_a_customer_and_a_lead_as_they_are_typed(desk: Runtime) -> None:
    customer = a_customer(desk)
    at = fill(as_desk(), phone=customer.phone)
    assert any(f"Existing customer: {customer.full_name}" in shown(i.value) for i in at.info)
    assert at.radio(key="fd0_what").value == "concern"
    fill(at, first_name=customer.first_name, reason="Billing question")
    at.button(key="fd0_save").click().run()
    assert "Concern" in shown(at.success[0].value)
    fill(at, prefix="fd1_", phone=customer.phone)
    assert any("Already a lead" in shown(i.value) for i in at.info)  # the open concern


def test_a_double_click_on_the_page_makes_one_lead(desk: Runtime) -> None:
    at = fill(as_desk(), phone="(617) 555-0191", first_name="Mo")
    at.button(key="fd0_save").click()
    # A double click: the second click reaches the server carrying the form as the first one sent it.
    second_click = at._tree.get_widget_states()
    at.run()
    at._run(second_click)
    assert not at.exception, at.exception
    with desk.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Lead).where(Lead.first_name == "Mo")) == 1


def test_a_failed_save_on_the_page_keeps_everything_typed(desk: Runtime) -> None:
    at = fill(as_desk(), phone="(617) 555-0192", first_name="Nia", reason="Urgent")
    with desk.db.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TRIGGER refuse BEFORE INSERT ON leads "
                             "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END")
    at.button(key="fd0_save").click().run()
    assert any("Nothing you typed was lost" in shown(e.value) for e in at.error)
    assert (at.text_input(key="fd0_first_name").value, at.text_input(key="fd0_phone").value,
            at.text_input(key="fd0_reason").value) == ("Nia", "(617) 555-0192", "Urgent")
    with desk.db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER refuse")
    at.button(key="fd0_save").click().run()
    with desk.db.session() as session:
        assert session.scalar(select(Lead.phone).where(Lead.first_name == "Nia")) == "+16175550192"
    with desk.db.session() as session:
        assert session.scalar(select(func.count()).select_from(LeadEvent).where(
            LeadEvent.outcome == "intake")) == 1


def test_bad_input_is_named_next_to_its_field_on_the_page(desk: Runtime) -> None:
    at = fill(as_desk(), email="nobody-at-all")
    at.button(key="fd0_save").click().run()
    errors = [shown(e.value) for e in at.error]
    assert any("ask for the caller's name" in e for e in errors)
    assert any("is not an e-mail address" in e for e in errors)


def test_the_page_hands_a_waiting_caller_on(desk: Runtime) -> None:
    save(desk, first_name="Ora", phone="(617) 555-0193", asked_for_id=viewer(desk, JORDAN).rep_id,
         at=MONDAY_10AM_NY - timedelta(minutes=20))
    at = as_desk()
    lead_id = desk_lead(desk, "Ora")
    at.button(key=f"fd_hand{lead_id}").click().run()
    assert "Handed on to Priya Patel" in shown(at.success[-1].value)
    # Both e-mails leave at once, not at the worker's next tick: the new owner's alert and Jordan's note.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        sent = {(m.kind, m.to_email) for m in messages(desk, lead_id) if m.status == "sent"}
        if {("alert", "priya.patel@example.com"), ("left-you", JORDAN)} <= sent:
            break
        time.sleep(0.1)
    assert {("alert", "priya.patel@example.com"), ("left-you", JORDAN)} <= sent


def desk_lead(runtime: Runtime, name: str) -> int:
    with runtime.db.session() as session:
        return session.scalar(select(Lead.id).where(Lead.first_name == name))


def test_a_manager_sees_the_front_desk_too(desk: Runtime) -> None:
    at = open_app(as_email=MANAGER)
    # ...but no Today of the front desk's to pick: it has no calls and no leads.
    assert "Jordan Rivera" in at.selectbox(key="whose_day").options
    assert "Rosa Alvarez" not in at.selectbox(key="whose_day").options
    at.switch_page("outreach/ui/pages/front_desk.py").run()
    assert at.title[0].value == "Front desk" and not at.exception


# -- found in review ----------------------------------------------------------------------------

def test_a_caller_twice_in_todays_list_has_one_hand_on_button(desk: Runtime) -> None:
    first = save(desk, first_name="Pam", phone="(617) 555-0171", asked_for_id=viewer(desk, JORDAN).rep_id,
                 at=MONDAY_10AM_NY - timedelta(minutes=20))
    save(desk, first_name="Pam", phone="(617) 555-0171", at=MONDAY_10AM_NY - timedelta(minutes=5))
    with desk.db.session() as session:
        rows = todays_intakes(session, viewer(desk, ROSA), MONDAY_10AM_NY, team_settings(session))
    assert [(r.what, r.may_hand_over) for r in rows] == [("Called again", False), ("New lead", True)]
    assert {r.lead_id for r in rows} == {first.lead_id}
    at = as_desk()
    assert not at.exception, at.exception  # one button, one key
    assert len([b for b in at.button if b.key == f"fd_hand{first.lead_id}"]) == 1


def test_what_the_caller_gives_now_beats_the_old_copy(desk: Runtime) -> None:
    customer = a_customer(desk)
    with desk.db.session() as session, session.begin():
        session.get(Customer, customer.id).email = "old@example.org"
    concern = save(desk, first_name=customer.first_name, email="old@example.org", phone="(617) 555-0199",
                   reason="Billing")
    flagged = save(desk, first_name="Quin", email="quin@example.org", phone="555-CALL-ME")
    again = save(desk, first_name="Quin", email="quin@example.org", phone="(617) 555-0198",
                 at=MONDAY_10AM_NY + timedelta(minutes=2), reason="Call me on my mobile")
    with desk.db.session() as session:
        assert session.get(Lead, concern.lead_id).phone == "+16175550199"  # not the sheet's number
        lead = session.get(Lead, flagged.lead_id)
        assert again.lead_id == flagged.lead_id and (lead.phone, lead.phone_as_typed) == ("+16175550198", "")
    called = messages(desk, flagged.lead_id)[-1]
    assert "called from +16175550198" in called.text and "Call me on my mobile" in called.text


def test_the_front_desk_never_owns_a_lead(desk: Runtime) -> None:
    from outreach.sheet.inbound import import_inbound
    from outreach.sheet.inbound_rows import InboundRecord

    with desk.db.session() as session, session.begin():
        record = InboundRecord(key="t:1", submitted_at="2026-11-23 10:00", first_name="Web",
                               last_name="Form", phone="+16175550197", email=None, heard_about="", reason="",
                               owner_email=ROSA, extra={}, row=2, received=MONDAY_10AM_NY)
        lead, = import_inbound(session, [record], team_settings(session), MONDAY_10AM_NY)
        assert session.get(Rep, lead.owner_id).role == "rep"  # round-robin, not the desk it named
        for rep in session.scalars(select(Rep).where(Rep.role == "rep")):
            rep.active = False  # a team of one manager and the desk
        from outreach.business_hours import WorkCalendar
        from outreach.leads.leads import InboundRoundRobin

        owner = InboundRoundRobin(session, WorkCalendar(team_settings(session))).next_owner(MONDAY_10AM_NY)
        assert owner.role == "manager"


def test_a_caller_whose_owner_has_left_goes_to_the_next_rep(desk: Runtime) -> None:
    first = save(desk, first_name="Ray", phone="(617) 555-0196", asked_for_id=viewer(desk, JORDAN).rep_id)
    with desk.db.session() as session, session.begin():
        session.scalar(select(Rep).where(Rep.email == JORDAN)).active = False
    again = save(desk, first_name="Ray", phone="(617) 555-0196", at=MONDAY_10AM_NY + timedelta(minutes=3))
    assert (again.kind, again.owner_first_name) == ("called_again", "Priya")
    with desk.db.session() as session:
        priya = viewer(desk, "priya.patel@example.com")
        assert session.get(Lead, first.lead_id).owner_id == priya.rep_id
    sent = {(m.kind, m.to_email) for m in messages(desk, first.lead_id)}
    assert ("alert", "priya.patel@example.com") in sent


def test_called_again_left_you_and_thank_you_wait_for_their_readers_hours(desk: Runtime) -> None:
    from outreach.leads.nagging import NagGate
    from outreach.mail.outbox import SEND
    from outreach.models import OutboxMessage as Message

    night = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # 22:00 in New York
    with desk.db.session() as session:
        team = team_settings(session)
        jordan = viewer(desk, JORDAN)
    gate = NagGate(desk.db, team)
    for kind in ("called-again", "left-you", "thank-you"):
        verdict = gate(Message(key=f"k-{kind}", kind=kind, rep_id=jordan.rep_id, cc=[]), night)
        assert verdict.hold_until is not None and verdict.hold_until > night, kind
        assert gate(Message(key=f"k-{kind}", kind=kind, rep_id=jordan.rep_id, cc=[]), MONDAY_10AM_NY) == SEND
    assert gate(Message(key="k-alert", kind="alert", rep_id=jordan.rep_id, cc=[]), night) == SEND


def test_a_failed_save_does_not_leave_the_last_callers_words_up(desk: Runtime) -> None:
    at = fill(as_desk(), phone="(617) 555-0195", first_name="Sol")
    at.button(key="fd0_save").click().run()
    assert any("Tell the caller" in shown(s.value) for s in at.success)
    fill(at, prefix="fd1_", email="not-an-address")
    at.button(key="fd1_save").click().run()
    assert not any("Tell the caller" in shown(s.value) for s in at.success)
    assert any("ask for the caller's name" in shown(e.value) for e in at.error)


# -- the sheet: the front desk's settings and its callers on the Leads tab ------------------------

def test_the_front_desks_settings_are_read_and_a_bad_one_is_named_with_the_default_kept(
        sheet: ManagerSheet, database) -> None:  # type: ignore[no-untyped-def]
    sheet.set_tab("Settings", [["Key", "Value"], ["Concern Reminder Schedule", "2m, 10m, 20m"],
                               ["Front Desk Handover", "25"]])
    result = sync(sheet, database)
    assert [p for p in result.problems if p.tab == "Settings"] == []
    with database.session() as session:
        team = team_settings(session)
    minutes = [timedelta(minutes=m) for m in (2, 10, 20)]
    assert team.concern_reminder_offsets == tuple(minutes)
    # ...then the leads' schedule from its first point past the concern's last (60m, 4h).
    assert team.offsets_for("concern") == (*minutes, timedelta(minutes=60), timedelta(hours=4))
    assert team.front_desk_handover == timedelta(minutes=25)  # a bare number is minutes
    sheet.set_tab("Settings", [["Key", "Value"], ["Concern Reminder Schedule", "30m, 5m"],
                               ["Front Desk Handover", "soon"]])
    result = sync(sheet, database, SYNC_NOW + timedelta(minutes=1))
    reasons = {(p.row, p.column, p.value): p.reason for p in result.problems if p.tab == "Settings"}
    assert reasons == {
        (2, "Concern Reminder Schedule", "30m, 5m"): "durations must be increasing; the default is kept",
        (3, "Front Desk Handover", "soon"): "expected a duration like 15m, 4h or 1d; the default is kept"}
    with database.session() as session:
        team = team_settings(session)
    assert team.concern_reminder_offsets == tuple(timedelta(minutes=m) for m in (5, 15, 30, 60))
    assert team.front_desk_handover == timedelta(minutes=15)


def test_the_front_desks_callers_reach_the_leads_tab_at_the_next_write_back(
        sheet: ManagerSheet, database) -> None:  # type: ignore[no-untyped-def]
    sync(sheet, database)
    with database.session() as session, session.begin():
        maya = Viewer.of(session.scalar(select(Rep).where(Rep.email == "maya@example.com")))  # a manager
        ann = session.scalar(select(Rep).where(Rep.email == "ann@example.com"))
        team = team_settings(session)
        for token, fields in (("t-zoe", {"first_name": "Zoe", "last_name": "Quill", "phone": "(617) 555-0179",
                                         "reason": "A new roof", "asked_for_id": ann.id}),
                              ("t-carla", {"first_name": "Carla", "phone": "(212) 555-0101",
                                           "reason": "Invoice charged twice"})):
            save_intake(session, maya, IntakeInput(client_token=token, **fields), team, SYNC_NOW)
    result = sync(sheet, database, SYNC_NOW + timedelta(minutes=1))
    assert "Leads" in result.written_tabs
    header, *rows = sheet.tab("Leads")
    cells = [dict(zip(header, row, strict=False)) for row in rows]
    assert [(c["Kind"], c["Owner"], c["First Name"], c["Need"]) for c in cells] == [
        ("Inbound", "ann@example.com", "Zoe", "A new roof"),
        ("Concern", "ann@example.com", "Carla", "Invoice charged twice")]
    assert cells[0]["Phone"] != "" and cells[0]["Status"] != ""
