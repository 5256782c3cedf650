"""An in-process fake of the Google Sheets v4 REST API and of Google's OAuth token endpoint.

It is a ``requests`` transport adapter: mounted on a Session, it answers *real* gspread (and
google-auth) at the wire, so tests exercise the real client library and nothing is mocked::

    fake = FakeGoogleSheets()
    fake.add_spreadsheet("KEY", "Acme", {"Reps": [["Name", "Email"], ["Ann", "ann@example.com"]]})
    client = gspread.Client(auth=None, session=session_for(fake))
    client.open_by_key("KEY").values_batch_get(["Reps"])
    fake.assert_contract()

Every request to sheets.googleapis.com is checked against Google's own discovery document
(``sheets.v4.json``, shipped in google-api-python-client): the HTTP method and path, the query
parameters (declared, enum values, booleans, repetition, required ones) and the JSON body against
the method's request schema, with objects closed so that a misspelt field is caught. A request
that breaks it is answered 400 INVALID_ARGUMENT ("fake contract violation: ...") *and* recorded in
``contract_violations``, so a test that only looks at the happy path still fails in
``assert_contract()``.

Modelled: ``spreadsheets.get``; ``values.get``, ``batchGet``, ``update``, ``append``, ``clear``,
``batchClear`` and ``batchUpdate``; ``spreadsheets.batchUpdate`` with addSheet, deleteSheet,
updateSheetProperties, updateSpreadsheetProperties, appendDimension, insertDimension,
deleteDimension and updateCells (all or nothing); the service-account JWT grant of
https://oauth2.googleapis.com/token. Other discovery methods answer 501, other batchUpdate request
kinds 400. What each Sheets request gets, in this order: a contract check (400); the token check
when ``require_token`` (401); an injected failure (``fail_next``/``fail_always``); the answer.
``connection_error_next`` raises before any of that, but the request is still recorded.

Known deviations from the real API:
- formulas are stored, never evaluated: every value render option returns the formula text;
- no number formats: FORMATTED_VALUE renders numbers "General" style (42, 2.5, 1E+21), and
  USER_ENTERED recognises formulas, a leading apostrophe, TRUE/FALSE, numbers (thousands commas,
  exponents), percentages and $ amounts, but not dates or times (they stay text);
- ``dateTimeRenderOption`` and the ``fields`` partial-response parameter are accepted and ignored;
- named ranges, formatting, notes, merges, protection and data validation are not modelled
  (updateCells with a field mask that leaves out ``userEnteredValue`` changes nothing);
- ``values.append`` takes the table to be the rows holding values (in the range's columns) from the
  range's top row down to the first empty one, and writes below it: at the top row when it is empty
  (what gspread's ``insert_rows`` relies on);
- ranges that start outside the grid are refused and ranges that end outside it are clamped, for
  reads and clears as for writes. A values write that starts inside the grid but spills out of it
  is refused naming the spilled range: Google refuses it, the exact wording is unverified;
- tab titles in ranges match case-insensitively only when no tab has the exact title;
- ``fail_next``/``fail_always``/``connection_error_next`` hit sheets.googleapis.com only; the token
  endpoint has its own (``token_connection_error_next``, ``refuse_tokens``);
- the token endpoint checks the grant type and the JWT's shape, never its signature;
- a written cell over 50,000 characters is refused (400, Google's own sentence, the whole request
  unwritten); the length is counted in UTF-16 units, the stricter of the two readings, and the
  "Invalid data[n]: " / "Invalid requests[n].updateCells: " prefixes are the fake's, unverified.

Leniencies kept on purpose, because the real API accepts what gspread sends: boolean query
parameters in any case (gspread sends ``includeValuesInResponse=False``), field masks written with
"/" or "a(b,c)" (``Worksheet.resize`` and ``format``), null body fields (proto3 reads them as
absent), integers and floats sent as strings. Like Google (proto3 JSON), responses leave out zero
counts, e.g. ``updatedCells`` of an empty write. Path variables are one URL segment each, as in the
discovery document: gspread's ``quote()`` leaves "/" in a range, so a tab named "A/B" will not match.
"""

from __future__ import annotations

import base64
import copy
import functools
import importlib.resources
import io
import itertools
import json
import random
import re
import secrets
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import requests
from jsonschema import Draft7Validator
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

SHEETS_HOST = "sheets.googleapis.com"
TOKEN_HOST = "oauth2.googleapis.com"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CELL_LIMIT = 10_000_000
CELL_TEXT_LIMIT = 50_000  # characters in one cell, counted in UTF-16 units (see the module docstring)
DEFAULT_ROWS, DEFAULT_COLUMNS = 1000, 26

Cell = str | int | float | bool | None


@dataclass
class RecordedRequest:
    method: str
    url: str
    path: str
    query: dict[str, list[str]]
    json: object | None
    headers: CaseInsensitiveDict[str]  # google-auth sends "authorization" in lower case
    host: str = ""
    form: dict[str, list[str]] | None = None  # a form-encoded body (the token endpoint)
    body: bytes = b""
    status: int | None = None  # what the fake answered; None when it raised a ConnectionError


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 500: "INTERNAL",
    501: "NOT_IMPLEMENTED", 502: "UNAVAILABLE", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
}
_STATUS_MESSAGES = {
    401: "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
         "cookie or other valid authentication credential. See "
         "https://developers.google.com/identity/sign-in/web/devconsole-project.",
    403: "The caller does not have permission",
    404: "Requested entity was not found.",
    409: "The operation was aborted.",
    429: "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute per "
         "user' of service 'sheets.googleapis.com' for consumer 'project_number:000000000000'.",
    500: "Internal error encountered.",
    502: "Bad gateway.",
    503: "The service is currently unavailable.",
    504: "The request timed out.",
}


class ApiError(Exception):
    """An error the fake answers with Google's JSON error shape."""

    def __init__(self, status: int, message: str | None = None, headers: dict[str, str] | None = None):
        self.status = status
        self.message = message if message is not None else _STATUS_MESSAGES.get(status, "Error.")
        self.headers = dict(headers or {})
        super().__init__(f"{status}: {self.message}")

    def prefixed(self, prefix: str) -> ApiError:
        return ApiError(self.status, prefix + self.message, self.headers)

    def payload(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.status, "message": self.message,
                                 "status": _STATUS_NAMES.get(self.status, "UNKNOWN")}
        if self.status == 429:
            error["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                 "reason": "RATE_LIMIT_EXCEEDED", "domain": "googleapis.com",
                                 "metadata": {"service": SHEETS_HOST,
                                              "quota_metric": "sheets.googleapis.com/read_requests"}}]
        return {"error": error}


class _Invalid(ValueError):
    """A bad spreadsheets.batchUpdate request; worded 'Invalid requests[n].kind: ...' by the caller."""


def _unparsable(text: str) -> ApiError:
    return ApiError(400, f"Unable to parse range: {text}")


def _cell_too_long() -> ApiError:
    # Google's wording, as its 400 answers quote it.
    return ApiError(400, f"Your input contains more than the maximum of {CELL_TEXT_LIMIT} characters "
                         "in a single cell.")


def _checked_length(value: Cell) -> Cell:
    if isinstance(value, str) and len(value.encode("utf-16-le")) // 2 > CELL_TEXT_LIMIT:
        raise _cell_too_long()
    return value


def _grid_error(range_text: str, tab: _Tab) -> ApiError:
    return ApiError(400, f"Range ({range_text}) exceeds grid limits. Max rows: {tab.row_count}, "
                         f"max columns: {tab.column_count}")


# --------------------------------------------------------------------------------------------
# The contract: Google's discovery document, converted once to JSON Schema
# --------------------------------------------------------------------------------------------

