"""The worker's nagging step: one reminder e-mail per person, one escalation per manager, in their hours.

A product that nags is only useful while people read its e-mails, so it nags like a
good colleague. Each run:

- everyone with a lead due gets **one** e-mail listing all their leads due now or
  within ``Reminder Batch Window`` (those go a little early rather than in a second
  e-mail minutes later), most urgent first; a lead due alone gets the single-lead
  reminder. Each lead counts one reminder and its schedule moves on as usual, to its
  next point at least a window later (no second reminder minutes after the first);
- the manager is copied when any lead in it has waited ``CC Manager After``, if the
  manager is inside their own business hours (a copy is an e-mail to them too);
- each manager gets **one** escalation listing every lead that has gone
  ``Escalation Business Days`` without a conversation;
- nothing but a new lead's alert reaches anyone outside their business hours. It is
  decided when the e-mail would be sent, not only when it was scheduled: a lead due
  while its owner is closed waits for the owner's next opening, so a worker back at
  2 a.m. after a weekend sends nothing until 08:00; and :class:`NagGate` holds an
  e-mail already queued until its reader opens.

A new e-mail to someone replaces their unsent one of the same kind (its leads are
listed again in the new one), so a backlog never arrives as a pile; one a worker has only
claimed is replaced too. Not one in flight, which a worker is sending and may have handed to
SendGrid already: it goes as written, so its leads are left out of the new e-mail (not listed
again, not folded in early, not due yet until that send is over). An escalation that fails for
good has its leads escalated again a day later. The leads of each e-mail are recorded as
:class:`~outreach.models.NagItem` rows in the transaction that queues it and moves their
schedules on.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from outreach.business_hours import WorkCalendar
from outreach.db import Database, insert_new
from outreach.job_problems import note
from outreach.leads.followup import escalation_at, next_reminder_at
from outreach.leads.lead_emails import escalation_email, lead_facts, reminder_email, urgency
from outreach.mail.outbox import SEND, UNSENT, Email, Verdict, cancel_unsent, enqueue_many, unsent
from outreach.models import OPEN_STATUSES, Lead, NagItem, OutboxMessage, Rep
from outreach.team_settings import TeamSettings

log = logging.getLogger(__name__)

NAG_KINDS = ("reminder", "escalation")
# Not nags, but not new-lead alerts either: they wait for their reader's hours too (a rep's note that a
# lead left them, a lead calling again, a customer's thank-you sent in the rep's name).
HELD_KINDS = ("left-you", "called-again", "thank-you")
# A lead the nagging could not handle is tried again this much later (and named meanwhile).
SET_ASIDE_FOR = timedelta(hours=1)
OWNERS_PER_BATCH = 100  # people per transaction: a backlog is queued in slices, not one huge write
# A reminder a newer one is about to replace waits this long in the outbox (the nagging step runs every 15 s).
REPLACED_WITHIN = timedelta(seconds=30)
# The leads of an escalation that failed for good are escalated again this long after its last try: not at
# once, where a refused address or a bad key would be refused again every 15 s.
ESCALATE_AGAIN_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class NagCount:
    emails: int = 0
    leads: int = 0  # due leads handled: sent, or moved to their owner's next opening
    # People with due leads left as they were, their reminder being sent: the next slice goes past them.
    passed: frozenset[int] = frozenset()


class _TeamMembers:
    """Reps and their managers, each read once per run (a run nags the same few people)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.reps: dict[int, Rep] = {}
        self.managers: dict[str, Rep | None] = {}

    def rep(self, rep_id: int) -> Rep:
        if rep_id not in self.reps:
            rep = self.session.get(Rep, rep_id)
            assert rep is not None
            self.reps[rep_id] = rep
        return self.reps[rep_id]

    def manager_of(self, rep: Rep) -> Rep | None:
        if rep.email not in self.managers:
            self.managers[rep.email] = (self.session.scalar(
                select(Rep).where(Rep.email == rep.manager_email, Rep.active.is_(True)))
                if rep.manager_email else None)
        return self.managers[rep.email]


def _zone(rep: Rep) -> ZoneInfo:
    return ZoneInfo(rep.time_zone)


# -- reminders ---------------------------------------------------------------------------------

