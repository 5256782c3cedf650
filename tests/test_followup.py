"""The follow-up engine, end to end: alert at once, then nag until a conversation.

Each test takes the small team of ``tests/followup_world.py`` (a manager in New
York, a rep in New York and one in Los Angeles), creates a lead at a known moment,
and lets the real worker jobs run while time-machine moves the clock. The expected
times are read as the owner's local wall clock.
"""

from __future__ import annotations

import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from outreach import clock
from outreach.access import NotAllowed, Viewer
from outreach.calls.calls import CallInput, ReferralInput, log_call
from outreach.db import Database
from outreach.leads.followup import alert_key
from outreach.leads.leads import close_as_duplicate, log_followup, reassign
from outreach.models import Lead, OutboxMessage, PlannedCall, Rep, TeamSetting
from outreach.runtime import Runtime, team_settings
from outreach.worker import Worker, deliver_mail, deliver_now, nag
from tests.conftest import make_settings
from tests.factories import add_customer, add_rep
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.followup_world import (
    FRI,
    LOS_ANGELES,
    MON,
    NEW_YORK,
    ON_BOTH_DATABASES,
    THANKSGIVING_EVE,
    THU,
    TUE,
    WED,
    Team,
    follow_up,
    local,
    new_lead,
    run_worker,
    sent,
    team,
)

__all__ = ["team"]  # the fixture, imported for pytest to find


@ON_BOTH_DATABASES
def test_a_weekday_lead_is_nagged_until_connected(team: Team) -> None:
    lead = new_lead(team.runtime, team.nick, "Dana Whitfield", local(MON, 9, 0))
    run_worker(team.runtime, local(MON, 9, 0), local(THU, 10, 0))
    follow_up(team.runtime, team.nick, lead, "connected", local(THU, 10, 0))
    run_worker(team.runtime, local(THU, 10, 0), local(FRI, 17, 0))
    assert sent(team.runtime) == [
        "alert nick Mon 09:00",
        "reminder nick Mon 09:05",
        "reminder nick Mon 09:15",
        "reminder nick+maria Mon 10:00",  # from the 60-minute reminder on, the manager is copied
        "reminder nick+maria Mon 13:00",
        "reminder nick+maria Tue 08:00",  # then once a business day, at opening
        "reminder nick+maria Wed 08:00",
        "escalation maria Wed 09:00",  # two business days without a conversation
        "reminder nick+maria Thu 08:00",
    ]  # and nothing once Connected is logged on Thursday


def test_reminders_outside_business_hours_collapse_into_one_at_the_next_opening(team: Team) -> None:
    lead = new_lead(team.runtime, team.nick, "Late Friday", local(FRI, 17, 50))
    run_worker(team.runtime, local(FRI, 17, 50), local(FRI + timedelta(days=4), 12, 0))
    assert sent(team.runtime) == [
        "alert nick Fri 17:50",  # the alert goes out at any hour
        "reminder nick Fri 17:55",
        # 18:05, 18:50 and 21:50 fall after closing: one reminder on Monday morning
        "reminder nick+maria Mon 08:00",
        "reminder nick+maria Tue 08:00",
    ]
    with team.runtime.db.session() as session:
        assert session.get(Lead, lead).next_reminder_at == local(FRI + timedelta(days=5), 8, 0)


def test_a_worker_down_all_weekend_sends_one_reminder_not_a_burst(team: Team) -> None:
    new_lead(team.runtime, team.nick, "Late Friday", local(FRI, 17, 50))
    run_worker(team.runtime, local(FRI, 17, 50), local(FRI, 18, 0))
    # Nobody runs the worker until Monday 11:00, long after opening.
    run_worker(team.runtime, local(FRI + timedelta(days=3), 11, 0),
               local(FRI + timedelta(days=3), 12, 0))
    assert sent(team.runtime) == ["alert nick Fri 17:50", "reminder nick Fri 17:55",
                                  "reminder nick+maria Mon 11:00"]


def test_a_public_holiday_is_not_a_business_day(team: Team) -> None:
    wednesday = THANKSGIVING_EVE
    new_lead(team.runtime, team.nick, "Before Thanksgiving", local(wednesday, 16, 0))
    run_worker(team.runtime, local(wednesday, 16, 0), local(wednesday + timedelta(days=5), 17, 0))
    assert sent(team.runtime) == [
        "alert nick Wed 16:00",
        "reminder nick Wed 16:05",
        "reminder nick Wed 16:15",
        "reminder nick+maria Wed 17:00",
        # 20:00 is after closing and Thursday is Thanksgiving: Friday at opening
        "reminder nick+maria Fri 08:00",
        "reminder nick+maria Mon 08:00",
        "escalation maria Mon 16:00",  # Friday and Monday are the two business days
    ]


