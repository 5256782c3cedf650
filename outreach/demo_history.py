"""Four weeks of a believable past for the demo team, so a first look at the app shows a team at work.

Without it the manager's Team page would open on zeros. The history is played through
the real domain functions, day by day with a moved ``now``: the planner builds each
morning's lists, reps log calls (some connect and name referrals, many end in
voicemail), and leads are followed up fast, slowly or never. So every number on the
Team page comes from the same code paths a real team exercises.

The e-mails those days produced are marked as sent when they were queued: they are
history, not mail to deliver now. Randomness is seeded, so a history played on the
same day is the same history.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from faker import Faker
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from outreach.access import Viewer
from outreach.business_hours import WorkCalendar
from outreach.calls.calls import CallInput, FormErrors, ReferralInput, log_call
from outreach.calls.planner import plan_day, todays_plan
from outreach.demo_data import FRONT_DESK, MANAGER, REPS
from outreach.leads.leads import log_followup
from outreach.models import Call, Lead, OutboxMessage, Rep, ThankYou
from outreach.team_settings import TeamSettings

SEED = 20261123
WORKDAYS = 20  # four weeks
# What happens when a rep dials a customer, and how many names a good conversation gives.
CALL_OUTCOMES = (("connected", 0.55), ("voicemail", 0.25), ("no_answer", 0.12),
                 ("wrong_number", 0.03), (None, 0.05))  # None: the call was never made
REFERRALS_PER_CONVERSATION = ((0, 0.45), (1, 0.35), (2, 0.2))
# Minutes from a lead's arrival to the rep's first try, and whether the try connects.
FIRST_TRY_MINUTES = ((2, 0.25), (4, 0.15), (12, 0.2), (45, 0.15), (240, 0.1), (None, 0.15))
NEXT_STEPS = (("", 0.5), ("appointment", 0.25), ("won", 0.1), ("lost", 0.1), ("not_a_fit", 0.05))
# Area codes the demo's customers do not use, in the 555-01xx range kept for fiction.
THANKED_BY = timedelta(days=2)  # the demo's reps say their thank-yous within two days
REFERRAL_AREAS = ("201", "303", "503", "602", "702", "808", "919")


def is_demo_team(session: Session) -> bool:
    """The Reps tab is the demo workbook's, to the e-mail: nobody else's team gets a made-up past."""
    emails = set(session.scalars(select(Rep.email).where(Rep.active.is_(True))))
    return emails == {person[1] for person in (MANAGER, *REPS, FRONT_DESK)}


def _pick(rng: random.Random, choices: tuple[tuple[object, float], ...]) -> object:
    values, weights = zip(*choices, strict=True)
    return rng.choices(values, weights=weights)[0]


def past_workdays(today: date, calendar: WorkCalendar, count: int = WORKDAYS) -> list[date]:
    """The ``count`` working days before ``today``, oldest first."""
    days: list[date] = []
    day = today - timedelta(days=1)
    while len(days) < count:
        if calendar.is_workday(day):
            days.append(day)
        day -= timedelta(days=1)
    return days[::-1]


class _Referrals:
    """Fictional referral names and numbers, each number used once."""

    def __init__(self, rng: random.Random) -> None:
        self.fake = Faker("en_US")
        self.fake.seed_instance(SEED)
        numbers = [f"+1{area}55501{n:02d}" for area in REFERRAL_AREAS for n in range(100)]
        rng.shuffle(numbers)
        self.numbers = iter(numbers)

    def next(self, rng: random.Random) -> ReferralInput:
        return ReferralInput(
            first_name=self.fake.first_name(), last_name=self.fake.last_name(),
            phone=next(self.numbers), relationship=rng.choice(("neighbour", "supplier", "old colleague",
                                                               "brother-in-law", "client")),
            need=rng.choice(("a quote for their new office", "to switch providers this quarter",
                             "help after a bad experience elsewhere", "pricing for two locations")),
            best_time=rng.choice(("mornings", "after 3 pm", "any time", "")))


def play_history(session: Session, now: datetime, team: TeamSettings) -> dict[str, int]:
    """Play the demo team's last four working weeks into an empty history. Returns counts.

    Only ever for the demo team with no calls yet: invented calls must never land among a
    real team's customers (and from there in its sheet), nor beside a real past.
    """
    if not is_demo_team(session) or session.scalar(select(func.count()).select_from(Call)):
        return {}
    before = session.scalar(select(func.max(OutboxMessage.id))) or 0
    rng = random.Random(SEED)
    referrals = _Referrals(rng)
    calendar = WorkCalendar(team)
    reps = list(session.scalars(select(Rep).where(Rep.active.is_(True)).order_by(Rep.id)))
    for day in past_workdays(now.astimezone(team.zone).date(), calendar):
        morning = datetime.combine(day, time(6, 30), team.zone)
        plan_day(session, day, reps, team, morning)
        for rep in reps:
            _play_rep_day(session, rep, day, team, rng, referrals, now)
    # The e-mails of those days went out when they were written: history, not a backlog.
    # Only the history's own: an alert the sync just queued for a real inbound lead stays due.
    session.execute(update(OutboxMessage).where(OutboxMessage.id > before)
                    .values(status="sent", sent_at=OutboxMessage.created_at, transport="outbox"))
    # The reps said their thank-yous, but for the last two days': those show what Today asks of them.
    for thanks in session.scalars(select(ThankYou).where(ThankYou.done_at.is_(None),
                                                         ThankYou.created_at < now - THANKED_BY)):
        thanks.done_at, thanks.done_note = thanks.created_at + THANKED_BY, "thanked (demo history)"
    return {"calls": session.scalar(select(func.count()).select_from(Call)) or 0,
            "leads": session.scalar(select(func.count()).select_from(Lead)) or 0}


def _play_rep_day(session: Session, rep: Rep, day: date, team: TeamSettings, rng: random.Random,
                  referrals: _Referrals, now: datetime) -> None:
    viewer = Viewer.of(rep)
    # From 09:00 on the rep's own clock: a rep in Los Angeles does not call customers at 06:00.
    at = datetime.combine(day, time(9, 0), ZoneInfo(rep.time_zone)) + timedelta(minutes=rng.randint(0, 90))
    for planned, _customer in todays_plan(session, rep, day):
        outcome = _pick(rng, CALL_OUTCOMES)
        if planned.status != "open" or outcome is None:
            continue
        at += timedelta(minutes=rng.randint(8, 40))
        names = int(_pick(rng, REFERRALS_PER_CONVERSATION)) if outcome == "connected" else 0
        form = CallInput(planned.id, str(outcome), f"demo-{planned.id}",
                         liked_best="quick answers" if outcome == "connected" else "",
                         referrals=tuple(referrals.next(rng) for _ in range(names)))
        try:
            saved = log_call(session, viewer, form, team, at)
        except FormErrors:
            continue  # an unlucky duplicate; a real rep would fix the form
        for lead_id in saved.lead_ids:
            _follow_up(session, viewer, lead_id, at, rng, now)


def _follow_up(session: Session, viewer: Viewer, lead_id: int, arrived: datetime,
               rng: random.Random, now: datetime) -> None:
    wait = _pick(rng, FIRST_TRY_MINUTES)
    if wait is None:
        return  # never followed up: the habit the product exists to break
    when = arrived + timedelta(minutes=int(wait))
    if rng.random() < 0.35:  # a voicemail first, then a conversation later
        log_followup(session, viewer, lead_id, "voicemail", min(when, now))
        when += timedelta(minutes=rng.randint(30, 600))
    if when < now:  # nothing is logged in the future
        log_followup(session, viewer, lead_id, "connected", when, next_step=str(_pick(rng, NEXT_STEPS)))
