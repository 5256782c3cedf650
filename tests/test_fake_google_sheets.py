"""The fake Google Sheets API, proved with real gspread (and real google-auth) talking to it."""

from __future__ import annotations

import threading

import google.auth.exceptions
import gspread
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import service_account

from tests.fakes.google_sheets import (
    SHEETS_HOST,
    TOKEN_HOST,
    FakeGoogleSheets,
    discovery_document,
    session_for,
)

KEY = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
CALL_LOG = [
    ["When", "Phone", "Zip", "Calls", "Score", "Done"],
    ["Mon", "+15551234567", "0123", 42, 2.5, True],
    ["Tue", "+44 20 7946 0958"],
    [],
    ["Wed", None, "", 7],
]
REPS = [["Name", "Email"], ["Ann", "ann@example.com"]]


@pytest.fixture
def fake() -> FakeGoogleSheets:
    fake = FakeGoogleSheets()
    fake.add_spreadsheet(KEY, "Acme Outreach", {"Call Log": [row[:] for row in CALL_LOG],
                                                "Reps": [row[:] for row in REPS]})
    return fake


@pytest.fixture
def client(fake: FakeGoogleSheets) -> gspread.Client:
    return gspread.Client(auth=None, session=session_for(fake))


@pytest.fixture
def sheet(fake: FakeGoogleSheets, client: gspread.Client) -> gspread.Spreadsheet:
    opened = client.open_by_key(KEY)
    fake.clear_requests()
    return opened


def batch_get(sheet: gspread.Spreadsheet, ranges: list[str], **params: str) -> list[dict]:
    return sheet.values_batch_get(ranges, params=params)["valueRanges"]


# ---- reading ---------------------------------------------------------------------------------

def test_open_by_key_costs_exactly_one_request(fake: FakeGoogleSheets, client: gspread.Client) -> None:
    opened = client.open_by_key(KEY)

    [request] = fake.api_requests()
    assert (request.method, request.path) == ("GET", f"/v4/spreadsheets/{KEY}")
    assert request.query == {"includeGridData": ["false"]}
    assert opened.title == "Acme Outreach"
    fake.assert_contract()


def test_metadata_lists_tabs_with_their_grids(sheet: gspread.Spreadsheet) -> None:
    metadata = sheet.fetch_sheet_metadata()

    assert metadata["spreadsheetId"] == KEY
    assert metadata["spreadsheetUrl"] == f"https://docs.google.com/spreadsheets/d/{KEY}/edit"
    first, second = (s["properties"] for s in metadata["sheets"])
    assert first == {"sheetId": 0, "title": "Call Log", "index": 0, "sheetType": "GRID",
                     "gridProperties": {"rowCount": 1000, "columnCount": 26}}
    assert (second["title"], second["index"]) == ("Reps", 1)
    assert [ws.title for ws in sheet.worksheets()] == ["Call Log", "Reps"]


def test_unknown_spreadsheet_is_404(client: gspread.Client) -> None:
    with pytest.raises(gspread.exceptions.SpreadsheetNotFound):
        client.open_by_key("no-such-key")


def test_formatted_values_keep_text_as_stored_and_come_back_ragged(
        fake: FakeGoogleSheets, sheet: gspread.Spreadsheet) -> None:
    call_log, reps = batch_get(sheet, ["'Call Log'", "Reps"], valueRenderOption="FORMATTED_VALUE")

    assert call_log == {"range": "'Call Log'!A1:Z1000", "majorDimension": "ROWS", "values": [
        ["When", "Phone", "Zip", "Calls", "Score", "Done"],
        ["Mon", "+15551234567", "0123", "42", "2.5", "TRUE"],
        ["Tue", "+44 20 7946 0958"],
        [],  # a blank row in the middle
        ["Wed", "", "", "7"],  # gaps inside a row are "", trailing cells left out
    ]}
    assert reps["range"] == "Reps!A1:Z1000"
    [request] = fake.api_requests()
    assert request.path == f"/v4/spreadsheets/{KEY}/values:batchGet"
    assert request.query == {"valueRenderOption": ["FORMATTED_VALUE"], "ranges": ["'Call Log'", "Reps"]}
    fake.assert_contract()