def test_each_owner_is_nagged_in_their_own_time_zone(team: Team) -> None:
    ny_lead = new_lead(team.runtime, team.nick, "East Coast", local(MON, 9, 0))
    la_lead = new_lead(team.runtime, team.lena, "West Coast", local(MON, 9, 0))  # 06:00 in LA
    run_worker(team.runtime, local(MON, 9, 0), local(TUE, 12, 0))
    assert sent(team.runtime, NEW_YORK, ny_lead) == [
        "alert nick Mon 09:00", "reminder nick Mon 09:05", "reminder nick Mon 09:15",
        "reminder nick+maria Mon 10:00", "reminder nick+maria Mon 13:00",
        "reminder nick+maria Tue 08:00"]
    assert sent(team.runtime, LOS_ANGELES, la_lead) == [
        "alert lena Mon 06:00",  # at once, even before Lena's office opens
        # 06:05, 06:15 and 07:00 are before 08:00 Pacific: one reminder at opening
        "reminder lena+maria Mon 08:00",
        "reminder lena+maria Mon 10:00",
        "reminder lena+maria Tue 08:00"]


def test_voicemails_are_attempts_and_the_reminders_say_so(team: Team) -> None:
    lead = new_lead(team.runtime, team.nick, "Hard To Reach", local(MON, 9, 0))
    run_worker(team.runtime, local(MON, 9, 0), local(MON, 9, 10))
    follow_up(team.runtime, team.nick, lead, "voicemail", local(MON, 9, 10))
    follow_up(team.runtime, team.nick, lead, "no_answer", local(MON, 9, 12))
    run_worker(team.runtime, local(MON, 9, 12), local(MON, 9, 16))
    follow_up(team.runtime, team.nick, lead, "connected", local(MON, 9, 20))
    run_worker(team.runtime, local(MON, 9, 20), local(WED, 12, 0))
    assert sent(team.runtime) == ["alert nick Mon 09:00", "reminder nick Mon 09:05",
                                  "reminder nick Mon 09:15"]  # no escalation either
    with team.runtime.db.session() as session:
        last = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reminder")
                               .order_by(OutboxMessage.id.desc())).first()
        lead_row = session.get(Lead, lead)
        assert lead_row.status == "connected" and lead_row.first_contact_at == local(MON, 9, 20)
    assert "2 attempts so far" in last.text and "15 minutes" in last.text
    assert f"?lead={lead}" in last.html and 'href="tel:+16175550142"' in last.html


def test_a_reminder_queued_before_the_conversation_is_cancelled(team: Team) -> None:
    lead = new_lead(team.runtime, team.nick, "Just Reached", local(MON, 9, 0))
    with time_machine.travel(local(MON, 9, 5), tick=False):
        assert nag(team.runtime, clock.now()) == 1  # queued, not yet sent
    follow_up(team.runtime, team.nick, lead, "connected", local(MON, 9, 5))
    with time_machine.travel(local(MON, 9, 6), tick=False):
        deliver_mail(team.runtime, clock.now())
    with team.runtime.db.session() as session:
        statuses = dict(session.execute(select(OutboxMessage.kind, OutboxMessage.status)).all())
    assert statuses["reminder"] == "cancelled"


def test_a_manager_reassigns_a_lead_and_the_new_owner_is_nagged(team: Team) -> None:
    lead = new_lead(team.runtime, team.nick, "Handed Over", local(MON, 9, 0))
    run_worker(team.runtime, local(MON, 9, 0), local(MON, 9, 10))
    with team.runtime.db.session() as session, session.begin(), pytest.raises(NotAllowed):
        reassign(session, Viewer.of(session.get(Rep, team.nick.id)), lead, team.lena.id,
                 team_settings(session), local(MON, 9, 10))
    with team.runtime.db.session() as session, session.begin():
        reassign(session, Viewer.of(session.get(Rep, team.manager.id)), lead, team.lena.id,
                 team_settings(session), local(MON, 9, 10))
    run_worker(team.runtime, local(MON, 9, 10), local(MON, 14, 0))
    assert sent(team.runtime) == [
        "alert nick Mon 09:00", "reminder nick Mon 09:05",
        "alert lena Mon 09:10",  # the new owner hears at once, at any hour
        "left-you nick Mon 09:10",  # and the old one that it left them
        # The schedule still counts from when the lead arrived, in Lena's hours: 09:15 and
        # 10:00 New York are before her 08:00 Pacific opening (11:00 here), then 13:00 (4 h).
        "reminder lena+maria Mon 11:00",
        "reminder lena+maria Mon 13:00"]
    with team.runtime.db.session() as session, pytest.raises(NotAllowed):  # and Nick no longer sees it
        log_followup(session, Viewer.of(session.get(Rep, team.nick.id)), lead, "connected",
                     local(MON, 14, 0))