@functools.cache
def discovery_document() -> dict[str, Any]:
    """Google's Sheets v4 discovery document, as shipped in google-api-python-client."""
    path = (importlib.resources.files("googleapiclient") / "discovery_cache" / "documents"
            / "sheets.v4.json")
    return json.loads(path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class _Method:
    id: str
    http_method: str
    pattern: re.Pattern[str]
    literal_chars: int  # how specific the path template is: longer literals are tried first
    parameters: dict[str, Any]
    request: str | None  # the request body's schema name


@dataclass(frozen=True)
class _Contract:
    base_path: str  # the path of rootUrl + servicePath, e.g. "/"
    methods: tuple[_Method, ...]
    global_parameters: dict[str, Any]
    definitions: dict[str, Any]  # JSON Schema, one per discovery schema


_INTEGER_TEXT = r"^-?[0-9]+$"
_NUMBER_TEXT = r"^(-?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?|NaN|-?Infinity)$"


def _json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """One discovery schema as JSON Schema; objects with properties are closed.

    proto3 JSON takes integers (int32 and int64) and floats as numbers or as strings, so both are
    allowed; "any" allows anything.
    """
    if "$ref" in schema:
        return {"$ref": f"#/definitions/{schema['$ref']}"}
    out: dict[str, Any] = {}
    kind, fmt = schema.get("type"), schema.get("format")
    if kind == "integer" or (kind == "string" and fmt in ("int64", "uint64")):
        out.update(type=["integer", "string"], pattern=_INTEGER_TEXT)
    elif kind == "number":
        out.update(type=["number", "string"], pattern=_NUMBER_TEXT)
    elif kind not in (None, "any"):
        out["type"] = kind
    if "enum" in schema:
        out["enum"] = list(schema["enum"])
    if "items" in schema:
        out["items"] = _json_schema(schema["items"])
    if "properties" in schema:
        out["properties"] = {name: _json_schema(sub) for name, sub in schema["properties"].items()}
        out["additionalProperties"] = False
    if isinstance(schema.get("additionalProperties"), dict):
        out["additionalProperties"] = _json_schema(schema["additionalProperties"])
    return out


def _path_pattern(flat_path: str) -> tuple[re.Pattern[str], int]:
    regex, literal = "", 0
    for piece in re.split(r"(\{[^}]+\})", flat_path):
        if piece.startswith("{"):
            regex += f"(?P<{piece[1:-1]}>[^/]+?)"
        else:
            regex += re.escape(piece)
            literal += len(piece)
    return re.compile(regex), literal


def _discovery_methods(resources: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for resource in resources.values():
        yield from resource.get("methods", {}).values()
        yield from _discovery_methods(resource.get("resources", {}))


@functools.cache
def _contract() -> _Contract:
    doc = discovery_document()
    methods = []
    for method in _discovery_methods(doc["resources"]):
        pattern, literal = _path_pattern(method["flatPath"])
        methods.append(_Method(method["id"], method["httpMethod"], pattern, literal,
                               method.get("parameters", {}), (method.get("request") or {}).get("$ref")))
    methods.sort(key=lambda m: -m.literal_chars)
    base = urlsplit(doc["rootUrl"] + doc["servicePath"]).path or "/"
    definitions = {name: _json_schema(schema) for name, schema in doc["schemas"].items()}
    return _Contract(base, tuple(methods), doc["parameters"], definitions)


@functools.cache
def _validator(schema_name: str) -> Draft7Validator:
    schema = {"allOf": [{"$ref": f"#/definitions/{schema_name}"}], "definitions": _contract().definitions}
    return Draft7Validator(schema)


def _schema_has_path(schema_name: str, dotted: str) -> bool:
    """Whether a field mask path like ``gridProperties.rowCount`` names a field of the schema."""
    schemas = discovery_document()["schemas"]
    schema: dict[str, Any] = schemas[schema_name]
    for part in dotted.split("."):
        schema = schema.get("items", schema)
        if "$ref" in schema:
            schema = schemas[schema["$ref"]]
        if part not in schema.get("properties", {}):
            return False
        schema = schema["properties"][part]
    return True


def _match_method(http_method: str, relative_path: str) -> tuple[_Method, dict[str, str]] | str:
    """The discovery method a request calls and its (unquoted) path variables, or a complaint."""
    other_verbs = []
    for method in _contract().methods:
        found = method.pattern.fullmatch(relative_path)
        if not found:
            continue
        if method.http_method == http_method:
            return method, {name: unquote(value) for name, value in found.groupdict().items()}
        other_verbs.append(f"{method.http_method} ({method.id})")
    if other_verbs:
        return f"{http_method} is not allowed on {relative_path}; the discovery document has " + \
            ", ".join(other_verbs)
    return f"no method of the discovery document matches {http_method} {relative_path}"


def _parameter_value_problems(name: str, spec: dict[str, Any], value: str) -> list[str]:
    if "enum" in spec and value not in spec["enum"]:
        return [f"query parameter {name}={value!r} is not one of {spec['enum']}"]
    # Google reads booleans case-insensitively; requests sends a Python True as "True".
    if spec.get("type") == "boolean" and value.lower() not in ("true", "false"):
        return [f"query parameter {name}={value!r} is not a boolean (true or false)"]
    if spec.get("type") == "integer" and not re.fullmatch(_INTEGER_TEXT, value):
        return [f"query parameter {name}={value!r} is not an integer"]
    return []


def _query_problems(method: _Method, query: dict[str, list[str]]) -> list[str]:
    declared = {name: spec for name, spec in method.parameters.items() if spec.get("location") == "query"}
    problems = []
    for name, values in query.items():
        spec = declared.get(name) or _contract().global_parameters.get(name)
        if spec is None:
            problems.append(f"query parameter {name!r} is not declared for {method.id}")
            continue
        if len(values) > 1 and not spec.get("repeated"):
            problems.append(f"query parameter {name!r} is not repeated, but was sent {len(values)} times")
        for value in values:
            problems.extend(_parameter_value_problems(name, spec, value))
    problems.extend(f"required query parameter {name!r} is missing" for name, spec in declared.items()
                    if spec.get("required") and name not in query)
    return problems


def _without_nulls(value: Any) -> Any:
    """proto3 JSON reads a null field as an absent one: drop them before validating."""
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def _where(error: Any) -> str:
    return "$" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path)


def _body_problems(method: _Method, recorded: RecordedRequest) -> list[str]:
    if not recorded.body:
        return []
    if method.request is None:
        return [f"{method.id} takes no request body, but one was sent"]
    content_type = recorded.headers.get("Content-Type", "")
    if not content_type.startswith("application/json"):
        return [f"the body of {method.id} must be application/json, not {content_type or 'untyped'}"]
    try:
        body = json.loads(recorded.body)
    except ValueError as exc:
        return [f"the body is not valid JSON: {exc}"]
    errors = sorted(_validator(method.request).iter_errors(_without_nulls(body)),
                    key=lambda e: [str(p) for p in e.absolute_path])
    return [f"body {_where(e)} ({method.request}): {_shorten(e.message)}" for e in errors[:5]]


def _shorten(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_request(recorded: RecordedRequest) -> tuple[_Method | None, dict[str, str], list[str]]:
    """Check one Sheets request against the discovery document: (method, path variables, problems)."""
    base = _contract().base_path
    relative = recorded.path[len(base):] if recorded.path.startswith(base) else recorded.path
    matched = _match_method(recorded.method, relative)
    if isinstance(matched, str):
        return None, {}, [matched]
    method, variables = matched
    return method, variables, _query_problems(method, recorded.query) + _body_problems(method, recorded)


# --------------------------------------------------------------------------------------------
# A1 notation
# --------------------------------------------------------------------------------------------

def column_letters(number: int) -> str:
    """1 -> A, 26 -> Z, 27 -> AA."""
    letters = ""
    while number > 0:
        number, remainder = divmod(number - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _column_number(letters: str) -> int:
    number = 0
    for char in letters.upper():
        number = number * 26 + ord(char) - 64
    return number


def a1(row: int, column: int) -> str:
    """The A1 address of a 0-based cell."""
    return f"{column_letters(column + 1)}{row + 1}"


_SIMPLE_TITLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CELL_LIKE_TITLE = re.compile(r"[A-Za-z]{1,3}[0-9]+|[Rr][0-9]*[Cc][0-9]*|true|false", re.IGNORECASE)
_ENDPOINT = re.compile(r"([A-Za-z]{1,3})?([1-9][0-9]*)?")


def quote_title(title: str) -> str:
    """A tab title as Google writes it in ranges: bare when simple, else in single quotes."""
    if _SIMPLE_TITLE.fullmatch(title) and not _CELL_LIKE_TITLE.fullmatch(title):
        return title
    return "'" + title.replace("'", "''") + "'"


@dataclass(frozen=True)
class _Box:
    """The cells of a range: 0-based, end-exclusive; a None end runs to the edge of the grid."""

    row0: int = 0
    col0: int = 0
    row1: int | None = None
    col1: int | None = None
    single_cell: bool = False


def _split_quoted(text: str) -> tuple[str, str | None]:
    title, i = [], 1
    while i < len(text):
        if text[i] == "'":
            if text[i + 1: i + 2] != "'":
                break
            i += 1
        title.append(text[i])
        i += 1
    else:
        raise ValueError("unterminated quote")
    rest = text[i + 1:]
    if not rest:
        return "".join(title), None
    if not rest.startswith("!"):
        raise ValueError("text after the quoted title")
    return "".join(title), rest[1:]


def _split_range(text: str) -> tuple[str | None, str | None]:
    """(title, cells) of a range; (None, text) when it may be either a title or cells."""
    if text.startswith("'"):
        return _split_quoted(text)
    if "!" in text:
        title, _, cells = text.partition("!")
        return title, cells
    return None, text


def _parse_cells(cells: str) -> _Box | None:
    parts = cells.split(":")
    endpoints = [_ENDPOINT.fullmatch(part) for part in parts]
    if len(parts) > 2 or not all(m and (m.group(1) or m.group(2)) for m in endpoints):
        return None
    if len(parts) == 1:
        letters, row = endpoints[0].groups()  # type: ignore[union-attr]
        if not (letters and row):
            return None
        column = _column_number(letters)
        return _Box(int(row) - 1, column - 1, int(row), column, single_cell=True)
    (col_a, row_a), (col_b, row_b) = (m.groups() for m in endpoints)  # type: ignore[union-attr]
    row0, row1 = (int(row_a) - 1 if row_a else 0), (int(row_b) if row_b else None)
    col0, col1 = (_column_number(col_a) - 1 if col_a else 0), (_column_number(col_b) if col_b else None)
    if row1 is not None and row1 <= row0:  # reversed corners, e.g. C3:A1
        row0, row1 = row1 - 1, row0 + 1
    if col1 is not None and col1 <= col0:
        col0, col1 = col1 - 1, col0 + 1
    return _Box(row0, col0, row1, col1)


# --------------------------------------------------------------------------------------------
# Cell values
# --------------------------------------------------------------------------------------------

_NUMBER = re.compile(r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)?(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


def _stored(value: object) -> Cell:
    if value == "" or value is None:
        return None
    if isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"a cell holds str, int, float, bool or None, not {type(value).__name__}")


def _parse_number(text: str) -> int | float | None:
    percent = text.endswith("%")
    text = text[:-1] if percent else text
    sign = -1 if text.startswith("-") else 1
    text = text[1:] if text[:1] in "+-" else text
    text = text[1:] if text.startswith("$") else text
    if not any(char.isdigit() for char in text) or not _NUMBER.fullmatch(text):
        return None
    plain = text.replace(",", "")
    number: int | float = float(plain) if percent or any(c in plain for c in ".eE") else int(plain)
    return sign * number / 100 if percent else sign * number


def _user_entered(value: Cell) -> tuple[Cell, bool]:
    """What Sheets stores for a USER_ENTERED value, and whether it is a formula."""
    if not isinstance(value, str) or value == "":
        return _stored(value), False
    if value.startswith("'"):
        return _stored(value[1:]), False
    if value.startswith("=") and len(value) > 1:
        return value, True
    text = value.strip()
    if text.upper() in ("TRUE", "FALSE"):
        return text.upper() == "TRUE", False
    number = _parse_number(text)
    return (value if number is None else number), False


def _general(number: float) -> str:
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    text = format(number, ".15g")
    if "e" in text:
        mantissa, exponent = text.split("e")
        return f"{mantissa}E{int(exponent):+03d}"
    return text


def _render(value: Cell, option: str) -> Cell:
    """A stored value under a valueRenderOption (formulas come back as their text, unevaluated)."""
    if value is None:
        return None
    if option == "FORMATTED_VALUE":
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        return _general(float(value)) if isinstance(value, int | float) else value
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _ragged(rows: list[list[Cell]]) -> list[list[Cell]]:
    """Google's shape: trailing empty cells and rows left out, inner gaps as ""."""
    out = []
    for row in rows:
        while row and row[-1] is None:
            row = row[:-1]
        out.append(["" if cell is None else cell for cell in row])
    while out and not out[-1]:
        out.pop()
    return out


def _extended_value(value: Cell, formula: bool) -> dict[str, Any]:
    if formula:
        return {"formulaValue": value}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int | float):
        return {"numberValue": value}
    return {"stringValue": value}


def _from_extended_value(value: dict[str, Any] | None) -> tuple[Cell, bool]:
    if not value:
        return None, False
    if "formulaValue" in value:
        return _checked_length(value["formulaValue"]), True
    if "errorValue" in value:
        raise _Invalid("the fake cannot store an errorValue")
    for key in ("stringValue", "boolValue"):
        if key in value:
            return _checked_length(_stored(value[key])), False
    number = value.get("numberValue")
    return (float(number) if isinstance(number, str) else number), False


# --------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------

class _Tab:
    def __init__(self, properties: dict[str, Any]) -> None:
        self.props = properties  # SheetProperties, as the API returns them
        self.cells: list[list[Cell]] = []  # ragged: what is not stored is empty
        self.formulas: set[tuple[int, int]] = set()

    @property
    def title(self) -> str:
        return self.props["title"]

    @property
    def sheet_id(self) -> int:
        return self.props["sheetId"]

    @property
    def row_count(self) -> int:
        return self.props["gridProperties"]["rowCount"]

    @property
    def column_count(self) -> int:
        return self.props["gridProperties"]["columnCount"]

    def put(self, row: int, column: int, value: Cell, formula: bool = False) -> None:
        value = _stored(value)
        self.formulas.discard((row, column))
        if value is None:
            if row < len(self.cells) and column < len(self.cells[row]):
                self.cells[row][column] = None
            return
        while len(self.cells) <= row:
            self.cells.append([])
        line = self.cells[row]
        line.extend([None] * (column + 1 - len(line)))
        line[column] = value
        if formula:
            self.formulas.add((row, column))

    def clone(self) -> _Tab:
        twin = _Tab(copy.deepcopy(self.props))
        twin.cells = [row[:] for row in self.cells]  # values are immutable: copying rows is enough
        twin.formulas = set(self.formulas)
        return twin

    def block(self, row0: int, col0: int, row1: int, col1: int) -> list[list[Cell]]:
        """Stored values of a box, rows cut short where nothing more is stored."""
        return [self.cells[r][col0:col1] for r in range(row0, min(row1, len(self.cells)))]

    def replace(self, rows: Sequence[Sequence[object]]) -> None:
        self.cells = [[_stored(value) for value in row] for row in rows]
        self.formulas = set()

    def resize(self, rows: int, columns: int) -> None:
        """Set the grid size; what falls outside a shrunk grid is lost."""
        self.props["gridProperties"].update(rowCount=rows, columnCount=columns)
        self.cells = [row[:columns] for row in self.cells[:rows]]
        self.formulas = {(r, c) for r, c in self.formulas if r < rows and c < columns}

    def insert(self, dimension: str, start: int, count: int) -> None:
        if dimension == "ROWS":
            self.cells[start:start] = [[] for _ in range(count)] if start < len(self.cells) else []
            self.formulas = {(r + count if r >= start else r, c) for r, c in self.formulas}
            self.props["gridProperties"]["rowCount"] += count
        else:
            for row in self.cells:
                if start < len(row):
                    row[start:start] = [None] * count
            self.formulas = {(r, c + count if c >= start else c) for r, c in self.formulas}
            self.props["gridProperties"]["columnCount"] += count

    def delete(self, dimension: str, start: int, end: int) -> None:
        count = end - start
        if dimension == "ROWS":
            del self.cells[start:end]
            self.formulas = {(r - count if r >= end else r, c) for r, c in self.formulas
                             if not start <= r < end}
            self.props["gridProperties"]["rowCount"] -= count
        else:
            for row in self.cells:
                del row[start:end]
            self.formulas = {(r, c - count if c >= end else c) for r, c in self.formulas
                             if not start <= c < end}
            self.props["gridProperties"]["columnCount"] -= count


class _Spreadsheet:
    def __init__(self, key: str, title: str, locale: str, time_zone: str) -> None:
        self.key = key
        self.properties: dict[str, Any] = {"title": title, "locale": locale, "autoRecalc": "ON_CHANGE",
                                           "timeZone": time_zone}
        self.tabs: list[_Tab] = []
        self._ids = random.Random(key)

    def clone(self) -> _Spreadsheet:
        twin = copy.copy(self)
        twin.properties = copy.deepcopy(self.properties)
        twin.tabs = [tab.clone() for tab in self.tabs]
        return twin

    def find_tab(self, title: str) -> _Tab | None:
        exact = [tab for tab in self.tabs if tab.title == title]
        loose = [tab for tab in self.tabs if tab.title.casefold() == title.casefold()]
        return (exact or loose or [None])[0]

    def tab(self, title: str) -> _Tab:
        found = self.find_tab(title)
        if found is None:
            raise KeyError(f"spreadsheet {self.key} has no tab {title!r}; it has {self.titles()}")
        return found

    def tab_by_id(self, sheet_id: Any) -> _Tab:
        for tab in self.tabs:
            if tab.sheet_id == int(sheet_id):
                return tab
        raise _Invalid(f"No grid with id: {sheet_id}")

    def titles(self) -> list[str]:
        return [tab.title for tab in self.tabs]

    def new_sheet_id(self) -> int:
        taken = {tab.sheet_id for tab in self.tabs}
        if 0 not in taken:
            return 0
        while (candidate := self._ids.randrange(1, 2**31)) in taken:
            pass
        return candidate

    def add_tab(self, props: dict[str, Any], index: int | None = None) -> _Tab:
        tab = _Tab(props)
        self.tabs.insert(len(self.tabs) if index is None else index, tab)
        self.reindex()
        return tab

    def reindex(self) -> None:
        for index, tab in enumerate(self.tabs):
            tab.props["index"] = index

    def cell_total(self) -> int:
        return sum(tab.row_count * tab.column_count for tab in self.tabs)

    def resolve(self, text: str) -> tuple[_Tab, _Box]:
        """The tab and cells an A1 range names; 400 'Unable to parse range' otherwise."""
        try:
            title, cells = _split_range(text.strip())
        except ValueError:
            raise _unparsable(text) from None
        if title is None:
            whole = self.find_tab(cells or "")
            if whole is not None:
                return whole, _Box()
            box = _parse_cells(cells or "")
            if box is None or not self.tabs:
                raise _unparsable(text)
            return self.tabs[0], box
        tab = self.find_tab(title)
        box = _Box() if cells is None else _parse_cells(cells)
        if tab is None or box is None:
            raise _unparsable(text)
        return tab, box

    def resource(self, include_grid_data: bool = False, ranges: Sequence[str] = ()) -> dict[str, Any]:
        """The Spreadsheet resource, as spreadsheets.get returns it."""
        wanted: dict[int, list[_Box]] = {}
        for text in ranges:
            tab, box = self.resolve(text)
            wanted.setdefault(tab.sheet_id, []).append(box)
        sheets = []
        for tab in self.tabs:
            if ranges and tab.sheet_id not in wanted:
                continue
            sheet: dict[str, Any] = {"properties": copy.deepcopy(tab.props)}
            if include_grid_data:
                sheet["data"] = [_grid_data(tab, box) for box in wanted.get(tab.sheet_id, [_Box()])]
            sheets.append(sheet)
        return {"spreadsheetId": self.key, "properties": copy.deepcopy(self.properties), "sheets": sheets,
                "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{self.key}/edit"}


def _bounds(text: str, tab: _Tab, box: _Box) -> tuple[int, int, int, int]:
    """A box clamped to the grid; a box that starts outside the grid is refused."""
    if box.row0 >= tab.row_count or box.col0 >= tab.column_count:
        raise _grid_error(text, tab)
    row1 = tab.row_count if box.row1 is None else min(box.row1, tab.row_count)
    col1 = tab.column_count if box.col1 is None else min(box.col1, tab.column_count)
    return box.row0, box.col0, row1, col1


def _range_text(tab: _Tab, row0: int, col0: int, row1: int, col1: int) -> str:
    start, end = a1(row0, col0), a1(row1 - 1, col1 - 1)
    return f"{quote_title(tab.title)}!{start}" + ("" if start == end else f":{end}")


def _grid_data(tab: _Tab, box: _Box) -> dict[str, Any]:
    row0, col0, row1, col1 = _bounds(tab.title, tab, box)
    row_data = []
    for r, line in enumerate(tab.block(row0, col0, row1, col1), start=row0):
        values = []
        for c, value in enumerate(line, start=col0):
            formula = (r, c) in tab.formulas
            values.append({} if value is None else {
                "userEnteredValue": _extended_value(value, formula),
                "effectiveValue": _extended_value(value, False),
                "formattedValue": _render(value, "FORMATTED_VALUE")})
        row_data.append({"values": values} if values else {})
    data: dict[str, Any] = {"rowData": row_data}
    if row0:
        data["startRow"] = row0
    if col0:
        data["startColumn"] = col0
    return data


def _without_zeros(response: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in response.items() if value != 0 or isinstance(value, bool)}


# --------------------------------------------------------------------------------------------
# Requests and responses on the wire
# --------------------------------------------------------------------------------------------

def _record(request: requests.PreparedRequest) -> RecordedRequest:
    parts = urlsplit(request.url or "")
    body = request.body or b""
    body = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    content_type = request.headers.get("Content-Type", "")
    parsed, form = None, None
    if body and "json" in content_type:
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
    elif body and "x-www-form-urlencoded" in content_type:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    return RecordedRequest(method=(request.method or "GET").upper(), url=request.url or "", path=parts.path,
                           query=parse_qs(parts.query, keep_blank_values=True), json=parsed,
                           headers=CaseInsensitiveDict(request.headers), host=parts.hostname or "",
                           form=form, body=body)


def _response(request: requests.PreparedRequest, status: int, payload: Any, headers: dict[str, str],
              adapter: BaseAdapter) -> requests.Response:
    content = json.dumps(payload).encode("utf-8")
    response = requests.Response()
    response.status_code = status
    try:
        response.reason = HTTPStatus(status).phrase
    except ValueError:
        response.reason = ""
    response.headers = CaseInsensitiveDict({"Content-Type": "application/json; charset=UTF-8",
                                            "Content-Length": str(len(content)), **headers})
    response._content = content
    response._content_consumed = True  # type: ignore[attr-defined]
    response.raw = io.BytesIO(content)
    response.encoding = "utf-8"
    response.url = request.url or ""
    response.request = request
    response.connection = adapter  # type: ignore[attr-defined]
    return response


def _jwt_claims(assertion: str) -> dict[str, Any]:
    try:
        payload = assertion.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, IndexError):
        return {}


@dataclass
class _Call:
    method: str  # the discovery method id, e.g. sheets.spreadsheets.values.batchGet
    variables: dict[str, str]
    query: dict[str, list[str]]
    body: dict[str, Any]

    @property
    def key(self) -> str:
        return self.variables["spreadsheetId"]

    def option(self, name: str, default: str) -> str:
        return self.query.get(name, [default])[0]

    def flag(self, name: str) -> bool:
        return self.option(name, "false").lower() == "true"


_HANDLERS = {
    "sheets.spreadsheets.get": "_spreadsheets_get",
    "sheets.spreadsheets.batchUpdate": "_spreadsheets_batch_update",
    "sheets.spreadsheets.values.get": "_values_get",
    "sheets.spreadsheets.values.batchGet": "_values_batch_get",
    "sheets.spreadsheets.values.update": "_values_update",
    "sheets.spreadsheets.values.append": "_values_append",
    "sheets.spreadsheets.values.batchUpdate": "_values_batch_update",
    "sheets.spreadsheets.values.clear": "_values_clear",
    "sheets.spreadsheets.values.batchClear": "_values_batch_clear",
}


class FakeGoogleSheets(BaseAdapter):
    """Google Sheets v4 and the OAuth token endpoint, in memory. Mount it with ``session_for``."""

    def __init__(self, *, require_token: bool = False) -> None:
        super().__init__()
        self.require_token = require_token
        self.requests: list[RecordedRequest] = []
        self.contract_violations: list[str] = []
        self.issued_tokens: dict[str, dict[str, Any]] = {}  # access token -> the JWT's claims
        self._lock = threading.RLock()
        self._books: dict[str, _Spreadsheet] = {}
        self._failures: deque[tuple[int, dict[str, str]]] = deque()
        self._always: tuple[int, dict[str, str]] | None = None
        self._connection_errors = 0
        self._token_connection_errors = 0
        self._token_refusal: tuple[str, str] | None = None

    # ---- state, for tests ----------------------------------------------------------------

    def add_spreadsheet(self, key: str, title: str, tabs: dict[str, list[list[object]]],
                        grid_rows: int | None = None, grid_cols: int | None = None, *,
                        locale: str = "en_US", time_zone: str = "America/New_York") -> None:
        """A spreadsheet whose tabs hold these rows; each grid is at least 1000 x 26 unless given."""
        with self._lock:
            if key in self._books:
                raise ValueError(f"spreadsheet {key} already exists")
            self._books[key] = _Spreadsheet(key, title, locale, time_zone)
            for tab_title, rows in tabs.items():
                self.add_tab(key, tab_title, rows, grid_rows, grid_cols)

    def add_tab(self, key: str, title: str, rows: Sequence[Sequence[object]] = (),
                grid_rows: int | None = None, grid_cols: int | None = None) -> int:
        """Add a tab at the end (as the manager would) and return its sheetId."""
        with self._lock:
            book = self._books[key]
            if book.find_tab(title) is not None:
                raise ValueError(f"spreadsheet {key} already has a tab {title!r}")
            width = max((len(row) for row in rows), default=0)
            grid_rows = max(DEFAULT_ROWS, len(rows)) if grid_rows is None else grid_rows
            grid_cols = max(DEFAULT_COLUMNS, width) if grid_cols is None else grid_cols
            if grid_rows < max(len(rows), 1) or grid_cols < max(width, 1):
                raise ValueError(f"a {grid_rows} x {grid_cols} grid cannot hold {len(rows)} x {width} values")
            tab = book.add_tab({"sheetId": book.new_sheet_id(), "title": title, "index": len(book.tabs),
                                "sheetType": "GRID",
                                "gridProperties": {"rowCount": grid_rows, "columnCount": grid_cols}})
            tab.replace(rows)
            return tab.sheet_id


    def tab_titles(self, key: str) -> list[str]:
        with self._lock:
            return self._books[key].titles()

    def sheet_id(self, key: str, title: str) -> int:
        with self._lock:
            return self._books[key].tab(title).sheet_id

    def tab_values(self, key: str, title: str) -> list[list[object]]:
        """Stored values, trailing empty cells and rows trimmed; formulas as their text."""
        with self._lock:
            rows = [list(row) for row in self._books[key].tab(title).cells]
        for row in rows:
            while row and row[-1] is None:
                row.pop()
        while rows and not rows[-1]:
            rows.pop()
        return rows

    def formula_cells(self, key: str, title: str) -> list[str]:
        """A1 addresses of the cells stored as formulas, row by row."""
        with self._lock:
            return [a1(r, c) for r, c in sorted(self._books[key].tab(title).formulas)]

    def grid_size(self, key: str, title: str) -> tuple[int, int]:
        with self._lock:
            tab = self._books[key].tab(title)
            return tab.row_count, tab.column_count

    def set_rows(self, key: str, title: str, rows: Sequence[Sequence[object]]) -> None:
        """Replace a tab's content, as a manager pasting over it; the grid grows to fit, never shrinks."""
        with self._lock:
            tab = self._books[key].tab(title)
            width = max((len(row) for row in rows), default=0)
            tab.resize(max(tab.row_count, len(rows)), max(tab.column_count, width))
            tab.replace(rows)

    def insert_rows(self, key: str, title: str, before_row_number: int,
                    rows: Sequence[Sequence[object]]) -> None:
        """Insert rows above sheet row ``before_row_number`` (1-based); the grid grows by as many."""
        with self._lock:
            tab = self._books[key].tab(title)
            start = before_row_number - 1
            width = max((len(row) for row in rows), default=0)
            if width > tab.column_count:
                tab.resize(tab.row_count, width)
            tab.insert("ROWS", start, len(rows))
            for offset, row in enumerate(rows):
                for column, value in enumerate(row):
                    tab.put(start + offset, column, _stored(value))

    def delete_rows(self, key: str, title: str, first_row_number: int, count: int = 1) -> None:
        """Delete ``count`` sheet rows from ``first_row_number`` (1-based); the grid shrinks by as many."""
        with self._lock:
            tab = self._books[key].tab(title)
            tab.delete("ROWS", first_row_number - 1, min(first_row_number - 1 + count, tab.row_count))

    def delete_tab(self, key: str, title: str) -> None:
        with self._lock:
            book = self._books[key]
            book.tabs.remove(book.tab(title))
            book.reindex()

    def spreadsheet_title(self, key: str) -> str:
        with self._lock:
            return self._books[key].properties["title"]

    # ---- what happened -----------------------------------------------------------------------

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    def api_requests(self) -> list[RecordedRequest]:
        """Recorded requests to sheets.googleapis.com (not to the token endpoint)."""
        with self._lock:
            return [r for r in self.requests if r.host == SHEETS_HOST]

    def token_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.host == TOKEN_HOST]

    def assert_contract(self) -> None:
        with self._lock:
            violations = list(self.contract_violations)
        if violations:
            raise AssertionError("requests broke the Sheets v4 discovery contract:\n- "
                                 + "\n- ".join(violations))

    # ---- failure injection -------------------------------------------------------------------

    def fail_next(self, status: int, times: int = 1, headers: dict[str, str] | None = None) -> None:
        """The next ``times`` Sheets requests get this HTTP error, in Google's JSON error shape."""
        with self._lock:
            self._failures.extend([(status, dict(headers or {}))] * times)

    def fail_always(self, status: int, headers: dict[str, str] | None = None) -> None:
        with self._lock:
            self._always = (status, dict(headers or {}))

    def stop_failing(self) -> None:
        """Forget every queued or permanent failure and connection error, tokens' included."""
        with self._lock:
            self._failures.clear()
            self._always = None
            self._connection_errors = 0
            self._token_connection_errors = 0
            self._token_refusal = None

    def connection_error_next(self, times: int = 1) -> None:
        """The next ``times`` Sheets requests raise ``requests.ConnectionError`` from ``send``."""
        with self._lock:
            self._connection_errors += times

    def token_connection_error_next(self, times: int = 1) -> None:
        """The next ``times`` token requests raise ``requests.ConnectionError`` (network down)."""
        with self._lock:
            self._token_connection_errors += times

    def refuse_tokens(self, error: str = "invalid_grant",
                      description: str = "Invalid JWT Signature.") -> None:
        """Answer every token request 400 with this OAuth error, as for a deleted or revoked key."""
        with self._lock:
            self._token_refusal = (error, description)

    # ---- the transport -----------------------------------------------------------------------

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        recorded = _record(request)
        with self._lock:
            self.requests.append(recorded)
            if recorded.host == SHEETS_HOST and self._connection_errors:
                self._connection_errors -= 1
                raise requests.ConnectionError("fake Google Sheets: connection dropped (injected)",
                                               request=request)
            if recorded.host == TOKEN_HOST and self._token_connection_errors:
                self._token_connection_errors -= 1
                raise requests.ConnectionError("fake Google sign-in: connection dropped (injected)",
                                               request=request)
            status, payload, headers = self._answer(recorded)
            recorded.status = status
        return _response(request, status, payload, headers, self)

    def close(self) -> None:
        pass

    def _answer(self, recorded: RecordedRequest) -> tuple[int, Any, dict[str, str]]:
        if recorded.host == TOKEN_HOST:
            return self._token(recorded)
        try:
            if recorded.host != SHEETS_HOST:
                raise ApiError(404, f"the fake does not serve {recorded.host}")
            call = self._checked_call(recorded)
            self._check_token(recorded)
            self._injected_failure()
            handler = _HANDLERS.get(call.method)
            if handler is None:
                raise ApiError(501, f"the fake does not implement {call.method}")
            return 200, getattr(self, handler)(call), {}
        except ApiError as error:
            return error.status, error.payload(), error.headers

    def _checked_call(self, recorded: RecordedRequest) -> _Call:
        method, variables, problems = check_request(recorded)
        if problems or method is None:
            where = f"{recorded.method} {recorded.path}"
            self.contract_violations.extend(f"{where}: {problem}" for problem in problems)
            raise ApiError(400, f"fake contract violation: {where}: " + "; ".join(problems))
        body = recorded.json if isinstance(recorded.json, dict) else {}
        return _Call(method.id, variables, recorded.query, body)

    def _check_token(self, recorded: RecordedRequest) -> None:
        if not self.require_token:
            return
        scheme, _, token = recorded.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or token not in self.issued_tokens:
            raise ApiError(401, headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'})

    def _injected_failure(self) -> None:
        failure = self._failures.popleft() if self._failures else self._always
        if failure is not None:
            status, headers = failure
            raise ApiError(status, headers=headers)

    def _token(self, recorded: RecordedRequest) -> tuple[int, Any, dict[str, str]]:
        if recorded.method != "POST" or recorded.path != "/token":
            problem = f"no {recorded.method} {recorded.path}"
            return 404, {"error": "not_found", "error_description": problem}, {}
        form = recorded.form or {}
        grant = form.get("grant_type", [""])[0]
        assertion = form.get("assertion", [""])[0]
        if grant != JWT_GRANT:
            problem, error = f"grant_type must be {JWT_GRANT}, not {grant!r}", "unsupported_grant_type"
        elif len(assertion.split(".")) != 3 or not all(assertion.split(".")):
            problem, error = "assertion must be a JWT: three dot-separated parts", "invalid_grant"
        elif self._token_refusal is not None:
            error, description = self._token_refusal
            return 400, {"error": error, "error_description": description}, {}
        else:
            token = f"ya29.fake-{secrets.token_urlsafe(24)}"
            self.issued_tokens[token] = _jwt_claims(assertion)
            return 200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}, {}
        self.contract_violations.append(f"POST https://{TOKEN_HOST}/token: {problem}")
        return 400, {"error": error, "error_description": problem}, {}

    # ---- Sheets handlers ---------------------------------------------------------------------

    def _book(self, key: str) -> _Spreadsheet:
        if key not in self._books:
            raise ApiError(404)
        return self._books[key]

    @contextmanager
    def _editing(self, key: str) -> Iterator[_Spreadsheet]:
        """A working copy of the spreadsheet, kept only when the block succeeds: all or nothing."""
        book = self._book(key).clone()
        yield book
        self._books[key] = book

    def _spreadsheets_get(self, call: _Call) -> dict[str, Any]:
        include = call.flag("includeGridData")
        return self._book(call.key).resource(include, call.query.get("ranges", []))

    def _values_get(self, call: _Call) -> dict[str, Any]:
        option = call.option("valueRenderOption", "FORMATTED_VALUE")
        major = call.option("majorDimension", "ROWS")
        return _read(self._book(call.key), call.variables["range"], option, major)

    def _values_batch_get(self, call: _Call) -> dict[str, Any]:
        book = self._book(call.key)
        option = call.option("valueRenderOption", "FORMATTED_VALUE")
        major = call.option("majorDimension", "ROWS")
        value_ranges = [_read(book, text, option, major) for text in call.query.get("ranges", [])]
        return {"spreadsheetId": call.key, **({"valueRanges": value_ranges} if value_ranges else {})}

    def _values_update(self, call: _Call) -> dict[str, Any]:
        option = _input_option(call.option("valueInputOption", ""))
        path_range = call.variables["range"]
        body_range = call.body.get("range")
        if body_range and body_range != path_range:
            raise ApiError(400, f"Invalid ValueRange: the range in the body [{body_range}] does not match "
                                f"the range in the URL [{path_range}]")
        with self._editing(call.key) as book:
            response = _write(book, {**call.body, "range": path_range}, option)
        return _with_values(book, response, call.flag("includeValuesInResponse"),
                            call.option("responseValueRenderOption", "FORMATTED_VALUE"))

    def _values_batch_update(self, call: _Call) -> dict[str, Any]:
        option = _input_option(call.body.get("valueInputOption") or "")
        include = bool(call.body.get("includeValuesInResponse"))
        render = call.body.get("responseValueRenderOption") or "FORMATTED_VALUE"
        with self._editing(call.key) as book:
            responses = []
            for n, value_range in enumerate(call.body.get("data") or []):
                try:
                    responses.append(_write(book, value_range, option))
                except ApiError as error:
                    raise error.prefixed(f"Invalid data[{n}]: ") from None
        responses = [_with_values(book, response, include, render) for response in responses]
        written = {r["updatedRange"].rpartition("!")[0] for r in responses if r.get("updatedCells")}
        return _without_zeros({
            "spreadsheetId": call.key,
            "totalUpdatedRows": sum(r.get("updatedRows", 0) for r in responses),
            "totalUpdatedColumns": sum(r.get("updatedColumns", 0) for r in responses),
            "totalUpdatedCells": sum(r.get("updatedCells", 0) for r in responses),
            "totalUpdatedSheets": len(written),
            **({"responses": responses} if responses else {}),
        })

    def _values_append(self, call: _Call) -> dict[str, Any]:
        option = _input_option(call.option("valueInputOption", ""))
        insert = call.option("insertDataOption", "OVERWRITE") == "INSERT_ROWS"
        with self._editing(call.key) as book:
            result = _append(book, call.variables["range"], call.body, option, insert)
        result["updates"] = _with_values(book, result["updates"], call.flag("includeValuesInResponse"),
                                         call.option("responseValueRenderOption", "FORMATTED_VALUE"))
        return {"spreadsheetId": call.key, **result}

    def _values_clear(self, call: _Call) -> dict[str, Any]:
        with self._editing(call.key) as book:
            cleared = _clear(book, call.variables["range"])
        return {"spreadsheetId": call.key, "clearedRange": cleared}

    def _values_batch_clear(self, call: _Call) -> dict[str, Any]:
        cleared = []
        with self._editing(call.key) as book:
            for n, text in enumerate(call.body.get("ranges") or []):
                try:
                    cleared.append(_clear(book, text))
                except ApiError as error:
                    raise error.prefixed(f"Invalid range[{n}]: ") from None
        return {"spreadsheetId": call.key, **({"clearedRanges": cleared} if cleared else {})}

    def _spreadsheets_batch_update(self, call: _Call) -> dict[str, Any]:
        requests_ = call.body.get("requests") or []
        if not requests_:
            raise ApiError(400, "Invalid requests: Must specify at least one request.")
        with self._editing(call.key) as book:
            replies = [_apply(book, n, request) for n, request in enumerate(requests_)]
        response: dict[str, Any] = {"spreadsheetId": call.key, "replies": replies}
        if call.body.get("includeSpreadsheetInResponse"):
            response["updatedSpreadsheet"] = book.resource(bool(call.body.get("responseIncludeGridData")),
                                                           call.body.get("responseRanges") or [])
        return response


