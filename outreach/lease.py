"""A named lease in the database: only one holder acts until it expires.

The worker's scheduler takes the "scheduler" lease each tick. A second worker
(another process, or a second copy started by a Streamlit code reload) finds
the lease held and stays idle; if the holder dies, the lease expires and
another takes over. Each claim is one conditional UPDATE (or INSERT for the
first ever), so two processes can never both win.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from outreach.db import Database, database_reason, insert_new
from outreach.models import Lease

log = logging.getLogger(__name__)


def acquire(session: Session, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
    """Take or renew the lease; True if ``holder`` holds it until ``now + ttl``."""
    expires = now + ttl
    renewed = session.execute(
        update(Lease)
        .where(Lease.name == name, (Lease.holder == holder) | (Lease.expires_at < now))
        .values(holder=holder, expires_at=expires, heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    if renewed.rowcount == 1:
        return True
    created = session.execute(
        insert_new(session, Lease.__table__, ["name"])
        .values(name=name, holder=holder, expires_at=expires, heartbeat_at=now)
        # RETURNING, not rowcount: ORM inserts on psycopg report rowcount -1.
        .returning(Lease.name)
    )
    return created.first() is not None


def release(session: Session, name: str, holder: str) -> None:
    """Give the lease up at a clean shutdown, so a successor need not wait for expiry."""
    session.execute(
        update(Lease)
        .where(Lease.name == name, Lease.holder == holder)
        .values(expires_at=datetime.fromtimestamp(0).astimezone())
        .execution_options(synchronize_session=False)
    )


def last_heartbeat(session: Session, name: str) -> tuple[str, datetime] | None:
    row = session.execute(select(Lease.holder, Lease.heartbeat_at).where(Lease.name == name)).first()
    return None if row is None else (row.holder, row.heartbeat_at)


@contextmanager
def kept(db: Database, name: str, holder: str, since: datetime, ttl: timedelta) -> Iterator[None]:
    """Renew a lease we hold from a thread while the block runs, every third of ``ttl``.

    So the lease can be short: a holder that dies (a kill, a crash) stops renewing and a
    successor takes over within ``ttl``, while a live one keeps it however long it works.
    Time moves from ``since`` by the monotonic clock, so a caller's "now" stays the reference.
    """
    done = threading.Event()
    start = time.monotonic()

    def beat() -> None:
        while not done.wait(ttl.total_seconds() / 3):
            now = since + timedelta(seconds=time.monotonic() - start)
            try:
                with db.session() as session, session.begin():
                    acquire(session, name, holder, now, ttl)
            except SQLAlchemyError as exc:  # two more tries before it runs out
                log.warning("could not renew the %s lease: %s", name, database_reason(exc))

    thread = threading.Thread(target=beat, name=f"outreach-{name}-lease", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