def test_a_lead_closed_as_duplicate_stops_the_nagging(team: Team) -> None:
    lead = new_lead(team.runtime, team.nick, "Seen Before", local(MON, 9, 0))
    with team.runtime.db.session() as session, session.begin():
        with pytest.raises(NotAllowed):
            close_as_duplicate(session, Viewer.of(session.get(Rep, team.nick.id)), lead,
                               local(MON, 9, 1))
        close_as_duplicate(session, Viewer.of(session.get(Rep, team.manager.id)), lead,
                           local(MON, 9, 1), note="same as lead 12")
    run_worker(team.runtime, local(MON, 9, 1), local(WED, 12, 0))
    # The alert was already decided at 09:00 and still goes out; no reminder follows.
    assert sent(team.runtime) == ["alert nick Mon 09:01"]
    with team.runtime.db.session() as session:
        assert session.get(Lead, lead).status == "duplicate"


def test_an_inbound_row_gets_its_alert_in_the_same_worker_run(runtime: Runtime) -> None:
    """`worker --once` on both databases: sync reads the Inbound tab, mail sends the alerts."""
    with time_machine.travel(local(MON, 9, 0), tick=False):
        report = Worker(runtime).run_once()
    assert report["sync"] == 1 and report["mail"] >= 2
    with runtime.db.session() as session:
        alerts = session.execute(select(Lead.first_name, OutboxMessage.status, OutboxMessage.sent_at)
                                 .join(Lead, Lead.id == OutboxMessage.lead_id)
                                 .where(OutboxMessage.kind == "alert")).all()
    assert sorted((name, status) for name, status, _ in alerts) == [("Dana", "sent"), ("Luis", "sent")]
    assert {at for _, _, at in alerts} == {local(MON, 9, 0)}


def reassign_as_manager(team: Team, lead_id: int, to: Rep, at: datetime) -> None:
    with team.runtime.db.session() as session, session.begin():
        reassign(session, Viewer.of(session.get(Rep, team.manager.id)), lead_id, to.id,
                 team_settings(session), at)


def test_a_lead_handed_back_to_its_first_owner_alerts_them_again(team: Team) -> None:
    lead = new_lead(team.runtime, team.nick, "Back And Forth", local(MON, 9, 0))
    reassign_as_manager(team, lead, team.lena, local(MON, 9, 1))
    reassign_as_manager(team, lead, team.nick, local(MON, 9, 2))
    run_worker(team.runtime, local(MON, 9, 2), local(MON, 9, 4))
    assert [line for line in sent(team.runtime) if line.startswith("alert")] == [
        "alert nick Mon 09:02", "alert lena Mon 09:02", "alert nick Mon 09:02"]


# Daylight saving time in 2026/27: New York and Los Angeles fall back on Sunday 1 November 2026
# and spring forward on Sunday 14 March 2027. The Friday before each, 16:00 local.
AUTUMN_FRIDAY, SPRING_FRIDAY = date(2026, 10, 30), date(2027, 3, 12)


