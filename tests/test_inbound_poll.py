"""The Inbound tab read on its own every few seconds: a web form's row is a lead, alerted, at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from outreach import lease
from outreach.db import Database
from outreach.models import Lead, OutboxMessage
from outreach.sheet.inbound_poll import InboundPoll
from outreach.sheet.sync import SYNC_LEASE, run_sync
from outreach.worker import default_jobs
from tests.conftest import MONDAY_9AM_NY, make_settings
from tests.fakes.google_sheets import FakeGoogleSheets
from tests.sheets import INBOUND, GoogleSheet, team_tabs

NOW = MONDAY_9AM_NY
ROW = ["2026-11-23 08:59", "Dana", "Whitfield", "(617) 555-0177", "", "Web form", "A quote", ""]


@pytest.fixture
def fake() -> FakeGoogleSheets:
    fake = FakeGoogleSheets()
    yield fake
    fake.assert_contract()


@pytest.fixture
def sheet(fake: FakeGoogleSheets, sqlite_db: Database) -> GoogleSheet:
    sheet = GoogleSheet(fake, team_tabs())
    assert run_sync(sqlite_db, sheet.source, NOW).ok  # the team, the tab titles
    fake.clear_requests()
    return sheet


def leads(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(Lead)) or 0


def test_an_appended_row_is_a_lead_with_its_alert_queued_in_one_request(
        sheet: GoogleSheet, sqlite_db: Database) -> None:
    poll = InboundPoll()
    sheet.set_tab("Inbound", [*INBOUND, ROW])
    keys = poll(sqlite_db, sheet.source, NOW)
    requests = sheet.fake.api_requests()
    # One values.get of the tab the sync found.
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in requests] == [("GET", "%27Inbound%27")]
    assert requests[0].query["valueRenderOption"] == ["FORMATTED_VALUE"]
    with sqlite_db.session() as session:
        lead = session.scalar(select(Lead))
        alert = session.scalar(select(OutboxMessage))
    assert (lead.first_name, lead.phone, lead.kind) == ("Dana", "+16175550177", "inbound")
    assert keys == [alert.key] and alert.kind == "alert"


def test_an_unchanged_tab_costs_one_read_and_the_full_sync_makes_no_second_lead(
        sheet: GoogleSheet, sqlite_db: Database) -> None:
    poll = InboundPoll()
    sheet.set_tab("Inbound", [*INBOUND, ROW])
    assert len(poll(sqlite_db, sheet.source, NOW)) == 1
    assert poll(sqlite_db, sheet.source, NOW + timedelta(seconds=10)) == []
    assert run_sync(sqlite_db, sheet.source, NOW + timedelta(seconds=20)).counts["inbound_leads_added"] == 0
    assert leads(sqlite_db) == 1


def test_a_running_full_sync_keeps_the_poll_out(sheet: GoogleSheet, sqlite_db: Database) -> None:
    sheet.set_tab("Inbound", [*INBOUND, ROW])
    with sqlite_db.session() as session, session.begin():
        assert lease.acquire(session, SYNC_LEASE, "a-sync", NOW, timedelta(seconds=60))
    poll = InboundPoll()
    assert poll(sqlite_db, sheet.source, NOW) == [] and leads(sqlite_db) == 0
    with sqlite_db.session() as session, session.begin():
        lease.release(session, SYNC_LEASE, "a-sync")
    assert len(poll(sqlite_db, sheet.source, NOW)) == 1  # skipped is not remembered as seen


def test_a_deleted_tab_is_a_clear_error_and_found_again_once_back(sheet: GoogleSheet,
                                                                  sqlite_db: Database) -> None:
    from outreach.errors import SourceError

    sheet.delete_tab("Inbound")
    poll = InboundPoll()
    with pytest.raises(SourceError):
        poll(sqlite_db, sheet.source, NOW)  # the tab the sync saw is gone: the worker logs it
    assert poll(sqlite_db, sheet.source, NOW) == []  # asked for the tabs again: no Inbound tab, nothing to do
    sheet.set_tab("Inbound", [*INBOUND, ROW])
    assert len(poll(sqlite_db, sheet.source, NOW)) == 1


def test_the_worker_polls_inbound_every_ten_seconds_unless_turned_off(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from outreach.runtime import Runtime

    def jobs(**env: str) -> dict[str, int]:
        settings = make_settings(tmp_path, **env)
        return {job.name: job.every_seconds for job in default_jobs(Runtime(settings=settings, db=None))}

    assert jobs()["inbound"] == 10 and jobs()["sync"] == 5
    assert jobs(OUTREACH_INBOUND_INTERVAL="3")["inbound"] == 3
    assert "inbound" not in jobs(OUTREACH_INBOUND_INTERVAL="0")


def test_the_workbook_is_parsed_again_only_when_it_was_saved(tmp_path, sqlite_db: Database) -> None:  # type: ignore[no-untyped-def]
    from tests.sheets import WorkbookSheet

    sheet = WorkbookSheet(tmp_path / "team.xlsx", team_tabs())
    assert run_sync(sqlite_db, sheet.source, NOW).ok
    poll = InboundPoll()
    assert poll(sqlite_db, sheet.source, NOW) == []
    first = sheet.source.read_tab("Inbound")
    assert sheet.source.read_tab("Inbound") is first  # unchanged file: not parsed again
    sheet.set_tab("Inbound", [*INBOUND, ROW])  # the manager saves a new row
    assert len(poll(sqlite_db, sheet.source, NOW + timedelta(seconds=10))) == 1
