"""bench/front_desk.py: how fast a caller becomes an alert in the owner's inbox.

- save to 202: a front-desk intake saved the way the page saves it (one transaction, then
  ``deliver_now`` on a thread of its own) until the fake SendGrid accepts the owner's alert:
  median and p95 over 30 saves. Target (issue 14): <= 2 s.
- row to 202: a web form appends a row to the Inbound tab of a Google Sheet while a real
  ``outreach`` worker runs in a process of its own (its real jobs and ticker; its Google
  requests go over HTTP to the fake Sheets API served on 127.0.0.1, its mail to the fake
  SendGrid); from the append to the alert's 202: median and p95 over 25 rows appended at
  random moments. Target: median <= 15 s, p95 <= 25 s. Also: Sheets read requests per minute
  with both polls running (Google allows 60 per minute per user).

    .venv/bin/python -m bench.front_desk [--saves 30] [--rows 25] [--database sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.common import ROOT, report, run_in_subprocess, save
from bench.followup import NOW, add_team, database_url, fake_sendgrid_process, sendgrid_runtime

SHEET_KEY = "1FrontDeskBenchSheet000000000000000000000"
GOOGLE = "https://sheets.googleapis.com"


def quantile95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


# -- save to 202 -------------------------------------------------------------------------------

def measure_saves(db_url: str, saves: int) -> dict[str, float]:
    import time_machine
    from sqlalchemy import insert, select

    from outreach import clock
    from outreach.access import Viewer
    from outreach.leads.front_desk import IntakeInput, save_intake
    from outreach.models import Rep
    from outreach.runtime import team_settings
    from outreach.worker import deliver_now

    with sendgrid_runtime(db_url) as (runtime, received), time_machine.travel(NOW, tick=True):
        add_team(runtime.db)
        with runtime.db.session() as session, session.begin():
            session.execute(insert(Rep.__table__), [{
                "email": "desk@example.com", "name": "Rosa Desk", "time_zone": "America/New_York",
                "daily_calls": 0, "active": True, "role": "front desk", "in_sheet": True, "updated_at": NOW}])
            desk = Viewer.of(session.scalar(select(Rep).where(Rep.email == "desk@example.com")))
        latencies = []
        for n in range(saves):
            form = IntakeInput(first_name=f"Caller{n}", last_name="Waiting", phone=f"(617) 555-{n:04d}",
                               reason="A quote", client_token=f"desk-{n}")
            started = time.monotonic()
            with runtime.db.session() as session, session.begin():
                intake = save_intake(session, desk, form, team_settings(session), clock.now())
            keys = list(intake.alert_keys)
            sending = threading.Thread(target=deliver_now, args=(runtime, keys), daemon=True)
            sending.start()
            sending.join(10)
            latencies.append(received()["accepted_at"][n] - started)
        return {"median_ms": statistics.median(latencies) * 1000, "p95_ms": quantile95(latencies) * 1000,
                "max_ms": max(latencies) * 1000}


# -- row to 202, with a real worker process ------------------------------------------------------

def serve_fake_google(fake) -> ThreadingHTTPServer:  # type: ignore[no-untyped-def]
    """The in-process fake Sheets API, over HTTP on 127.0.0.1 for another process to call."""
    import requests

    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            request = requests.Request(self.command, GOOGLE + self.path, headers=headers, data=body).prepare()
            with lock:
                response = fake.send(request)
            self.send_response(response.status_code)
            self.send_header("Content-Type", response.headers.get("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(response.content)))
            self.end_headers()
            self.wfile.write(response.content)

        do_GET = do_POST = do_PUT = _answer

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run_worker(db_url: str, google: str, sendgrid_host: str, key: str) -> None:
    """The worker process: `outreach worker` with its sheet reached over HTTP at ``google``."""
    import gspread
    import requests
    from requests.adapters import HTTPAdapter

    from outreach.db import Database
    from outreach.runtime import Runtime
    from outreach.settings import load_settings
    from outreach.sheet.google_sheet import GoogleSheetSource
    from outreach.worker import Worker

    class ToLocal(HTTPAdapter):
        def send(self, request, **kwargs):  # type: ignore[no-untyped-def, override]
            request.url = request.url.replace(GOOGLE, google, 1)
            return super().send(request, **kwargs)

    session = requests.Session()
    session.mount(GOOGLE, ToLocal())
    settings = load_settings(environ={"OUTREACH_DATABASE_URL": db_url, "SENDGRID_API_KEY": key,
                                      "OUTREACH_SENDGRID_HOST": sendgrid_host,
                                      "OUTREACH_WORKBOOK": "/nonexistent.xlsx"},
                             secrets_path=Path("/nonexistent.toml"))
    source = GoogleSheetSource(gspread.Client(auth=None, session=session), SHEET_KEY)
    runtime = Runtime(settings=settings, db=Database(db_url), _source=source)
    Worker(runtime).run_forever(threading.Event())


def measure_rows(db_url: str, rows: int) -> dict[str, float]:
    from outreach.db import Database, migrate
    from tests.fakes.google_sheets import FakeGoogleSheets
    from tests.sheets import INBOUND, team_tabs

    fake = FakeGoogleSheets()
    fake.add_spreadsheet(SHEET_KEY, "Bench team", team_tabs())
    server = serve_fake_google(fake)
    migrate(Database(db_url))
    with fake_sendgrid_process(0.0) as (host, key, received):
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        worker = subprocess.Popen(
            [sys.executable, "-m", "bench.front_desk", "--worker", db_url,
             f"http://127.0.0.1:{server.server_address[1]}", host, key],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            _wait_for_first_sync(fake, worker)
            fake.clear_requests()
            started = time.monotonic()
            latencies = _append_rows(fake, rows, received, INBOUND)
            minutes = (time.monotonic() - started) / 60
        finally:
            worker.terminate()
            worker.wait(10)
    reads = [r for r in fake.api_requests() if r.method == "GET"]
    server.shutdown()
    return {"median_s": statistics.median(latencies), "p95_s": quantile95(latencies),
            "max_s": max(latencies), "reads_per_minute": len(reads) / minutes,
            "requests_per_minute": len(fake.api_requests()) / minutes}


def _wait_for_first_sync(fake, worker) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 60
    while not any(r.path.endswith("values:batchGet") for r in fake.api_requests()):
        if worker.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the worker did not sync: {worker.stderr.read()[-2000:]}")
        time.sleep(0.2)
    time.sleep(2)  # the write-back of the first sync


def _append_rows(fake, rows: int, received, header) -> list[float]:  # type: ignore[no-untyped-def]
    rng = random.Random(14)
    latencies = []
    table = [header[0]]
    for n in range(rows):
        time.sleep(rng.uniform(2, 12))  # at any phase of the worker's 10 s poll
        stamp = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S")
        table.append([stamp, f"Web{n}", "Form", f"(617) 555-{n:04d}", "", "Web form", "A quote", ""])
        before = _alerts(received())
        fake.set_rows(SHEET_KEY, "Inbound", table)
        appended = time.monotonic()
        while True:
            got = received()
            alerts = _alerts(got)
            if len(alerts) > len(before):
                latencies.append(alerts[-1] - appended)
                break
            if time.monotonic() - appended > 90:
                raise SystemExit(f"row {n}: no alert within 90 s")
            time.sleep(0.1)
    return latencies


def _alerts(got: dict[str, Any]) -> list[float]:
    return [at for key, at in zip(got["keys"], got["accepted_at"], strict=True) if key.startswith("alert:")]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--saves", type=int, default=30)
    parser.add_argument("--rows", type=int, default=25)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--measure", nargs=2, metavar=("WHAT", "DB_URL"), help=argparse.SUPPRESS)
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(*args.worker)
        return
    if args.measure:
        what, url = args.measure
        print(json.dumps(measure_saves(url, args.saves) if what == "saves" else measure_rows(url, args.rows)))
        return
    with database_url(args.database) as url:
        saves = run_in_subprocess("bench.front_desk", "--measure", "saves", url, "--saves", str(args.saves))
    with database_url(args.database) as url:
        rows = run_in_subprocess("bench.front_desk", "--measure", "rows", url, "--rows", str(args.rows))
    report(f"front desk and Inbound tab to SendGrid's 202 ({args.database})", [
        (f"front-desk save to 202, median ms ({args.saves})", saves["median_ms"], "target <= 2000"),
        ("  p95 ms", saves["p95_ms"], ""),
        (f"Inbound row to 202, median s ({args.rows})", rows["median_s"], "target <= 15"),
        ("  p95 s", rows["p95_s"], "target <= 25"),
        ("  max s", rows["max_s"], ""),
        ("Sheets read requests per minute", rows["reads_per_minute"], "Google allows 60 per user"),
        ("Sheets requests per minute, all", rows["requests_per_minute"], ""),
    ])
    save("front_desk", {"saves": saves, "rows": rows, "database": args.database})


if __name__ == "__main__":
    main()
