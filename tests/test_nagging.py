"""Nagging like a good colleague: nothing at night, one e-mail per person at a time.

The team of ``tests/followup_world.py``: Maria manages from New York, Nick works in
New York, Lena in Los Angeles. Times in the expected lists are New York's wall clock
unless a test says otherwise.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, select

from outreach import clock
from outreach.access import Viewer
from outreach.leads import nagging
from outreach.leads.lead_emails import LISTED_AT_MOST
from outreach.leads.leads import reassign
from outreach.leads.nagging import NagGate
from outreach.mail.mail_transport import MailTransport, Sender
from outreach.mail.outbox import CLAIM_FOR, Email, Verdict, deliver_due
from outreach.models import Lead, NagItem, OutboxMessage, Rep, TeamSetting
from outreach.runtime import Runtime, sender, team_settings
from outreach.team_settings import parse_team_settings
from outreach.worker import deliver_mail, nag
from tests.conftest import make_settings
from tests.factories import add_lead
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.followup_world import (
    FRI,
    LOS_ANGELES,
    MON,
    ON_BOTH_DATABASES,
    THU,
    TUE,
    WED,
    Team,
    follow_up,
    inbox,
    last_email,
    local,
    new_lead,
    run_worker,
    team,
)

__all__ = ["team"]  # the fixture, imported for pytest to find


def settle(runtime: Runtime, at: datetime) -> None:
    """One worker tick at ``at``: queue what is due, then send it."""
    with time_machine.travel(at, tick=False):
        nag(runtime, clock.now())
        deliver_mail(runtime, clock.now())


def set_team(runtime: Runtime, **values: str) -> None:
    with runtime.db.session() as session, session.begin():
        session.add_all(TeamSetting(key=key.replace("_", " "), value=value) for key, value in values.items())


# -- a worker that was down ----------------------------------------------------------------------

# (Wednesday, the Monday the worker is back at 02:00, the day business opens again)
WEEKENDS = {
    "ordinary": (date(2026, 11, 18), date(2026, 11, 23), date(2026, 11, 23)),
    "fall-back": (date(2026, 10, 28), date(2026, 11, 2), date(2026, 11, 2)),  # clocks back on Sunday
    "spring-forward": (date(2027, 3, 10), date(2027, 3, 15), date(2027, 3, 15)),
    "holiday-monday": (date(2027, 1, 13), date(2027, 1, 18), date(2027, 1, 19)),  # Martin Luther King Day
}


@pytest.mark.parametrize("week", list(WEEKENDS))
def test_a_worker_down_all_weekend_sends_nothing_at_night_then_one_email_each(team: Team, week: str) -> None:
    wednesday, back, opening_day = WEEKENDS[week]
    friday = wednesday + timedelta(days=2)
    arrivals = [  # two leads each for Nick (New York) and Lena (Los Angeles)
        (team.nick, "Avery", local(wednesday, 17, 30)),
        (team.lena, "Blake", local(wednesday, 14, 45, LOS_ANGELES)),
        (team.nick, "Drew", local(friday, 16, 30)),
        (team.lena, "Emery", local(friday, 13, 50, LOS_ANGELES)),
    ]
    now = local(wednesday, 17, 0)
    for owner, name, at in arrivals:
        run_worker(team.runtime, now, at)
        new_lead(team.runtime, owner, name, at)
        now = at
    run_worker(team.runtime, now, local(friday, 17, 0))
    # Down from Friday 17:00 (a deploy, a laptop asleep) until 02:00 on Monday.
    back_at = local(back, 2, 0)
    run_worker(team.runtime, back_at, local(opening_day, 12, 0))

    day = f"{opening_day:%a}"
    assert inbox(team.runtime, since=back_at) == [
        # Nothing before 08:00. Then each person's leads in one e-mail, the oldest first ...
        f"reminder nick+maria {day} 08:00: Avery, Drew",
        # ... and one request to reassign: Avery's and Blake's two business days ran out on Friday
        # evening, while nobody was watching; they wait for Maria's opening, not Nick's or Lena's.
        f"escalation maria {day} 08:00: Avery, Blake",
        f"reminder lena+maria {day} 11:00: Blake, Emery",  # 08:00 in Los Angeles
    ]
    with team.runtime.db.session() as session:
        to = Counter(session.scalars(select(OutboxMessage.to_email).where(
            OutboxMessage.sent_at >= back_at, OutboxMessage.status == "sent")))
    assert to == {"nick@example.com": 1, "lena@example.com": 1, "maria@example.com": 1}


@ON_BOTH_DATABASES
def test_a_fresh_install_at_two_in_the_morning_waits_for_the_opening(team: Team) -> None:
    """Days-old leads whose reminders never went (a demo history, a restored backup): nothing at night."""
    with team.runtime.db.session() as session, session.begin():
        for n, owner in enumerate([team.nick] * 4 + [team.lena] * 3):
            add_lead(session, session.get(Rep, owner.id), f"Stale{n} Lead",
                     created_at=local(MON, 10, n), next_reminder_at=local(MON, 10, n + 5))
    night = local(THU, 2, 16)
    run_worker(team.runtime, night, local(THU, 7, 59))
    assert inbox(team.runtime) == []
    run_worker(team.runtime, local(THU, 7, 59), local(THU, 12, 0))
    assert inbox(team.runtime) == [
        "reminder nick+maria Thu 08:00: Stale0, Stale1, Stale2, Stale3",
        "escalation maria Thu 08:00: Stale0, Stale1, Stale2, Stale3, Stale4, Stale5, Stale6",
        "reminder lena+maria Thu 11:00: Stale4, Stale5, Stale6"]


def test_escalations_due_minutes_apart_go_together(team: Team) -> None:
    with team.runtime.db.session() as session, session.begin():
        for n in range(4):  # due Wednesday 10:00, 10:01, 10:02, 10:03
            add_lead(session, session.get(Rep, team.nick.id), f"Lead{n} Waiting",
                     created_at=local(MON, 10, n))
    run_worker(team.runtime, local(WED, 9, 59), local(WED, 10, 10))
    assert [line for line in inbox(team.runtime) if line.startswith("escalation")] == [
        "escalation maria Wed 10:00: Lead0, Lead1, Lead2, Lead3"]


# -- one e-mail for everything that is due ---------------------------------------------------

def test_leads_due_together_make_one_email_most_urgent_first(team: Team) -> None:
    leona = new_lead(team.runtime, team.nick, "Leona Leadwell", local(MON, 9, 0))
    with team.runtime.db.session() as session, session.begin():
        worry = add_lead(session, session.get(Rep, team.nick.id), "Carla Diaz", kind="concern",
                         created_at=local(MON, 9, 1), next_reminder_at=local(MON, 9, 6),
                         phone="+16175550199", need="the invoice was wrong twice").id
    dana = new_lead(team.runtime, team.nick, "Dana Whitfield", local(MON, 9, 2))
    follow_up(team.runtime, team.nick, leona, "voicemail", local(MON, 9, 3))
    settle(team.runtime, local(MON, 9, 5))
    # Leona is due at 09:05; the concern (09:06) and Dana (09:07) fall inside the 5-minute window.
    assert inbox(team.runtime)[-1] == "reminder nick Mon 09:05: Carla, Leona, Dana"
    email = last_email(team.runtime, "reminder")
    assert email.subject == "3 leads waiting — Leona Leadwell for 5 minutes"
    text = email.text
    assert text.index("Carla Diaz") < text.index("Leona Leadwell") < text.index("Dana Whitfield")
    assert "Customer concern" in text and "the invoice was wrong twice" in text
    assert "1 attempt (last: left a voicemail 2 minutes ago)" in text
    for lead_id, phone in ((leona, "+16175550142"), (worry, "+16175550199"), (dana, "+16175550142")):
        assert f"?lead={lead_id}" in email.html and f'href="tel:{phone}"' in email.html
    with team.runtime.db.session() as session:
        counts = {lead.first_name: (lead.reminders_sent, lead.next_reminder_at)
                  for lead in session.scalars(select(Lead))}
    # Each counts one reminder and keeps its own schedule: 15 minutes after it arrived, next.
    assert counts == {"Leona": (1, local(MON, 9, 15)), "Carla": (1, local(MON, 9, 16)),
                      "Dana": (1, local(MON, 9, 17))}
    settle(team.runtime, local(MON, 9, 15))
    assert inbox(team.runtime)[-1] == "reminder nick Mon 09:15: Carla, Leona, Dana"


def test_a_list_stops_at_fifty_leads_and_says_how_many_more(team: Team) -> None:
    """Past about 100 lead cards Gmail clips an e-mail: it lists 50, then "... and N more", but counts all."""
    assert LISTED_AT_MOST == 50
    with team.runtime.db.session() as session, session.begin():
        nick = session.get(Rep, team.nick.id)
        for n in range(53):  # the oldest first: Lead00 ... Lead52
            add_lead(session, nick, f"Lead{n:02d} Waiting", next_reminder_at=local(MON, 9, 0),
                     created_at=local(MON, 8, 0) + timedelta(seconds=n))
    settle(team.runtime, local(MON, 9, 0))
    email = last_email(team.runtime, "reminder")
    assert email.subject == "53 leads waiting — Lead00 Waiting for 1 hour"
    assert "53 leads are waiting" in email.text
    assert "50. Lead49 Waiting" in email.text and "Lead50 Waiting" not in email.text
    assert "... and 3 more: open the app to see them all." in email.text
    assert "… and <strong>3 more</strong>" in email.html and "Lead50 Waiting" not in email.html
    with team.runtime.db.session() as session:
        assert session.scalar(select(func.count()).select_from(NagItem)
                              .where(NagItem.outbox_key == email.key)) == 53
        assert set(session.scalars(select(Lead.reminders_sent))) == {1}  # each counts its reminder
    settle(team.runtime, local(WED, 8, 0))  # two business days: the escalation has the same cap
    escalation = last_email(team.runtime, "escalation")
    assert escalation.subject.startswith("Please reassign 53 leads")
    assert "Lead50 Waiting" not in escalation.text and "... and 3 more" in escalation.text


def test_a_lead_due_alone_keeps_its_own_reminder(team: Team) -> None:
    new_lead(team.runtime, team.nick, "Leona Leadwell", local(MON, 9, 0))  # due 09:05, then 09:15
    new_lead(team.runtime, team.nick, "Dana Whitfield", local(MON, 9, 30))  # due 09:35; Leona 10:00
    for minute in (5, 15, 35):
        settle(team.runtime, local(MON, 9, minute))
    assert [line for line in inbox(team.runtime) if line.startswith("reminder")] == [
        "reminder nick Mon 09:05: Leona", "reminder nick Mon 09:15: Leona", "reminder nick Mon 09:35: Dana"]
    assert last_email(team.runtime, "reminder").subject == \
        "Reminder: Dana Whitfield is still waiting (5 minutes)"


def test_the_reminder_at_the_opening_is_not_followed_by_another_minutes_later(team: Team) -> None:
    new_lead(team.runtime, team.nick, "Early Bird", local(MON, 7, 50))
    run_worker(team.runtime, local(MON, 7, 50), local(MON, 12, 0))
    assert inbox(team.runtime) == [
        "alert nick Mon 07:50: ",
        "reminder nick Mon 08:00: Early",  # 07:55 waited for the opening
        # not its 15-minute point at 08:05, five minutes after the last one: the 60-minute point
        "reminder nick+maria Mon 08:50: Early",
        "reminder nick+maria Mon 11:50: Early"]


def test_the_batch_window_is_a_setting(team: Team) -> None:
    set_team(team.runtime, Reminder_Batch_Window="0m")
    new_lead(team.runtime, team.nick, "Leona Leadwell", local(MON, 9, 0))
    new_lead(team.runtime, team.nick, "Dana Whitfield", local(MON, 9, 2))
    run_worker(team.runtime, local(MON, 9, 2), local(MON, 9, 8))
    assert [line for line in inbox(team.runtime) if line.startswith("reminder")] == [
        "reminder nick Mon 09:05: Leona", "reminder nick Mon 09:07: Dana"]


def test_the_manager_is_copied_when_any_lead_is_late_and_told_which(team: Team) -> None:
    new_lead(team.runtime, team.nick, "Leona Leadwell", local(MON, 8, 0))
    run_worker(team.runtime, local(MON, 8, 0), local(MON, 8, 58))
    new_lead(team.runtime, team.nick, "Dana Whitfield", local(MON, 8, 58))
    settle(team.runtime, local(MON, 9, 0))  # Leona's 60-minute reminder; Dana's first is 3 minutes off
    assert inbox(team.runtime)[-1] == "reminder nick+maria Mon 09:00: Leona, Dana"
    email = last_email(team.runtime, "reminder")
    assert "Your manager is copied because Leona Leadwell has waited too long." in email.text
    assert email.text.count("manager copied") == 1
    with team.runtime.db.session() as session:
        copied = dict(session.execute(select(Lead.first_name, NagItem.manager_copied)
                                      .join(NagItem, NagItem.lead_id == Lead.id)
                                      .where(NagItem.outbox_key == email.key)).all())
    assert copied == {"Leona": True, "Dana": False}


def test_a_manager_outside_their_hours_is_not_copied(team: Team) -> None:
    new_lead(team.runtime, team.lena, "Late West", local(MON, 14, 0, LOS_ANGELES))
    run_worker(team.runtime, local(MON, 14, 0, LOS_ANGELES), local(MON, 15, 30, LOS_ANGELES))
    # Lena's 60-minute reminder is at 15:00 in Los Angeles: 18:00 for Maria in New York.
    assert inbox(team.runtime, LOS_ANGELES)[-1] == "reminder lena Mon 15:00: Late"
    assert "manager" not in last_email(team.runtime, "reminder").text


# -- what is already in the outbox waits too ------------------------------------------------

@pytest.mark.parametrize("first", ["nag", "mail"])
def test_a_reminder_queued_before_closing_waits_and_is_not_doubled(team: Team, first: str) -> None:
    lead = new_lead(team.runtime, team.nick, "Late Monday", local(MON, 17, 50))
    settle(team.runtime, local(MON, 17, 50))  # the alert
    with time_machine.travel(local(MON, 17, 55), tick=False):
        assert nag(team.runtime, clock.now()) == 1  # queued; SendGrid does not answer until after 18:00
    with time_machine.travel(local(MON, 18, 1), tick=False):
        deliver_mail(team.runtime, clock.now())
    held = last_email(team.runtime, "reminder")
    assert (held.status, held.next_attempt_at) == ("pending", local(TUE, 8, 0))
    assert held.last_error == "waiting for Nick Nowak's business hours (Tue 17 Nov 08:00 America/New_York)"
    # Tuesday 08:00: the held reminder and the lead's morning one are the same news, sent once,
    # whichever of the two jobs runs first.
    with time_machine.travel(local(TUE, 8, 0), tick=False):
        steps = [nag, deliver_mail] if first == "nag" else [deliver_mail, nag, deliver_mail]
        for step in steps:
            step(team.runtime, clock.now())
    assert inbox(team.runtime) == ["alert nick Mon 17:50: ", "reminder nick+maria Tue 08:00: Late"]
    with team.runtime.db.session() as session:
        assert session.get(OutboxMessage, held.id).status == "cancelled"
        assert session.get(Lead, lead).next_reminder_at == local(WED, 8, 0)


@ON_BOTH_DATABASES
def test_a_held_reminder_a_worker_is_about_to_send_does_not_go_beside_its_replacement(team: Team) -> None:
    """Worker B has claimed the held reminder at 08:00, and asks its gate, when worker A nags.

    B has not renewed its claim to send it, so A's morning reminder replaces it, and B's renewal fails.
    """
    new_lead(team.runtime, team.nick, "Late Monday", local(MON, 17, 50))
    settle(team.runtime, local(MON, 17, 50))
    with time_machine.travel(local(MON, 17, 55), tick=False):
        nag(team.runtime, clock.now())
    with time_machine.travel(local(MON, 18, 1), tick=False):
        deliver_mail(team.runtime, clock.now())  # held until Tuesday 08:00
    with time_machine.travel(local(TUE, 8, 0), tick=False):
        with team.runtime.db.session() as session:
            rules = team_settings(session)
        gate = NagGate(team.runtime.db, rules)

        def worker_a_nags_meanwhile(message: OutboxMessage, now: datetime) -> Verdict:
            nag(team.runtime, now)
            return gate(message, now)

        deliver_due(team.runtime.db, team.runtime.transport(), sender(rules), "worker-b", clock.now,
                    gate=worker_a_nags_meanwhile)
        deliver_mail(team.runtime, clock.now())
    assert [line for line in inbox(team.runtime) if line.startswith("reminder")] == [
        "reminder nick+maria Tue 08:00: Late"]


# -- a reminder in SendGrid's hands while the next one is decided ---------------------------------

@pytest.fixture
def mailed(team: Team, sendgrid: FakeSendGrid, tmp_path: Path, workbook: Path) -> Runtime:
    """The team's database, its e-mail sent through the fake SendGrid: what reached a rep is what it took."""
    settings = make_settings(tmp_path, OUTREACH_WORKBOOK=str(workbook), SENDGRID_API_KEY=sendgrid.api_key,
                             OUTREACH_SENDGRID_HOST=sendgrid.host)
    return Runtime(settings=settings, db=team.runtime.db)