def due_owners(session: Session, now: datetime, limit: int = OWNERS_PER_BATCH,
               skip: Collection[int] = ()) -> list[int]:
    """People with a reminder due, the longest-due first; not those in ``skip`` (passed this run).

    Not locked: :func:`remind` locks their leads (and skips any another worker holds).
    """
    query = (select(Lead.owner_id).where(Lead.next_reminder_at <= now, Lead.status.in_(OPEN_STATUSES))
             .group_by(Lead.owner_id).order_by(func.min(Lead.next_reminder_at), Lead.owner_id).limit(limit))
    if skip:
        query = query.where(Lead.owner_id.not_in(list(skip)))
    return list(session.scalars(query))


def remind(session: Session, owner_ids: Sequence[int], now: datetime, team: TeamSettings) -> NagCount:
    """One reminder e-mail for each of these people whose leads are due and who is at work now."""
    calendar = WorkCalendar(team)
    members = _TeamMembers(session)
    batch = _Batch()
    handled = 0
    passed: set[int] = set()
    # Nothing read below depends on the leads being changed: one flush at the end, not one a lead.
    with session.no_autoflush:
        for owner_id, leads in _due_soon(session, owner_ids, now + team.reminder_batch_window).items():
            if not any(lead.next_reminder_at <= now for lead in leads):
                continue  # only due within the window: they go with the next one that is due
            owner = members.rep(owner_id)
            if not calendar.is_open(now, _zone(owner)):
                opening = calendar.next_opening(now, _zone(owner))
                due = [lead for lead in leads if lead.next_reminder_at <= now]
                for lead in due:  # waits for the owner's morning, where it meets the rest
                    lead.next_reminder_at = opening
                handled += len(due)
                continue
            mail = unsent(session, "reminder", owner.id, now)
            in_flight = _leads_of(session, mail.in_flight)
            # Their reminder may be in SendGrid's hands: listed again it would reach the rep twice.
            # Left as they are (not counted as handled), they are decided once that send is over.
            if any(lead.id in in_flight and lead.next_reminder_at <= now for lead in leads):
                passed.add(owner_id)  # still first in line: the caller's next slice goes past them
            leads = [lead for lead in leads if lead.id not in in_flight]
            due = [lead for lead in leads if lead.next_reminder_at <= now]
            if not due:
                continue
            handled += len(due)
            _guarded_reminder(session, owner, leads, mail.waiting, in_flight, now, team, calendar, members,
                              batch)
    batch.queue(session, now, f"replaced by the reminder of {now:%Y-%m-%d %H:%M} UTC")
    return NagCount(len(batch.emails), handled, frozenset(passed))


@dataclass
class _Batch:
    """The e-mails a run decided, their leads, and the unsent ones they replace: written at the end,
    so SQLite's write lock is held for the writes only, not while e-mails are rendered."""

    emails: list[Email] = field(default_factory=list)
    lines: list[dict[str, object]] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)

    def queue(self, session: Session, now: datetime, reason: str) -> None:
        # First: if a sender took one of the replaced e-mails meanwhile, nothing is written (Overtaken).
        cancel_unsent(session, self.replaced, reason, now)
        enqueue_many(session, self.emails, now)
        _record_items(session, self.lines)


def _due_soon(session: Session, owner_ids: Sequence[int], until: datetime) -> dict[int, list[Lead]]:
    query = (select(Lead).where(Lead.owner_id.in_(list(owner_ids)), Lead.status.in_(OPEN_STATUSES),
                                Lead.next_reminder_at <= until)
             .order_by(Lead.owner_id, Lead.next_reminder_at, Lead.id))
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    grouped: dict[int, list[Lead]] = {}
    for lead in session.scalars(query):
        grouped.setdefault(lead.owner_id, []).append(lead)
    return grouped


def _set_aside(session: Session, lead: Lead, exc: Exception, now: datetime) -> None:
    """One lead the nagging cannot handle: named, tried again in an hour, the others go on."""
    note(session, "nag", f"lead {lead.id} ({lead.full_name})", exc, now)
    lead.next_reminder_at = now + SET_ASIDE_FOR


def _guarded_reminder(session: Session, owner: Rep, leads: list[Lead], replaced: list[str],
                      in_flight: set[int], now: datetime, team: TeamSettings, calendar: WorkCalendar,
                      members: _TeamMembers, batch: _Batch) -> None:
    """The owner's reminder; if it cannot be written, their leads wait an hour and the run goes on."""
    before = [(lead, lead.reminders_sent) for lead in leads]
    try:
        _owner_reminder(session, owner, leads, replaced, in_flight, now, team, calendar, members, batch)
    except Exception as exc:
        for lead, count in before:
            lead.reminders_sent, lead.next_reminder_at = count, now + SET_ASIDE_FOR
        note(session, "nag", f"the reminder to {owner.email}", exc, now)