def session_for(fake: FakeGoogleSheets) -> requests.Session:
    """A Session whose Google Sheets and OAuth token traffic goes to the fake."""
    session = requests.Session()
    session.mount(f"https://{SHEETS_HOST}", fake)
    session.mount(f"https://{TOKEN_HOST}", fake)
    return session


# --------------------------------------------------------------------------------------------
# Values: reading and writing through A1 ranges
# --------------------------------------------------------------------------------------------

def _read(book: _Spreadsheet, text: str, option: str, major: str) -> dict[str, Any]:
    tab, box = book.resolve(text)
    row0, col0, row1, col1 = _bounds(text, tab, box)
    rows = [[_render(value, option) for value in line] for line in tab.block(row0, col0, row1, col1)]
    major = "COLUMNS" if major == "COLUMNS" else "ROWS"
    if major == "COLUMNS":
        width = max((len(row) for row in rows), default=0)
        padded = [row + [None] * (width - len(row)) for row in rows]
        rows = [list(column) for column in zip(*padded, strict=True)]
    out: dict[str, Any] = {"range": _range_text(tab, row0, col0, row1, col1), "majorDimension": major}
    values = _ragged(rows)
    if values:
        out["values"] = values
    return out


def _input_option(option: str) -> str:
    if option not in ("RAW", "USER_ENTERED"):
        raise ApiError(400, f"Invalid valueInputOption: {option or 'INPUT_VALUE_OPTION_UNSPECIFIED'}")
    return option