@dataclass
class SendingMeanwhile:
    """A transport wrapped at our boundary: ``meanwhile`` runs once, as the first reminder leaves for
    SendGrid (its claim renewed, nothing can stop it now), before SendGrid answers."""

    inner: MailTransport
    meanwhile: Callable[[], object]
    done: bool = False

    @property
    def name(self) -> str:
        return self.inner.name

    def paused_until(self) -> datetime | None:
        return self.inner.paused_until()

    def send(self, message: OutboxMessage, from_: Sender) -> str:
        if message.kind == "reminder" and not self.done:
            self.done = True
            self.meanwhile()
        return self.inner.send(message, from_)


def deliver_as_worker_b(runtime: Runtime, key: str, transport: MailTransport | None = None) -> None:
    """Another worker sends this one message, as the worker's mail job would."""
    with runtime.db.session() as session:
        rules = team_settings(session)
    deliver_due(runtime.db, transport or runtime.transport(), sender(rules), "worker-b", clock.now,
                keys=[key], gate=NagGate(runtime.db, rules))


def reminders_reached(runtime: Runtime, fake: FakeSendGrid, kind: str = "reminder") -> list[str]:
    """Each reminder SendGrid accepted, in order, as the first names of the leads it listed."""
    keys = [body["personalizations"][0]["custom_args"]["outreach_key"] for body in fake.messages
            if body["categories"] == [kind]]
    with runtime.db.session() as session:
        return [", ".join(session.scalars(select(Lead.first_name).join(NagItem, NagItem.lead_id == Lead.id)
                                          .where(NagItem.outbox_key == key).order_by(NagItem.id)))
                for key in keys]


