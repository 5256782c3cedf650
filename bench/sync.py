"""bench/sync.py: sync a 100,000-customer Google Sheet through the fake Sheets API.

Measures, for a first sync into an empty database (on a sheet without the app's
tabs, so its write-back creates and fills them) and for an unchanged re-sync:
every request made to Google (reads and writes), wall-clock seconds and the
process's peak memory. Targets (issue 3): reads <= 2 requests and a write-back
at most 1, <= 10 s, <= 1 GiB on the 2-core CI machine.

    .venv/bin/python -m bench.sync [--customers 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from bench.common import Stopwatch, medians, peak_rss_mib, report, run_in_subprocess, save

AREA_CODES = ("212", "312", "415", "617", "646", "718", "305", "404", "512", "206")


def customer_rows(count: int) -> list[list[str]]:
    rows = [["Customer ID", "First Name", "Last Name", "Company", "Phone", "Email", "Owner",
             "Customer Since", "Do Not Call", "Notes", "Segment"]]
    for n in range(count):
        area = AREA_CODES[n % len(AREA_CODES)]
        exchange = 200 + (n // 10_000) % 700
        phone = f"({area}) {exchange}-{n % 10_000:04d}"
        owner = f"rep{n % 20}@example.com" if n % 3 else ""
        rows.append([f"C{n:07d}", f"First{n}", f"Last{n}", f"Company {n % 5000}", phone,
                     f"customer{n}@example.org", owner, "2020-01-15", "x" if n % 97 == 0 else "",
                     "note" if n % 7 == 0 else "", f"S{n % 4}"])
    return rows


def tabs(count: int) -> dict[str, list[list[str]]]:
    reps = [["Name", "Email", "Time Zone", "Daily Calls", "Active", "Role", "Manager"]]
    reps += [[f"Rep {n}", f"rep{n}@example.com", "America/New_York", "3", "yes", "rep", ""]
             for n in range(20)]
    return {"Customers": customer_rows(count), "Reps": reps, "Settings": [["Key", "Value"]],
            "Inbound": [["Timestamp", "First Name", "Last Name", "Phone", "Email"]]}


def measure(db_url: str, count: int, phase: str) -> dict[str, float]:
    """One sync in this process, so its peak memory is its own.

    ``first``: an empty database and a sheet with only the manager's tabs. ``again``: the
    database the first sync left, and a sheet that holds what its write-back wrote.
    """
    import gspread

    from outreach import clock
    from outreach.db import Database, migrate
    from outreach.runtime import team_settings
    from outreach.sheet.google_sheet import GoogleSheetSource
    from outreach.sheet.sync import run_sync
    from outreach.sheet.write_back import tables_to_write
    from tests.fakes.google_sheets import FakeGoogleSheets, session_for

    fake = FakeGoogleSheets()
    db = Database(db_url)
    migrate(db)
    sheet = tabs(count)
    if phase == "again":
        with db.session() as session:
            sheet.update(tables_to_write(session, team_settings(session), {}, clock.now()))
    fake.add_spreadsheet("BENCH", "Bench", sheet)
    source = GoogleSheetSource(gspread.Client(auth=None, session=session_for(fake)), "BENCH")
    with Stopwatch() as watch:
        result = run_sync(db, source, clock.now())
    assert result.ok and result.error is None, result.error
    fake.assert_contract()
    reads = [r for r in fake.api_requests() if r.method == "GET"]
    writes = [r for r in fake.api_requests() if r.method == "POST"]
    return {"seconds": watch.seconds, "requests": len(reads) + len(writes),
            "read_requests": len(reads), "write_requests": len(writes),
            "peak_mib": peak_rss_mib(), "customers_added": result.counts["customers_added"],
            "customers_updated": result.counts["customers_updated"],
            "tabs_written": len(result.written_tabs)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--measure", nargs=2, metavar=("DB_URL", "PHASE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure[0], args.customers, args.measure[1])))
        return
    first_runs, again_runs = [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            for phase, runs in (("first", first_runs), ("again", again_runs)):
                runs.append(run_in_subprocess("bench.sync", "--measure", url, phase,
                                              "--customers", str(args.customers)))
    first, again = medians(first_runs), medians(again_runs)
    report(f"sync of a {args.customers:,}-customer sheet (median of {args.repeat}, SQLite)", [
        ("first sync: requests (all)", first["requests"], "target <= 2 reads + 1 write"),
        ("first sync: read requests", first["read_requests"], "target <= 2"),
        ("first sync: write requests", first["write_requests"], "target <= 1"),
        ("first sync: seconds", first["seconds"], "target <= 10"),
        ("first sync: peak MiB", first["peak_mib"], "target <= 1024"),
        ("unchanged re-sync: requests (all)", again["requests"], "target <= 2"),
        ("unchanged re-sync: write requests", again["write_requests"], "0 expected"),
        ("unchanged re-sync: seconds", again["seconds"], "target <= 10"),
        ("unchanged re-sync: peak MiB", again["peak_mib"], "target <= 1024"),
        ("unchanged re-sync: customers updated", again["customers_updated"], "0 expected"),
    ])
    save("sync", {"customers": args.customers, "repeat": args.repeat, "first": first,
                  "unchanged": again, "python": sys.version.split()[0]})


if __name__ == "__main__":
    main()
