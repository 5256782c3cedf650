"""The transactional outbox: deciding to send an e-mail, and sending it, are two steps.

1. ``enqueue`` writes the message in the same transaction as the decision (a lead
   saved, a reminder due). Its unique key makes a second decision a no-op.
2. ``deliver_due`` claims due messages (``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
   a conditional UPDATE everywhere), sends each, and marks it sent or schedules a
   retry. A claim lapses after ``CLAIM_FOR``, so a worker killed mid-send leaves
   its messages to the next worker: at-least-once, never lost.

A reminder whose lead was followed up while it waited is cancelled, not sent.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from outreach.db import Database
from outreach.mail_transport import DeliveryError, MailTransport, Sender
from outreach.models import Lead, OutboxMessage

log = logging.getLogger(__name__)

CLAIM_FOR = timedelta(minutes=2)
GIVE_UP_AFTER = timedelta(hours=24)  # transient failures are retried this long
NAG_KINDS = ("reminder", "escalation")


@dataclass(frozen=True)
class Email:
    key: str
    kind: str
    to_email: str
    subject: str
    text: str
    html: str
    to_name: str = ""
    cc: tuple[str, ...] = ()
    rep_id: int | None = None
    lead_id: int | None = None


def enqueue(session: Session, email: Email, now: datetime) -> bool:
    """Add the message unless one with its key exists; True if this call added it."""
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    row = session.execute(
        insert(OutboxMessage)
        .values(key=email.key, kind=email.kind, to_email=email.to_email, to_name=email.to_name,
                cc=list(email.cc), subject=email.subject, text=email.text, html=email.html,
                rep_id=email.rep_id, lead_id=email.lead_id, created_at=now, status="pending",
                attempts=0, next_attempt_at=now)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(OutboxMessage.id)
    ).first()
    return row is not None


def _claimable(now: datetime):  # type: ignore[no-untyped-def]
    return and_(
        or_(OutboxMessage.status == "pending",
            and_(OutboxMessage.status == "sending", OutboxMessage.claimed_until < now)),
        OutboxMessage.next_attempt_at <= now,
    )


def claim(db: Database, worker: str, now: datetime, limit: int = 100,
          keys: Iterable[str] | None = None) -> list[OutboxMessage]:
    """Take up to ``limit`` due messages for this worker; nobody else gets them until the claim lapses."""
    token = f"{worker}:{uuid.uuid4().hex[:8]}"
    with db.session() as session, session.begin():
        due = (select(OutboxMessage.id).where(_claimable(now))
               .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(limit))
        if keys is not None:
            due = due.where(OutboxMessage.key.in_(list(keys)))
        if db.is_postgresql:
            due = due.with_for_update(skip_locked=True)
        ids = list(session.scalars(due))
        if not ids:
            return []
        # Re-checked in the UPDATE itself: on SQLite two claimers may have seen the same ids.
        session.execute(
            update(OutboxMessage).where(OutboxMessage.id.in_(ids), _claimable(now))
            .values(status="sending", claimed_by=token, claimed_until=now + CLAIM_FOR)
            .execution_options(synchronize_session=False)
        )
        return list(session.scalars(
            select(OutboxMessage).where(OutboxMessage.claimed_by == token,
                                        OutboxMessage.status == "sending")
            .order_by(OutboxMessage.id)
        ))


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed + self.cancelled


def _still_wanted(db: Database, message: OutboxMessage) -> bool:
    """A nag about a lead someone already reached is noise: drop it."""
    if message.kind not in NAG_KINDS or message.lead_id is None:
        return True
    with db.session() as session:
        lead = session.get(Lead, message.lead_id)
        return lead is not None and lead.status in ("new", "attempted")


def _send_one(db: Database, transport: MailTransport, sender: Sender,
              message: OutboxMessage) -> tuple[str, str | DeliveryError]:
    if not _still_wanted(db, message):
        return "cancelled", ""
    try:
        return "sent", transport.send(message, sender)
    except DeliveryError as exc:
        return "error", exc


def deliver_due(db: Database, transport: MailTransport, sender: Sender, worker: str,
                now: Callable[[], datetime], *, limit: int = 100, threads: int = 4,
                keys: Iterable[str] | None = None) -> DeliveryReport:
    """Claim and send what is due; each outcome is committed as soon as it is known."""
    report = DeliveryReport()
    messages = claim(db, worker, now(), limit=limit, keys=keys)
    if not messages:
        return report
    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(messages)))) as pool:
        outcomes = pool.map(lambda m: (m, *_send_one(db, transport, sender, m)), messages)
        for message, outcome, detail in outcomes:
            _record(db, message, outcome, detail, transport.name, now(), report)
    return report


def _record(db: Database, message: OutboxMessage, outcome: str, detail: str | DeliveryError,
            transport_name: str, now: datetime, report: DeliveryReport) -> None:
    values: dict[str, object] = {"claimed_by": None, "claimed_until": None}
    if outcome == "sent":
        values.update(status="sent", sent_at=now, transport=transport_name,
                      provider_message_id=str(detail), attempts=message.attempts + 1, last_error=None)
        report.sent += 1
    elif outcome == "cancelled":
        values.update(status="cancelled", last_error="the lead was reached before this was sent")
        report.cancelled += 1
    else:
        assert isinstance(detail, DeliveryError)
        values.update(_failure(message, detail, now))
        report.errors.append(str(detail))
        if values["status"] == "failed":
            report.failed += 1
            log.error("e-mail %s failed for good: %s", message.key, detail)
        else:
            report.retried += 1
    with db.session() as session, session.begin():
        session.execute(update(OutboxMessage).where(OutboxMessage.id == message.id).values(**values)
                        .execution_options(synchronize_session=False))


def _failure(message: OutboxMessage, error: DeliveryError, now: datetime) -> dict[str, object]:
    attempts = message.attempts + 1
    if error.permanent or now - message.created_at > GIVE_UP_AFTER:
        return {"status": "failed", "attempts": attempts, "last_error": str(error)}
    backoff = error.retry_after or min(30 * 2 ** (attempts - 1), 1800)
    return {"status": "pending", "attempts": attempts, "last_error": str(error),
            "next_attempt_at": now + timedelta(seconds=backoff)}


def recent_messages(session: Session, *, limit: int = 200, rep_id: int | None = None,
                    kinds: Iterable[str] | None = None,
                    statuses: Iterable[str] | None = None) -> list[OutboxMessage]:
    """Newest first; ``rep_id`` limits to what was sent to (or about the leads of) one rep."""
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if rep_id is not None:
        query = query.where(OutboxMessage.rep_id == rep_id)
    if kinds:
        query = query.where(OutboxMessage.kind.in_(list(kinds)))
    if statuses:
        query = query.where(OutboxMessage.status.in_(list(statuses)))
    return list(session.scalars(query))