def _as_rows(values: list[Any], major: str | None) -> list[list[Any]]:
    if major != "COLUMNS":
        return [list(row) for row in values]
    height = max((len(column) for column in values), default=0)
    return [[column[r] if r < len(column) else None for column in values] for r in range(height)]


def _input_cell(value: Any, option: str, where: str) -> tuple[Cell, bool]:
    if isinstance(value, dict | list):
        raise ApiError(400, f"Invalid {where}: {json.dumps(value)} is not a bool, number or string")
    _checked_length(value)
    return _user_entered(value) if option == "USER_ENTERED" else (_stored(value), False)


def _target(text: str, tab: _Tab, box: _Box, height: int, width: int) -> tuple[int, int]:
    """Where a write of height x width values starts; refuses what would not fit."""
    if box.row0 >= tab.row_count or box.col0 >= tab.column_count:
        raise _grid_error(text, tab)
    if not box.single_cell:
        if box.row1 is not None and box.row0 + height > box.row1:
            raise ApiError(400, f"Requested writing within range [{text}], but tried writing to row "
                                f"[{box.row0 + height}]")
        if box.col1 is not None and box.col0 + width > box.col1:
            raise ApiError(400, f"Requested writing within range [{text}], but tried writing to column "
                                f"[{column_letters(box.col0 + width)}]")
    if height and width and (box.row0 + height > tab.row_count or box.col0 + width > tab.column_count):
        spilled = _range_text(tab, box.row0, box.col0, box.row0 + height, box.col0 + width)
        raise _grid_error(spilled, tab)
    return box.row0, box.col0