def test_unformatted_and_columns(sheet: gspread.Spreadsheet) -> None:
    [rows] = batch_get(sheet, ["'Call Log'!A2:F2"], valueRenderOption="UNFORMATTED_VALUE")
    [columns] = batch_get(sheet, ["'Call Log'!A1:B3"], majorDimension="COLUMNS")

    assert rows["values"] == [["Mon", "+15551234567", "0123", 42, 2.5, True]]
    assert columns == {"range": "'Call Log'!A1:B3", "majorDimension": "COLUMNS",
                       "values": [["When", "Mon", "Tue"], ["Phone", "+15551234567", "+44 20 7946 0958"]]}


@pytest.mark.parametrize(("requested", "echoed", "values"), [
    ("Reps!A:A", "Reps!A1:A1000", [["Name"], ["Ann"]]),
    ("Reps!A2:B", "Reps!A2:B1000", [["Ann", "ann@example.com"]]),
    ("Reps!B2", "Reps!B2", [["ann@example.com"]]),
    ("Reps!1:1", "Reps!A1:Z1", [["Name", "Email"]]),
    ("'Reps'!B1:A2", "Reps!A1:B2", REPS),
    ("A1:A2", "'Call Log'!A1:A2", [["When"], ["Mon"]]),  # no tab: the first one
    ("reps", "Reps!A1:Z1000", REPS),
])
def test_a1_ranges(sheet: gspread.Spreadsheet, requested: str, echoed: str, values: list) -> None:
    [value_range] = batch_get(sheet, [requested])

    assert (value_range["range"], value_range["values"]) == (echoed, values)


def test_an_empty_range_has_no_values_key(sheet: gspread.Spreadsheet) -> None:
    [value_range] = batch_get(sheet, ["Reps!C5:D9"])

    assert value_range == {"range": "Reps!C5:D9", "majorDimension": "ROWS"}


@pytest.mark.parametrize("bad", ["Missing", "'Missing'!A1:B2", "Reps!", "Reps!A1:B2:C3", "'Reps"])
def test_a_range_naming_no_tab_is_400(fake: FakeGoogleSheets, sheet: gspread.Spreadsheet, bad: str) -> None:
    with pytest.raises(gspread.exceptions.APIError) as caught:
        batch_get(sheet, [bad])

    assert caught.value.code == 400
    assert caught.value.error == {"code": 400, "message": f"Unable to parse range: {bad}",
                                  "status": "INVALID_ARGUMENT"}
    fake.assert_contract()


def test_reading_from_outside_the_grid_is_400(sheet: gspread.Spreadsheet) -> None:
    with pytest.raises(gspread.exceptions.APIError, match=r"Range \(Reps!A1001:B1002\) exceeds grid limits"):
        batch_get(sheet, ["Reps!A1001:B1002"])


def test_single_values_get_through_a_worksheet(sheet: gspread.Spreadsheet) -> None:
    assert sheet.worksheet("Reps").get_all_values() == REPS
    assert sheet.values_get("'Call Log'!B2")["values"] == [["+15551234567"]]


# ---- writing values --------------------------------------------------------------------------

def test_raw_keeps_formula_like_text_as_text(fake: FakeGoogleSheets, sheet: gspread.Spreadsheet) -> None:
    response = sheet.values_batch_update({"valueInputOption": "RAW", "data": [
        {"range": "Reps!A3", "values": [["=IMPORTXML(\"http://x\", \"//a\")", "+1 555", "0123"]]}]})

    assert fake.tab_values(KEY, "Reps")[2] == ["=IMPORTXML(\"http://x\", \"//a\")", "+1 555", "0123"]
    assert fake.formula_cells(KEY, "Reps") == []
    assert response == {"spreadsheetId": KEY, "totalUpdatedRows": 1, "totalUpdatedColumns": 3,
                        "totalUpdatedCells": 3, "totalUpdatedSheets": 1, "responses": [
                            {"spreadsheetId": KEY, "updatedRange": "Reps!A3:C3", "updatedRows": 1,
                             "updatedColumns": 3, "updatedCells": 3}]}
    fake.assert_contract()


