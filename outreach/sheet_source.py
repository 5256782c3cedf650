"""Where the manager's sheet comes from: Google Sheets, or a local .xlsx workbook.

Both read every tab as the text the manager sees and write the app-owned tabs
back whole. The rest of the product only talks to :class:`SheetSource`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import Protocol
from zipfile import BadZipFile

from openpyxl import Workbook, load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from outreach.errors import SourceError

Table = list[list[str]]


class SheetSource(Protocol):
    @property
    def label(self) -> str:
        """Where the data comes from, for people (never holds a secret)."""
        ...

    def read_tabs(self, titles: Sequence[str]) -> dict[str, Table | None]:
        """Every named tab's cells as displayed text; None for a tab that does not exist."""
        ...

    def write_tabs(self, tables: Mapping[str, Table]) -> None:
        """Replace the whole content of these tabs (creating them if needed), as plain text."""
        ...


def matching_title(titles: Iterable[str], wanted: str) -> str | None:
    """The tab a title names, as the sheet spells it: "leads " is the Leads tab.

    Reading and writing both ask here, so a write never adds a second tab that Google (or
    Excel) would refuse as a duplicate name.
    """
    titles = list(titles)
    if wanted in titles:
        return wanted
    folded = wanted.strip().casefold()
    return next((title for title in titles if title.strip().casefold() == folded), None)


def cell_text(value: object) -> str:
    """What a spreadsheet shows for a cell, so a number-typed phone keeps its digits."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, (date, time)):
        return value.isoformat()
    return str(value)


class WorkbookSource:
    """The embedded default: an .xlsx file the manager can open in Excel or LibreOffice."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def label(self) -> str:
        return f"workbook {self.path.name}"

    def read_tabs(self, titles: Sequence[str]) -> dict[str, Table | None]:
        try:
            book = load_workbook(self.path, read_only=True, data_only=True)
        except FileNotFoundError:
            raise SourceError(f"cannot read the workbook {self.path}: the file does not exist") from None
        except (InvalidFileException, BadZipFile, OSError, KeyError, ValueError) as exc:
            raise SourceError(f"cannot read the workbook {self.path}: {_reason(exc)}") from None
        try:
            tables: dict[str, Table | None] = {}
            for title in titles:
                name = matching_title(book.sheetnames, title)
                if name is None:
                    tables[title] = None
                    continue
                tables[title] = [[cell_text(v) for v in row]
                                 for row in book[name].iter_rows(values_only=True)]
            return tables
        finally:
            book.close()

    def write_tabs(self, tables: Mapping[str, Table]) -> None:
        try:
            book = load_workbook(self.path) if self.path.exists() else Workbook()
        except (InvalidFileException, BadZipFile, OSError, KeyError, ValueError) as exc:
            raise SourceError(f"cannot open the workbook {self.path} to write: {_reason(exc)}") from None
        for title, rows in tables.items():
            sheet = _emptied_sheet(book, title)
            for r, row in enumerate(rows, start=1):
                for c, value in enumerate(row, start=1):
                    cell = sheet.cell(row=r, column=c, value=value)
                    if isinstance(value, str) and value.startswith("="):
                        # openpyxl turns such text into a live formula; keep it text
                        # (the workbook twin of Google's RAW input).
                        cell.data_type = "s"
        _save_atomically(book, self.path)


def _emptied_sheet(book: Workbook, title: str):  # type: ignore[no-untyped-def]
    """The tab, emptied, keeping the manager's spelling of its name and its place."""
    existing = matching_title(book.sheetnames, title)
    if existing is None:
        return book.create_sheet(title)
    index = book.sheetnames.index(existing)
    del book[existing]
    return book.create_sheet(existing, index)


def _save_atomically(book: Workbook, path: Path) -> None:
    # Write beside the target and rename, so a crash never leaves half a workbook.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".outreach-", suffix=".xlsx", dir=path.parent)
    os.close(fd)
    try:
        book.save(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise SourceError(f"cannot save the workbook {path}: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