def annas_reminder_waits_for_sendgrid(runtime: Runtime, team: Team) -> OutboxMessage:
    """Anna's 09:05 reminder is queued, then waits (SendGrid is down); Bert arrives at 09:06, due at 09:11."""
    new_lead(runtime, team.nick, "Anna Able", local(MON, 9, 0))
    settle(runtime, local(MON, 9, 0))  # her alert
    with time_machine.travel(local(MON, 9, 5), tick=False):
        nag(runtime, clock.now())
    anna = last_email(runtime, "reminder")
    new_lead(runtime, team.nick, "Bert Baker", local(MON, 9, 6))
    return anna


IN_FLIGHT_ENDINGS = {  # SendGrid's answer to the reminder in its hands -> every reminder Nick got, in order
    "accepted": (202, ["Anna", "Bert", "Anna"]),  # the last is Anna's own 09:15 one
    "refused for good": (400, ["Bert", "Anna"]),  # Anna's next point (09:15) still reminds her
    "server error": (500, ["Bert", "Anna", "Anna"]),  # retried at 09:11:30, then her 09:15 one
}


@ON_BOTH_DATABASES
@pytest.mark.parametrize("ending", list(IN_FLIGHT_ENDINGS))
def test_a_reminder_in_sendgrids_hands_is_not_repeated_by_the_next_one(
        team: Team, mailed: Runtime, sendgrid: FakeSendGrid, ending: str) -> None:
    """Anna's 09:05 reminder waited (SendGrid was down). At 09:11 worker B sends it, and while SendGrid
    holds it worker A nags Nick for Bert, due at 09:11: Bert's e-mail does not list Anna again."""
    status, expected = IN_FLIGHT_ENDINGS[ending]
    anna = annas_reminder_waits_for_sendgrid(mailed, team)
    with time_machine.travel(local(MON, 9, 11), tick=False):
        sendgrid.respond_next(status)
        worker_a_nags = SendingMeanwhile(mailed.transport(), lambda: nag(mailed, clock.now()))
        deliver_as_worker_b(mailed, anna.key, worker_a_nags)
        deliver_mail(mailed, clock.now())  # worker A sends what it decided
    assert worker_a_nags.done
    for at in (local(MON, 9, 11) + timedelta(seconds=30), local(MON, 9, 15), local(MON, 9, 16)):
        settle(mailed, at)
    assert reminders_reached(mailed, sendgrid) == expected


