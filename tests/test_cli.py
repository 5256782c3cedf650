"""`python -m outreach`: exit codes 0/1/2 and one clear line on errors, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from outreach.settings import PROJECT_ROOT
from tests.conftest import DEMO_MONDAY_7AM_NY, POSTGRES_URL, _need_postgres
from tests.fakes.sendgrid_server import FakeSendGrid

# Every command runs on the demo's Monday morning (tests/at.py moves its clock), whatever day
# the suite runs: the demo history, the plans and the dates they print are that day's.
AT = str(PROJECT_ROOT / "tests" / "at.py")
# The call lists of the New York reps are due at 07:30: the worker has real mail to send.
DEMO_MONDAY_8AM_NY = DEMO_MONDAY_7AM_NY + timedelta(hours=1)


def outreach(tmp_path: Path, *args: str, cwd: Path = PROJECT_ROOT, at: datetime = DEMO_MONDAY_7AM_NY,
             **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OUTREACH_", "SENDGRID"))}
    environ.update({
        "OUTREACH_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "OUTREACH_WORKBOOK": str(tmp_path / "workbook.xlsx"),
        "PYTHONPATH": str(PROJECT_ROOT),  # as cron would set it, to run from elsewhere
    })
    environ.update(env)
    return subprocess.run([sys.executable, AT, at.isoformat(), "outreach", *args], cwd=cwd,
                          env=environ, capture_output=True, text=True, timeout=120)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_help_lists_every_command(tmp_path: Path) -> None:
    result = outreach(tmp_path, "--help")
    assert result.returncode == 0
    for command in ("migrate", "demo", "sync", "plan", "worker"):
        assert command in result.stdout
    assert "--once" in outreach(tmp_path, "worker", "--help").stdout


@pytest.mark.parametrize("args", [(), ("fly",), ("plan", "--nope")])
def test_bad_usage_exits_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    assert outreach(tmp_path, *args).returncode == 2


def test_fresh_install_migrates_loads_demo_and_syncs(tmp_path: Path) -> None:
    assert outreach(tmp_path, "migrate").returncode == 0
    demo = outreach(tmp_path, "demo", "--if-empty")
    assert demo.returncode == 0, demo.stderr
    assert "customers added 19" in demo.stdout
    assert "Customers row 77, Phone '555-CALL'" in demo.stdout
    assert "played four weeks of demo history" in demo.stdout
    assert (tmp_path / "workbook.xlsx").exists()
    again = outreach(tmp_path, "demo", "--if-empty")
    assert "already has customers" in again.stdout
    resync = outreach(tmp_path, "sync")
    assert resync.returncode == 0
    assert "customers added 0, customers updated 0, customers removed 0" in resync.stdout
    worker = outreach(tmp_path, "worker", "--once")
    assert worker.returncode == 0, worker.stderr


@pytest.mark.parametrize("url", [
    "postgresql://nobody@127.0.0.1:1/nowhere",
    "not a url at all",
    "mysql://root@localhost/outreach",
])
def test_wrong_database_url_is_one_line_and_exit_1(tmp_path: Path, url: str) -> None:
    result = outreach(tmp_path, "migrate", OUTREACH_DATABASE_URL=url)
    assert_one_line_error(result)


@pytest.mark.parametrize(("url", "says"), [
    ("postgresql+asyncpg://app@127.0.0.1/outreach", "asyncio driver 'postgresql+asyncpg'"),
    ("postgresql+pg8000://app@127.0.0.1/outreach", "needs the Python driver 'pg8000'"),
    ("sqlite:////proc/nope/outreach.db", "cannot create the folder /proc/nope"),
    ("postgresql://app@127.0.0.1:port/outreach", "is not a database URL"),
])
def test_an_unusable_database_url_says_why_in_one_line(tmp_path: Path, url: str, says: str) -> None:
    result = outreach(tmp_path, "migrate", OUTREACH_DATABASE_URL=url)
    assert_one_line_error(result, says)
    assert "unexpected" not in result.stderr


def test_cron_in_another_directory_opens_the_projects_database(tmp_path: Path) -> None:
    name = f"cli-test-{uuid.uuid4().hex[:8]}.db"
    where = PROJECT_ROOT / "data" / name
    try:
        result = outreach(tmp_path, "migrate", cwd=tmp_path, OUTREACH_DATABASE_URL=f"sqlite:///data/{name}")
        assert result.returncode == 0, result.stderr
        assert f"database ready: sqlite:///{where}" in result.stdout
        assert where.exists() and not (tmp_path / "data").exists()
    finally:
        for leftover in PROJECT_ROOT.joinpath("data").glob(f"{name}*"):
            leftover.unlink()


# A password with an unencoded '@': SQLAlchemy takes "tZq7x" for the start of the host name.
AT_PASSWORD = "s3cr@tZq7x"
# Each piece a leak could show: the whole, either side of the '@', and its encoded form.
PASSWORD_PIECES = (AT_PASSWORD, "s3cr@", "tZq7x", "s3cr%40tZq7x", "hunter2")
# Trust authentication on the test server takes any password, so a refused login needs a role
# that does not exist. Never a real role: a URL that connects would migrate the shared database.
NO_SUCH_ROLE = "outreach_test_no_such_role"  # fixed: pytest-xdist workers must collect the same ids


@pytest.mark.parametrize(("url", "says"), [
    ("postgresql://app:hunter2@127.0.0.1:1/outreach", "cannot open the database"),
    (f"postgresql://app:{AT_PASSWORD}@127.0.0.1:1/outreach", "cannot open the database"),
    (f"postgresql://app:{AT_PASSWORD}:more@127.0.0.1:1/outreach", "is not a database URL"),
    (f"postgresql://{NO_SUCH_ROLE}:s3cr%40tZq7x@" + POSTGRES_URL.split("@", 1)[1],
     f'role "{NO_SUCH_ROLE}" does not exist'),
])
@pytest.mark.parametrize("debug", [(), ("--debug",)], ids=["quiet", "debug"])
def test_database_password_never_printed(tmp_path: Path, url: str, says: str, debug: tuple[str, ...]) -> None:
    if NO_SUCH_ROLE in url:
        _need_postgres()
    result = outreach(tmp_path, *debug, "migrate", OUTREACH_DATABASE_URL=url, OUTREACH_LOG_LEVEL="DEBUG")
    assert result.returncode == 1, result.stderr
    assert says in result.stderr and "Traceback" not in result.stderr
    printed = result.stdout + result.stderr
    assert [piece for piece in PASSWORD_PIECES if piece in printed] == []


@pytest.mark.parametrize("debug", [("--debug",), ()], ids=["--debug", "OUTREACH_LOG_LEVEL"])
def test_the_sendgrid_key_is_never_printed_even_while_debugging_real_mail(
        tmp_path: Path, debug: tuple[str, ...]) -> None:
    key = f"SG.test-secret-{uuid.uuid4().hex}"  # built here, so no scanner flags the repository
    with FakeSendGrid(api_key=key) as fake:
        mail = {"SENDGRID_API_KEY": key, "OUTREACH_SENDGRID_HOST": fake.host, "OUTREACH_LOG_LEVEL": "DEBUG"}
        outputs = [outreach(tmp_path, *debug, command, at=DEMO_MONDAY_8AM_NY, **mail)
                   for command in ("migrate", "demo")]
        outputs.append(outreach(tmp_path, *debug, "worker", "--once", at=DEMO_MONDAY_8AM_NY, **mail))
        assert all(result.returncode == 0 for result in outputs), outputs[-1].stderr
        assert fake.accepted_count() > 0  # real mail went out through the sendgrid library
        fake.assert_contract()
    printed = "".join(result.stdout + result.stderr for result in outputs)
    assert " DEBUG " in printed or " INFO " in printed  # the logs were on
    for piece in (key, key[-12:], key.removeprefix("SG.")):
        assert piece not in printed
    assert "PAYLOAD" not in printed  # python_http_client's request bodies: customers' names


def test_unreadable_workbook_is_one_line_and_exit_1(tmp_path: Path) -> None:
    broken = tmp_path / "broken.xlsx"
    broken.write_text("this is not a spreadsheet")
    assert outreach(tmp_path, "migrate").returncode == 0
    result = outreach(tmp_path, "sync", OUTREACH_WORKBOOK=str(broken))
    assert_one_line_error(result, "broken.xlsx")


def test_missing_workbook_is_one_line_and_exit_1(tmp_path: Path) -> None:
    assert outreach(tmp_path, "migrate").returncode == 0
    result = outreach(tmp_path, "sync", OUTREACH_WORKBOOK=str(tmp_path / "nope.xlsx"))
    assert_one_line_error(result, "does not exist")


def test_commands_refuse_an_unmigrated_database(tmp_path: Path) -> None:
    result = outreach(tmp_path, "sync")
    assert_one_line_error(result, "python -m outreach migrate")


def test_bad_setting_is_one_line_and_exit_1(tmp_path: Path) -> None:
    assert_one_line_error(outreach(tmp_path, "migrate", OUTREACH_SYNC_INTERVAL="often"),
                          "OUTREACH_SYNC_INTERVAL")


def test_plan_prints_each_reps_calls_and_says_why_not(tmp_path: Path) -> None:
    assert outreach(tmp_path, "migrate").returncode == 0
    assert outreach(tmp_path, "demo").returncode == 0
    monday = outreach(tmp_path, "plan", "--date", "2026-11-23")
    assert monday.returncode == 0, monday.stderr
    assert "Jordan Rivera <jordan.rivera@example.com>, Monday 2026-11-23 (America/New_York): 3 calls" \
        in monday.stdout
    assert "Alex Kim <alex.kim@example.com>, Monday 2026-11-23 (America/Los_Angeles): 4 calls" \
        in monday.stdout
    again = outreach(tmp_path, "plan", "--date", "2026-11-23")
    assert again.stdout == monday.stdout  # building again changes nothing
    holiday = outreach(tmp_path, "plan", "--date", "2026-11-26", "--rep", "sam.okafor@example.com")
    assert "Thanksgiving Day, no calls" in holiday.stdout
    assert_one_line_error(outreach(tmp_path, "plan", "--rep", "nobody@example.com"), "no active rep")
    assert_one_line_error(outreach(tmp_path, "plan", "--date", "23/11/2026"), "YYYY-MM-DD")
