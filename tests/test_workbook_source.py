"""The local workbook: the manager's file is only read; the app's tabs live in a side file beside it.

Every test works on real .xlsx files on disk, written and read by openpyxl, the way
Excel or LibreOffice leave them for us.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from outreach.db import Database
from outreach.errors import SourceError
from outreach.models import Customer
from outreach.settings import PROJECT_ROOT
from outreach.sheet.sheet_source import APP_TABS, WorkbookSource
from outreach.sheet.sync import SyncResult, run_sync
from outreach.sheet.write_back import BUILDERS, LEAD_HEADER
from tests.conftest import MONDAY_9AM_NY
from tests.sheets import WorkbookSheet, liked_best_in_the_database, log_call, team_tabs

NOW = MONDAY_9AM_NY
TRUNCATED = "\N{HORIZONTAL ELLIPSIS} [truncated, 61,234 characters in Outreach]"


@pytest.fixture
def sheet(tmp_path: Path) -> WorkbookSheet:
    return WorkbookSheet(tmp_path / "workbook.xlsx", team_tabs())


@pytest.fixture
def side(tmp_path: Path) -> Path:
    return tmp_path / "workbook (Outreach).xlsx"


def sync(sheet: WorkbookSheet, db: Database, at=NOW) -> SyncResult:  # type: ignore[no-untyped-def]
    result = run_sync(db, sheet.source, at)
    assert result.ok and result.error is None, result.error
    return result


def cache_formula(path: Path, cell: str, formula: str, cached: str) -> None:
    """Make the first tab's ``cell`` a formula with its cached result, as Excel and LibreOffice save it.

    openpyxl cannot write a cached result, so the cell is patched in the sheet's XML.
    """
    book = load_workbook(path)
    book.worksheets[0][cell] = f"={formula}"
    book.save(path)
    with zipfile.ZipFile(path) as old:
        parts = {name: old.read(name) for name in old.namelist()}
    xml = parts["xl/worksheets/sheet1.xml"].decode()
    xml, found = re.subn(rf'<c r="{cell}"[^>]*><f>(.*?)</f><v\s*/>',
                         rf'<c r="{cell}" t="str"><f>\1</f><v>{cached}</v>', xml)
    assert found == 1
    parts["xl/worksheets/sheet1.xml"] = xml.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as new:
        for name, data in parts.items():
            new.writestr(name, data)


# ---- the manager's workbook is only read -------------------------------------------------------

def test_a_formula_customer_keeps_its_name_and_the_managers_file_is_never_rewritten(
        sheet: WorkbookSheet, sqlite_db: Database) -> None:
    cache_formula(sheet.path, "B2", 'PROPER("carla")', "Carla")
    before = sheet.path.read_bytes()
    assert sync(sheet, sqlite_db).written_tabs == list(BUILDERS)
    sync(sheet, sqlite_db, NOW + timedelta(minutes=1))
    with sqlite_db.session() as session:
        carla = session.scalar(select(Customer).where(Customer.key == "id:C1"))
    assert (carla.first_name, carla.active) == ("Carla", True)
    assert sheet.path.read_bytes() == before  # its formulas, images and charts untouched


def test_the_app_tabs_are_written_beside_the_managers_workbook(
        sheet: WorkbookSheet, sqlite_db: Database, side: Path) -> None:
    sync(sheet, sqlite_db)
    assert load_workbook(side, read_only=True).sheetnames == ["Leads", "Call Log", "Team Summary",
                                                              "Referrers"]
    assert sheet.source.read_tabs(["Leads"])["Leads"][0][:2] == ["Lead ID", "Received"]
    assert load_workbook(sheet.path, read_only=True).sheetnames == ["Customers", "Reps", "Inbound"]
    assert sheet.source.label == "workbook workbook.xlsx"
    assert sync(sheet, sqlite_db, NOW + timedelta(minutes=1)).written_tabs == []


def test_app_tabs_an_older_version_wrote_into_the_managers_file_are_left_alone(
        sheet: WorkbookSheet, sqlite_db: Database, side: Path) -> None:
    sheet.set_tab("Leads", [["Lead ID", "Received"], ["7", "written by Outreach 1.0"]])
    before = sheet.path.read_bytes()
    assert sync(sheet, sqlite_db).written_tabs == list(BUILDERS)  # the side file starts complete
    assert sheet.path.read_bytes() == before
    assert sheet.source.read_tabs(["Leads"])["Leads"] == [LEAD_HEADER]  # ours: no leads yet
    assert sheet.source.read_tabs(["leads"])["leads"] == [LEAD_HEADER]
    assert load_workbook(side, read_only=True).sheetnames == list(BUILDERS)


def test_the_side_file_is_as_readable_as_the_managers_workbook(sheet: WorkbookSheet, side: Path) -> None:
    sheet.path.chmod(0o640)  # the manager shares the folder with the office
    sheet.source.write_tabs({"Leads": [["Lead ID"]]})
    assert side.stat().st_mode & 0o777 == 0o640


def test_the_app_tabs_are_in_the_same_order_the_side_file_keeps() -> None:
    assert tuple(BUILDERS) == APP_TABS


def test_a_side_file_saved_while_syncing_is_kept_and_written_next_time(
        sheet: WorkbookSheet, sqlite_db: Database, side: Path) -> None:
    sync(sheet, sqlite_db)
    source = sheet.source
    source.read_tabs(["Leads"])
    book = load_workbook(side)  # the manager, in Excel, notes something and saves
    book["Leads"]["A5"] = "call Dana back"
    book.save(side)
    saved = side.read_bytes()
    with pytest.raises(SourceError, match=r"^workbook \(Outreach\)\.xlsx was changed while syncing; "
                                          r"written next time$"):
        source.write_tabs({"Leads": [["Lead ID"], ["new"]]})
    assert side.read_bytes() == saved
    source.read_tabs(["Leads"])  # the next sync reads it again, then may write
    source.write_tabs({"Leads": [["Lead ID"], ["new"]]})
    assert source.read_tabs(["Leads"])["Leads"] == [["Lead ID"], ["new"]]


class ManagerSavesWhileSyncing:
    """The real workbook source; the manager saves the side file in Excel right after we read it."""

    def __init__(self, source: WorkbookSource) -> None:
        self.source = source
        self.label = source.label

    def read_tabs(self, titles):  # type: ignore[no-untyped-def]
        tables = self.source.read_tabs(titles)
        book = load_workbook(self.source.app_path)
        book["Call Log"]["A9"] = "mine"
        book.save(self.source.app_path)
        return tables

    def write_tabs(self, tables) -> None:  # type: ignore[no-untyped-def]
        self.source.write_tabs(tables)


def test_a_side_file_saved_while_syncing_is_reported_by_the_sync(
        sheet: WorkbookSheet, sqlite_db: Database, side: Path) -> None:
    sync(sheet, sqlite_db)
    log_call(sqlite_db, "quick answers")
    result = run_sync(sqlite_db, ManagerSavesWhileSyncing(sheet.source), NOW + timedelta(minutes=1))
    assert result.ok
    assert result.error == ("writing back to the sheet failed: workbook (Outreach).xlsx was changed "
                            "while syncing; written next time")
    assert load_workbook(side)["Call Log"]["A9"].value == "mine"


def test_an_unreadable_side_file_does_not_stop_the_sync_and_is_not_overwritten(
        sheet: WorkbookSheet, sqlite_db: Database, side: Path) -> None:
    side.write_bytes(b"not a workbook")
    result = run_sync(sqlite_db, sheet.source, NOW)
    assert result.ok and result.counts["customers_added"] == 3
    assert "workbook (Outreach).xlsx to write" in (result.error or "")
    assert "rename or delete it" in (result.error or "")
    assert side.read_bytes() == b"not a workbook"


# ---- temp files ------------------------------------------------------------------------------

def aged(path: Path, seconds: float) -> Path:
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def test_stale_temp_files_of_ours_are_removed_at_the_next_write(sheet: WorkbookSheet, tmp_path: Path) -> None:
    stale = tmp_path / ".outreach-k1ll3d.xlsx"
    stale.write_bytes(b"half a workbook")
    aged(stale, 120)
    busy = tmp_path / ".outreach-busy.xlsx"  # another save, still running
    busy.write_bytes(b"a save in progress")
    theirs = tmp_path / "notes.xlsx"
    theirs.write_bytes(b"the manager's")
    aged(theirs, 120)
    sheet.source.read_tabs(["Leads"])
    sheet.source.write_tabs({"Leads": [["Lead ID"]]})
    assert not stale.exists()
    assert busy.exists() and theirs.exists()
    assert sorted(p.name for p in tmp_path.glob(".outreach-*")) == [".outreach-busy.xlsx"]


def test_a_killed_saves_temp_file_goes_at_the_next_sync_even_with_nothing_to_write(
        sheet: WorkbookSheet, sqlite_db: Database, tmp_path: Path) -> None:
    """It waited for the team's next change before: the write-back was skipped when nothing changed."""
    sync(sheet, sqlite_db)
    leftover = tmp_path / ".outreach-a1b2c3d4.xlsx"
    leftover.write_bytes(b"half a workbook")
    aged(leftover, 120)
    running = tmp_path / ".outreach-e5f6g7h8.xlsx"  # another process's save, still under a minute old
    running.write_bytes(b"a save in progress")
    copy = tmp_path / ".outreach-old copy.xlsx"  # the manager's own file, however it is named
    copy.write_bytes(b"the manager's")
    aged(copy, 120)
    theirs = tmp_path / "notes.xlsx"
    theirs.write_bytes(b"the manager's")
    link = tmp_path / ".outreach-l1nk.xlsx"  # named like ours, but a link: never followed nor removed
    link.symlink_to(theirs)
    aged(theirs, 120)
    os.utime(link, (time.time() - 120,) * 2, follow_symlinks=False)
    assert sync(sheet, sqlite_db, NOW + timedelta(minutes=1)).written_tabs == []
    assert not leftover.exists()
    assert running.exists() and copy.exists() and link.is_symlink()
    assert theirs.read_bytes() == b"the manager's"