@ON_BOTH_DATABASES
def test_a_reminder_a_worker_has_claimed_but_not_begun_to_send_is_replaced(
        team: Team, mailed: Runtime, sendgrid: FakeSendGrid) -> None:
    """Worker B has claimed Anna's waiting reminder with its batch (after an outage, up to 100 at once),
    but not yet renewed the claim to send it, when worker A nags Nick for Bert: one e-mail, both leads."""
    anna = annas_reminder_waits_for_sendgrid(mailed, team)
    with time_machine.travel(local(MON, 9, 11), tick=False):
        with mailed.db.session() as session:
            rules = team_settings(session)
        gate = NagGate(mailed.db, rules)

        def worker_a_nags_meanwhile(message: OutboxMessage, now: datetime) -> Verdict:
            nag(mailed, now)  # B has claimed the message, and asks the gate before it renews the claim
            return gate(message, now)

        report = deliver_due(mailed.db, mailed.transport(), sender(rules), "worker-b", clock.now,
                             keys=[anna.key], gate=worker_a_nags_meanwhile)
        deliver_mail(mailed, clock.now())  # worker A sends what it decided
    settle(mailed, local(MON, 9, 11) + timedelta(seconds=30))
    assert reminders_reached(mailed, sendgrid) == ["Anna, Bert"]
    assert (report.sent, report.lost) == (0, 1)  # B's renewal failed: the claimed reminder was replaced
    with mailed.db.session() as session:
        assert session.get(OutboxMessage, anna.id).status == "cancelled"


