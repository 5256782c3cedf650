"""Reading the Inbound tab on its own, every few seconds, so a web form's row is a lead at once.

The full sync reads every tab and writes the app's tabs back once a minute; waiting for it made
an appended row wait up to a minute for its alert. This reads only the Inbound tab (one small
``values.get`` on a Google Sheet, ~6 read requests a minute against Google's 60 per user) and
imports the rows no lead has come from yet, exactly as the sync does (the same keys, so the two
never make the same lead twice; it takes the same lease, so they never run at once).

Unchanged cells are not parsed again; the problems of bad rows are left to the full sync, which
names them on Data status once a minute instead of recording a run every ten seconds.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import uuid
from datetime import datetime

from sqlalchemy import select

from outreach import lease
from outreach.db import Database
from outreach.leads.followup import alert_key
from outreach.models import Rep
from outreach.runtime import team_settings
from outreach.sheet.inbound import import_inbound
from outreach.sheet.inbound_rows import validate_inbound
from outreach.sheet.sheet_source import SheetSource
from outreach.sheet.sheet_tabs import INBOUND, parse_tab
from outreach.sheet.sync import SYNC_LEASE, SYNC_LEASE_TTL

log = logging.getLogger(__name__)


class InboundPoll:
    """One poller per worker: it remembers what it last imported, so an unchanged tab costs a read."""

    def __init__(self) -> None:
        self._last: str | None = None

    def __call__(self, db: Database, source: SheetSource, now: datetime) -> list[str]:
        """Import the new rows; return their alerts' outbox keys (to send at once)."""
        cells = source.read_tab(INBOUND.title)
        if not cells:
            return []
        fingerprint = hashlib.sha256(repr(cells).encode()).hexdigest()
        if fingerprint == self._last:
            return []
        holder = f"{socket.gethostname()}:{os.getpid()}:inbound:{uuid.uuid4().hex[:8]}"
        with db.session() as session, session.begin():
            if not lease.acquire(session, SYNC_LEASE, holder, now, SYNC_LEASE_TTL):
                return []  # a full sync is running: it imports these rows itself
        try:
            keys = self._import(db, cells, now)
        finally:
            with db.session() as session, session.begin():
                lease.release(session, SYNC_LEASE, holder)
        self._last = fingerprint
        return keys

    @staticmethod
    def _import(db: Database, cells: list[list[str]], now: datetime) -> list[str]:
        rows = parse_tab(INBOUND, cells, [])
        with db.session() as session, session.begin():
            team = team_settings(session)
            reps = set(session.scalars(select(Rep.email).where(Rep.active.is_(True))))
            records, _ = validate_inbound(rows, reps, team)
            leads = import_inbound(session, records, team, now)
            keys = [alert_key(lead) for lead in leads]
        if keys:
            log.info("%d new lead(s) from the Inbound tab", len(keys))
        return keys