def test_user_entered_parses_formulas_numbers_and_apostrophes(
        fake: FakeGoogleSheets, sheet: gspread.Spreadsheet) -> None:
    typed = ["=IMPORTXML(\"http://x\", \"//a\")", "0123", "'0123", "+15551234567", "TRUE", "50%",
             "1,234.5", "hi"]
    sheet.values_batch_update({"valueInputOption": "USER_ENTERED",
                               "data": [{"range": "Reps!A3", "values": [typed]}]})

    assert fake.tab_values(KEY, "Reps")[2] == [
        "=IMPORTXML(\"http://x\", \"//a\")", 123, "0123", 15551234567, True, 0.5, 1234.5, "hi"]
    assert fake.formula_cells(KEY, "Reps") == ["A3"]
    [formulas] = batch_get(sheet, ["Reps!A3:B3"], valueRenderOption="FORMULA")
    assert formulas["values"] == [["=IMPORTXML(\"http://x\", \"//a\")", 123]]


def test_null_skips_a_cell_and_empty_string_clears_it(
        fake: FakeGoogleSheets, sheet: gspread.Spreadsheet) -> None:
    sheet.values_batch_update({"valueInputOption": "RAW", "data": [
        {"range": "Reps!A1", "values": [[None, ""], ["Bo"]]}]})

    assert fake.tab_values(KEY, "Reps") == [["Name"], ["Bo", "ann@example.com"]]


def test_writing_beyond_the_grid_is_400_and_changes_nothing(
        fake: FakeGoogleSheets, sheet: gspread.Spreadsheet) -> None:
    with pytest.raises(gspread.exceptions.APIError) as caught:
        sheet.values_batch_update({"valueInputOption": "RAW", "data": [
            {"range": "Reps!A1", "values": [["first"]]},
            {"range": "'Reps'!A1001", "values": [["x"]]}]})

    assert caught.value.code == 400
    assert "Range ('Reps'!A1001) exceeds grid limits. Max rows: 1000, max columns: 26" in str(caught.value)
    assert fake.tab_values(KEY, "Reps") == REPS  # the first range was not written either
    assert fake.grid_size(KEY, "Reps") == (1000, 26)
    fake.assert_contract()  # a refused write is not a broken contract


def test_a_write_spilling_out_of_the_grid_is_400(fake: FakeGoogleSheets, sheet: gspread.Spreadsheet) -> None:
    with pytest.raises(gspread.exceptions.APIError, match=r"Range \(Reps!Z999:AA1000\) exceeds grid limits"):
        sheet.values_batch_update({"valueInputOption": "RAW", "data": [
            {"range": "Reps!Z999", "values": [["a", "b"], ["c", "d"]]}]})


def test_a_bounded_range_bounds_the_write(sheet: gspread.Spreadsheet) -> None:
    expected = r"Requested writing within range \[Reps!A1:B2\], but tried writing to row \[3\]"
    with pytest.raises(gspread.exceptions.APIError, match=expected):
        sheet.values_batch_update({"valueInputOption": "RAW", "data": [
            {"range": "Reps!A1:B2", "values": [["a"], ["b"], ["c"]]}]})


def test_worksheet_update_append_and_clear(fake: FakeGoogleSheets, sheet: gspread.Spreadsheet) -> None:
    reps = sheet.worksheet("Reps")
    reps.update([["Cy", "cy@example.com"]], "A3")
    reps.append_row(["Di", "di@example.com"])
    reps.batch_clear(["B2"])

    assert fake.tab_values(KEY, "Reps") == [["Name", "Email"], ["Ann"], ["Cy", "cy@example.com"],
                                            ["Di", "di@example.com"]]
    fake.assert_contract()


# ---- structural batchUpdate ------------------------------------------------------------------