@ON_BOTH_DATABASES
def test_a_person_whose_due_leads_are_all_in_flight_does_not_hold_up_the_others(
        team: Team, mailed: Runtime, sendgrid: FakeSendGrid, monkeypatch: pytest.MonkeyPatch) -> None:
    """Anna's 12:05 reminder, delayed, is in SendGrid's hands when her 12:15 one falls due: Nick, first
    in line, has nothing to decide. Lena, due next, is not left for the next tick."""
    one_person_a_slice = nagging.due_owners  # stands for the 100 longest-due people of a slice

    def due_owners(session: Any, now: datetime, **kwargs: Any) -> list[int]:
        return one_person_a_slice(session, now, limit=1, **kwargs)

    monkeypatch.setattr("outreach.worker.due_owners", due_owners)
    new_lead(mailed, team.nick, "Anna Able", local(MON, 12, 0))
    settle(mailed, local(MON, 12, 0))  # her alert
    with time_machine.travel(local(MON, 12, 5), tick=False):
        nag(mailed, clock.now())  # her reminder waits (SendGrid is down); her next is due at 12:15
    anna = last_email(mailed, "reminder")
    new_lead(mailed, team.lena, "Pat Pacific", local(MON, 12, 10) + timedelta(seconds=3))  # due 12:15:03
    with time_machine.travel(local(MON, 12, 15) - timedelta(seconds=5), tick=False) as traveller:

        def nag_during_the_send() -> None:
            traveller.shift(timedelta(seconds=10))  # SendGrid takes its time: 12:15:05
            nag(mailed, clock.now())

        deliver_as_worker_b(mailed, anna.key, SendingMeanwhile(mailed.transport(), nag_during_the_send))
        deliver_mail(mailed, clock.now())
    assert reminders_reached(mailed, sendgrid) == ["Anna", "Pat"]


