"""The tabs of the manager's sheet: which columns each has, and turning raw cells into rows.

Headers are matched ignoring case, spaces, underscores and hyphens, in any
order. Columns we do not know are kept as "extras" and shown on the customer
card. Every cell arrives as the text the sheet displays (so "+44 020..." keeps
its plus and its zero); typing happens in ``validation``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from openpyxl.utils import get_column_letter

from outreach.errors import SourceError
from outreach.team_settings import normalise_key


@dataclass(frozen=True)
class TabSpec:
    title: str
    columns: dict[str, str]  # normalised header -> field name
    required: tuple[str, ...] = ()
    optional: bool = False  # a missing optional tab is not an error
    keep_extras: bool = False

    def header_for(self, field_name: str) -> str:
        """The column's readable name, for messages."""
        return _READABLE[field_name]


_READABLE = {
    "customer_id": "Customer ID", "first_name": "First Name", "last_name": "Last Name",
    "company": "Company", "phone": "Phone", "email": "Email", "owner": "Owner",
    "customer_since": "Customer Since", "do_not_call": "Do Not Call", "notes": "Notes",
    "name": "Name", "time_zone": "Time Zone", "daily_calls": "Daily Calls", "active": "Active",
    "role": "Role", "manager": "Manager", "key": "Key", "value": "Value",
    "timestamp": "Timestamp", "heard_about": "How did you hear about us",
    "reason": "Why are you calling",
}


def _columns(*pairs: tuple[str, str]) -> dict[str, str]:
    return {normalise_key(header): name for header, name in pairs}


CUSTOMERS = TabSpec(
    "Customers",
    _columns(
        ("Customer ID", "customer_id"), ("ID", "customer_id"),
        ("First Name", "first_name"), ("Last Name", "last_name"), ("Company", "company"),
        ("Phone", "phone"), ("Phone Number", "phone"), ("Email", "email"),
        ("Email Address", "email"), ("Owner", "owner"), ("Customer Since", "customer_since"),
        ("Do Not Call", "do_not_call"), ("DNC", "do_not_call"), ("Notes", "notes"),
    ),
    required=("first_name", "last_name", "phone"),
    keep_extras=True,
)
REPS = TabSpec(
    "Reps",
    _columns(
        ("Name", "name"), ("Email", "email"), ("Time Zone", "time_zone"),
        ("Daily Calls", "daily_calls"), ("Active", "active"), ("Role", "role"),
        ("Manager", "manager"),
    ),
    required=("name", "email"),
)
SETTINGS = TabSpec(
    "Settings",
    _columns(("Key", "key"), ("Setting", "key"), ("Value", "value")),
    required=("key", "value"),
    optional=True,
)
INBOUND = TabSpec(
    "Inbound",
    _columns(
        ("Timestamp", "timestamp"), ("First Name", "first_name"), ("Last Name", "last_name"),
        ("Phone", "phone"), ("Email", "email"), ("How did you hear about us", "heard_about"),
        ("Why are you calling", "reason"), ("Owner", "owner"),
    ),
    required=("first_name", "phone", "email"),
    optional=True,
    keep_extras=True,
)
READ_TABS = (CUSTOMERS, REPS, SETTINGS, INBOUND)


@dataclass(frozen=True)
class RowProblem:
    """One bad cell: where it is, what it says, and why we could not use it."""

    tab: str
    row: int
    column: str
    value: str
    reason: str
    skipped: bool = True  # False: the row was imported, only this cell was ignored

    def __str__(self) -> str:
        where = f"{self.tab} row {self.row}" + (f", {self.column}" if self.column else "")
        shown = f" {self.value!r}" if self.value else ""
        outcome = "row skipped" if self.skipped else "value ignored"
        return f"{where}{shown}: {self.reason} ({outcome})"

    def as_dict(self) -> dict[str, object]:
        return {"tab": self.tab, "row": self.row, "column": self.column, "value": self.value,
                "reason": self.reason, "skipped": self.skipped}


@dataclass
class SheetRow:
    """A non-blank data row: known fields by name, unknown columns by their header."""

    number: int  # as the manager sees it in the sheet (the header is row 1)
    values: dict[str, str]
    extras: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str:
        return self.values.get(name, "")


def parse_tab(spec: TabSpec, cells: list[list[str]],
              problems: list[RowProblem] | None = None) -> list[SheetRow]:
    """Map the header row and return the data rows; a missing required column is fatal.

    An optional tab left empty has no rows. A header that repeats is named in ``problems``:
    a known column's first copy is used, an unknown column's copies are all kept.
    """
    problems = [] if problems is None else problems
    if not cells or not any(str(c).strip() for c in cells[0]):
        if spec.optional and not any(str(c).strip() for row in cells for c in row):
            return []
        raise SourceError(f"the {spec.title} tab has no header row (row 1 must name the columns)")
    header = [str(c).strip() for c in cells[0]]
    mapping = _map_header(spec, header, problems)
    missing = [spec.header_for(n) for n in spec.required if n not in mapping.values()]
    if missing:
        raise SourceError(
            f"the {spec.title} tab has no {' / '.join(missing)} column "
            f"(row 1 has: {', '.join(h for h in header if h) or 'nothing'})"
        )
    extra_names = _extra_names(spec, header, mapping, problems)
    rows = []
    for offset, raw in enumerate(cells[1:], start=2):
        if not any(str(c).strip() for c in raw):
            continue  # blank rows are spacing, not data
        values: dict[str, str] = {}
        extras: dict[str, str] = {}
        for index, cell in enumerate(raw):
            text = str(cell).strip()
            if index in mapping:
                values[mapping[index]] = text
            elif text and index in extra_names:
                extras[extra_names[index]] = text
        rows.append(SheetRow(offset, values, extras))
    return rows


def _map_header(spec: TabSpec, header: list[str], problems: list[RowProblem]) -> dict[int, str]:
    mapping: dict[int, str] = {}
    seen: dict[str, int] = {}
    for index, title in enumerate(header):
        name = spec.columns.get(normalise_key(title)) if title else None
        if name is None:
            continue
        if name in seen:
            first = seen[name]
            problems.append(RowProblem(
                spec.title, 1, title, "",
                f"column {get_column_letter(index + 1)} is a second {spec.header_for(name)} column "
                f"(the first is {header[first]!r}, column {get_column_letter(first + 1)}, which is "
                "used); delete or rename one", skipped=False))
            continue
        seen[name] = index
        mapping[index] = name
    return mapping


def _extra_names(spec: TabSpec, header: list[str], mapping: dict[int, str],
                 problems: list[RowProblem]) -> dict[int, str]:
    """Unknown columns by header; a repeated header gets its column letter, so no value is lost."""
    if not spec.keep_extras:
        return {}
    names: dict[int, str] = {}
    first: dict[str, int] = {}
    for index, title in enumerate(header):
        if not title or index in mapping:
            continue
        key = title.casefold()
        if key in first:
            names[index] = f"{title} (column {get_column_letter(index + 1)})"
            problems.append(RowProblem(
                spec.title, 1, title, "",
                f"two columns are named {title!r} (columns {get_column_letter(first[key] + 1)} and "
                f"{get_column_letter(index + 1)}); the second is kept as {names[index]!r}",
                skipped=False))
            continue
        first[key] = index
        names[index] = title
    return names