@ON_BOTH_DATABASES
@pytest.mark.parametrize("friday", [AUTUMN_FRIDAY, SPRING_FRIDAY], ids=["fall-back", "spring-forward"])
@pytest.mark.parametrize("who", ["nick", "lena"])
def test_reminders_keep_the_owners_wall_clock_across_a_daylight_saving_weekend(
        team: Team, friday: date, who: str) -> None:
    owner = getattr(team, who)
    zone = ZoneInfo(owner.time_zone)
    start = local(friday, 16, 0, zone)
    new_lead(team.runtime, owner, "Over The Weekend", start)
    run_worker(team.runtime, start, local(friday + timedelta(days=5), 17, 0, zone))
    if who == "nick":  # Nick and Maria both work New York hours
        assert sent(team.runtime, zone) == [
            "alert nick Fri 16:00", "reminder nick Fri 16:05", "reminder nick Fri 16:15",
            "reminder nick+maria Fri 17:00",
            # 20:00 is after closing; Monday's opening is 08:00 on the new clock, not 07:00 or 09:00
            "reminder nick+maria Mon 08:00",
            "reminder nick+maria Tue 08:00",
            "escalation maria Tue 16:00",  # two business days later, at the same wall-clock time
            "reminder nick+maria Wed 08:00",
        ]
    else:  # Lena in Los Angeles, her manager Maria in New York: each in their own hours
        assert sent(team.runtime, zone) == [
            "alert lena Fri 16:00", "reminder lena Fri 16:05", "reminder lena Fri 16:15",
            "reminder lena Fri 17:00",  # 20:00 in New York: Maria is not copied after hours
            "reminder lena+maria Mon 08:00",  # on the new clock; 11:00 for Maria
            "reminder lena+maria Tue 08:00",
            # Due Tuesday 16:00 Pacific, 19:00 for Maria: it waits for her Wednesday 08:00
            "escalation maria Wed 05:00",
            "reminder lena+maria Wed 08:00",
        ]


def open_all_week(team: Team) -> None:
    with team.runtime.db.session() as session, session.begin():
        session.add_all([TeamSetting(key="Workdays", value="Mon-Sun"),
                         TeamSetting(key="Business Hours", value="00:00-23:59")])


@ON_BOTH_DATABASES
def test_the_four_hour_reminder_counts_real_hours_across_the_missing_hour(team: Team) -> None:
    """A team open round the clock: 00:30 plus four hours, on the night the clocks skip 02:00."""
    open_all_week(team)
    sunday = date(2027, 3, 14)
    start = local(sunday, 0, 30)
    new_lead(team.runtime, team.nick, "Spring Night", start)
    run_worker(team.runtime, start, start + timedelta(hours=6))
    assert sent(team.runtime) == ["alert nick Sun 00:30", "reminder nick Sun 00:35",
                                  "reminder nick Sun 00:45", "reminder nick+maria Sun 01:30",
                                  "reminder nick+maria Sun 05:30"]  # 01:30 EST + 4 h = 05:30 EDT


def test_a_saved_referral_reaches_sendgrid_within_five_seconds(
        database: Database, workbook: Path, tmp_path: Path, sendgrid: FakeSendGrid) -> None:
    """What the rep page's Save does: one transaction, then the alert is sent off the page's thread."""
    settings = make_settings(tmp_path, OUTREACH_WORKBOOK=str(workbook), SENDGRID_API_KEY=sendgrid.api_key,
                             OUTREACH_SENDGRID_HOST=sendgrid.host)
    runtime = Runtime(settings=settings, db=database)
    with database.session() as session, session.begin():
        rep = add_rep(session, "nick@example.com", name="Nick Nowak")
        customer = add_customer(session, "Carla Diaz", owner=rep.email)
        planned = PlannedCall(plan_date=clock.now().date(), rep_id=rep.id, customer_id=customer.id,
                              position=0, status="open", created_at=clock.now())
        session.add(planned)
        session.flush()
        viewer, planned_id = Viewer.of(rep), planned.id
    form = CallInput(planned_call_id=planned_id, outcome="connected", client_token="form-1",
                     referrals=(ReferralInput(first_name="Dana", last_name="Whitfield",
                                              phone="(617) 555-0142", need="A new roof"),))
    started = time.monotonic()
    with database.session() as session, session.begin():
        saved = log_call(session, viewer, form, team_settings(session), clock.now())
    with database.session() as session:
        keys = [alert_key(session.get(Lead, lead_id)) for lead_id in saved.lead_ids]
    sending = threading.Thread(target=deliver_now, args=(runtime, keys), daemon=True)
    sending.start()
    (body,) = sendgrid.wait_for(1, timeout=5)
    assert time.monotonic() - started < 5
    assert body["categories"] == ["alert"] and "Dana Whitfield" in body["subject"]
    sending.join(5)  # the 202 comes before our commit of it
    with database.session() as session:
        assert session.scalar(select(OutboxMessage.status).where(OutboxMessage.key == keys[0])) == "sent"