def _put_rows(tab: _Tab, row0: int, col0: int, rows: list[list[Any]], option: str) -> dict[str, Any]:
    """Write values (None skips a cell, "" clears it) and say what was updated."""
    touched_rows, touched_columns, cells = set(), set(), 0
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            if value is None:
                continue
            stored, formula = _input_cell(value, option, f"values[{i}][{j}]")
            tab.put(row0 + i, col0 + j, stored, formula)
            touched_rows.add(i)
            touched_columns.add(j)
            cells += 1
    height, width = len(rows), max((len(row) for row in rows), default=0)
    updated = _range_text(tab, row0, col0, row0 + max(height, 1), col0 + max(width, 1))
    return _without_zeros({"updatedRange": updated, "updatedRows": len(touched_rows),
                           "updatedColumns": len(touched_columns), "updatedCells": cells})


def _write(book: _Spreadsheet, value_range: dict[str, Any], option: str) -> dict[str, Any]:
    text = value_range.get("range")
    if not text:
        raise ApiError(400, "Invalid ValueRange: a range is required")
    tab, box = book.resolve(text)
    rows = _as_rows(value_range.get("values") or [], value_range.get("majorDimension"))
    row0, col0 = _target(text, tab, box, len(rows), max((len(row) for row in rows), default=0))
    return {"spreadsheetId": book.key, **_put_rows(tab, row0, col0, rows, option)}


