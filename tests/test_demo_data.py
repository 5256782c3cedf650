"""The demo workbook is reproducible, realistic, and deliberately a little messy."""

from pathlib import Path

from openpyxl import load_workbook

from outreach.demo_data import build_workbook, committed_demo_workbook
from outreach.sheet_source import WorkbookSource
from outreach.sync import read_snapshot

TABS = ["Customers", "Reps", "Settings", "Inbound"]


def cells(path: Path) -> dict[str, list[tuple[object, ...]]]:
    book = load_workbook(path, read_only=True)
    return {name: list(book[name].iter_rows(values_only=True)) for name in book.sheetnames}


def test_generating_twice_gives_the_same_rows(tmp_path: Path) -> None:
    first = build_workbook(tmp_path / "a.xlsx")
    second = build_workbook(tmp_path / "b.xlsx")
    assert cells(first) == cells(second)


def test_committed_workbook_is_what_the_script_generates(tmp_path: Path) -> None:
    assert cells(committed_demo_workbook()) == cells(build_workbook(tmp_path / "fresh.xlsx"))


def test_demo_team_spans_two_time_zones_with_one_manager() -> None:
    snapshot = read_snapshot(WorkbookSource(committed_demo_workbook()).read_tabs(TABS))
    managers = [r for r in snapshot.reps if r.role == "manager"]
    reps = [r for r in snapshot.reps if r.role == "rep"]
    assert len(managers) == 1 and len(reps) == 4
    assert {r.time_zone for r in reps} == {"America/New_York", "America/Los_Angeles"}
    assert all(r.manager_email == managers[0].email for r in reps)


def test_demo_customers_are_about_200_with_messy_rows_explained() -> None:
    snapshot = read_snapshot(WorkbookSource(committed_demo_workbook()).read_tabs(TABS))
    customers = snapshot.customers.records
    assert 180 <= len(customers) <= 200
    assert sum(c.do_not_call for c in customers) >= 3
    assert any(c.phone and c.phone.startswith("+44") for c in customers)
    assert any(c.phone is None for c in customers)
    assert any(c.extra.get("Industry") for c in customers)
    skipped = [p for p in snapshot.problems if p.skipped]
    assert {p.column for p in skipped} >= {"First Name", "Phone", "Owner", "Email", "Customer ID"}