SAVE_FOREVER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from outreach.sheet.sheet_source import WorkbookSource

    rows = [[f"row {r} column {c}" for c in range(20)] for r in range(6000)]
    WorkbookSource(Path(sys.argv[1])).write_tabs({"Leads": rows})
""")


def test_a_save_killed_midway_leaves_the_side_file_whole_and_its_temp_file_is_cleaned_later(
        sheet: WorkbookSheet, tmp_path: Path, side: Path) -> None:
    sheet.source.write_tabs({"Leads": [["Lead ID"], ["1"]]})
    saving = subprocess.Popen([sys.executable, "-c", SAVE_FOREVER, str(sheet.path)], cwd=PROJECT_ROOT)
    deadline = time.monotonic() + 60
    try:
        while not list(tmp_path.glob(".outreach-*.xlsx")):
            assert saving.poll() is None, "the save ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.005)
    finally:
        saving.kill()
        saving.wait()
    [leftover] = tmp_path.glob(".outreach-*.xlsx")
    assert sheet.source.read_tabs(["Leads"])["Leads"] == [["Lead ID"], ["1"]]
    aged(leftover, 120)
    sheet.source.write_tabs({"Leads": [["Lead ID"], ["2"]]})
    assert list(tmp_path.glob(".outreach-*")) == []
    assert sheet.source.read_tabs(["Leads"])["Leads"] == [["Lead ID"], ["2"]]


# ---- text the workbook cannot hold -------------------------------------------------------------

@pytest.mark.parametrize(("typed", "held"), [
    ("fast\x0bfriendly", "fast\nfriendly"),  # Word's manual line break
    ("fast\r\nfriendly\rkind", "fast\nfriendly\nkind"),
    ("page\x0cbreak", "page\nbreak"),
    ("bell\x07 null\x00 esc\x1b", "bell null esc"),
    ("tab\tstays", "tab\tstays"),
    ("broken \ud83d emoji", "broken \ufffd emoji"),  # half an emoji would make the file unreadable
    ("\uffffnon-character", "non-character"),
])
def test_text_is_cleaned_to_what_a_workbook_can_hold(sheet: WorkbookSheet, typed: str, held: str) -> None:
    sheet.source.write_tabs({"Call Log": [["Liked Best"], [typed]]})
    assert sheet.source.read_tabs(["Call Log"])["Call Log"] == [["Liked Best"], [held]]


def test_a_control_character_a_rep_pasted_is_cleaned_and_the_database_keeps_it(
        sheet: WorkbookSheet, sqlite_db: Database) -> None:
    sync(sheet, sqlite_db)
    log_call(sqlite_db, "Fast answers\x0bfriendly staff\x01\r\nthanks")
    assert sync(sheet, sqlite_db, NOW + timedelta(minutes=1)).written_tabs == ["Call Log", "Team Summary"]
    assert sheet.tab("Call Log")[1][7] == "Fast answers\nfriendly staff\nthanks"
    assert liked_best_in_the_database(sqlite_db) == "Fast answers\x0bfriendly staff\x01\r\nthanks"
    assert sync(sheet, sqlite_db, NOW + timedelta(minutes=2)).written_tabs == []


# ---- Excel's 32,767 characters a cell ----------------------------------------------------------

def long_note() -> str:
    return ("Referred the whole street; call after six. " * 1500)[:61_234]


def test_a_cell_over_excels_limit_is_cut_with_a_marker_and_the_database_keeps_it_all(
        sheet: WorkbookSheet, sqlite_db: Database) -> None:
    sync(sheet, sqlite_db)
    log_call(sqlite_db, long_note())
    sync(sheet, sqlite_db, NOW + timedelta(minutes=1))
    cell = sheet.tab("Call Log")[1][7]
    assert len(cell) == 32_767
    assert cell.endswith(TRUNCATED) and long_note().startswith(cell[: -len(TRUNCATED)])
    assert liked_best_in_the_database(sqlite_db) == long_note()
    assert sync(sheet, sqlite_db, NOW + timedelta(minutes=2)).written_tabs == []


def test_the_limit_counts_utf16_units_and_never_splits_an_emoji(sheet: WorkbookSheet) -> None:
    note = "a" + "\N{GRINNING FACE}" * 20_000  # 40,001 units
    sheet.source.write_tabs({"Call Log": [[note]]})
    [[cell]] = sheet.source.read_tabs(["Call Log"])["Call Log"]
    marker = "\N{HORIZONTAL ELLIPSIS} [truncated, 40,001 characters in Outreach]"
    assert cell.endswith(marker)
    kept = cell[: -len(marker)]
    assert kept == note[: len(kept)] and len(cell.encode("utf-16-le")) // 2 <= 32_767
