"""Where the manager's sheet comes from: Google Sheets, or a local .xlsx workbook.

Both read every tab as the text the manager sees and write the app-owned tabs
back whole. The rest of the product only talks to :class:`SheetSource`.

Text we write is first made fit for the target (:func:`fitted_cell`): characters
no spreadsheet can hold are cleaned and a cell longer than the target allows is
cut with a visible marker. The database always keeps the original.

The local workbook is the manager's own file, so it is only ever read: openpyxl
cannot re-save a workbook without dropping its formulas' cached results, its
images and its charts. The app's tabs go to a side file beside it,
``workbook (Outreach).xlsx``, which :class:`WorkbookSource` reads them back from.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import tempfile
import time as clock
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import Protocol
from zipfile import BadZipFile

from openpyxl import Workbook, load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from outreach.errors import SourceError

Table = list[list[str]]

LEADS_TAB = "Leads"
CALL_LOG_TAB = "Call Log"
TEAM_SUMMARY_TAB = "Team Summary"
REFERRERS_TAB = "Referrers"
# The tabs the app writes (outreach.sheet.write_back builds them); a workbook keeps them in its side file.
APP_TABS = (LEADS_TAB, CALL_LOG_TAB, TEAM_SUMMARY_TAB, REFERRERS_TAB)

XLSX_CELL_LIMIT = 32_767  # Excel's most characters in one cell
TEMP_PREFIX = ".outreach-"
# What tempfile.mkstemp names our saves: the prefix, its random letters, digits and "_", the suffix.
_OUR_TEMP_FILE = re.compile(rf"{re.escape(TEMP_PREFIX)}[a-z0-9_]+\.xlsx")
STALE_TEMP_SECONDS = 60  # a save takes seconds; an older temp file is a killed save's leftover


class SheetSource(Protocol):
    @property
    def label(self) -> str:
        """Where the data comes from, for people (never holds a secret)."""
        ...

    def read_tabs(self, titles: Sequence[str]) -> dict[str, Table | None]:
        """Every named tab's cells as displayed text; None for a tab that does not exist."""
        ...

    def read_tab(self, title: str) -> Table | None:
        """One tab alone, as cheaply as the source allows (the Inbound poll: one small request)."""
        ...

    def write_tabs(self, tables: Mapping[str, Table]) -> None:
        """Replace the whole content of these tabs (creating them if needed), as plain text.

        Called at every write-back, with no tabs when nothing changed: then nothing is written.
        """
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


# C0 controls other than tab, line feed and carriage return, and the two non-characters, are
# not allowed in XML (openpyxl refuses them with IllegalCharacterError, and every later
# write-back with it); Google keeps them as invisible junk. A lone surrogate makes openpyxl
# save a workbook nobody can open again.
_LINE_BREAK = re.compile(r"\r\n?|[\x0b\x0c]")  # \x0b: Word's manual line break, pasted
_UNWRITABLE = re.compile(r"[\x00-\x08\x0e-\x1f\ufffe\uffff]")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def writable_text(text: str) -> str:
    """Text as every spreadsheet can hold it: line breaks as "\\n", unholdable characters gone.

    "\\r\\n" becomes "\\n" too, because an .xlsx reads it back so and the next sync would
    otherwise see a change that is not one.
    """
    text = _LINE_BREAK.sub("\n", text)
    text = _UNWRITABLE.sub("", text)
    return _LONE_SURROGATE.sub("\ufffd", text)


