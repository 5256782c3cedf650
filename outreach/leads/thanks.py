"""Thanking the customer who referred: the habit of asking lasts when customers hear back.

When a referral reaches a milestone — its first conversation, an appointment, won — the customer
who gave the name is owed a thank-you. Settings ``Thank Referrers`` says how:

- ``task`` (the default): a **Say thank you** item for the customer's owner (else the rep who took
  the referral), at the top of Today and in the next morning's call list, until it is marked done
  or any call with that customer is logged;
- ``email``: a short e-mail to the customer, from the rep (Reply-To), once per referral and
  milestone; a customer without an address gets the task instead (thanked by phone);
- ``both``; or ``none``.

A Do Not Call customer is neither called nor e-mailed in any mode: the milestone is recorded as done,
"not thanked: Do Not Call", and no task is left for the rep.

A referral that jumps ahead (Connected straight to Won) owes one thank-you, for the furthest
milestone; an earlier one still open is folded into it, so a rep sees one item per referral. A
thank-you never touches the referral cooldown nor the call plans: it is a word of thanks, not an ask.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from outreach.access import NotAllowed, Viewer, check_rep
from outreach.calls.script import Person, render_thank_you
from outreach.errors import OutreachError
from outreach.mail.emails import render_email
from outreach.mail.outbox import Email, enqueue
from outreach.models import FRONT_DESK, Call, Customer, Lead, OutboxMessage, Rep, ThankYou
from outreach.runtime import team_settings
from outreach.team_settings import TeamSettings

MILESTONES = ("reached", "appointment", "won")  # in the order a referral reaches them
NEWS = {"reached": "was reached", "appointment": "booked an appointment", "won": "became a customer"}
NOTE_MAX = 300  # ThankYou.done_note's length


def milestone_of(lead: Lead) -> str | None:
    """The milestone the lead stands at now; None when lost, not a fit or a duplicate (no news to share)."""
    if lead.status in ("won", "appointment"):
        return lead.status
    if lead.status in ("lost", "not_a_fit", "duplicate"):
        return None
    return "reached" if lead.first_contact_at is not None else None


def _thanker(session: Session, customer: Customer, lead: Lead) -> Rep | None:
    """Who says thank you: the customer's owner, else the rep who took the referral, else its owner."""
    owner = session.scalar(select(Rep).where(Rep.email == customer.owner_email, Rep.active.is_(True),
                                             Rep.role != FRONT_DESK)) if customer.owner_email else None
    if owner is not None:
        return owner
    taker = session.scalar(select(Rep).join(Call, Call.rep_id == Rep.id).where(Call.id == lead.call_id)) \
        if lead.call_id else None
    return taker if taker is not None and taker.active else session.get(Rep, lead.owner_id)


def note_milestone(session: Session, lead: Lead, now: datetime,
                   team: TeamSettings | None = None) -> ThankYou | None:
    """Call after a lead's status changed: owe its referrer a thank-you if it reached a new milestone.

    ``team`` defaults to the settings of the last good sync.
    """
    if lead.kind != "referral" or lead.referring_customer_id is None:
        return None
    team = team or team_settings(session)
    mode = team.thank_referrers
    milestone = milestone_of(lead)
    if mode == "none" or lead.kind != "referral" or lead.referring_customer_id is None or milestone is None:
        return None
    owed = set(session.scalars(select(ThankYou.milestone).where(ThankYou.lead_id == lead.id)))
    if any(MILESTONES.index(m) >= MILESTONES.index(milestone) for m in owed if m in MILESTONES):
        return None  # this news, or better, was shared already: a thank-you only ever moves forward
    customer = session.get(Customer, lead.referring_customer_id)
    rep = _thanker(session, customer, lead) if customer is not None else None
    if customer is None or rep is None:
        return None
    session.execute(update(ThankYou).where(ThankYou.lead_id == lead.id, ThankYou.done_at.is_(None))
                    .values(done_at=now, done_note=f"folded into: {NEWS[milestone]}")
                    .execution_options(synchronize_session=False))
    emailed = (mode in ("email", "both") and bool(customer.email) and not customer.is_do_not_call
               and enqueue(session, thank_you_email(customer, lead, rep, milestone, team), now))
    # A task when one is asked for, and when the e-mail cannot go (no address): the customer is still
    # thanked, by phone. A Do Not Call customer asked us not to contact them: nothing is owed, whatever
    # the mode; the milestone is recorded, done, so it is never owed later either.
    as_task = not customer.is_do_not_call and (mode in ("task", "both") or not emailed)
    note = "" if as_task else "e-mail queued" if emailed else "not thanked: Do Not Call"
    thanks = ThankYou(lead_id=lead.id, customer_id=customer.id, rep_id=rep.id, milestone=milestone,
                      created_at=now, done_at=None if as_task else now, done_note=note)
    session.add(thanks)
    session.flush()
    return thanks


