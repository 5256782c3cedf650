"""The manager's Google Sheet, through gspread, kept behind one small class.

Reading costs two requests however many tabs there are: one metadata GET
(which tabs exist, their size) and one ``values:batchGet`` of every tab as
*formatted* text, so "+44 20..." keeps its plus and "0123" its zero.

Writing is one request. Normally a ``values:batchUpdate`` with
``valueInputOption=RAW``, so a name typed as ``=IMPORTXML(...)`` lands as text,
never as a formula. When an app-owned tab is missing or too small, the values
API cannot help (it neither adds tabs nor grows grids), so the write is one
``spreadsheets.batchUpdate`` instead: add or grow the tabs, then ``updateCells``
with literal string and number values, never ``formulaValue``. Either way the text is
first fitted to what Google holds: control characters cleaned, and a cell over
Google's 50,000 characters cut with a marker (Google refuses the whole request
for one such cell).

Google errors 429 and 5xx, and dropped connections (to the Sheets API or to
Google's sign-in while fetching a token), are retried with bounded exponential
backoff (gspread's own BackOffHTTPClient never gives up on 429). A refused
service-account key is not retried: it stays refused until someone acts.
Every other error becomes one SourceError a manager can act on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import gspread
import requests
from google.auth import exceptions as auth_errors
from gspread.utils import extract_id_from_url
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from outreach.errors import ConfigError, SourceError
from outreach.settings import Settings
from outreach.sheet.sheet_source import Table, fitted_table, matching_title

log = logging.getLogger(__name__)

T = TypeVar("T")
TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}
HEADROOM_ROWS = 200  # grown tabs get spare rows, so most write-backs need no resize
GOOGLE_CELL_LIMIT = 50_000  # characters in one cell; Google answers 400 to a longer one


@dataclass(frozen=True)
class TabInfo:
    sheet_id: int
    rows: int
    columns: int


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, gspread.exceptions.APIError):
        return exc.response.status_code in TRANSIENT_STATUS
    # google-auth wraps a network failure while fetching a token as TransportError.
    return isinstance(exc, (requests.ConnectionError, requests.Timeout, auth_errors.TransportError))


def _describe(exc: BaseException, key: str, account: str) -> str:
    if isinstance(exc, gspread.exceptions.APIError):
        status = exc.response.status_code
        if status == 403:
            who = f" {account}" if account else ""
            return (f"the service account{who} may not open this sheet: share the sheet with it "
                    "(Share → add its e-mail as Editor)")
        if status == 404:
            return f"there is no Google Sheet with key {key}: check OUTREACH_SHEET"
        if status == 401:
            return "Google refused the service-account credentials (401): check the key file"
        if status == 429:
            return "Google's rate limit is exhausted (HTTP 429); the next sync tries again"
        message = exc.error.get("message", "") if isinstance(exc.error, dict) else ""
        return f"Google Sheets answered HTTP {status}: {message}".rstrip(": ")
    if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
        return "Google Sheets cannot be reached (network error); the app uses the last snapshot"
    if isinstance(exc, auth_errors.TransportError):
        return "Google's sign-in service cannot be reached (network error); the app uses the last snapshot"
    if isinstance(exc, auth_errors.RefreshError):
        return _describe_refused_key(exc)
    return f"Google Sheets failed: {type(exc).__name__}"


def _describe_refused_key(exc: auth_errors.RefreshError) -> str:
    # google-auth has already retried the token endpoint's own transient answers.
    reason = exc.args[0] if exc.args and isinstance(exc.args[0], str) else type(exc).__name__
    reason = reason.strip().splitlines()[0] if reason.strip() else type(exc).__name__
    if exc.retryable:
        return f"Google's sign-in service failed ({reason}); the next sync tries again"
    return (f"Google refused the service account's key ({reason}): the key may be deleted or "
            "revoked; create a new key and update GOOGLE_SERVICE_ACCOUNT_FILE or the "
            "[gcp_service_account] table in .streamlit/secrets.toml")


def quote_title(title: str) -> str:
    """A1 notation for a whole tab; quotes double inside the name."""
    return "'" + title.replace("'", "''") + "'"


class GoogleSheetSource:
    def __init__(
        self,
        client: gspread.Client,
        key: str,
        *,
        account_email: str = "",
        attempts: int = 5,
        max_wait: float = 32.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.key = key
        self.account_email = account_email
        self._retrying = Retrying(
            retry=retry_if_exception(_is_transient),
            wait=wait_exponential_jitter(initial=1, max=max_wait),
            stop=stop_after_attempt(attempts),
            sleep=sleep,
            reraise=True,
        )
        self._title: str | None = None
        self._tabs: dict[str, TabInfo] | None = None
        # (rows, columns) of what each tab held when last read: a rewrite blanks exactly that.
        self._extents: dict[str, tuple[int, int]] = {}

    @property
    def label(self) -> str:
        return f"Google Sheet '{self._title}'" if self._title else f"Google Sheet {self.key}"

    def _call(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return self._retrying(func, *args, **kwargs)
        except (gspread.exceptions.APIError, requests.RequestException,
                auth_errors.GoogleAuthError) as exc:
            raise SourceError(_describe(exc, self.key, self.account_email)) from None

    def _fetch_tabs(self) -> dict[str, TabInfo]:
        metadata = self._call(self.client.http_client.fetch_sheet_metadata, self.key)
        self._title = metadata.get("properties", {}).get("title") or self._title
        tabs = {}
        for sheet in metadata.get("sheets", []):
            props = sheet["properties"]
            grid = props.get("gridProperties", {})
            tabs[props["title"]] = TabInfo(props["sheetId"], grid.get("rowCount", 0),
                                           grid.get("columnCount", 0))
        self._tabs = tabs
        return tabs

    def read_tabs(self, titles: Sequence[str]) -> dict[str, Table | None]:
        tabs = self._fetch_tabs()
        found = {title: matching_title(tabs, title) for title in titles}
        ranges = [quote_title(actual) for actual in found.values() if actual]
        values: list[Any] = []
        if ranges:
            response = self._call(
                self.client.http_client.values_batch_get, self.key, ranges,
                params={"valueRenderOption": "FORMATTED_VALUE", "majorDimension": "ROWS"},
            )
            values = [vr.get("values", []) for vr in response.get("valueRanges", [])]
        cells = iter(values)
        tables: dict[str, Table | None] = {}
        for title, actual in found.items():
            if actual is None:
                tables[title] = None
                continue
            rows = [[str(c) for c in row] for row in next(cells)]
            self._extents[title] = (len(rows), max((len(r) for r in rows), default=0))
            tables[title] = rows
        return tables

    def read_tab(self, title: str) -> Table | None:
        """One values.get: the tab's title as the last sync found it (a first read asks for the tabs)."""
        tabs = self._tabs if self._tabs is not None else self._fetch_tabs()
        actual = matching_title(tabs, title)
        if actual is None:
            self._tabs = None  # perhaps added since: the next read looks again
            return None
        try:
            response = self._call(self.client.http_client.values_get, self.key, quote_title(actual),
                                  params={"valueRenderOption": "FORMATTED_VALUE", "majorDimension": "ROWS"})
        except SourceError:
            self._tabs = None  # renamed or deleted meanwhile: the next read asks for the tabs again
            raise
        return [[str(c) for c in row] for row in response.get("values", [])]

    def write_tabs(self, tables: Mapping[str, Table]) -> None:
        if not tables:
            return
        tables = {title: fitted_table(rows, GOOGLE_CELL_LIMIT) for title, rows in tables.items()}
        tabs = self._tabs if self._tabs is not None else self._fetch_tabs()
        spelt = {title: matching_title(tabs, title) or title for title in tables}
        covered = {title: _covered(rows, self._extents.get(title, (0, 0)))
                   for title, rows in tables.items()}
        structural = _structural_requests(tabs, {spelt[t]: size for t, size in covered.items()})
        if structural:
            # The values API cannot add or grow a tab, so this write goes with the tab
            # changes in one batchUpdate: one request either way.
            grown = _tabs_after(tabs, structural)
            cells = [_update_cells(grown[spelt[title]].sheet_id, rows, covered[title])
                     for title, rows in tables.items()]
            self._call(self.client.http_client.batch_update, self.key,
                       {"requests": structural + cells})
            self._tabs = grown
        else:
            data = [{"range": f"{quote_title(spelt[title])}!A1", "majorDimension": "ROWS",
                     "values": _padded(rows, covered[title])}
                    for title, rows in tables.items()]
            self._call(self.client.http_client.values_batch_update, self.key,
                       body={"valueInputOption": "RAW", "data": data})
        for title, rows in tables.items():
            self._extents[title] = (len(rows), max((len(r) for r in rows), default=0))