def test_batch_update_adds_sizes_and_fills_a_tab_in_one_go(
        fake: FakeGoogleSheets, sheet: gspread.Spreadsheet) -> None:
    grid = {"rowCount": 5, "columnCount": 2, "frozenRowCount": 1}
    cells = [{"userEnteredValue": {"stringValue": "=not a formula"}},
             {"userEnteredValue": {"numberValue": 3}},
             {"userEnteredValue": {"formulaValue": "=A1"}}]
    response = sheet.batch_update({"requests": [
        {"addSheet": {"properties": {"sheetId": 77, "title": "Settings", "gridProperties": grid}}},
        {"updateSheetProperties": {
            "properties": {"sheetId": 77, "gridProperties": {"rowCount": 50, "columnCount": 3}},
            "fields": "gridProperties.rowCount,gridProperties.columnCount"}},
        {"updateCells": {"start": {"sheetId": 77, "rowIndex": 0, "columnIndex": 0},
                         "fields": "userEnteredValue", "rows": [{"values": cells}]}},
    ]})

    assert response["spreadsheetId"] == KEY
    assert response["replies"] == [
        {"addSheet": {"properties": {"sheetId": 77, "title": "Settings", "index": 2, "sheetType": "GRID",
                                     "gridProperties": grid}}},
        {}, {}]
    assert fake.tab_titles(KEY) == ["Call Log", "Reps", "Settings"]
    assert fake.grid_size(KEY, "Settings") == (50, 3)
    assert fake.tab_values(KEY, "Settings") == [["=not a formula", 3, "=A1"]]
    assert fake.formula_cells(KEY, "Settings") == ["C1"]
    fake.assert_contract()


def test_batch_update_is_all_or_nothing(fake: FakeGoogleSheets, sheet: gspread.Spreadsheet) -> None:
    with pytest.raises(gspread.exceptions.APIError) as caught:
        sheet.batch_update({"requests": [
            {"addSheet": {"properties": {"title": "Settings"}}},
            {"appendDimension": {"sheetId": 0, "dimension": "ROWS", "length": 10}},
            {"deleteSheet": {"sheetId": 12345}},
        ]})

    assert caught.value.code == 400
    assert caught.value.error["message"] == "Invalid requests[2].deleteSheet: No grid with id: 12345"
    assert fake.tab_titles(KEY) == ["Call Log", "Reps"]
    assert fake.grid_size(KEY, "Call Log") == (1000, 26)


def test_add_sheet_with_a_taken_title_is_400(fake: FakeGoogleSheets, sheet: gspread.Spreadsheet) -> None:
    with pytest.raises(gspread.exceptions.APIError, match='A sheet with the name "reps" already exists'):
        sheet.batch_update({"requests": [{"addSheet": {"properties": {"title": "reps"}}}]})


def test_unsupported_request_kinds_are_named(sheet: gspread.Spreadsheet) -> None:
    merge = {"mergeCells": {"range": {"sheetId": 0}, "mergeType": "MERGE_ALL"}}
    with pytest.raises(gspread.exceptions.APIError, match="fake does not implement 'mergeCells' requests"):
        sheet.batch_update({"requests": [merge]})


def test_shrinking_a_grid_truncates_its_data(fake: FakeGoogleSheets, sheet: gspread.Spreadsheet) -> None:
    sheet.worksheet("Call Log").resize(rows=2, cols=2)  # gspread writes the mask as gridProperties/rowCount

    assert fake.grid_size(KEY, "Call Log") == (2, 2)
    assert fake.tab_values(KEY, "Call Log") == [["When", "Phone"], ["Mon", "+15551234567"]]
    fake.assert_contract()


def test_gspread_row_and_tab_operations(fake: FakeGoogleSheets, sheet: gspread.Spreadsheet) -> None:
    reps = sheet.worksheet("Reps")
    reps.insert_rows([["Zed", "zed@example.com"]], 2)
    reps.delete_rows(3)
    reps.update_title("Team")
    added = sheet.add_worksheet("Scratch", rows=3, cols=2)
    sheet.del_worksheet(added)

    assert fake.tab_titles(KEY) == ["Call Log", "Team"]
    assert fake.tab_values(KEY, "Team") == [["Name", "Email"], ["Zed", "zed@example.com"]]
    assert fake.grid_size(KEY, "Team") == (1000, 26)
    fake.assert_contract()


# ---- failures --------------------------------------------------------------------------------