def thank_you_key(lead: Lead, milestone: str) -> str:
    return f"thank-you:{lead.id}:{milestone}"


def thank_you_email(customer: Customer, lead: Lead, rep: Rep, milestone: str, team: TeamSettings) -> Email:
    """The customer's thank-you, from the rep: the manager's words (Settings) or the standard ones."""
    people = {"customer": Person(customer.first_name, customer.full_name),
              "friend": Person(lead.first_name, lead.full_name),
              "rep": Person(rep.first_name, rep.name)}
    words = render_thank_you(team.thank_you_email, people, milestone)
    rendered = render_email("thank_you", words=words.split("\n\n"), team_name=team.sender_name,
                            app_url=team.app_url, **people, news=NEWS[milestone])
    return Email(key=thank_you_key(lead, milestone), kind="thank-you", to_email=customer.email or "",
                 to_name=customer.full_name, subject=rendered.subject, text=rendered.text, html=rendered.html,
                 rep_id=rep.id, lead_id=lead.id, reply_to=(rep.email, rep.name), from_name=rep.name)


# -- the rep's list ----------------------------------------------------------------------------

@dataclass(frozen=True)
class ThankYouItem:
    id: int
    customer_id: int
    customer: str
    phone: str | None
    friend: str
    milestone: str

    @property
    def text(self) -> str:
        return f"{self.customer}'s referral {self.friend} {NEWS[self.milestone]} — say thank you"


def open_thank_yous(session: Session, viewer: Viewer, rep_id: int) -> list[ThankYouItem]:
    """The thank-yous a rep owes (a manager may look at anyone's), oldest first."""
    check_rep(viewer, rep_id)
    rows = session.execute(
        select(ThankYou, Customer, Lead).join(Customer, Customer.id == ThankYou.customer_id)
        .join(Lead, Lead.id == ThankYou.lead_id)
        .where(ThankYou.rep_id == rep_id, ThankYou.done_at.is_(None))
        .order_by(ThankYou.created_at, ThankYou.id))
    return [ThankYouItem(thanks.id, customer.id, customer.full_name, customer.phone, lead.full_name,
                         thanks.milestone) for thanks, customer, lead in rows]


def mark_done(session: Session, viewer: Viewer, thank_you_id: int, note: str, now: datetime) -> ThankYou:
    """One click: thanked, with an optional note. Only the one who owes it (or a manager)."""
    thanks = session.get(ThankYou, thank_you_id) if 0 < thank_you_id < 2**63 else None
    if thanks is None or (not viewer.is_manager and thanks.rep_id != viewer.rep_id):
        raise NotAllowed("that thank-you is not one of yours")
    if len(note.strip()) > NOTE_MAX:
        raise OutreachError(f"the note is longer than {NOTE_MAX} characters")
    if thanks.done_at is None:
        thanks.done_at, thanks.done_by_id, thanks.done_note = now, viewer.rep_id, note.strip()
    return thanks


def done_by_call(session: Session, customer_id: int, rep_id: int, now: datetime) -> None:
    """Any call logged with the customer thanks them too (whoever owed it)."""
    session.execute(update(ThankYou).where(ThankYou.customer_id == customer_id, ThankYou.done_at.is_(None))
                    .values(done_at=now, done_by_id=rep_id, done_note="a call was logged")
                    .execution_options(synchronize_session=False))


def referral_counts(session: Session, customer_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Each customer's referrals given and won, for their card: "has referred 3 (1 won)"."""
    if not customer_ids:
        return {}
    rows = session.execute(
        select(Lead.referring_customer_id, func.count(), func.count().filter(Lead.status == "won"))
        .where(Lead.kind == "referral", Lead.referring_customer_id.in_(customer_ids))
        .group_by(Lead.referring_customer_id))
    return {customer: (given, won) for customer, given, won in rows}


def sent_thank_yous(session: Session, lead_id: int) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.lead_id == lead_id,
                                                            OutboxMessage.kind == "thank-you")))