def _next_reminders(session: Session, owner: Rep, leads: list[Lead], now: datetime, team: TeamSettings,
                    calendar: WorkCalendar) -> dict[int, datetime]:
    """Each lead's next reminder after this one; a lead whose dates cannot be computed is set aside."""
    planned = {}
    for lead in leads:
        # From its own due time (a lead folded in early keeps the rest of its schedule), and
        # a window on: a reminder at the opening is not followed by the 15-minute one at 08:04.
        after = max(now, lead.next_reminder_at) + team.reminder_batch_window
        try:
            planned[lead.id] = next_reminder_at(lead.created_at, after, team, _zone(owner), calendar,
                                                lead.kind)
        except Exception as exc:
            _set_aside(session, lead, exc, now)
    return planned


def _owner_reminder(session: Session, owner: Rep, leads: list[Lead], replaced: list[str], in_flight: set[int],
                    now: datetime, team: TeamSettings, calendar: WorkCalendar, members: _TeamMembers,
                    batch: _Batch) -> None:
    """One e-mail: these leads, and the open ones of the owner's waiting reminders, which it replaces."""
    planned = _next_reminders(session, owner, leads, now, team, calendar)
    leads = [lead for lead in leads if lead.id in planned]
    if not leads:
        return
    skip = {lead.id for lead in leads} | in_flight
    waiting = [lead for lead in _open_leads_of(session, replaced, skip)
               if lead.owner_id == owner.id]  # a lead handed to someone else meanwhile is theirs now
    for lead in leads:
        lead.reminders_sent += 1
        lead.next_reminder_at = planned[lead.id]
    listed = sorted([*leads, *waiting], key=urgency)  # the e-mail's order, kept in its nag items
    late = {lead.id for lead in listed if now - lead.created_at >= team.cc_manager_after}
    manager = members.manager_of(owner) if late else None
    if manager is not None and not calendar.is_open(now, _zone(manager)):
        manager = None  # not at work: the escalation, in their own hours, tells them what drags
    copied = late if manager is not None else set()
    key = _key("reminder", owner, listed)
    batch.emails.append(reminder_email(owner, listed, copied, manager, lead_facts(session, listed), team,
                                       now, key))
    batch.lines.extend(_line(key, lead, "reminder", now, lead.reminders_sent, lead.id in copied)
                       for lead in listed)
    batch.replaced.extend(replaced)


def _key(kind: str, reader: Rep, leads: Sequence[Lead]) -> str:
    """The outbox key: a lead's own for a single-lead e-mail, else the reader's and the leads'."""
    if len(leads) == 1:
        lead = leads[0]
        return f"reminder:{lead.id}:{lead.reminders_sent}" if kind == "reminder" else f"escalation:{lead.id}"
    what = ",".join(f"{lead.id}.{lead.reminders_sent}" for lead in sorted(leads, key=lambda x: x.id))
    return f"{kind}s:{reader.id}:{hashlib.sha256(what.encode()).hexdigest()[:20]}"


def _line(key: str, lead: Lead, kind: str, now: datetime, number: int | None = None,
          copied: bool = False) -> dict[str, object]:
    return {"outbox_key": key, "lead_id": lead.id, "kind": kind, "number": number,
            "manager_copied": copied, "created_at": now}


def _record_items(session: Session, lines: list[dict[str, object]]) -> None:
    """Which leads each queued e-mail speaks of (after the e-mails: the key is a foreign key)."""
    if lines:
        session.execute(insert_new(session, NagItem.__table__, ["outbox_key", "lead_id"]), lines)


def _leads_of(session: Session, keys: Iterable[str]) -> set[int]:
    keys = list(keys)
    if not keys:
        return set()
    return set(session.scalars(select(NagItem.lead_id).where(NagItem.outbox_key.in_(keys))))


def _open_leads_of(session: Session, keys: Iterable[str], skip: set[int]) -> list[Lead]:
    """The still-open leads of replaced e-mails, so the new one lists them again."""
    keys = list(keys)
    if not keys:
        return []
    leads = session.scalars(select(Lead).join(NagItem, NagItem.lead_id == Lead.id)
                            .where(NagItem.outbox_key.in_(keys), Lead.status.in_(OPEN_STATUSES))
                            .distinct())
    return [lead for lead in leads if lead.id not in skip]


# -- escalations -------------------------------------------------------------------------------