def _covered(rows: Table, previous: tuple[int, int]) -> tuple[int, int]:
    """Rows and columns a rewrite must cover: ours, and whatever the tab held before."""
    old_rows, old_columns = previous
    return max(len(rows), old_rows), max(max((len(r) for r in rows), default=1), old_columns)


def _structural_requests(tabs: dict[str, TabInfo], sizes: Mapping[str, tuple[int, int]]) -> list[dict]:
    """Add the tabs that are missing and grow those too small for ``sizes`` (by tab title)."""
    requests_: list[dict[str, Any]] = []
    next_id = max((t.sheet_id for t in tabs.values()), default=0) + 1
    for title, (height, width) in sizes.items():
        info = tabs.get(title)
        if info is None:
            requests_.append({"addSheet": {"properties": {
                "sheetId": next_id, "title": title,
                "gridProperties": {"rowCount": height + HEADROOM_ROWS, "columnCount": width,
                                   "frozenRowCount": 1},
            }}})
            next_id += 1
        elif info.rows < height or info.columns < width:
            requests_.append({"updateSheetProperties": {
                "properties": {"sheetId": info.sheet_id, "gridProperties": {
                    "rowCount": max(info.rows, height + HEADROOM_ROWS),
                    "columnCount": max(info.columns, width)}},
                "fields": "gridProperties.rowCount,gridProperties.columnCount",
            }})
    return requests_