def _with_values(book: _Spreadsheet, response: dict[str, Any], include: bool, render: str) -> dict[str, Any]:
    if include:
        response = {**response, "updatedData": _read(book, response["updatedRange"], render, "ROWS")}
    return response


def _append(book: _Spreadsheet, text: str, body: dict[str, Any], option: str, insert: bool) -> dict[str, Any]:
    tab, box = book.resolve(text)
    row0, col0, _, col1 = _bounds(text, tab, box)
    last = row0 - 1  # the table: the rows with values from the range's top down to the first empty one
    for line in tab.block(row0, col0, tab.row_count, col1):
        if not any(value is not None for value in line):
            break
        last += 1
    rows = _as_rows(body.get("values") or [], body.get("majorDimension"))
    height, width = len(rows), max((len(row) for row in rows), default=0)
    start = last + 1
    if insert and height:
        tab.insert("ROWS", start, height)
    tab.resize(max(tab.row_count, start + height), max(tab.column_count, col0 + width))
    updates = {"spreadsheetId": book.key, **_put_rows(tab, start, col0, rows, option)}
    result: dict[str, Any] = {"updates": updates}
    if last >= row0:
        result["tableRange"] = _range_text(tab, row0, col0, last + 1, col1)
    if book.cell_total() > CELL_LIMIT:
        raise ApiError(400, f"This action would increase the number of cells in the workbook above the limit "
                            f"of {CELL_LIMIT} cells.")
    return result


