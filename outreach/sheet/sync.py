"""Pull the manager's sheet into the database snapshot.

One sync = one read of every tab, validation of every row, then one
transaction that applies the good rows. A missing tab or column fails the whole
sync and leaves the previous snapshot untouched; a bad row is skipped and
listed. Every attempt is recorded as a SyncRun for the data-status page.

One sync runs at a time, across processes: the worker, "Sync now" and the CLI
take the "sync" lease first, and a sync that finds it taken is skipped (recorded
as skipped, so Data status shows it; nothing failed). Two snapshots applied at
once would race for the same new keys. The lease is short and renewed while the
sync runs, so a sync killed half-way blocks the next for a minute at most.

No value in the sheet, and no error of a library, may stop syncing silently:
whatever goes wrong is recorded as a failed run with one clear reason, and the
next sync tries again on the normal interval.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from outreach import lease
from outreach.db import Database, database_reason
from outreach.errors import OutreachError, SourceError
from outreach.humanize import ago
from outreach.job_problems import reason_of
from outreach.models import Customer, Lease, Rep, SyncRun, TeamSetting
from outreach.sheet.inbound import import_inbound
from outreach.sheet.inbound_rows import InboundRecord, validate_inbound
from outreach.sheet.sheet_source import SheetSource, Table
from outreach.sheet.sheet_tabs import (
    CUSTOMERS,
    INBOUND,
    READ_TABS,
    REPS,
    SETTINGS,
    RowProblem,
    SheetRow,
    parse_tab,
)
from outreach.sheet.validation import (
    CustomerRecord,
    CustomerRows,
    KnownCustomer,
    RepRecord,
    clip,
    validate_customers,
    validate_reps,
)
from outreach.sheet.write_back import BUILDERS, tables_to_write
from outreach.team_settings import SettingProblem, TeamSettings, normalise_key, parse_team_settings

log = logging.getLogger(__name__)

KEEP_SYNC_RUNS = 500
SYNC_LEASE = "sync"
# Renewed every 20 s while a sync runs (lease.kept); a killed one blocks the next this long at most.
SYNC_LEASE_TTL = timedelta(seconds=60)
ANOTHER_SYNC = "another sync is already running (the worker, Sync now or the CLI); this one was skipped"


@dataclass
class Snapshot:
    """Everything a sync read and accepted, before it touches the database."""

    team: TeamSettings
    settings_values: dict[str, str]
    reps: list[RepRecord]
    customers: CustomerRows
    inbound: list[InboundRecord] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)


@dataclass
class SyncResult:
    ok: bool
    source: str
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[RowProblem] = field(default_factory=list)
    error: str | None = None
    new_lead_ids: list[int] = field(default_factory=list)  # from the Inbound tab, to alert at once
    written_tabs: list[str] = field(default_factory=list)
    busy: bool = False  # skipped because another sync held the lease; nothing was recorded

    @property
    def changed(self) -> bool:
        return any(v for k, v in self.counts.items() if not k.endswith("unchanged"))


def read_snapshot(tables: dict[str, Table | None], base: TeamSettings | None = None,
                  known: Mapping[str, KnownCustomer] | None = None) -> Snapshot:
    """Validate the raw tabs; raise SourceError if a required tab or column is missing.

    ``known`` maps row fingerprints to customers as stored: those rows are not re-parsed.
    """
    for spec in READ_TABS:
        if tables.get(spec.title) is None and not spec.optional:
            raise SourceError(f"the sheet has no {spec.title} tab")
    team, settings_values, problems = _read_settings(tables.get(SETTINGS.title), base)
    rep_rows = parse_tab(REPS, tables[REPS.title] or [], problems)
    customer_rows = parse_tab(CUSTOMERS, tables[CUSTOMERS.title] or [], problems)
    reps, rep_problems = validate_reps(rep_rows, team)
    rep_emails = {r.email for r in reps}
    customers = validate_customers(customer_rows, rep_emails, team, known)
    inbound: list[InboundRecord] = []
    inbound_problems: list[RowProblem] = []
    if tables.get(INBOUND.title) is not None:
        inbound_rows = parse_tab(INBOUND, tables[INBOUND.title] or [], problems)
        inbound, inbound_problems = validate_inbound(inbound_rows, rep_emails, team)
    return Snapshot(team, settings_values, reps, customers, inbound,
                    problems + rep_problems + customers.problems + inbound_problems)


def _read_settings(
    cells: Table | None, base: TeamSettings | None
) -> tuple[TeamSettings, dict[str, str], list[RowProblem]]:
    if cells is None:
        return base or TeamSettings(), {}, []
    problems: list[RowProblem] = []
    rows = parse_tab(SETTINGS, cells, problems)
    pairs, repeated = _first_of_each_key(rows)
    team, refused = parse_team_settings(pairs, base)
    problems += [RowProblem(SETTINGS.title, p.row or 0, p.key, p.value, p.reason, skipped=False)
                 for p in [*repeated, *refused]]
    refused_rows = {p.row for p in refused}
    accepted = {_stored_key(key): value for key, value, row in pairs if row not in refused_rows and value}
    return team, accepted, problems


def _stored_key(key: str) -> str:
    """A setting's key as typed; what it means (``normalise_key``) if its column cannot hold it as typed.

    Only known keys are stored, so the meaning is short; cut, "Daily ---…" would mean nothing.
    """
    return key if len(key) <= TeamSetting.key.type.length else normalise_key(key)


def _first_of_each_key(rows: list[SheetRow]) -> tuple[list[tuple[str, str, int]], list[SettingProblem]]:
    """Each setting from the first row naming it; a later row with the same key is named, not used."""
    pairs: list[tuple[str, str, int]] = []
    repeated: list[SettingProblem] = []
    first: dict[str, int] = {}
    for row in rows:
        key = row.get("key")
        if not key:
            continue
        normal = normalise_key(key)
        if normal in first:
            repeated.append(SettingProblem(key, row.get("value"), f"already set on row {first[normal]}; "
                                           "this row is ignored (delete one)", row.number))
            continue
        first[normal] = row.number
        pairs.append((key, row.get("value"), row.number))
    return pairs, repeated


def sync_now(db: Database, open_source: Callable[[], SheetSource], now: datetime, *,
             write_back: bool = True) -> SyncResult:
    """Open the sheet, then sync it: what entry points (worker, Sync now, CLI) call.

    Opening can fail before any sync starts (no service account, an unreadable key file);
    that is recorded as a failed run too, so the app's banner says why nothing is synced.
    """
    try:
        source = open_source()
    except Exception as exc:  # an OutreachError says why; anything else is named by its type
        result = SyncResult(ok=False, source="the sheet", error=_reason(exc, "opening the sheet failed"))
        _record_run(db, result, now)
        return result
    return run_sync(db, source, now, write_back=write_back)


def run_sync(db: Database, source: SheetSource, now: datetime, *, write_back: bool = True) -> SyncResult:
    """Read the source, apply it, write the app's tabs back, unless another sync is running.

    Never raises for a source or database problem: the failure is recorded (and the
    last good snapshot stays in place) so the worker and the app carry on.
    """
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    try:
        with db.session() as session, session.begin():
            claimed = lease.acquire(session, SYNC_LEASE, holder, now, SYNC_LEASE_TTL)
        if not claimed:
            result = SyncResult(ok=False, source=source.label, error=ANOTHER_SYNC, busy=True)
            _record_run(db, result, now)
            return result
        try:
            with lease.kept(db, SYNC_LEASE, holder, now, SYNC_LEASE_TTL):
                return _sync_holding_the_lease(db, source, now, write_back)
        finally:
            _release_lease(db, holder)
    except SQLAlchemyError as exc:
        result = SyncResult(ok=False, source=source.label, error=(
            f"the database refused the sync ({database_reason(exc)}); the previous snapshot "
            "is kept and the next sync tries again"))
        _record_run(db, result, now)
        return result
    except Exception as exc:  # a library's surprise (a value it cannot hold, a corrupt file)
        log.exception("the sync from %s stopped", source.label)
        result = SyncResult(ok=False, source=source.label, error=_reason(
            exc, "the sync stopped", "; the previous snapshot is kept and the next sync tries again"))
        _record_run(db, result, now)
        return result


def _reason(exc: Exception, what: str, then: str = "") -> str:
    """Our own errors read as they are; anything else is named by its type and first line."""
    if isinstance(exc, OutreachError):
        return str(exc)
    return f"{what} ({reason_of(exc)}){then}"


def _sync_holding_the_lease(db: Database, source: SheetSource, now: datetime,
                            write_back: bool) -> SyncResult:
    result = SyncResult(ok=False, source=source.label)
    try:
        tables = source.read_tabs([t.title for t in READ_TABS] + list(BUILDERS))
        snapshot = read_snapshot(tables, known=known_customers(db))
    except SQLAlchemyError:
        raise
    except Exception as exc:
        if not isinstance(exc, OutreachError):
            log.exception("reading %s failed", source.label)
        result.error = _reason(exc, f"cannot read {source.label}")
        _record_run(db, result, now)
        return result
    result.source = source.label  # a Google Sheet's title is known once read
    with db.session() as session, session.begin():
        result.counts = apply_snapshot(session, snapshot, now)
        new_leads = import_inbound(session, snapshot.inbound, snapshot.team, now)
        result.counts["inbound_leads_added"] = len(new_leads)
        result.new_lead_ids = [lead.id for lead in new_leads]
    result.ok, result.problems = True, snapshot.problems
    if write_back:
        _write_back(db, source, snapshot.team, tables, result, now)
    _record_run(db, result, now)
    return result


def _release_lease(db: Database, holder: str) -> None:
    try:
        with db.session() as session, session.begin():
            lease.release(session, SYNC_LEASE, holder)
    except SQLAlchemyError as exc:  # it expires by itself; nothing else to do
        log.warning("could not release the sync lease: %s", database_reason(exc))


def _write_back(db: Database, source: SheetSource, team: TeamSettings,
                current: dict[str, Table | None], result: SyncResult, now: datetime) -> None:
    try:
        with db.session() as session:
            changed = tables_to_write(session, team, current, now)
        source.write_tabs(changed)  # also when nothing changed: a workbook tidies up first
        result.written_tabs = list(changed)
    except Exception as exc:
        # The snapshot is in; only the report to the sheet is late. Say so, try next time.
        if isinstance(exc, SQLAlchemyError):
            reason = database_reason(exc)
        elif isinstance(exc, OutreachError):
            reason = str(exc)
        else:
            log.exception("writing back to %s failed", source.label)
            reason = reason_of(exc)
        result.error = f"writing back to the sheet failed: {reason}"
        log.warning("%s", result.error)


def apply_snapshot(session: Session, snapshot: Snapshot, now: datetime) -> dict[str, int]:
    counts: dict[str, int] = {}
    counts.update(_apply_settings(session, snapshot.settings_values))
    counts.update(_apply_reps(session, snapshot.reps, now))
    counts.update(_apply_customers(session, snapshot.customers, now))
    return counts


def _apply_settings(session: Session, values: dict[str, str]) -> dict[str, int]:
    stored = dict(session.execute(select(TeamSetting.key, TeamSetting.value)).all())
    if stored == values:
        return {"settings_changed": 0}
    session.execute(delete(TeamSetting))
    if values:
        session.execute(insert(TeamSetting), [{"key": k, "value": v} for k, v in values.items()])
    return {"settings_changed": 1}


def _rep_values(rec: RepRecord) -> dict[str, Any]:
    return {"email": rec.email, "name": rec.name, "time_zone": rec.time_zone,
            "daily_calls": rec.daily_calls, "active": rec.active, "role": rec.role,
            "manager_email": rec.manager_email, "in_sheet": True}


def _apply_reps(session: Session, records: list[RepRecord], now: datetime) -> dict[str, int]:
    existing = {rep.email: rep for rep in session.scalars(select(Rep))}
    added = updated = removed = 0
    for rec in records:
        values = _rep_values(rec)
        rep = existing.pop(rec.email, None)
        if rep is None:
            session.add(Rep(**values, updated_at=now))
            added += 1
        elif any(getattr(rep, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(rep, k, v)
            rep.updated_at = now
            updated += 1
    for rep in existing.values():  # gone from the sheet: keep for history, stop planning
        if rep.in_sheet or rep.active:
            rep.in_sheet, rep.active, rep.updated_at = False, False, now
            removed += 1
    return {"reps_added": added, "reps_updated": updated, "reps_removed": removed}


def _customer_values(rec: CustomerRecord) -> dict[str, Any]:
    return {"key": rec.key, "sheet_customer_id": rec.sheet_customer_id,
            "first_name": rec.first_name, "last_name": rec.last_name, "company": rec.company,
            "phone": rec.phone, "email": rec.email, "owner_email": rec.owner_email,
            "customer_since": rec.customer_since, "do_not_call": rec.do_not_call,
            "notes": rec.notes, "extra": rec.extra, "content_hash": rec.fingerprint,
            "active": True}


def known_customers(db: Database) -> dict[str, KnownCustomer]:
    """Stored customers by the fingerprint of the row they came from."""
    with db.session() as session:
        rows = session.execute(select(
            Customer.content_hash, Customer.id, Customer.key, Customer.sheet_customer_id,
            Customer.phone, Customer.email, Customer.owner_email,
        ).where(Customer.content_hash.not_like("w:%"))).all()
    return {row.content_hash: KnownCustomer(row.id, row.key, row.sheet_customer_id, row.phone,
                                            row.email, row.owner_email) for row in rows}


def _apply_customers(session: Session, rows: CustomerRows, now: datetime) -> dict[str, int]:
    # Only the columns needed to decide; full rows are loaded by nobody (100k+ customers).
    stored = session.execute(
        select(Customer.id, Customer.key, Customer.content_hash, Customer.active)
    ).all()
    by_key = {row.key: row for row in stored}
    by_id = {row.id: row for row in stored}
    matched: set[int] = set()
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    returned: list[dict[str, Any]] = []
    for known in rows.unchanged:
        matched.add(known.id)
        if known.id in by_id and not by_id[known.id].active:  # back in the sheet as it was
            returned.append({"id": known.id, "active": True, "updated_at": now})
    for rec in rows.records:
        row = _match(rec, by_key, matched)
        if row is None:
            inserts.append(_customer_values(rec) | {"created_at": now, "updated_at": now})
            continue
        matched.add(row.id)
        if row.content_hash != rec.fingerprint or not row.active or row.key != rec.key:
            updates.append(_customer_values(rec) | {"id": row.id, "updated_at": now})
    gone = [{"id": row.id, "active": False, "updated_at": now}
            for row in stored if row.active and row.id not in matched]
    # Core statements, not ORM bulk ones: the ORM's per-row bookkeeping tripled the time.
    table = Customer.__table__
    if inserts:
        session.execute(insert(table), inserts)
    for batch in (updates, returned, gone):  # one key set per batch, for executemany
        if batch:
            columns = {k: bindparam(f"new_{k}") for k in batch[0] if k != "id"}
            session.execute(update(table).where(table.c.id == bindparam("old_id")).values(columns),
                            [{"old_id": row["id"], **{f"new_{k}": v for k, v in row.items() if k != "id"}}
                             for row in batch])
    total = len(rows.records) + len(rows.unchanged)
    return {"customers_added": len(inserts), "customers_updated": len(updates) + len(returned),
            "customers_removed": len(gone),
            "customers_unchanged": total - len(inserts) - len(updates) - len(returned)}


def _match(rec: CustomerRecord, by_key: dict[str, Any], matched: set[int]) -> Any:
    for key in (rec.key, *rec.alt_keys):
        row = by_key.get(key)
        if row is not None and row.id not in matched:
            return row
    return None


def _record_run(db: Database, result: SyncResult, now: datetime) -> None:
    try:
        _store_run(db, result, now)
    except SQLAlchemyError as exc:  # the database is down: the log is all that is left
        log.warning("could not record the sync from %s (%s): %s", result.source,
                    result.error or "ok", database_reason(exc))


def _store_run(db: Database, result: SyncResult, now: datetime) -> None:
    with db.session() as session, session.begin():
        session.add(SyncRun(
            started_at=now, finished_at=now, source=clip(result.source, SyncRun.source.type.length),
            ok=result.ok, skipped=result.busy, error=result.error, counts=result.counts,
            problems=[p.as_dict() for p in result.problems],
        ))
        session.flush()
        cutoff = session.scalar(
            select(SyncRun.id).order_by(SyncRun.id.desc()).offset(KEEP_SYNC_RUNS).limit(1)
        )
        if cutoff is not None:
            session.execute(delete(SyncRun).where(SyncRun.id <= cutoff))


def customer_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Customer)) or 0


@dataclass(frozen=True)
class SyncStatus:
    """What the app says about the sheet: when it was last read, and what is wrong now."""

    last_run: SyncRun | None  # the last sync that ran (skipped ones are not runs)
    last_good: SyncRun | None
    skipped: SyncRun | None = None  # a later sync skipped because another held the lease
    running_beat: datetime | None = None  # the last heartbeat of the sync running now, if one is

    @property
    def failing(self) -> bool:
        return self.last_run is not None and not self.last_run.ok

    @property
    def problem(self) -> str | None:
        """The failure, or a late write-back, worth telling everyone about."""
        return self.last_run.error if self.last_run is not None else None

    def last_good_ago(self, now: datetime) -> str:
        """ "5 minutes ago", or "never": how old the snapshot everyone works from is."""
        return ago(self.last_good.started_at, now) if self.last_good is not None else "never"

    def skipped_note(self, now: datetime) -> str | None:
        """ "Sync skipped 2 minutes ago: …", while no sync has run since."""
        if self.skipped is None:
            return None
        running = (f" (still running, last heard from {ago(self.running_beat, now)})"
                   if self.running_beat is not None else "")
        return (f"Sync skipped {ago(self.skipped.started_at, now)}: another sync was "
                f"running{running}. A sync that dies is taken over within "
                f"{int(SYNC_LEASE_TTL.total_seconds())} seconds.")


def sync_status(session: Session, now: datetime | None = None) -> SyncStatus:
    ran = select(SyncRun).where(SyncRun.skipped.is_(False)).order_by(SyncRun.id.desc()).limit(1)
    last = session.scalars(ran).first()
    good = last if last is None or last.ok else session.scalars(
        ran.where(SyncRun.ok.is_(True))).first()
    skipped = session.scalars(select(SyncRun).where(
        SyncRun.skipped.is_(True), SyncRun.id > (last.id if last is not None else 0))
        .order_by(SyncRun.id.desc()).limit(1)).first()
    return SyncStatus(last, good, skipped, _running_beat(session, now))


def _running_beat(session: Session, now: datetime | None) -> datetime | None:
    held = session.execute(select(Lease.heartbeat_at, Lease.expires_at)
                           .where(Lease.name == SYNC_LEASE)).first()
    if held is None or now is None or held.expires_at <= now:
        return None
    return held.heartbeat_at