def _tabs_after(tabs: dict[str, TabInfo], structural: list[dict]) -> dict[str, TabInfo]:
    # Our own requests say what the grid is now: no need to ask Google again.
    updated = dict(tabs)
    by_id = {info.sheet_id: title for title, info in tabs.items()}
    for request in structural:
        if "addSheet" in request:
            props = request["addSheet"]["properties"]
            grid = props["gridProperties"]
            updated[props["title"]] = TabInfo(props["sheetId"], grid["rowCount"], grid["columnCount"])
        else:
            props = request["updateSheetProperties"]["properties"]
            grid = props["gridProperties"]
            updated[by_id[props["sheetId"]]] = TabInfo(props["sheetId"], grid["rowCount"],
                                                       grid["columnCount"])
    return updated


def _update_cells(sheet_id: int, rows: Table, covered: tuple[int, int]) -> dict[str, Any]:
    """Our rows from A1; the rest of the covered range is cleared (Google does that for us)."""
    height, width = covered
    return {"updateCells": {
        "range": {"sheetId": sheet_id, "startRowIndex": 0, "endRowIndex": height,
                  "startColumnIndex": 0, "endColumnIndex": width},
        "rows": [{"values": [_literal(value) for value in row]} for row in rows],
        "fields": "userEnteredValue",
    }}


def _literal(value: Any) -> dict[str, Any]:
    """A cell's value as itself: never formulaValue, so "=IMPORTXML(...)" stays text, like RAW."""
    if value is None or value == "":
        return {}
    if isinstance(value, bool):
        return {"userEnteredValue": {"boolValue": value}}
    if isinstance(value, (int, float)):
        return {"userEnteredValue": {"numberValue": value}}
    return {"userEnteredValue": {"stringValue": str(value)}}


def _padded(rows: Table, covered: tuple[int, int]) -> list[list[Any]]:
    """Our rows, then blank cells over whatever the tab held below and beside them."""
    height, width = covered
    padded = [list(r) + [""] * (width - len(r)) for r in rows]
    padded.extend([[""] * width for _ in range(height - len(rows))])
    return padded


def open_google_source(settings: Settings, http_client: type[gspread.HTTPClient] = gspread.HTTPClient,
                       **options: Any) -> GoogleSheetSource:
    """Authenticate with the service account (gspread's own helpers) and open the sheet."""
    key = extract_id_from_url(settings.sheet) if settings.sheet.startswith("http") else settings.sheet
    info = settings.secret_tables.get("gcp_service_account")
    try:
        if settings.google_service_account_file:
            client = gspread.service_account(filename=settings.google_service_account_file,
                                             http_client=http_client)
        elif info:
            client = gspread.service_account_from_dict(dict(info), http_client=http_client)
        else:
            raise ConfigError("OUTREACH_SHEET is set but no service account is configured: set "
                              "GOOGLE_SERVICE_ACCOUNT_FILE or a [gcp_service_account] table in "
                              ".streamlit/secrets.toml")
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"cannot load the Google service account: {type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    client.set_timeout((10, 60))
    account = getattr(client.http_client.auth, "service_account_email", "") if hasattr(
        client.http_client, "auth") else ""
    return GoogleSheetSource(client, key, account_email=account, **options)