def _clear(book: _Spreadsheet, text: str) -> str:
    tab, box = book.resolve(text)
    row0, col0, row1, col1 = _bounds(text, tab, box)
    for r in range(row0, min(row1, len(tab.cells))):
        for c in range(col0, min(col1, len(tab.cells[r]))):
            tab.put(r, c, None)
    return _range_text(tab, row0, col0, row1, col1)


# --------------------------------------------------------------------------------------------
# spreadsheets.batchUpdate requests
# --------------------------------------------------------------------------------------------

def _apply(book: _Spreadsheet, n: int, request: dict[str, Any]) -> dict[str, Any]:
    kinds = [kind for kind, spec in request.items() if spec is not None]
    if len(kinds) != 1:
        raise ApiError(400, f"Invalid requests[{n}]: a request sets exactly one kind, not {kinds or 'none'}")
    kind = kinds[0]
    apply = _REQUEST_KINDS.get(kind)
    if apply is None:
        raise ApiError(400, f"Invalid requests[{n}]: the fake does not implement {kind!r} requests (it does "
                            f"{', '.join(sorted(_REQUEST_KINDS))})")
    try:
        reply = apply(book, request[kind])
    except (ValueError, TypeError) as error:  # _Invalid, and numbers that are not
        raise ApiError(400, f"Invalid requests[{n}].{kind}: {error}") from None
    except ApiError as error:
        raise error.prefixed(f"Invalid requests[{n}].{kind}: ") from None
    if book.cell_total() > CELL_LIMIT:
        raise ApiError(400, f"Invalid requests[{n}].{kind}: This action would increase the number of cells "
                            f"in the workbook above the limit of {CELL_LIMIT} cells.")
    return reply


def _int(spec: dict[str, Any], name: str, default: int | None = None) -> int:
    value = spec.get(name, default)
    if value is None:
        raise _Invalid(f"{name} is required")
    return int(value)


def _check_title(book: _Spreadsheet, title: str, tab: _Tab | None = None) -> None:
    if not title.strip():
        raise _Invalid("A sheet's title can't be empty.")
    existing = book.find_tab(title)
    if existing is not None and existing is not tab:
        raise _Invalid(f'A sheet with the name "{title}" already exists. Please enter another name.')


def _check_grid(grid: dict[str, Any]) -> None:
    for name in ("rowCount", "columnCount"):
        grid[name] = int(grid.get(name, 0))
        if grid[name] < 1:
            raise _Invalid(f"gridProperties.{name} must be at least 1, not {grid[name]}")


def _default_title(book: _Spreadsheet) -> str:
    free = (n for n in itertools.count(len(book.tabs) + 1) if book.find_tab(f"Sheet{n}") is None)
    return f"Sheet{next(free)}"


def _add_sheet(book: _Spreadsheet, spec: dict[str, Any]) -> dict[str, Any]:
    props = copy.deepcopy(spec.get("properties") or {})
    props["title"] = props.get("title") or _default_title(book)
    _check_title(book, props["title"])
    if props.setdefault("sheetType", "GRID") != "GRID":
        raise _Invalid(f"the fake models GRID sheets only, not {props['sheetType']}")
    if props.get("sheetId") is None:
        props["sheetId"] = book.new_sheet_id()
    props["sheetId"] = int(props["sheetId"])
    if props["sheetId"] in {tab.sheet_id for tab in book.tabs}:
        raise _Invalid(f"A sheet with the id {props['sheetId']} already exists.")
    props["gridProperties"] = {"rowCount": DEFAULT_ROWS, "columnCount": DEFAULT_COLUMNS,
                               **(props.get("gridProperties") or {})}
    _check_grid(props["gridProperties"])
    index = min(int(props.get("index", len(book.tabs))), len(book.tabs))
    tab = book.add_tab(props, index)
    return {"addSheet": {"properties": copy.deepcopy(tab.props)}}