def cell_units(text: str) -> int:
    """A cell's length as Excel and Google count it: UTF-16 units (an emoji is two)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def fitted_cell(value: object, limit: int) -> object:
    """A value ready to write to a target holding at most ``limit`` characters a cell.

    Too long a text is cut with a marker saying so, rather than refused: one long referral
    note must not stop the whole write-back.
    """
    if not isinstance(value, str):
        return value
    text = writable_text(value)
    length = cell_units(text)
    if length <= limit:
        return text
    marker = f"\u2026 [truncated, {length:,} characters in Outreach]"
    room = max(limit - cell_units(marker), 0)
    # Cut in UTF-16 units; half an emoji at the cut is dropped, not kept broken.
    kept = text.encode("utf-16-le")[: 2 * room].decode("utf-16-le", "ignore")
    return kept + marker


def fitted_table(rows: Table, limit: int) -> Table:
    return [[fitted_cell(value, limit) for value in row] for row in rows]  # type: ignore[misc]


def side_file(path: Path) -> Path:
    """Where a workbook's app tabs live: ``workbook.xlsx`` → ``workbook (Outreach).xlsx``."""
    # Always .xlsx: what openpyxl writes, even beside a macro-enabled .xlsm.
    return path.with_name(f"{path.stem} (Outreach).xlsx")


class WorkbookSource:
    """The embedded default: an .xlsx file the manager can open in Excel or LibreOffice.

    The manager's file is only read. The app's tabs are written to, and read from, its
    side file; a tab of that name in the manager's file (written there by older versions)
    is left as it is and no longer read.
    """

    def __init__(self, path: Path, app_tabs: Sequence[str] = APP_TABS) -> None:
        self.path = path
        self.app_path = side_file(path)
        self.app_tabs = tuple(app_tabs)
        # The side file's fingerprint when last read: a write refuses to replace a later save.
        self._seen: str | None = None
        # The last tab read alone, with the file's size and time then: polled every few seconds, a
        # workbook of 100,000 customers is parsed again only when someone saved it (the full sync
        # reads it whole every minute regardless).
        self._polled: tuple[str, tuple[int, int], Table | None] | None = None

    @property
    def label(self) -> str:
        return f"workbook {self.path.name}"

    def _is_app_tab(self, title: str) -> bool:
        return matching_title(self.app_tabs, title) is not None

    def read_tabs(self, titles: Sequence[str]) -> dict[str, Table | None]:
        ours = [title for title in titles if self._is_app_tab(title)]
        theirs = [title for title in titles if not self._is_app_tab(title)]
        tables = _read_book(self.path, theirs) if theirs else {}
        if ours:
            tables.update(self._read_app_tabs(ours))
        return {title: tables[title] for title in titles}

    def read_tab(self, title: str) -> Table | None:
        try:
            stat = self.path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            stamp = None
        if stamp is not None and self._polled is not None and self._polled[:2] == (title, stamp):
            return self._polled[2]
        table = self.read_tabs([title])[title]
        if stamp is not None and not self._is_app_tab(title):
            self._polled = (title, stamp, table)
        return table

    def _read_app_tabs(self, titles: list[str]) -> dict[str, Table | None]:
        content = _bytes_or_none(self.app_path)
        self._seen = _fingerprint(content)
        if content is None:
            # Not written yet: the first write-back makes it.
            return dict.fromkeys(titles)
        try:
            return _read_book(self.app_path, titles, content)
        except SourceError:
            # Only our own tabs are unreadable: the manager's data still syncs, and the
            # write-back says what to do with the file rather than overwrite it.
            return dict.fromkeys(titles)

    def write_tabs(self, tables: Mapping[str, Table]) -> None:
        # First, at every write-back: a save killed last time must not wait for the team's next change.
        _remove_stale_temp_files(self.app_path.parent)
        if not tables:
            return
        content = _bytes_or_none(self.app_path)
        if self._seen is not None and _fingerprint(content) != self._seen:
            raise self._changed_while_syncing()
        book = _app_book(self.app_path, content)
        for title, rows in tables.items():
            _fill(_emptied_sheet(book, title), fitted_table(rows, XLSX_CELL_LIMIT))
        if not _save_atomically(book, self.app_path, expected=_fingerprint(content),
                                like=self.path):
            raise self._changed_while_syncing()
        self._seen = _fingerprint(_bytes_or_none(self.app_path))

    def _changed_while_syncing(self) -> SourceError:
        # Someone saved the side file (open in Excel?) after we read it: theirs wins until
        # the next sync has read it.
        return SourceError(f"{self.app_path.name} was changed while syncing; "
                           "written next time")


def _bytes_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SourceError(f"cannot read the workbook {path}: {_reason(exc)}") from None


