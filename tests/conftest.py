"""Shared fixtures: a database (SQLite and PostgreSQL), settings, a workbook, a clock.

Storage tests take ``database`` and run twice: on a SQLite file and on a fresh
schema of the PostgreSQL server on this machine. When CI=true and PostgreSQL
cannot be reached they fail instead of skipping, so CI never goes green on
SQLite alone.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from outreach.db import Database, migrate
from outreach.demo_data import committed_demo_workbook
from outreach.runtime import Runtime
from outreach.settings import Settings, load_settings
from tests.fakes.sendgrid_server import FakeSendGrid

POSTGRES_URL = os.environ.get("OUTREACH_TEST_POSTGRES_URL",
                              "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"

# A Monday morning in New York, outside any holiday.
MONDAY_9AM_NY = datetime(2026, 11, 16, 14, 0, tzinfo=UTC)
# The demo app's morning: before the 07:30 call lists, on a working Monday.
DEMO_MONDAY_7AM_NY = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _postgres_reachable() -> str | None:
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]


def _need_postgres() -> None:
    reason = _postgres_reachable()
    if reason is None:
        return
    message = f"PostgreSQL at {POSTGRES_URL} is unreachable: {reason}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _loopback_without_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """urllib (used by the sendgrid client) would send even 127.0.0.1 through an http_proxy."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture(autouse=True)
def _app_address_of_this_test_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process-wide app address (OUTREACH_APP_URL, the served one) starts blank in every test."""
    from outreach import app_address

    monkeypatch.setattr(app_address, "_explicit", "")
    monkeypatch.setattr(app_address, "_served", "")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL whose search_path is a brand-new schema, dropped afterwards."""
    _need_postgres()
    schema = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'outreach.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    """A migrated, empty database - on SQLite and on PostgreSQL."""
    db = Database(db_url)
    migrate(db)
    yield db
    db.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    """A migrated SQLite database, for tests that are not about storage."""
    db = Database(f"sqlite:///{tmp_path / 'outreach.db'}")
    migrate(db)
    yield db
    db.dispose()


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    """A private copy of the demo workbook, free to edit."""
    path = tmp_path / "workbook.xlsx"
    shutil.copyfile(committed_demo_workbook(), path)
    return path


def make_settings(tmp_path: Path, **env: str) -> Settings:
    environ = {"OUTREACH_DATABASE_URL": f"sqlite:///{tmp_path / 'outreach.db'}",
               "OUTREACH_WORKBOOK": str(tmp_path / "workbook.xlsx")}
    environ.update(env)
    secrets = Path(env.get("OUTREACH_SECRETS_FILE", tmp_path / "no-secrets.toml"))
    return load_settings(environ=environ, secrets_path=secrets)


@pytest.fixture
def runtime(database: Database, workbook: Path, tmp_path: Path) -> Runtime:
    settings = make_settings(tmp_path, OUTREACH_WORKBOOK=str(workbook))
    return Runtime(settings=settings, db=database)


@pytest.fixture
def sqlite_runtime(sqlite_db: Database, workbook: Path, tmp_path: Path) -> Runtime:
    settings = make_settings(tmp_path, OUTREACH_WORKBOOK=str(workbook))
    return Runtime(settings=settings, db=sqlite_db)


@pytest.fixture
def sendgrid() -> Iterator[FakeSendGrid]:
    """A fake SendGrid on 127.0.0.1 that checks every request against the official contract."""
    with FakeSendGrid() as fake:
        yield fake
        fake.assert_contract()


@pytest.fixture
def demo_app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_runtime: Runtime) -> Iterator[Runtime]:
    """The app's environment on the synced demo team (for AppTest), on a Monday at 07:00 in New York.

    The clock runs on from there, so a test reads the same calendar whatever day it runs.
    """
    import time_machine

    from outreach import clock
    from outreach.sheet.sync import run_sync
    from tests.apptest import app_environment

    with time_machine.travel(DEMO_MONDAY_7AM_NY, tick=True):
        run_sync(sqlite_runtime.db, sqlite_runtime.source(), clock.now())
        url = sqlite_runtime.settings.database_url.reveal()
        with app_environment(monkeypatch, tmp_path, url, sqlite_runtime.settings.workbook):
            yield sqlite_runtime
