"""The manager's sheet in tests: the same story told to a local workbook and to Google.

``ManagerSheet`` is what a test edits like a manager would (set a tab, insert or
delete rows) and what the product reads through its real ``SheetSource``. The
Google flavour is real gspread talking to an in-process fake of the Sheets v4
REST API; the workbook flavour is a real .xlsx on disk.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Protocol

import gspread
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from outreach.db import Database
from outreach.models import Call, Customer, Rep
from outreach.sheet.google_sheet import GoogleSheetSource
from outreach.sheet.sheet_source import SheetSource, Table, WorkbookSource
from tests.conftest import MONDAY_9AM_NY
from tests.fakes.google_sheets import FakeGoogleSheets, session_for

REPS = [
    ["Name", "Email", "Time Zone", "Daily Calls", "Active", "Role", "Manager"],
    ["Maya Chen", "maya@example.com", "America/New_York", "0", "yes", "manager", ""],
    ["Ann Archer", "ann@example.com", "America/New_York", "3", "yes", "rep", "maya@example.com"],
    ["Bob Brown", "bob@example.com", "America/Los_Angeles", "3", "yes", "rep", "maya@example.com"],
]
CUSTOMERS = [
    ["Customer ID", "First Name", "Last Name", "Company", "Phone", "Email", "Owner",
     "Customer Since", "Do Not Call", "Notes", "Industry"],
    ["C1", "Carla", "Diaz", "Diaz Dental", "(212) 555-0101", "carla@example.org",
     "ann@example.com", "2019-03-04", "", "Loves the new portal", "Dental"],
    ["C2", "Dev", "Evans", "Evans Build", "+44 20 7946 0958", "dev@example.org", "", "", "", "",
     "Construction"],
    ["C3", "Fay", "Gold", "Gold Legal", "212-555-0103", "", "bob@example.com", "", "x", "", ""],
]
INBOUND = [
    ["Timestamp", "First Name", "Last Name", "Phone", "Email", "How did you hear about us",
     "Why are you calling", "Owner"],
]


def team_tabs() -> dict[str, Table]:
    return {"Customers": [r[:] for r in CUSTOMERS], "Reps": [r[:] for r in REPS],
            "Inbound": [r[:] for r in INBOUND]}


class ManagerSheet(Protocol):
    source: SheetSource

    def set_tab(self, title: str, rows: Table) -> None: ...
    def tab(self, title: str) -> list[list[str]]: ...
    def insert_rows(self, title: str, before_row: int, rows: Table) -> None: ...
    def delete_rows(self, title: str, first_row: int, count: int = 1) -> None: ...
    def delete_tab(self, title: str) -> None: ...
    def tab_titles(self) -> list[str]: ...
    def write_count(self) -> int: ...


def _fill(sheet, rows: Table) -> None:  # type: ignore[no-untyped-def]
    """Cells as a manager types them as plain text (what looks like a formula stays text)."""
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            cell = sheet.cell(row=r, column=c, value=value)
            if isinstance(value, str) and value.startswith("="):
                cell.data_type = "s"


class WorkbookSheet:
    def __init__(self, path: Path, tabs: dict[str, Table]) -> None:
        self.path = path
        book = Workbook()
        book.remove(book.active)
        for title, rows in tabs.items():
            _fill(book.create_sheet(title), rows)
        book.save(path)
        self.source = WorkbookSource(path)
        self._stamp = self._stamps()
        self._writes = 0

    def _file_of(self, title: str) -> Path:
        """The app's tabs live in the side file beside the manager's workbook."""
        return self.source.app_path if self.source._is_app_tab(title) else self.path

    def _edit(self, title: str, change) -> None:  # type: ignore[no-untyped-def]
        path = self._file_of(title)
        if path.exists():
            book = load_workbook(path)
        else:
            book = Workbook()
            book.remove(book.active)
        rows = [["" if v is None else v for v in row]
                for row in book[title].iter_rows(values_only=True)] if title in book.sheetnames else []
        rows = change(rows)
        if title in book.sheetnames:
            del book[title]
        if rows is not None:
            _fill(book.create_sheet(title), rows)
        book.save(path)
        self._stamp = self._stamps()

    def _stamps(self) -> tuple[int, int]:
        side = self.source.app_path
        return self.path.stat().st_mtime_ns, side.stat().st_mtime_ns if side.exists() else 0

    def set_tab(self, title: str, rows: Table) -> None:
        self._edit(title, lambda _old: rows)

    def tab(self, title: str) -> list[list[str]]:
        return self.source.read_tabs([title])[title] or []

    def insert_rows(self, title: str, before_row: int, rows: Table) -> None:
        self._edit(title, lambda old: old[: before_row - 1] + rows + old[before_row - 1:])

    def delete_rows(self, title: str, first_row: int, count: int = 1) -> None:
        self._edit(title, lambda old: old[: first_row - 1] + old[first_row - 1 + count:])

    def delete_tab(self, title: str) -> None:
        self._edit(title, lambda _old: None)

    def tab_titles(self) -> list[str]:
        """The manager's tabs, then the app's (as a manager sees the two files side by side)."""
        titles = []
        for path in (self.path, self.source.app_path):
            if not path.exists():
                continue
            book = load_workbook(path, read_only=True)
            try:
                titles += book.sheetnames
            finally:
                book.close()
        return titles

    def write_count(self) -> int:
        """How many of the two files the product saved since the test last edited them."""
        return sum(now != then for now, then in zip(self._stamps(), self._stamp, strict=True))

    def mark(self) -> None:
        """Count writes from here on."""
        self._stamp = self._stamps()


class GoogleSheet:
    KEY = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"

    def __init__(self, fake: FakeGoogleSheets, tabs: dict[str, Table]) -> None:
        self.fake = fake
        fake.add_spreadsheet(self.KEY, "Acme Outreach", tabs)
        client = gspread.Client(auth=None, session=session_for(fake))
        self.sleeps: list[float] = []
        self.source = GoogleSheetSource(client, self.KEY, sleep=self.sleeps.append)

    def set_tab(self, title: str, rows: Table) -> None:
        if title in self.fake.tab_titles(self.KEY):
            self.fake.set_rows(self.KEY, title, rows)
        else:
            self.fake.add_tab(self.KEY, title, rows)

    def tab(self, title: str) -> list[list[str]]:
        return [["" if v is None else str(v) for v in row]
                for row in self.fake.tab_values(self.KEY, title)]

    def insert_rows(self, title: str, before_row: int, rows: Table) -> None:
        self.fake.insert_rows(self.KEY, title, before_row, rows)

    def delete_rows(self, title: str, first_row: int, count: int = 1) -> None:
        self.fake.delete_rows(self.KEY, title, first_row, count)

    def delete_tab(self, title: str) -> None:
        self.fake.delete_tab(self.KEY, title)

    def tab_titles(self) -> list[str]:
        return self.fake.tab_titles(self.KEY)

    def write_count(self) -> int:
        return sum(1 for r in self.fake.api_requests() if r.method == "POST")


def log_call(db: Database, liked_best: str, at: datetime = MONDAY_9AM_NY) -> None:
    """Ann logs a call with Carla (rows of team_tabs), as the rep's page would: text for the Call Log."""
    with db.session() as session, session.begin():
        ann = session.scalar(select(Rep).where(Rep.email == "ann@example.com"))
        carla = session.scalar(select(Customer).where(Customer.key == "id:C1"))
        session.add(Call(rep_id=ann.id, customer_id=carla.id, outcome="connected", created_at=at,
                         liked_best=liked_best, client_token=f"t-{at.isoformat()}"))


def liked_best_in_the_database(db: Database) -> str:
    with db.session() as session:
        return session.scalars(select(Call.liked_best)).one()
