"""bench/inbox.py: how many e-mails one person gets in a day, on the demo team's four weeks.

The demo history (``outreach demo``) is played into one database; its leads and their
follow-ups (when each arrived, each voicemail, each conversation) are then replayed in
time order into a second, freshly synced one while the real worker jobs run on a moving
clock: the morning plans and call lists, the nagging, the mail. Every e-mail the worker
sends is counted for each person it reaches (To or Cc) on their own local working day.

Printed: the most and the median e-mails a rep and the manager get in a working day, all
kinds and reminders + escalations alone, and the most in one hour. The replay uses only
functions every version of the engine has, so the same file and the same timeline measure
an older checkout::

    .venv/bin/python -m bench.inbox --timeline /tmp/demo-timeline.json
    git worktree add /tmp/before <commit> && cp bench/inbox.py /tmp/before/bench/
    (cd /tmp/before && ../main/.venv/bin/python -m bench.inbox --timeline /tmp/demo-timeline.json)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.common import Stopwatch, report, save

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # Monday 07:00 in New York, after four weeks
NAGS = ("reminder", "escalation")


def runtime_at(folder: Path, name: str):  # type: ignore[no-untyped-def]
    from outreach.db import Database, migrate
    from outreach.demo_data import committed_demo_workbook
    from outreach.runtime import Runtime
    from outreach.settings import load_settings

    workbook = folder / f"{name}.xlsx"
    workbook.write_bytes(committed_demo_workbook().read_bytes())
    url = f"sqlite:///{folder / name}.db"
    settings = load_settings(environ={"OUTREACH_DATABASE_URL": url, "OUTREACH_WORKBOOK": str(workbook)},
                             secrets_path=folder / "none.toml")
    db = Database(url)
    migrate(db)
    return Runtime(settings=settings, db=db)


def play_demo(folder: Path):  # type: ignore[no-untyped-def]
    """The demo history as `outreach demo` plays it: the timeline to replay."""
    from sqlalchemy import select

    from outreach.demo_history import play_history
    from outreach.models import Lead, LeadEvent, Rep
    from outreach.runtime import team_settings
    from outreach.sheet.sync import run_sync

    runtime = runtime_at(folder, "history")
    assert run_sync(runtime.db, runtime.source(), NOW).ok
    with runtime.db.session() as session, session.begin():
        play_history(session, NOW, team_settings(session))
    with runtime.db.session() as session:
        emails = dict(session.execute(select(Rep.id, Rep.email)).all())
        leads = [{"id": lead.id, "owner": emails[lead.owner_id], "kind": lead.kind, "at": lead.created_at,
                  "first_name": lead.first_name, "last_name": lead.last_name, "phone": lead.phone,
                  "email": lead.email, "need": lead.need}
                 for lead in session.scalars(select(Lead).order_by(Lead.created_at))]
        events = [{"lead": event.lead_id, "rep": emails[event.rep_id], "outcome": event.outcome,
                   "next_step": event.next_step, "at": event.created_at}
                  for event in session.scalars(select(LeadEvent).order_by(LeadEvent.created_at))]
    return leads, events


def replay(folder: Path, leads: list[dict], events: list[dict]):  # type: ignore[no-untyped-def]
    """The same leads and follow-ups, at the same moments, with the worker running between them."""
    import time_machine
    from sqlalchemy import delete, select

    from outreach.access import Viewer
    from outreach.leads.followup import start_following_up
    from outreach.leads.leads import log_followup
    from outreach.models import Lead, OutboxMessage, Rep
    from outreach.runtime import team_settings
    from outreach.sheet.sync import run_sync
    from outreach.worker import Job, Worker, deliver_mail, nag, plan_the_day

    runtime = runtime_at(folder, "replay")
    start = leads[0]["at"] - timedelta(hours=1)
    assert run_sync(runtime.db, runtime.source(), start).ok
    with runtime.db.session() as session, session.begin():  # its Inbound rows arrive with the rest
        for table in reversed(Lead.metadata.sorted_tables):  # whatever refers to them first
            if table.name in ("nag_items", "lead_events", "outbox"):
                session.execute(delete(table))
        session.execute(delete(Lead))
        reps = {rep.email: rep for rep in session.scalars(select(Rep))}
        session.expunge_all()
    worker = Worker(runtime, jobs=[Job("plans", 15, plan_the_day), Job("nag", 15, nag),
                                   Job("mail", 5, deliver_mail)], holder="bench-inbox")
    timeline = sorted([(lead["at"], 0, lead) for lead in leads] + [(e["at"], 1, e) for e in events],
                      key=lambda item: (item[0], item[1]))
    ids: dict[int, int] = {}
    with time_machine.travel(start, tick=False) as traveller:
        for at, kind, item in timeline:
            _run_until(worker, runtime, traveller, at)
            traveller.move_to(at)
            with runtime.db.session() as session, session.begin():
                if kind == 0:
                    lead = Lead(kind=item["kind"], status="new", owner_id=reps[item["owner"]].id,
                                first_name=item["first_name"], last_name=item["last_name"],
                                phone=item["phone"], email=item["email"], need=item["need"],
                                created_at=at, attempts=0, reminders_sent=0)
                    session.add(lead)
                    session.flush()
                    ids[item["id"]] = lead.id
                    start_following_up(session, lead, team_settings(session), at)
                elif item["outcome"] in ("connected", "voicemail", "no_answer", "wrong_number"):
                    log_followup(session, Viewer.of(reps[item["rep"]]), ids[item["lead"]], item["outcome"],
                                 at, next_step=item["next_step"])
        _run_until(worker, runtime, traveller, NOW)
    with runtime.db.session() as session:
        zones = {rep.email: ZoneInfo(rep.time_zone) for rep in session.scalars(select(Rep))}
        roles = {rep.email: rep.role for rep in session.scalars(select(Rep))}
        sent = session.execute(select(OutboxMessage.kind, OutboxMessage.to_email, OutboxMessage.cc,
                                      OutboxMessage.sent_at).where(OutboxMessage.status == "sent")).all()
    return sent, zones, roles, start


def _run_until(worker, runtime, traveller, until: datetime) -> None:  # type: ignore[no-untyped-def]
    """Tick the worker at every quarter hour and every due reminder before ``until``."""
    from sqlalchemy import func, select

    from outreach import clock
    from outreach.models import Lead, OutboxMessage

    while clock.now() < until:
        worker.run_once()
        now = clock.now()
        quarter = datetime.fromtimestamp((now.timestamp() // 900 + 1) * 900, UTC)
        with runtime.db.session() as session:
            due = [session.scalar(select(func.min(Lead.next_reminder_at)).where(Lead.next_reminder_at > now)),
                   session.scalar(select(func.min(OutboxMessage.next_attempt_at)).where(
                       OutboxMessage.status == "pending", OutboxMessage.next_attempt_at > now))]
        traveller.move_to(min([quarter, until, *(d for d in due if d)]))


def daily_counts(sent, zones, roles, start: datetime, kinds: tuple[str, ...] | None):  # type: ignore[no-untyped-def]
    """E-mails per (person, local working day), zeros included; and the most in one hour."""
    per_day: Counter[tuple[str, date]] = Counter()
    per_hour: Counter[tuple[str, date, int]] = Counter()
    for kind, to, cc, at in sent:
        if kinds is not None and kind not in kinds:
            continue
        for person in {to, *cc}:
            local = at.astimezone(zones[person])
            per_day[(person, local.date())] += 1
            per_hour[(person, local.date(), local.hour)] += 1
    days = [start.date() + timedelta(days=n) for n in range((NOW - start).days + 1)]
    workdays = [d for d in days if d.weekday() < 5]
    by_role: dict[str, list[int]] = defaultdict(list)
    hours: dict[str, int] = defaultdict(int)
    for person, role in roles.items():
        if person not in zones or role not in ("rep", "manager"):
            continue
        by_role[role] += [per_day[(person, d)] for d in workdays]
        hours[role] = max([hours[role], *(n for (p, _, _), n in per_hour.items() if p == person)])
    return {role: {"most": max(counts), "median": statistics.median(counts), "most_in_an_hour": hours[role]}
            for role, counts in by_role.items()}


def timeline(folder: Path, path: Path | None) -> tuple[list[dict], list[dict]]:
    """The demo's leads and follow-ups: read from ``path`` if it exists, else played (and saved)."""
    if path is not None and path.exists():
        saved = json.loads(path.read_text())
        for item in saved["leads"] + saved["events"]:
            item["at"] = datetime.fromisoformat(item["at"])
        return saved["leads"], saved["events"]
    leads, events = play_demo(folder)
    if path is not None:
        path.write_text(json.dumps({"leads": leads, "events": events}, default=str))
    return leads, events


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeline", type=Path, help="replay this saved timeline (written if missing)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Stopwatch() as took:
        folder = Path(tmp)
        leads, events = timeline(folder, args.timeline)
        sent, zones, roles, start = replay(folder, leads, events)
        everything = daily_counts(sent, zones, roles, start, None)
        nags = daily_counts(sent, zones, roles, start, NAGS)
    rows = []
    for role in ("rep", "manager"):
        rows += [(f"{role}: most e-mails in a working day", everything[role]["most"], "all kinds, To or Cc"),
                 (f"{role}: median e-mails in a working day", everything[role]["median"], ""),
                 (f"{role}: most reminders + escalations in a day", nags[role]["most"], ""),
                 (f"{role}: median reminders + escalations a day", nags[role]["median"], ""),
                 (f"{role}: most e-mails in one hour", everything[role]["most_in_an_hour"], "")]
    report(f"the demo team's four weeks replayed ({len(leads)} leads, {len(sent)} e-mails, "
           f"{took.seconds:.0f} s)", rows)
    save("inbox", {"leads": len(leads), "emails": len(sent), "all": everything, "nags": nags,
                   "python": sys.version.split()[0]})


if __name__ == "__main__":
    main()