@ON_BOTH_DATABASES
def test_an_escalation_refused_for_good_is_written_again_a_day_later(
        team: Team, mailed: Runtime, sendgrid: FakeSendGrid) -> None:
    """SendGrid refuses Maria's escalation (400). Her leads are not forgotten (they are marked escalated):
    a day after the refusal they are escalated again, not every 15 s meanwhile."""
    with mailed.db.session() as session, session.begin():
        for name, at in (("Avery Able", local(MON, 10, 0)), ("Blake Baker", local(MON, 10, 1))):
            add_lead(session, session.get(Rep, team.nick.id), name, created_at=at,
                     next_reminder_at=local(FRI, 8, 0))
    sendgrid.respond_next(400)
    settle(mailed, local(WED, 10, 1))
    with mailed.db.session() as session:
        refused = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "escalation")).one()
    assert refused.status == "failed"
    for at in (local(WED, 10, 15), local(WED, 17, 0), local(THU, 10, 0)):
        settle(mailed, at)
    with mailed.db.session() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.kind == "escalation")) == 1
    settle(mailed, local(THU, 10, 1))
    assert reminders_reached(mailed, sendgrid, "escalation") == ["Avery, Blake"]
    settle(mailed, local(THU, 10, 30))
    assert reminders_reached(mailed, sendgrid, "escalation") == ["Avery, Blake"]  # once


@ON_BOTH_DATABASES
def test_a_reminder_whose_sender_stalls_past_its_claim_is_replaced(
        team: Team, mailed: Runtime, sendgrid: FakeSendGrid) -> None:
    """Worker B hangs in the send for over a minute (its claim lapses); the next e-mail lists Anna again."""
    anna = annas_reminder_waits_for_sendgrid(mailed, team)
    with time_machine.travel(local(MON, 9, 11), tick=False) as traveller:
        sendgrid.respond_next(500)  # the connection B waited on broke in the end

        def stall_then_nag() -> None:
            traveller.shift(CLAIM_FOR + timedelta(seconds=5))
            nag(mailed, clock.now())

        deliver_as_worker_b(mailed, anna.key, SendingMeanwhile(mailed.transport(), stall_then_nag))
        deliver_mail(mailed, clock.now())
    settle(mailed, local(MON, 9, 16))
    assert reminders_reached(mailed, sendgrid) == ["Anna, Bert"]
    with mailed.db.session() as session:
        assert session.get(OutboxMessage, anna.id).status == "cancelled"