def _fingerprint(content: bytes | None) -> str:
    return "absent" if content is None else hashlib.sha256(content).hexdigest()


def _read_book(path: Path, titles: Sequence[str], content: bytes | None = None) -> dict[str, Table | None]:
    """Every named tab of the workbook at ``path`` (or of its bytes, already read)."""
    try:
        book = load_workbook(io.BytesIO(content) if content is not None else path,
                             read_only=True, data_only=True)
    except FileNotFoundError:
        raise SourceError(f"cannot read the workbook {path}: the file does not exist") from None
    except (InvalidFileException, BadZipFile, OSError, KeyError, ValueError) as exc:
        raise SourceError(f"cannot read the workbook {path}: {_reason(exc)}") from None
    try:
        tables: dict[str, Table | None] = {}
        for title in titles:
            name = matching_title(book.sheetnames, title)
            tables[title] = None if name is None else [
                [cell_text(v) for v in row] for row in book[name].iter_rows(values_only=True)]
        return tables
    finally:
        book.close()


def _app_book(path: Path, content: bytes | None) -> Workbook:
    """The side file to write into, or a new one without openpyxl's default empty tab."""
    if content is None:
        book = Workbook()
        book.remove(book.active)
        return book
    try:
        return load_workbook(io.BytesIO(content))
    except (InvalidFileException, BadZipFile, OSError, KeyError, ValueError) as exc:
        raise SourceError(f"cannot open the workbook {path} to write: {_reason(exc)}; rename or "
                          "delete it and the next sync writes it again") from None


def _fill(sheet, rows: Table) -> None:  # type: ignore[no-untyped-def]
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            cell = sheet.cell(row=r, column=c, value=value)
            if isinstance(value, str) and value.startswith("="):
                # openpyxl turns such text into a live formula; keep it text
                # (the workbook twin of Google's RAW input).
                cell.data_type = "s"


def _emptied_sheet(book: Workbook, title: str):  # type: ignore[no-untyped-def]
    """The tab, emptied, keeping the manager's spelling of its name and its place."""
    existing = matching_title(book.sheetnames, title)
    if existing is None:
        return book.create_sheet(title)
    index = book.sheetnames.index(existing)
    del book[existing]
    return book.create_sheet(existing, index)


def _save_atomically(book: Workbook, path: Path, expected: str, like: Path) -> bool:
    """Save beside the target and rename, so a crash never leaves half a workbook.

    False, and nothing replaced, when the target no longer has the ``expected``
    fingerprint: someone saved it while we were writing. The file gets the permissions
    of ``like`` (the manager's workbook), not the owner-only ones of a temp file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".xlsx", dir=path.parent)
    os.close(fd)
    try:
        if like.exists():
            shutil.copymode(like, tmp)
        book.save(tmp)
        if _fingerprint(_bytes_or_none(path)) != expected:
            return False
        os.replace(tmp, path)
        return True
    except OSError as exc:
        # Excel on Windows locks the files it has open.
        hint = "; close it in Excel and the next sync writes it" if isinstance(exc, PermissionError) else ""
        raise SourceError(f"cannot save the workbook {path}: {_reason(exc)}{hint}") from None
    finally:
        Path(tmp).unlink(missing_ok=True)


def _remove_stale_temp_files(folder: Path) -> None:
    """Leftovers of a save that was killed between creating its temp file and renaming it.

    Only files named as our saves name them (a manager's ``.outreach-old copy.xlsx`` stays), only plain
    files (never what a link points to), and only those untouched for a minute (a save still running,
    in another process, is younger).
    """
    cutoff = clock.time() - STALE_TEMP_SECONDS
    for leftover in folder.glob(f"{TEMP_PREFIX}*.xlsx"):
        try:
            if (_OUR_TEMP_FILE.fullmatch(leftover.name) and not leftover.is_symlink()
                    and leftover.is_file() and leftover.stat().st_mtime < cutoff):
                leftover.unlink()
        except OSError:
            pass  # gone already, or not ours to remove: the next write tries again


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