def test_fail_next_429_surfaces_as_an_api_error(fake: FakeGoogleSheets, sheet: gspread.Spreadsheet) -> None:
    fake.fail_next(429, headers={"Retry-After": "7"})

    with pytest.raises(gspread.exceptions.APIError) as caught:
        batch_get(sheet, ["Reps"])

    assert caught.value.code == 429
    assert caught.value.error["status"] == "RESOURCE_EXHAUSTED"
    assert caught.value.response.headers["Retry-After"] == "7"
    assert batch_get(sheet, ["Reps"])[0]["values"] == REPS  # only the next one failed
    assert [r.status for r in fake.api_requests()] == [429, 200]


@pytest.mark.parametrize(("status", "name"), [(500, "INTERNAL"), (503, "UNAVAILABLE"),
                                              (403, "PERMISSION_DENIED"), (404, "NOT_FOUND")])
def test_fail_next_speaks_googles_error_shape(fake: FakeGoogleSheets, sheet: gspread.Spreadsheet,
                                              status: int, name: str) -> None:
    fake.fail_next(status, times=2)

    for _ in range(2):
        with pytest.raises(gspread.exceptions.APIError) as caught:
            sheet.fetch_sheet_metadata()
        assert (caught.value.code, caught.value.error["status"]) == (status, name)
    sheet.fetch_sheet_metadata()


def test_fail_always_until_stopped(fake: FakeGoogleSheets, sheet: gspread.Spreadsheet) -> None:
    fake.fail_always(503)
    for _ in range(3):
        with pytest.raises(gspread.exceptions.APIError):
            sheet.fetch_sheet_metadata()
    fake.stop_failing()

    assert sheet.fetch_sheet_metadata()["spreadsheetId"] == KEY


def test_connection_errors_are_raised_and_recorded(
        fake: FakeGoogleSheets, sheet: gspread.Spreadsheet) -> None:
    fake.connection_error_next()

    with pytest.raises(requests.ConnectionError):
        sheet.fetch_sheet_metadata()
    sheet.fetch_sheet_metadata()
    assert [r.status for r in fake.api_requests()] == [None, 200]


# ---- the contract ----------------------------------------------------------------------------

def test_a_misspelt_body_field_breaks_the_contract(
        fake: FakeGoogleSheets, sheet: gspread.Spreadsheet) -> None:
    with pytest.raises(gspread.exceptions.APIError) as caught:
        sheet.values_batch_update({"valueInputOption": "RAW", "dataa": []})

    assert caught.value.code == 400
    assert caught.value.error["message"].startswith("fake contract violation:")
    [violation] = fake.contract_violations
    assert "'dataa' was unexpected" in violation
    with pytest.raises(AssertionError, match="dataa"):
        fake.assert_contract()


@pytest.mark.parametrize(("params", "expected"), [
    ({"valueRenderOptoin": "FORMATTED_VALUE"}, "query parameter 'valueRenderOptoin' is not declared"),
    ({"valueRenderOption": "FORMATTED"}, "query parameter valueRenderOption='FORMATTED' is not one of"),
])
def test_bad_query_parameters_break_the_contract(fake: FakeGoogleSheets, sheet: gspread.Spreadsheet,
                                                 params: dict, expected: str) -> None:
    with pytest.raises(gspread.exceptions.APIError, match="fake contract violation"):
        sheet.values_batch_get(["Reps"], params=params)

    assert any(expected in violation for violation in fake.contract_violations)


def test_nested_misspellings_and_wrong_types_break_the_contract(
        fake: FakeGoogleSheets, sheet: gspread.Spreadsheet) -> None:
    with pytest.raises(gspread.exceptions.APIError, match="fake contract violation"):
        properties = {"tittle": "X", "gridProperties": {"rowCount": "many"}}
        sheet.batch_update({"requests": [{"addSheet": {"properties": properties}}]})

    assert len(fake.contract_violations) == 2
    assert "$.requests[0].addSheet.properties" in fake.contract_violations[1]
    assert fake.tab_titles(KEY) == ["Call Log", "Reps"]