@ON_BOTH_DATABASES
def test_a_waiting_reminder_a_sender_takes_while_the_next_is_decided_is_not_repeated(
        team: Team, mailed: Runtime, sendgrid: FakeSendGrid, monkeypatch: pytest.MonkeyPatch) -> None:
    """Worker A, deciding Bert's reminder, has read Anna's as waiting (to list her again and cancel it)
    when worker B sends it: A decides again instead of writing an e-mail that repeats her."""
    new_lead(mailed, team.nick, "Anna Able", local(MON, 9, 0))
    for minute in (0, 5, 15):
        settle(mailed, local(MON, 9, minute))
    sendgrid.respond_next(500)
    settle(mailed, local(MON, 10, 0))  # her 60-minute reminder waits for its retry; her next is at 13:00
    anna = last_email(mailed, "reminder")
    new_lead(mailed, team.nick, "Bert Baker", local(MON, 10, 1))
    render = nagging.reminder_email
    rendered: list[str] = []

    def worker_b_sends_meanwhile(*args: Any, **kwargs: Any) -> Email:
        if not rendered:
            deliver_as_worker_b(mailed, anna.key)
        email = render(*args, **kwargs)
        rendered.append(email.key)
        return email

    monkeypatch.setattr(nagging, "reminder_email", worker_b_sends_meanwhile)
    settle(mailed, local(MON, 10, 6))  # Bert's 5-minute reminder
    assert reminders_reached(mailed, sendgrid) == ["Anna", "Anna", "Anna", "Bert"]
    assert len(rendered) == 2  # Anna and Bert, not written; then Bert alone


def test_a_waiting_reminder_one_of_whose_leads_falls_due_is_not_sent_beside_the_new_one(
        team: Team, mailed: Runtime, sendgrid: FakeSendGrid) -> None:
    """The retry of Anna's and Carl's 09:05 reminder comes at 09:15, when Anna's next one is due (Carl's
    at 09:17): the mail job, running before the nagging step, leaves it to be replaced."""
    new_lead(mailed, team.nick, "Anna Able", local(MON, 9, 0))
    new_lead(mailed, team.nick, "Carl Cole", local(MON, 9, 2))
    settle(mailed, local(MON, 9, 2))  # the alerts
    sendgrid.respond_next(500)
    settle(mailed, local(MON, 9, 5))  # Anna's reminder, Carl's folded in; SendGrid answers 500
    with time_machine.travel(local(MON, 9, 15), tick=False):
        for step in (deliver_mail, nag, deliver_mail):
            step(mailed, clock.now())
    assert reminders_reached(mailed, sendgrid) == ["Anna, Carl"]


def test_a_lead_handed_to_someone_else_is_not_listed_to_its_old_owner(team: Team) -> None:
    anna = new_lead(team.runtime, team.nick, "Anna Able", local(MON, 16, 0))
    new_lead(team.runtime, team.nick, "Bert Baker", local(MON, 16, 0))
    settle(team.runtime, local(MON, 16, 0))
    with time_machine.travel(local(MON, 16, 5), tick=False):
        nag(team.runtime, clock.now())  # Anna and Bert, queued; SendGrid does not answer
    with team.runtime.db.session() as session, session.begin():
        reassign(session, Viewer.of(session.get(Rep, team.manager.id)), anna, team.lena.id,
                 team_settings(session), local(MON, 16, 10))
    settle(team.runtime, local(MON, 16, 15))
    assert [line for line in inbox(team.runtime) if line.startswith("reminder")] == [
        "reminder nick Mon 16:15: Bert", "reminder lena Mon 16:15: Anna"]


def test_a_reminder_whose_copy_would_reach_the_manager_after_hours_is_written_again(team: Team) -> None:
    new_lead(team.runtime, team.lena, "West Lead", local(MON, 13, 0, LOS_ANGELES))
    for minute in (0, 5, 15):
        settle(team.runtime, local(MON, 13, minute, LOS_ANGELES))
    with time_machine.travel(local(MON, 14, 0, LOS_ANGELES), tick=False):
        nag(team.runtime, clock.now())  # the 60-minute reminder, Maria copied: 17:00 in New York
    settle(team.runtime, local(MON, 15, 30, LOS_ANGELES))  # SendGrid answers again at 18:30 New York
    settle(team.runtime, local(MON, 15, 30, LOS_ANGELES))  # the nagging step writes it again
    assert inbox(team.runtime, LOS_ANGELES)[-1] == "reminder lena Mon 15:30: West"
    assert not [line for line in inbox(team.runtime, LOS_ANGELES) if "+maria" in line]


def test_a_combined_reminder_goes_while_any_of_its_leads_waits(team: Team) -> None:
    leona = new_lead(team.runtime, team.nick, "Leona Leadwell", local(MON, 9, 0))
    dana = new_lead(team.runtime, team.nick, "Dana Whitfield", local(MON, 9, 1))
    settle(team.runtime, local(MON, 9, 1))
    with time_machine.travel(local(MON, 9, 5), tick=False):
        nag(team.runtime, clock.now())
    follow_up(team.runtime, team.nick, leona, "connected", local(MON, 9, 5))
    settle(team.runtime, local(MON, 9, 5))
    assert last_email(team.runtime, "reminder").status == "sent"  # Dana still waits
    with time_machine.travel(local(MON, 9, 16), tick=False):
        nag(team.runtime, clock.now())
    follow_up(team.runtime, team.nick, dana, "connected", local(MON, 9, 16))
    settle(team.runtime, local(MON, 9, 16))
    cancelled = last_email(team.runtime, "reminder")
    assert (cancelled.status, cancelled.last_error) == (
        "cancelled", "none of its leads was waiting any more (reached, closed or handed over)")