def send_due_escalations(session: Session, now: datetime, team: TeamSettings) -> int:
    """Ask each manager, once, to reassign every lead that has waited too long. Returns e-mails.

    Like reminders, escalations due within the batch window go with one that is due now.
    """
    calendar = WorkCalendar(team)
    members = _TeamMembers(session)
    batch = _Batch()
    again = _escalate_again(session, now)
    for manager, (leads, any_due) in _escalations_by_manager(session, now, team, calendar, members).items():
        if not any_due or not calendar.is_open(now, _zone(manager)):
            continue  # not marked: the leads wait for one that is due, in the manager's hours
        try:
            _manager_escalation(session, manager, leads, now, team, members, batch, again)
        except Exception as exc:  # tried again next run; the other managers' go out
            note(session, "nag", f"the escalation to {manager.email}", exc, now)
    batch.queue(session, now, f"replaced by the escalation of {now:%Y-%m-%d %H:%M} UTC")
    return len(batch.emails)


def _manager_escalation(session: Session, manager: Rep, leads: list[Lead], now: datetime,
                        team: TeamSettings, members: _TeamMembers, batch: _Batch, again: set[int]) -> None:
    # One in flight is not replaced: its leads were marked escalated when it was queued, so they are
    # not among these either (if it fails for good, _escalate_again brings them back a day later).
    replaced = unsent(session, "escalation", manager.id, now).waiting
    leads += [lead for lead in _open_leads_of(session, replaced, skip={lead.id for lead in leads})
              if members.manager_of(members.rep(lead.owner_id)) is manager]
    leads.sort(key=urgency)
    key = _key("escalation", manager, leads)
    if any(lead.id in again for lead in leads):  # the refused e-mail may have had this key: a new one
        key = f"{key}:again:{now:%Y%m%dT%H%M%S}"
    owners = {lead.owner_id: members.rep(lead.owner_id) for lead in leads}
    email = escalation_email(manager, leads, owners, lead_facts(session, leads), team, now, key)
    for lead in leads:  # only once the e-mail is written: a failure above leaves them due
        lead.escalated_at = lead.escalated_at or now
    batch.emails.append(email)
    batch.lines.extend(_line(key, lead, "escalation", now) for lead in leads)
    batch.replaced.extend(replaced)


def _escalate_again(session: Session, now: datetime) -> set[int]:
    """Unmark the open leads whose escalations all failed for good, the last try a day ago or more.

    Marked escalated when their e-mail was queued, they would never be listed again: a newer
    escalation only lists the leads of one still waiting. Returns their ids.
    """
    since = now - ESCALATE_AGAIN_AFTER  # next_attempt_at: when its last try was due (failing leaves it)
    item, message = aliased(NagItem), aliased(OutboxMessage)
    not_yet = (select(item.id).join(message, message.key == item.outbox_key)
               .where(item.lead_id == Lead.id, message.kind == "escalation",
                      or_(message.status.in_([*UNSENT, "sent"]),  # sent, or still going
                          and_(message.status == "failed", message.next_attempt_at > since))))  # too recent
    leads = list(session.scalars(
        select(Lead).join(NagItem, NagItem.lead_id == Lead.id)
        .join(OutboxMessage, OutboxMessage.key == NagItem.outbox_key)
        .where(OutboxMessage.kind == "escalation", OutboxMessage.status == "failed",
               OutboxMessage.next_attempt_at <= since, ~not_yet.exists(),
               Lead.escalated_at.is_not(None), Lead.status.in_(OPEN_STATUSES)).distinct()))
    for lead in leads:
        lead.escalated_at = None
    return {lead.id for lead in leads}


def _escalations_by_manager(session: Session, now: datetime, team: TeamSettings, calendar: WorkCalendar,
                            members: _TeamMembers) -> dict[Rep, tuple[list[Lead], bool]]:
    """The leads whose escalation time is past (or within the window), by the manager to ask,
    and whether any of a manager's is due already."""
    until = now + team.reminder_batch_window
    # N business days are at least N calendar days: a cheap bound for the query.
    horizon = until - timedelta(days=team.escalation_business_days)
    query = (select(Lead).where(Lead.status.in_(OPEN_STATUSES), Lead.escalated_at.is_(None),
                                Lead.created_at <= horizon).order_by(Lead.created_at, Lead.id))
    by_manager: dict[Rep, tuple[list[Lead], bool]] = {}
    for lead in session.scalars(query):
        owner = members.rep(lead.owner_id)
        try:
            due_at = escalation_at(lead.created_at, team, _zone(owner), calendar)
        except Exception as exc:
            note(session, "nag", f"lead {lead.id} ({lead.full_name})", exc, now)
            continue
        if due_at > until:
            continue
        manager = members.manager_of(owner)
        if manager is None:
            if due_at <= now:
                lead.escalated_at = now
                log.warning("lead %s needs escalating but %s has no manager on the Reps tab",
                            lead.id, owner.email)
            continue
        leads, any_due = by_manager.get(manager, ([], False))
        by_manager[manager] = ([*leads, lead], any_due or due_at <= now)
    return by_manager


