"""A lead's life after the first call: next steps, who may log them, search, history, passed appointments."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from outreach.access import NotAllowed, Viewer
from outreach.db import Database
from outreach.errors import OutreachError
from outreach.leads.followup import start_following_up
from outreach.leads.lead_life import appointments_due, lead_life, log_next_step, search_leads
from outreach.leads.leads import close_as_duplicate, log_followup, reassign, undo_duplicate
from outreach.mail.outbox import Email, enqueue
from outreach.models import Lead, LeadEvent, NagItem, OutboxMessage, Rep
from outreach.runtime import Runtime
from outreach.sheet.sync import run_sync
from outreach.sheet.write_back import LEAD_HEADER, leads_table, team_summary_table
from outreach.team.metrics import Filters, team_report
from outreach.team_settings import TeamSettings
from tests.factories import add_lead, add_rep
from tests.test_call_list import NEW_YORK, at, call_lists, run_worker

NOW = datetime(2026, 11, 16, 17, 0, tzinfo=UTC)  # Monday 12:00 in New York
TEAM = TeamSettings()


@dataclass
class Team:
    db: Database
    alice: Viewer
    bob: Viewer
    boss: Viewer
    lead_id: int  # Alice's, talked to on Monday morning, no outcome yet


@pytest.fixture
def team(database: Database) -> Iterator[Team]:
    with database.session() as session, session.begin():
        boss = add_rep(session, "boss@example.com", role="manager", name="Maya Boss")
        alice = add_rep(session, "alice@example.com", manager=boss.email, name="Alice Ames")
        bob = add_rep(session, "bob@example.com", manager=boss.email, name="Bob Burns")
        lead = add_lead(session, alice, "Dana Reyes", status="connected", email="dana@example.org",
                        first_contact_at=NOW - timedelta(hours=2))
        ids = (Viewer.of(alice), Viewer.of(bob), Viewer.of(boss), lead.id)
    yield Team(database, *ids)


def lead(team: Team, lead_id: int | None = None) -> Lead:
    with team.db.session() as session:
        return session.get(Lead, lead_id or team.lead_id)


def step(team: Team, viewer: Viewer, name: str, now: datetime = NOW, **kwargs: object) -> Lead:
    with team.db.session() as session, session.begin():
        return log_next_step(session, viewer, kwargs.pop("lead_id", team.lead_id), name, now,
                             **kwargs)  # type: ignore[arg-type]


def test_a_lead_talked_to_earlier_can_be_won_later(team: Team) -> None:
    step(team, team.alice, "won", NOW + timedelta(days=3), note="Signed the annual plan")
    won = lead(team)
    assert (won.status, won.closed_at, won.next_reminder_at) == ("won", NOW + timedelta(days=3), None)
    with team.db.session() as session:
        (event,) = session.scalars(select(LeadEvent).where(LeadEvent.lead_id == won.id)).all()
    assert (event.outcome, event.next_step, event.note, event.rep_id) == (
        "next_step", "won", "Signed the annual plan", team.alice.rep_id)


def test_an_appointment_keeps_its_time_and_a_loss_its_reason(team: Team) -> None:
    meeting = NOW + timedelta(days=2)
    step(team, team.alice, "appointment", appointment_at=meeting)
    assert (lead(team).status, lead(team).appointment_at) == ("appointment", meeting)
    step(team, team.alice, "lost", NOW + timedelta(days=3), lost_reason="Went with a competitor")
    lost = lead(team)
    assert (lost.status, lost.lost_reason) == ("lost", "Went with a competitor")
    with team.db.session() as session:
        events = session.scalars(select(LeadEvent).where(LeadEvent.lead_id == lost.id)
                                 .order_by(LeadEvent.id)).all()
    assert [(e.next_step, e.appointment_at, e.note) for e in events] == [
        ("appointment", meeting, ""), ("lost", None, "Went with a competitor")]


@pytest.mark.parametrize(("name", "kwargs", "message"), [
    ("appointment", {}, "an appointment needs a date and time"),
    ("lost", {"lost_reason": "   "}, "say why it was lost"),
    ("connected", {}, "choose the next step"),
    ("appointment", {"appointment_at": datetime(2026, 11, 18, 10)}, "the appointment time has no time zone"),
    ("appointment", {"appointment_at": NOW - timedelta(days=1)}, "that time has passed"),
])
def test_a_next_step_needs_what_it_means(team: Team, name: str, kwargs: dict[str, object],
                                         message: str) -> None:
    with pytest.raises(OutreachError, match=message):
        step(team, team.alice, name, **kwargs)
    assert lead(team).status == "connected"


def test_a_rep_cannot_log_on_another_reps_lead_but_a_manager_can(team: Team) -> None:
    with pytest.raises(NotAllowed):
        step(team, team.bob, "won")
    assert lead(team).status == "connected"
    step(team, team.boss, "not_a_fit")
    assert lead(team).status == "not_a_fit"


def test_the_same_form_submitted_twice_is_logged_once(team: Team) -> None:
    step(team, team.alice, "won", client_token="form-1")
    step(team, team.alice, "won", NOW + timedelta(seconds=1), client_token="form-1")
    with team.db.session() as session:
        events = session.scalars(select(LeadEvent).where(LeadEvent.lead_id == team.lead_id)).all()
    assert len(events) == 1 and lead(team).closed_at == NOW


def test_the_same_outcome_again_from_a_fresh_form_adds_nothing_but_a_new_date_does(team: Team) -> None:
    meeting = NOW + timedelta(days=1)
    step(team, team.alice, "appointment", appointment_at=meeting, client_token="form-1")
    step(team, team.alice, "appointment", appointment_at=meeting, client_token="form-2")
    step(team, team.alice, "appointment", appointment_at=meeting + timedelta(days=1), client_token="form-3")
    with team.db.session() as session:
        events = session.scalars(select(LeadEvent).where(LeadEvent.lead_id == team.lead_id)).all()
    assert [e.appointment_at for e in events] == [meeting, meeting + timedelta(days=1)]


def test_a_duplicate_gets_no_next_step(team: Team) -> None:
    with team.db.session() as session, session.begin():
        session.get(Lead, team.lead_id).status = "duplicate"
    with pytest.raises(OutreachError, match="duplicate"):
        step(team, team.alice, "won")


def test_search_by_status_name_phone_and_e_mail_within_what_the_viewer_may_see(team: Team) -> None:
    with team.db.session() as session, session.begin():
        alice, bob = session.get(Rep, team.alice.rep_id), session.get(Rep, team.bob.rep_id)
        add_lead(session, alice, "Eli Stone", status="won", phone="+12125550123")
        add_lead(session, alice, "Fay 100%", status="new", phone=None, email="fay@example.org")
        add_lead(session, bob, "Dana Other", status="connected")

    def names(viewer: Viewer, filters: list[str], text: str = "") -> list[str]:
        with team.db.session() as session:
            return sorted(lead.full_name for lead in search_leads(session, viewer, filters, text))

    assert names(team.alice, ["open"]) == ["Dana Reyes", "Fay 100%"]
    assert names(team.alice, ["won"]) == ["Eli Stone"]
    assert names(team.alice, ["open", "won"], "dana") == ["Dana Reyes"]
    assert names(team.alice, ["open", "won"], "(212) 555-0123") == ["Eli Stone"]
    assert names(team.alice, ["open"], "FAY@EXAMPLE") == ["Fay 100%"]
    assert names(team.alice, ["open"], "0%") == ["Fay 100%"]  # % is a character, not a wildcard
    assert names(team.boss, ["open"], "dana") == ["Dana Other", "Dana Reyes"]
    with pytest.raises(OutreachError):
        names(team.alice, ["everything"])


def test_the_history_has_every_event_and_the_reminders_that_named_the_lead(team: Team) -> None:
    with team.db.session() as session, session.begin():
        log_followup(session, team.alice, team.lead_id, "voicemail", NOW - timedelta(hours=3),
                     note="Left a message")
        enqueue(session, Email(key="alert:x", kind="alert", to_email="alice@example.com", subject="New lead",
                               text="", html="", lead_id=team.lead_id), NOW - timedelta(hours=5))
        enqueue(session, Email(key="reminder:x:1", kind="reminder", to_email="alice@example.com",
                               subject="1 lead waiting", text="", html="", cc=("boss@example.com",)),
                NOW - timedelta(hours=4))
        session.add(NagItem(outbox_key="reminder:x:1", lead_id=team.lead_id, kind="reminder", number=2,
                            manager_copied=True, created_at=NOW - timedelta(hours=4)))
        log_next_step(session, team.alice, team.lead_id, "won", NOW)
    with team.db.session() as session:
        life = lead_life(session, team.boss, team.lead_id)
        with pytest.raises(NotAllowed):
            lead_life(session, team.bob, team.lead_id)
    assert [(e.who, e.what, e.note) for e in life.history] == [
        ("Outreach", "New-lead alert e-mailed (pending)", "to alice@example.com"),
        ("Outreach", "Reminder 2 e-mailed (pending)", "to alice@example.com, cc boss@example.com"),
        ("Alice Ames", "Left voicemail", "Left a message"),
        ("Alice Ames", "Next step: Won", ""),
    ]
    assert life.owner_name == "Alice Ames"


def test_the_history_names_reassignments_handovers_and_duplicates(team: Team) -> None:
    with team.db.session() as session, session.begin():
        dana = session.get(Lead, team.lead_id)
        dana.status, dana.first_contact_at = "new", None  # still waiting: a handover is alerted
        other = add_lead(session, session.get(Rep, team.bob.rep_id), "Dana Reyes").id
        start_following_up(session, dana, TEAM, NOW - timedelta(hours=1))
        reassign(session, team.boss, team.lead_id, team.bob.rep_id, TEAM, NOW)
        close_as_duplicate(session, team.boss, team.lead_id, NOW + timedelta(minutes=1), kept_id=other)
        undo_duplicate(session, team.boss, team.lead_id, TEAM, NOW + timedelta(minutes=2))
    with team.db.session() as session:
        life = lead_life(session, team.boss, team.lead_id)
        kept = lead_life(session, team.boss, other)
    assert [e.what for e in life.history] == [
        "New-lead alert e-mailed (pending)", "Reassigned from Alice Ames", "Handover e-mailed (pending)",
        f"Closed as a duplicate of lead {other}", f"Reopened: not a duplicate of lead {other}"]
    assert [e.what for e in kept.history] == [
        f"Kept: lead {team.lead_id} was closed as its duplicate",
        f"Lead {team.lead_id} is no longer its duplicate"]


def test_a_passed_appointment_with_nothing_logged_is_due_without_restarting_reminders(team: Team) -> None:
    meeting = NOW + timedelta(days=1)
    step(team, team.alice, "appointment", appointment_at=meeting)
    with team.db.session() as session:
        assert appointments_due(session, team.alice, meeting - timedelta(minutes=1)) == []
        (due,) = appointments_due(session, team.alice, meeting + timedelta(hours=1))
        assert due.id == team.lead_id and due.next_reminder_at is None
        assert appointments_due(session, team.bob, meeting + timedelta(hours=1)) == []
        assert len(appointments_due(session, team.boss, meeting + timedelta(hours=1))) == 1
    with team.db.session() as session, session.begin():  # a call after the meeting answers it
        log_followup(session, team.alice, team.lead_id, "no_answer", meeting + timedelta(hours=2))
    with team.db.session() as session:
        assert appointments_due(session, team.alice, meeting + timedelta(hours=3)) == []
        assert session.get(Lead, team.lead_id).next_reminder_at is None


def test_the_funnel_counts_a_referral_won_after_its_first_conversation(team: Team) -> None:
    def won() -> int:
        with team.db.session() as session:
            monday = date(2026, 11, 16)
            return team_report(session, Filters(monday, monday), NOW, TEAM).funnel.appointments_or_won

    assert won() == 0
    step(team, team.alice, "appointment", appointment_at=NOW + timedelta(days=1))
    assert won() == 1
    step(team, team.alice, "lost", lost_reason="Budget cut")
    assert won() == 1  # it got as far as an appointment


def test_the_team_summary_counts_each_reps_appointments_and_wins(team: Team) -> None:
    def alice_row() -> dict[str, object]:
        with team.db.session() as session:
            header, *rows = team_summary_table(session, TEAM, NOW)
        (row,) = [dict(zip(header, r, strict=True)) for r in rows if r[0] == "Alice Ames"]
        return row

    assert (alice_row()["Appointments or won"], alice_row()["Won"]) == (0, 0)
    step(team, team.alice, "appointment", appointment_at=NOW + timedelta(days=1))
    assert (alice_row()["Appointments or won"], alice_row()["Won"]) == (1, 0)
    step(team, team.alice, "won", NOW + timedelta(minutes=1))
    assert (alice_row()["Appointments or won"], alice_row()["Won"]) == (1, 1)


def test_the_leads_tab_has_the_appointment_and_the_lost_reason(team: Team) -> None:
    assert LEAD_HEADER[-2:] == ["Appointment", "Lost Reason"]
    step(team, team.alice, "appointment", appointment_at=datetime(2026, 11, 18, 15, 30, tzinfo=UTC))
    with team.db.session() as session:
        (header, row) = leads_table(session, TEAM, NOW)
    assert dict(zip(header, row, strict=True))["Appointment"] == "2026-11-18 10:30"  # New York
    step(team, team.alice, "lost", lost_reason="Went with a competitor")
    with team.db.session() as session:
        (header, row) = leads_table(session, TEAM, NOW)
    cells = dict(zip(header, row, strict=True))
    assert (cells["Status"], cells["Appointment"], cells["Lost Reason"]) == (
        "Lost", "", "Went with a competitor")


@pytest.fixture
def demo_team(runtime: Runtime) -> Runtime:
    assert run_sync(runtime.db, runtime.source(), datetime(2026, 10, 1, tzinfo=UTC)).ok
    return runtime


def test_the_morning_e_mail_lists_a_passed_appointment_with_a_link_to_the_lead(demo_team: Runtime) -> None:
    monday = date(2026, 11, 23)
    with demo_team.db.session() as session, session.begin():
        jordan = session.scalar(select(Rep).where(Rep.email == "jordan.rivera@example.com"))
        booked = add_lead(session, jordan, "Booked Client", status="connected",
                          created_at=at(monday, 9, 0, NEW_YORK) - timedelta(days=7))
        later = add_lead(session, jordan, "Future Client", status="connected",
                         created_at=at(monday, 9, 0, NEW_YORK) - timedelta(days=7))
        viewer = Viewer.of(jordan)
        log_next_step(session, viewer, booked.id, "appointment", booked.created_at,
                      appointment_at=at(monday, 15, 0, NEW_YORK) - timedelta(days=3))
        log_next_step(session, viewer, later.id, "appointment", later.created_at,
                      appointment_at=at(monday, 15, 0, NEW_YORK) + timedelta(days=1))
        booked_id = booked.id
    run_worker(demo_team, at(monday, 7, 30, NEW_YORK), at(monday, 7, 31, NEW_YORK))
    (message,) = [m for e, m in call_lists(demo_team) if e == "jordan.rivera@example.com"]
    assert "Appointments to log (1)" in message.text and "Appointments to log (1)" in message.html
    assert "Booked Client: was Fri 20 Nov 15:00" in message.text
    assert f"http://localhost:8501/leads?lead={booked_id}" in message.html
    assert "Future Client" not in message.text
    with demo_team.db.session() as session:  # no speed-to-lead nagging restarted
        assert session.get(Lead, booked_id).next_reminder_at is None
        assert not session.scalars(select(OutboxMessage).where(OutboxMessage.lead_id == booked_id)).all()