# -- escalations -------------------------------------------------------------------------------

@ON_BOTH_DATABASES
def test_one_escalation_lists_every_lead_that_needs_a_new_owner(team: Team) -> None:
    set_team(team.runtime, Average_Deal_Value="500")
    with team.runtime.db.session() as session, session.begin():
        for owner, name, at in ((team.nick, "Leona Leadwell", local(MON, 9, 0)),
                                (team.lena, "Pat Pacific", local(MON, 9, 30)),
                                (team.nick, "Dana Whitfield", local(MON, 10, 0))):
            add_lead(session, session.get(Rep, owner.id), name, created_at=at, attempts=2)
    settle(team.runtime, local(WED, 11, 30))  # all three are past their two business days
    escalations = [line for line in inbox(team.runtime) if line.startswith("escalation")]
    assert escalations == ["escalation maria Wed 11:30: Leona, Pat, Dana"]
    email = last_email(team.runtime, "escalation")
    assert email.subject == "Please reassign 3 leads — Leona Leadwell has waited 2 days"
    assert "Value at risk: 1,500 (3 × the average deal value of 500)" in email.text
    assert "Pat Pacific · Referral · waiting 2 days · Lena Lopez" in email.text
    assert "Leona Leadwell · Referral · waiting 2 days · Nick Nowak" in email.text
    assert "2 attempts" in email.text
    with team.runtime.db.session() as session:
        ids = list(session.scalars(select(Lead.id).order_by(Lead.id)))
        assert all(lead.escalated_at == local(WED, 11, 30) for lead in session.scalars(select(Lead)))
    for lead_id in ids:  # each opens the Team page at its reassign control
        assert f'href="http://localhost:8501/team?lead={lead_id}"' in email.html
    settle(team.runtime, local(WED, 11, 45))
    assert len([line for line in inbox(team.runtime) if line.startswith("escalation")]) == 1


def test_a_queued_escalation_waits_for_the_managers_opening_and_goes_once(team: Team) -> None:
    """Queued at 17:58 on Wednesday, not sent before Maria's 18:00 closing (SendGrid was slow)."""
    with team.runtime.db.session() as session, session.begin():
        add_lead(session, session.get(Rep, team.nick.id), "Slow Lead", created_at=local(MON, 17, 58))
    with time_machine.travel(local(WED, 17, 58), tick=False):
        assert nag(team.runtime, clock.now()) == 1  # two business days are up; Maria is still at work
    with time_machine.travel(local(WED, 18, 2), tick=False):
        deliver_mail(team.runtime, clock.now())
    held = last_email(team.runtime, "escalation")
    assert (held.status, held.next_attempt_at) == ("pending", local(THU, 8, 0))
    assert held.last_error == "waiting for Maria Boss's business hours (Thu 19 Nov 08:00 America/New_York)"
    run_worker(team.runtime, local(WED, 18, 2), local(THU, 9, 0))
    assert [line for line in inbox(team.runtime) if line.startswith("escalation")] == [
        "escalation maria Thu 08:00: Slow"]
    with team.runtime.db.session() as session:
        assert session.scalars(select(OutboxMessage.key).where(OutboxMessage.kind == "escalation")).all() == [
            held.key]  # the same e-mail, not a second one written at the opening


def test_an_escalation_waits_for_the_managers_own_hours(team: Team) -> None:
    with team.runtime.db.session() as session, session.begin():
        add_lead(session, session.get(Rep, team.lena.id), "Pat Pacific",
                 created_at=local(MON, 15, 30, LOS_ANGELES))  # due Wednesday 15:30 Pacific
    run_worker(team.runtime, local(WED, 15, 0, LOS_ANGELES), local(date(2026, 11, 19), 9, 0))
    escalations = [line for line in inbox(team.runtime) if line.startswith("escalation")]
    assert escalations == ["escalation maria Thu 08:00: Pat"]  # 18:30 in New York: Thursday morning


@pytest.mark.parametrize(("raw", "window", "problem"), [
    ("10m", timedelta(minutes=10), None), ("0", timedelta(0), None),
    ("2h", timedelta(minutes=5),
     "at most 60m: a larger window sends reminders far too early; the default is kept"),
])
def test_the_batch_window_is_read_from_the_settings_tab(raw: str, window: timedelta,
                                                        problem: str | None) -> None:
    team, problems = parse_team_settings([("Reminder Batch Window", raw, 9)])
    assert team.reminder_batch_window == window
    assert [p.reason for p in problems] == ([problem] if problem else [])