def test_unknown_paths_and_verbs_break_the_contract(fake: FakeGoogleSheets, client: gspread.Client) -> None:
    session = client.http_client.session
    base = f"https://{SHEETS_HOST}/v4/spreadsheets/{KEY}"

    assert session.post(f"{base}:batchUpdatee", json={}).status_code == 400
    assert session.delete(base).status_code == 400
    assert session.post(f"{base}:getByDataFilter", json={}).status_code == 501  # declared, not modelled
    assert len(fake.contract_violations) == 2


def test_the_contract_comes_from_googles_discovery_document() -> None:
    doc = discovery_document()

    assert doc["name"] == "sheets"
    assert doc["version"] == "v4"
    assert discovery_document() is doc  # read once


# ---- tokens ----------------------------------------------------------------------------------

def service_account_info() -> dict[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return {"type": "service_account", "project_id": "acme-outreach", "private_key_id": "fake-key-1",
            "private_key": pem, "client_email": "outreach@acme-outreach.iam.gserviceaccount.com",
            "client_id": "1234567890", "token_uri": f"https://{TOKEN_HOST}/token"}


def authorized_session(fake: FakeGoogleSheets) -> AuthorizedSession:
    credentials = service_account.Credentials.from_service_account_info(
        service_account_info(), scopes=gspread.auth.DEFAULT_SCOPES)
    session = AuthorizedSession(credentials)
    for each in (session, getattr(session, "_auth_request_session", None)):
        if each is not None:
            each.mount(f"https://{SHEETS_HOST}", fake)
            each.mount(f"https://{TOKEN_HOST}", fake)
    return session


def test_google_auth_service_account_gets_a_token_and_reads() -> None:
    fake = FakeGoogleSheets(require_token=True)
    fake.add_spreadsheet(KEY, "Acme Outreach", {"Reps": [row[:] for row in REPS]})
    client = gspread.Client(auth=None, session=authorized_session(fake))

    values = client.open_by_key(KEY).values_batch_get(["Reps"])["valueRanges"][0]["values"]

    assert values == REPS
    [token_request] = fake.token_requests()
    assert token_request.form is not None
    assert token_request.form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    [(token, claims)] = fake.issued_tokens.items()
    assert claims["iss"] == "outreach@acme-outreach.iam.gserviceaccount.com"
    assert claims["scope"] == " ".join(gspread.auth.DEFAULT_SCOPES)
    assert all(r.headers["Authorization"] == f"Bearer {token}" for r in fake.api_requests())
    fake.assert_contract()


def test_without_a_token_sheets_answer_401() -> None:
    fake = FakeGoogleSheets(require_token=True)
    fake.add_spreadsheet(KEY, "Acme Outreach", {"Reps": REPS})

    with pytest.raises(gspread.exceptions.APIError) as caught:
        gspread.Client(auth=None, session=session_for(fake)).open_by_key(KEY)

    assert (caught.value.code, caught.value.error["status"]) == (401, "UNAUTHENTICATED")


def test_token_failures_reach_google_auth_as_its_own_errors() -> None:
    fake = FakeGoogleSheets(require_token=True)
    fake.add_spreadsheet(KEY, "Acme Outreach", {"Reps": REPS})
    client = gspread.Client(auth=None, session=authorized_session(fake))

    fake.token_connection_error_next()
    with pytest.raises(google.auth.exceptions.TransportError):
        client.open_by_key(KEY)
    fake.refuse_tokens("invalid_grant", "Invalid JWT Signature.")
    with pytest.raises(google.auth.exceptions.RefreshError, match="invalid_grant"):
        client.open_by_key(KEY)
    fake.stop_failing()

    assert client.open_by_key(KEY).title == "Acme Outreach"
    assert [r.status for r in fake.token_requests()] == [None, 400, 200]
    assert [r.status for r in fake.api_requests()] == [200]  # no Sheets call without a token
    fake.assert_contract()


def test_a_malformed_token_request_is_refused() -> None:
    fake = FakeGoogleSheets()
    session = session_for(fake)

    response = session.post(f"https://{TOKEN_HOST}/token", data={"grant_type": "password", "assertion": "x"})

    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"
    assert len(fake.contract_violations) == 1


# ---- helpers and threads ---------------------------------------------------------------------

def test_manager_edits_through_the_helpers(fake: FakeGoogleSheets, sheet: gspread.Spreadsheet) -> None:
    fake.set_rows(KEY, "Reps", [["Name"], ["Ann"], ["Bob"]])
    fake.insert_rows(KEY, "Reps", 2, [["Ada"]])
    fake.delete_rows(KEY, "Reps", 3, 1)
    fake.delete_tab(KEY, "Call Log")

    assert batch_get(sheet, ["Reps"])[0]["values"] == [["Name"], ["Ada"], ["Bob"]]
    assert fake.grid_size(KEY, "Reps") == (1000, 26)
    assert fake.tab_titles(KEY) == ["Reps"]
    assert sheet.fetch_sheet_metadata()["sheets"][0]["properties"]["index"] == 0


def test_grid_size_defaults_and_overrides() -> None:
    fake = FakeGoogleSheets()
    fake.add_spreadsheet("a", "A", {"Wide": [["x"] * 30], "Small": [["x"]]}, grid_rows=None)
    fake.add_spreadsheet("b", "B", {"Tiny": [["x", "y"]]}, grid_rows=3, grid_cols=2)

    assert fake.grid_size("a", "Wide") == (1000, 30)
    assert fake.grid_size("a", "Small") == (1000, 26)
    assert fake.grid_size("b", "Tiny") == (3, 2)
    with pytest.raises(ValueError, match="cannot hold"):
        fake.add_spreadsheet("c", "C", {"T": [["x", "y", "z"]]}, grid_cols=2)


def test_concurrent_clients_are_served_safely(fake: FakeGoogleSheets) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            sheet = gspread.Client(auth=None, session=session_for(fake)).open_by_key(KEY)
            for i in range(10):
                sheet.values_batch_update({"valueInputOption": "RAW", "data": [
                    {"range": f"Reps!{'ABCD'[n]}{i + 3}", "values": [[f"{n}-{i}"]]}]})
                sheet.values_batch_get(["Reps"])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    rows = fake.tab_values(KEY, "Reps")
    assert rows[2:] == [[f"{n}-{i}" for n in range(4)] for i in range(10)]
    assert len(fake.api_requests()) == 4 * 21
    fake.assert_contract()


# ---- Google's per-cell limit -----------------------------------------------------------------

GOOGLE_CELL_ERROR = "Your input contains more than the maximum of 50000 characters in a single cell."


def _values_write(sheet: gspread.Spreadsheet, text: str) -> None:
    sheet.values_batch_update({"valueInputOption": "RAW", "data": [
        {"range": "Reps!A3", "values": [["first", text]]}]})


def _cells_write(sheet: gspread.Spreadsheet, text: str) -> None:
    sheet.batch_update({"requests": [{"updateCells": {
        "start": {"sheetId": sheet.worksheet("Reps").id, "rowIndex": 2, "columnIndex": 0},
        "fields": "userEnteredValue",
        "rows": [{"values": [{"userEnteredValue": {"stringValue": "first"}},
                             {"userEnteredValue": {"stringValue": text}}]}]}}]})


@pytest.mark.parametrize("write", [_values_write, _cells_write], ids=["values", "updateCells"])
def test_a_cell_over_50000_characters_is_refused_whole_like_google(
        fake: FakeGoogleSheets, sheet: gspread.Spreadsheet, write) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(gspread.exceptions.APIError) as caught:
        write(sheet, "x" * 50_001)

    assert caught.value.code == 400
    assert caught.value.error["status"] == "INVALID_ARGUMENT"
    assert caught.value.error["message"].endswith(GOOGLE_CELL_ERROR)
    assert fake.tab_values(KEY, "Reps") == REPS  # not even the short cell beside it
    write(sheet, "x" * 50_000)
    assert len(fake.tab_values(KEY, "Reps")[2][1]) == 50_000
    fake.assert_contract()


def test_the_cell_limit_counts_utf16_units(fake: FakeGoogleSheets, sheet: gspread.Spreadsheet) -> None:
    # An emoji is two UTF-16 units; Sheets, like JavaScript, counts those (the stricter reading).
    with pytest.raises(gspread.exceptions.APIError, match="maximum of 50000 characters"):
        _values_write(sheet, "\N{GRINNING FACE}" * 25_001)
