"""`python -m outreach`: the commands an operator or cron runs.

Exit codes: 0 ok, 1 failure (one clear line on stderr, no traceback unless
--debug), 2 bad usage (argparse's own convention).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from outreach import __version__, clock, logs
from outreach.db import migrate, require_current_schema
from outreach.errors import OutreachError
from outreach.runtime import Runtime
from outreach.settings import Settings, load_settings

log = logging.getLogger("outreach")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m outreach",
        description="Outreach: three referral asks a day, every lead followed up in minutes.",
    )
    parser.add_argument("--version", action="version", version=f"outreach {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    commands.add_parser("migrate", help="create or upgrade the database schema (keeps all rows)")

    demo = commands.add_parser("demo", help="set up the demo workbook")
    demo.add_argument("--if-empty", action="store_true",
                      help="load the workbook only if the database has no customers yet")
    demo.add_argument("--generate", metavar="PATH", type=Path,
                      help="write the demo workbook (fixed seed) to PATH and exit")
    demo.add_argument("--no-history", action="store_true",
                      help="load the team only, without four weeks of invented calls and leads")

    commands.add_parser("sync", help="read the sheet or workbook now and list skipped rows")

    plan = commands.add_parser("plan", help="build and print the day's call plans")
    plan.add_argument("--date", help="the day, YYYY-MM-DD (default: today in each rep's zone)")
    plan.add_argument("--rep", metavar="EMAIL", help="only this rep")

    worker = commands.add_parser("worker", help="run the background worker")
    worker.add_argument("--once", action="store_true",
                        help="run every job that is due now, then exit (for cron)")
    return parser


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    runtime = Runtime.open(settings)
    migrate(runtime.db)
    print(f"database ready: {runtime.db.display_url}")
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from outreach.demo_data import build_workbook, ensure_workbook
    from outreach.sheet.sync import customer_count

    if args.generate:
        print(f"wrote {build_workbook(args.generate)}")
        return 0
    if settings.uses_google_sheet:
        print("a Google Sheet is configured (OUTREACH_SHEET); the demo workbook is not used")
        return 0
    if ensure_workbook(settings.workbook):
        print(f"created {settings.workbook} from the demo workbook")
    runtime = Runtime.open(settings)
    require_current_schema(runtime.db)
    with runtime.db.session() as session:
        if args.if_empty and customer_count(session):
            print("the database already has customers; nothing loaded")
            return 0
    _sync(runtime)
    if not args.no_history:
        _play_demo_history(runtime)
    return 0


def _play_demo_history(runtime: Runtime) -> None:
    from outreach.demo_history import play_history
    from outreach.runtime import team_settings

    with runtime.db.session() as session, session.begin():
        counts = play_history(session, clock.now(), team_settings(session))
    if counts:
        print(f"played four weeks of demo history: {counts['calls']} calls, {counts['leads']} leads")


def cmd_sync(args: argparse.Namespace, settings: Settings) -> int:
    runtime = Runtime.open(settings)
    require_current_schema(runtime.db)
    return _sync(runtime)


def _sync(runtime: Runtime) -> int:
    from outreach.sheet.sync import sync_now

    result = sync_now(runtime.db, runtime.source, clock.now())
    if not result.ok:
        raise OutreachError(f"sync from {result.source} failed: {result.error}")
    counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in result.counts.items())
    print(f"synced {result.source}: {counts}")
    if result.problems:
        print(f"{len(result.problems)} row(s) need attention in the sheet:")
        for problem in result.problems:
            print(f"  {problem}")
    return 0


def cmd_plan(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import date

    from outreach.calls.planner import plan_and_describe

    day = None
    if args.date:
        try:
            day = date.fromisoformat(args.date)
        except ValueError:
            raise OutreachError(f"--date {args.date!r} is not a date (use YYYY-MM-DD)") from None
    runtime = Runtime.open(settings)
    require_current_schema(runtime.db)
    for line in plan_and_describe(runtime.db, clock.now(), day=day, rep_email=args.rep):
        print(line)
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from outreach.worker import Worker

    runtime = Runtime.open(settings)
    require_current_schema(runtime.db)
    worker = Worker(runtime)
    for signum in (signal.SIGTERM, signal.SIGINT):
        # Finish the message in hand, hand the rest of the batch back, then stop: nothing half-sent.
        signal.signal(signum, lambda *_: worker.stop.set())
    if args.once:
        done = worker.run_once()
        print(", ".join(f"{name}: {count}" for name, count in done.items()) or "nothing due")
        return 0
    worker.run_forever(worker.stop)
    return 0


HANDLERS = {"migrate": cmd_migrate, "demo": cmd_demo, "sync": cmd_sync, "plan": cmd_plan,
            "worker": cmd_worker}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.configure(logging.DEBUG if args.debug else logging.WARNING)
    try:
        settings = load_settings()
        logs.hide(*settings.secrets)
        if not args.debug:
            logging.getLogger().setLevel(settings.log_level)
            logging.getLogger("alembic").setLevel(logging.WARNING)
        return HANDLERS[args.command](args, settings)
    except OutreachError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if args.debug:  # the traceback, through the same redaction as the logs
            print(logs.redact(traceback.format_exc()), file=sys.stderr, end="")
            return 1
        first_line = (str(exc).strip().splitlines() or [""])[0]
        print(f"error: unexpected {type(exc).__name__}: {first_line} (run with --debug for details)",
              file=sys.stderr)
        return 1