# -- the outbox's question, just before sending ------------------------------------------------

class NagGate:
    """Asked by the outbox before each send: may this reminder or escalation go now?

    - cancelled when none of its leads still waits for its reader (each was reached, closed,
      or handed to someone else while it waited);
    - held until its reader's next opening when it would arrive outside their hours;
    - cancelled as replaced when each of its leads has a newer reminder due by now: the
      nagging step, which runs every 15 s, is about to send one e-mail with all of them;
      held a moment when only some have, for that e-mail to replace it and list the others again;
    - written again when the manager it copies has finished for the day: its leads are made
      due at once, and the nagging step's new e-mail does not copy the manager.

    - a note that a lead left its reader, a "called again" and a customer's thank-you are held until
      their reader's (for a thank-you, the rep's) next opening.

    Everything else (new leads' alerts, call lists) goes at once.
    """

    def __init__(self, db: Database, team: TeamSettings) -> None:
        self.db = db
        self.calendar = WorkCalendar(team)

    def __call__(self, message: OutboxMessage, now: datetime) -> Verdict:
        if message.kind in HELD_KINDS:
            return self._in_hours(message, now)
        if message.kind not in NAG_KINDS:
            return SEND
        with self.db.session() as session:
            leads = session.execute(select(Lead.id, Lead.status, Lead.owner_id, Lead.next_reminder_at)
                                    .join(NagItem, NagItem.lead_id == Lead.id)
                                    .where(NagItem.outbox_key == message.key)).all()
            reader = session.get(Rep, message.rep_id) if message.rep_id is not None else None
            copied = list(session.scalars(select(Rep).where(Rep.email.in_(message.cc)))) if message.cc else []
        waiting = [lead for lead in leads if lead.status in OPEN_STATUSES
                   and (message.kind != "reminder" or lead.owner_id == message.rep_id)]
        if leads and not waiting:
            return Verdict(cancel=True,
                           reason="none of its leads was waiting any more (reached, closed or handed over)")
        if reader is not None and (hold := self._closed_until(reader, now)) is not None:
            return hold
        due = [lead for lead in waiting if lead.next_reminder_at is not None and lead.next_reminder_at <= now]
        if message.kind == "reminder" and due and len(due) == len(waiting):
            return Verdict(cancel=True, reason="replaced: a newer reminder for its leads is due now")
        if message.kind == "reminder" and due:
            # Sent now, the nagging step's e-mail for the due ones would follow it within seconds. Back
            # in the outbox, it is what that e-mail replaces (listing its other leads again).
            return Verdict(hold_until=now + REPLACED_WITHIN,
                           reason="waiting to be replaced: a newer reminder for some of its leads is due")
        if any(self._closed_until(person, now) for person in copied):
            self._due_now([lead.id for lead in waiting], now)
            return Verdict(cancel=True, reason="written again without the copy: the manager's day had ended")
        return SEND

    def _in_hours(self, message: OutboxMessage, now: datetime) -> Verdict:
        if message.rep_id is None:
            return SEND
        with self.db.session() as session:
            reader = session.get(Rep, message.rep_id)
        hold = self._closed_until(reader, now) if reader is not None else None
        return hold or SEND

    def _closed_until(self, person: Rep, now: datetime) -> Verdict | None:
        opening = self.calendar.next_opening(now, _zone(person))
        if opening <= now:
            return None
        local = opening.astimezone(_zone(person))
        return Verdict(hold_until=opening, reason=f"waiting for {person.name}'s business hours "
                                                  f"({local:%a %d %b %H:%M} {person.time_zone})")

    def _due_now(self, lead_ids: list[int], now: datetime) -> None:
        with self.db.session() as session, session.begin():
            session.execute(update(Lead).where(Lead.id.in_(lead_ids), Lead.status.in_(OPEN_STATUSES))
                            .values(next_reminder_at=now).execution_options(synchronize_session=False))