def _delete_sheet(book: _Spreadsheet, spec: dict[str, Any]) -> dict[str, Any]:
    tab = book.tab_by_id(_int(spec, "sheetId"))
    if len(book.tabs) == 1:
        raise _Invalid("You can't remove all the sheets in a document.")
    book.tabs.remove(tab)
    book.reindex()
    return {}


def _mask_paths(fields: str | None, properties: dict[str, Any], schema: str) -> list[str]:
    if not fields:
        raise _Invalid("At least one field must be specified in 'fields' (use '*' for all).")
    if fields.strip() == "*":
        return sorted(properties)
    paths = _expand_mask(fields)
    for path in paths:
        if not _schema_has_path(schema, path):
            raise _Invalid(f"Invalid field mask: {schema} has no field '{path}'")
    return paths


def _expand_mask(fields: str) -> list[str]:
    """Paths of a field mask: "a(b,c),d/e" -> a.b, a.c, d.e (gspread writes both "/" and "(...)")."""
    paths, parents, token = [], [], ""
    for char in fields.replace("/", ".") + ",":
        if char == "(":
            parents.append(token.strip())
            token = ""
        elif char in ",)":
            if token.strip():
                paths.append(".".join([*parents, token.strip()]))
            token = ""
            if char == ")" and not parents:
                raise _Invalid(f"Invalid field mask: unbalanced ')' in {fields!r}")
            if char == ")":
                parents.pop()
        else:
            token += char
    if parents:
        raise _Invalid(f"Invalid field mask: unbalanced '(' in {fields!r}")
    return paths


def _copy_path(source: dict[str, Any], target: dict[str, Any], path: str) -> None:
    """Set (or, when the request leaves it out, reset) one field-mask path of target from source."""
    *parents, leaf = path.split(".")
    for part in parents:
        source = source.get(part) or {}
        target = target.setdefault(part, {})
    if leaf in source:
        target[leaf] = copy.deepcopy(source[leaf])
    else:
        target.pop(leaf, None)


def _update_sheet_properties(book: _Spreadsheet, spec: dict[str, Any]) -> dict[str, Any]:
    props = spec.get("properties") or {}
    tab = book.tab_by_id(_int(props, "sheetId", 0))
    updated = copy.deepcopy(tab.props)
    for path in _mask_paths(spec.get("fields"), props, "SheetProperties"):
        if path not in ("sheetId", "sheetType"):
            _copy_path(props, updated, path)
    _check_title(book, str(updated.get("title", "")), tab)
    _check_grid(updated.setdefault("gridProperties", {}))
    tab.props = updated
    tab.resize(updated["gridProperties"]["rowCount"], updated["gridProperties"]["columnCount"])
    if "index" in updated and int(updated["index"]) != book.tabs.index(tab):
        book.tabs.remove(tab)
        book.tabs.insert(min(int(updated["index"]), len(book.tabs)), tab)
    book.reindex()
    return {}


def _update_spreadsheet_properties(book: _Spreadsheet, spec: dict[str, Any]) -> dict[str, Any]:
    props = spec.get("properties") or {}
    for path in _mask_paths(spec.get("fields"), props, "SpreadsheetProperties"):
        _copy_path(props, book.properties, path)
    if not book.properties.get("title"):
        raise _Invalid("A spreadsheet's title can't be empty.")
    return {}


def _dimension_range(book: _Spreadsheet, spec: dict[str, Any]) -> tuple[_Tab, str, int, int]:
    dimension_range = spec.get("range") or {}
    tab = book.tab_by_id(_int(dimension_range, "sheetId", 0))
    dimension = dimension_range.get("dimension")
    if dimension not in ("ROWS", "COLUMNS"):
        raise _Invalid(f"range.dimension must be ROWS or COLUMNS, not {dimension}")
    return tab, dimension, _int(dimension_range, "startIndex", 0), _int(dimension_range, "endIndex")


def _append_dimension(book: _Spreadsheet, spec: dict[str, Any]) -> dict[str, Any]:
    tab = book.tab_by_id(_int(spec, "sheetId", 0))
    length = _int(spec, "length", 0)
    if length < 1 or spec.get("dimension") not in ("ROWS", "COLUMNS"):
        raise _Invalid("length must be positive and dimension ROWS or COLUMNS")
    if spec["dimension"] == "ROWS":
        tab.resize(tab.row_count + length, tab.column_count)
    else:
        tab.resize(tab.row_count, tab.column_count + length)
    return {}


def _insert_dimension(book: _Spreadsheet, spec: dict[str, Any]) -> dict[str, Any]:
    tab, dimension, start, end = _dimension_range(book, spec)
    size = tab.row_count if dimension == "ROWS" else tab.column_count
    if not 0 <= start < end or start > size:
        raise _Invalid(f"Invalid range: startIndex {start}, endIndex {end}, {size} {dimension.lower()}")
    tab.insert(dimension, start, end - start)
    return {}


def _delete_dimension(book: _Spreadsheet, spec: dict[str, Any]) -> dict[str, Any]:
    tab, dimension, start, end = _dimension_range(book, spec)
    size = tab.row_count if dimension == "ROWS" else tab.column_count
    if not 0 <= start < end or end > size:
        raise _Invalid(f"Invalid range: startIndex {start}, endIndex {end}, {size} {dimension.lower()}")
    if end - start == size:
        raise _Invalid(f"You can't delete all the {dimension.lower()} on the sheet.")
    tab.delete(dimension, start, end)
    return {}


def _update_cells(book: _Spreadsheet, spec: dict[str, Any]) -> dict[str, Any]:
    if ("start" in spec) == ("range" in spec):
        raise _Invalid("exactly one of 'start' and 'range' must be set")
    fields = spec.get("fields")
    paths = _mask_paths(fields, {}, "CellData") if fields != "*" else ["*"]
    if not any(path == "*" or path.split(".")[0] == "userEnteredValue" for path in paths):
        return {}  # formats, notes ...: not modelled
    corner = spec.get("start") or spec.get("range") or {}
    tab = book.tab_by_id(_int(corner, "sheetId", 0))
    if "start" in spec:
        row0, col0 = _int(corner, "rowIndex", 0), _int(corner, "columnIndex", 0)
        row1, col1 = tab.row_count, tab.column_count
    else:
        row0, col0 = _int(corner, "startRowIndex", 0), _int(corner, "startColumnIndex", 0)
        row1 = min(_int(corner, "endRowIndex", tab.row_count), tab.row_count)
        col1 = min(_int(corner, "endColumnIndex", tab.column_count), tab.column_count)
    if row0 >= tab.row_count or col0 >= tab.column_count:
        raise _grid_error(f"{quote_title(tab.title)}!{a1(row0, col0)}", tab)
    covered = set()
    for i, row in enumerate(spec.get("rows") or []):
        for j, cell in enumerate((row or {}).get("values") or []):
            if row0 + i >= row1 or col0 + j >= col1:
                raise _grid_error(_range_text(tab, row0, col0, row0 + i + 1, col0 + j + 1), tab)
            value, formula = _from_extended_value((cell or {}).get("userEnteredValue"))
            tab.put(row0 + i, col0 + j, value, formula)
            covered.add((row0 + i, col0 + j))
    if "range" in spec:  # cells of the range that rows leave out are cleared
        for r in range(row0, min(row1, len(tab.cells))):
            for c in range(col0, min(col1, len(tab.cells[r]))):
                if (r, c) not in covered:
                    tab.put(r, c, None)
    return {}


_REQUEST_KINDS = {
    "addSheet": _add_sheet,
    "deleteSheet": _delete_sheet,
    "updateSheetProperties": _update_sheet_properties,
    "updateSpreadsheetProperties": _update_spreadsheet_properties,
    "appendDimension": _append_dimension,
    "insertDimension": _insert_dimension,
    "deleteDimension": _delete_dimension,
    "updateCells": _update_cells,
}

__all__ = ["FakeGoogleSheets", "RecordedRequest", "discovery_document", "session_for"]
