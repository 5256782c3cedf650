"""What a worker job could not do for one thing, so the rest of its batch goes on.

A lead whose dates cannot be computed (say, received in year 1 by a typo) must not
stop every other lead's reminder. The job sets it aside, logs it and notes it here;
the Data status page lists what is noted, until it stops happening.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from outreach.db import insert_new
from outreach.models import JobProblem

log = logging.getLogger(__name__)

# Shown while it keeps happening, and for a day after: the manager may look once a day.
SHOWN_FOR = timedelta(days=1)


def reason_of(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def note(session: Session, job: str, subject: str, exc: BaseException, now: datetime) -> None:
    """Log and remember that ``job`` failed for ``subject`` (e.g. "lead 42"), in this transaction.

    Logged in full the first time; after that (the job retries every few seconds) only counted.
    """
    if isinstance(exc, SQLAlchemyError):  # the database itself: the whole job must stop
        raise exc
    reason = reason_of(exc)
    session.execute(delete(JobProblem).where(JobProblem.last_seen_at < now - SHOWN_FOR))
    added = session.execute(
        insert_new(session, JobProblem.__table__, ["job", "subject"])
        .values(job=job, subject=subject, reason=reason, first_seen_at=now, last_seen_at=now, times=1)
        .returning(JobProblem.id)).first()
    if added is not None:
        log.error("%s job: %s set aside (%s); the rest goes on", job, subject, reason, exc_info=exc)
        return
    log.debug("%s job: %s set aside again (%s)", job, subject, reason)
    session.execute(update(JobProblem).where(JobProblem.job == job, JobProblem.subject == subject)
                    .values(reason=reason, last_seen_at=now, times=JobProblem.times + 1)
                    .execution_options(synchronize_session=False))


def recent(session: Session, now: datetime) -> list[JobProblem]:
    """What went wrong lately, newest first."""
    return list(session.scalars(select(JobProblem).where(JobProblem.last_seen_at >= now - SHOWN_FOR)
                                .order_by(JobProblem.last_seen_at.desc())))
