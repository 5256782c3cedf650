"""No value in the manager's sheet stops the sync, or quietly loses a row (issue 12).

Each story runs on a local workbook and on Google (the fixtures of test_sync). A bad cell
is named (tab, row, column, reason); the row is kept with the default when it is still
usable, and skipped only when it is not.
"""

from __future__ import annotations

import shutil
import zipfile
from datetime import date, timedelta
from pathlib import Path

import gspread
import pytest
from sqlalchemy import String, func, select, text

from outreach import lease
from outreach.calls.planner import plan_day
from outreach.db import Database
from outreach.models import Base, Customer, Lead, OutboxMessage, PlannedCall, Rep, SyncRun
from outreach.runtime import team_settings
from outreach.sheet import sheet_tabs
from outreach.sheet.google_sheet import GoogleSheetSource
from outreach.sheet.sheet_source import WorkbookSource
from outreach.sheet.sync import SYNC_LEASE, SYNC_LEASE_TTL, run_sync, sync_status
from tests.fakes.google_sheets import FakeGoogleSheets, session_for
from tests.sheets import CUSTOMERS, INBOUND, REPS, GoogleSheet, ManagerSheet, WorkbookSheet, team_tabs
from tests.test_sync import NOW, sheet, sync

__all__ = ["sheet"]  # the fixture, imported for pytest to find


def problems_by_cell(result) -> dict[tuple[str, int, str], object]:  # type: ignore[no-untyped-def]
    return {(p.tab, p.row, p.column): p for p in result.problems}


def reps(db: Database) -> dict[str, Rep]:
    with db.session() as session:
        return {r.email: r for r in session.scalars(select(Rep))}


def customers(db: Database) -> dict[str, Customer]:
    with db.session() as session:
        return {c.first_name: c for c in session.scalars(select(Customer).where(Customer.active))}


def leads(db: Database) -> list[Lead]:
    with db.session() as session:
        return list(session.scalars(select(Lead).order_by(Lead.id)))


def runs(db: Database) -> list[SyncRun]:
    with db.session() as session:
        return list(session.scalars(select(SyncRun).order_by(SyncRun.id)))


# -- 3. one bad cell never removes a whole row --------------------------------------------------

@pytest.mark.parametrize("daily_calls", ["-5", "1e9", "three", "3.5"])
def test_a_rep_with_a_bad_cell_keeps_their_row_and_customers(
        sheet: ManagerSheet, database: Database, daily_calls: str) -> None:
    rows = [r[:] for r in REPS]
    rows[2][2:4] = ["Mars/Olympus", daily_calls]  # Ann's Time Zone and Daily Calls
    sheet.set_tab("Reps", rows)
    result = sync(sheet, database)
    cells = problems_by_cell(result)
    zone, calls = cells[("Reps", 3, "Time Zone")], cells[("Reps", 3, "Daily Calls")]
    assert zone.reason == ("not an IANA time zone (e.g. America/New_York); the team's "
                           "America/New_York is used") and not zone.skipped
    assert calls.reason == "expected a whole number from 0 to 50; the team's 3 is used"
    assert not calls.skipped and calls.value == daily_calls
    ann = reps(database)["ann@example.com"]
    assert (ann.active, ann.time_zone, ann.daily_calls) == (True, "America/New_York", 3)
    assert customers(database)["Carla"].owner_email == "ann@example.com"


def test_a_bad_role_or_active_cell_falls_back_to_the_default(sheet: ManagerSheet, database: Database) -> None:
    rows = [r[:] for r in REPS]
    rows[3][4:6] = ["sometimes", "boss"]  # Bob's Active and Role
    sheet.set_tab("Reps", rows)
    result = sync(sheet, database)
    cells = problems_by_cell(result)
    assert cells[("Reps", 4, "Active")].reason == "expected yes or no; treated as yes"
    assert cells[("Reps", 4, "Role")].reason == "expected rep, manager or front desk; treated as rep"
    bob = reps(database)["bob@example.com"]
    assert (bob.active, bob.role) == (True, "rep")  # never a manager by accident


def test_a_customer_with_a_bad_email_or_unknown_owner_stays_on_the_call_lists(
        sheet: ManagerSheet, database: Database) -> None:
    rows = [r[:] for r in CUSTOMERS]
    rows[1][5] = "carla@@example"  # Carla's e-mail
    rows[3][6] = "zed@example.com"  # Fay's owner is not on the Reps tab
    sheet.set_tab("Customers", rows)
    result = sync(sheet, database)
    cells = problems_by_cell(result)
    email, owner = cells[("Customers", 2, "Email")], cells[("Customers", 4, "Owner")]
    assert email.reason.startswith("is not an e-mail address (") and email.reason.endswith("; left out")
    assert owner.reason == "is not a rep on the Reps tab; goes to the shared pool"
    assert not email.skipped and not owner.skipped
    found = customers(database)
    assert (found["Carla"].email, found["Carla"].owner_email) == (None, "ann@example.com")
    assert (found["Fay"].owner_email, found["Fay"].phone) == (None, "+12125550103")
    # The next sync (rows unchanged) lists them again and keeps both customers.
    again = sync(sheet, database, NOW + timedelta(minutes=1))
    assert {("Customers", 2, "Email"), ("Customers", 4, "Owner")} <= set(problems_by_cell(again))
    assert set(customers(database)) == {"Carla", "Dev", "Fay"}


def planned_today(database: Database, day: date) -> set[str]:
    """Whom the day's plan gives the reps to call, by first name."""
    with database.session() as session, session.begin():
        plan_day(session, day, list(session.scalars(select(Rep))), team_settings(session), NOW)
        return set(session.scalars(select(Customer.first_name).join(PlannedCall)
                                   .where(PlannedCall.plan_date == day)))


def test_a_customer_whose_phone_cannot_be_read_is_kept_off_the_call_lists_until_fixed(
        sheet: ManagerSheet, database: Database) -> None:
    sync(sheet, database)
    carla_id = customers(database)["Carla"].id
    rows = [r[:] for r in CUSTOMERS]
    rows[1][4] = "555-CALL-CARLA"  # Carla (Customer ID C1, an e-mail): her number gets a typo
    sheet.set_tab("Customers", rows)
    result = sync(sheet, database, NOW + timedelta(minutes=1))
    problem = problems_by_cell(result)[("Customers", 2, "Phone")]
    assert problem.reason.endswith("; the customer is kept, off the call lists until the number is fixed")
    assert (problem.value, problem.skipped) == ("555-CALL-CARLA", False)
    carla = customers(database)["Carla"]  # the same customer, and so the same history
    assert (carla.id, carla.active, carla.phone, carla.email) == (carla_id, True, None, "carla@example.org")
    assert planned_today(database, NOW.date()) == {"Dev"}  # Fay is Do Not Call
    rows[1][4] = "(212) 555-0111"
    sheet.set_tab("Customers", rows)
    assert not problems_by_cell(sync(sheet, database, NOW + timedelta(minutes=2)))
    assert customers(database)["Carla"].phone == "+12125550111"
    assert "Carla" in planned_today(database, NOW.date() + timedelta(days=1))


def test_a_customer_with_an_unreadable_phone_and_nothing_else_to_know_it_by_is_skipped(
        sheet: ManagerSheet, database: Database) -> None:
    hal = ["", "Hal", "Ives", "Ives Co", "555-CALL-NOW", "", "", "", "", "", ""]  # no Customer ID, no e-mail
    rows = [r[:] for r in CUSTOMERS] + [hal]
    sheet.set_tab("Customers", rows)
    problem = problems_by_cell(sync(sheet, database))[("Customers", 5, "Phone")]
    assert problem.skipped and problem.reason.endswith(
        ", and there is no Customer ID or e-mail to tell the customer apart")
    assert "Hal" not in customers(database)


def test_rows_that_cannot_be_used_are_still_skipped(sheet: ManagerSheet, database: Database) -> None:
    rows = [r[:] for r in REPS] + [["", "nameless@example.com", "", "", "", "", ""],
                                   ["No Email", "not-an-address", "", "", "", "", ""]]
    sheet.set_tab("Reps", rows)
    cells = problems_by_cell(sync(sheet, database))
    assert cells[("Reps", 5, "Name")].skipped and cells[("Reps", 6, "Email")].skipped
    assert set(reps(database)) == {"maya@example.com", "ann@example.com", "bob@example.com"}


# -- 4. an inbound caller is never lost ---------------------------------------------------------

def inbound(*rows: list[str]) -> list[list[str]]:
    return [INBOUND[0][:], *rows]


def test_a_caller_with_a_misspelt_phone_and_no_email_becomes_a_flagged_lead(
        sheet: ManagerSheet, database: Database) -> None:
    typo = ["2026-11-16 08:55:00", "Rita", "Ruiz", "555-01O2", "", "Radio", "Wants a quote", ""]
    sheet.set_tab("Inbound", inbound(typo))
    result = sync(sheet, database)
    problem = problems_by_cell(result)[("Inbound", 2, "Phone")]
    assert problem.reason.endswith("; the lead is kept, flagged to check the number")
    assert not problem.skipped
    [lead] = leads(database)
    assert (lead.first_name, lead.phone, lead.phone_as_typed) == ("Rita", None, "555-01O2")
    assert result.new_lead_ids == [lead.id]
    with database.session() as session:  # the owner is alerted as usual
        [alert] = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "alert"))
    assert "Phone as typed: 555-01O2 (check the number" in alert.text
    assert "Phone as typed: 555-01O2 (check the number" in alert.html
    assert sheet.tab("Leads")[1][7] == "check the number: 555-01O2"  # the Leads tab's Phone
    # The receptionist fixes the number: the same lead, now with a phone to dial.
    typo[3] = "(212) 555-0102"
    sheet.set_tab("Inbound", inbound(typo))
    sync(sheet, database, NOW + timedelta(minutes=1))
    [lead] = leads(database)
    assert lead.phone == "+12125550102"


def alert_for(database: Database) -> OutboxMessage:
    with database.session() as session:
        [alert] = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "alert"))
        return alert


def test_a_caller_whose_only_contact_is_a_mistyped_email_becomes_a_flagged_lead(
        sheet: ManagerSheet, database: Database) -> None:
    typo = ["2026-11-16 09:10:00", "Rita", "Ruiz", "", "rita@@example", "Radio", "Wants a quote", ""]
    sheet.set_tab("Inbound", inbound(typo))
    result = sync(sheet, database)  # the row was skipped: "a lead needs a phone or an e-mail"
    problem = problems_by_cell(result)[("Inbound", 2, "Email")]
    assert problem.reason.startswith("is not an e-mail address (")
    assert problem.reason.endswith("; the lead is kept, flagged to check the e-mail")
    assert not problem.skipped
    [lead] = leads(database)
    assert (lead.first_name, lead.phone, lead.email, lead.email_as_typed) == ("Rita", None, None,
                                                                              "rita@@example")
    assert result.new_lead_ids == [lead.id]
    alert = alert_for(database)  # the owner is alerted as usual
    assert "E-mail as typed: rita@@example (check the e-mail" in alert.text
    assert "E-mail as typed: rita@@example (check the e-mail" in alert.html
    assert "mailto:" not in alert.html
    assert sheet.tab("Leads")[1][8] == "check the e-mail: rita@@example"  # the Leads tab's Email
    # The receptionist fixes the address: the same lead, now with an address to write to.
    typo[4] = "Rita@Example.com"
    sheet.set_tab("Inbound", inbound(typo))
    sync(sheet, database, NOW + timedelta(minutes=1))
    [lead] = leads(database)
    assert (lead.email, lead.email_as_typed) == ("rita@example.com", "")


def test_a_mistyped_email_beside_a_good_phone_is_kept_as_typed_until_fixed(
        sheet: ManagerSheet, database: Database) -> None:
    row = ["2026-11-16 09:10:00", "Sol", "Reyes", "(212) 555-0177", "sol@example..com", "", "", ""]
    sheet.set_tab("Inbound", inbound(row))
    sync(sheet, database)
    [lead] = leads(database)
    assert (lead.phone, lead.email, lead.email_as_typed) == ("+12125550177", None, "sol@example..com")
    row[4] = "sol@example.com"  # the lead is known by its phone, so its key does not change
    sheet.set_tab("Inbound", inbound(row))
    sync(sheet, database, NOW + timedelta(minutes=1))
    [lead] = leads(database)
    assert (lead.email, lead.email_as_typed) == ("sol@example.com", "")


def test_what_was_typed_is_kept_as_far_as_the_database_holds_it(
        sheet: ManagerSheet, database: Database) -> None:
    """PostgreSQL refused a 300-character typo (varchar(200)), and with it every later sync."""
    phone, email = "555-" + "O" * 300, "rita@@" + "x" * 400
    sheet.set_tab("Inbound", inbound(["2026-11-16 09:10:00", "Rita", "Ruiz", phone, email, "", "", ""]))
    sync(sheet, database)
    [lead] = leads(database)
    assert lead.phone_as_typed == phone[:199] + "\u2026" and lead.email_as_typed == email[:319] + "\u2026"


# -- 2. exceptions that escaped are recorded, with one clear reason -----------------------------

def test_a_timestamp_in_year_9999_is_named_and_the_lead_is_kept(
        sheet: ManagerSheet, database: Database) -> None:
    sheet.set_tab("Inbound", inbound(
        ["9999-12-31 23:59:59", "Sam", "Soon", "(212) 555-0199", "", "", "", ""],
        ["0001-01-01 00:00:00", "Old", "Timer", "(212) 555-0198", "", "", "", ""]))
    result = sync(sheet, database)
    cells = problems_by_cell(result)
    for row in (2, 3):
        assert cells[("Inbound", row, "Timestamp")].reason == (
            "is not a plausible date; the time the row was read is used")
    assert [(lead.first_name, lead.created_at) for lead in leads(database)] == [("Sam", NOW), ("Old", NOW)]


def corrupt_member(path: Path, member: str, data: bytes | None = None) -> None:
    """Rewrite one part of the .xlsx zip: with other bytes, or with its deflated bytes garbled."""
    copy = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as old, zipfile.ZipFile(copy, "w") as new:
        for item in old.infolist():
            content = old.read(item.filename)
            if item.filename == member:
                content = data if data is not None else content
            new.writestr(item, content, compress_type=zipfile.ZIP_DEFLATED)
    shutil.move(copy, path)
    if data is None:  # flip bytes inside the compressed stream: zlib.error when read
        raw = bytearray(path.read_bytes())
        with zipfile.ZipFile(path) as book:
            info = book.getinfo(member)
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
        for i in range(start + 10, start + 40):
            raw[i] ^= 0x5A
        path.write_bytes(bytes(raw))


@pytest.mark.parametrize("damage", [b"<worksheet><sheetData><row><c r=", None],
                         ids=["broken xml", "broken deflate"])
def test_a_corrupt_workbook_is_a_recorded_failure_retried_on_the_interval(
        tmp_path: Path, database: Database, damage: bytes | None) -> None:
    sheet = WorkbookSheet(tmp_path / "sheet.xlsx", team_tabs())
    sync(sheet, database)
    corrupt_member(sheet.path, "xl/worksheets/sheet1.xml", damage)
    result = run_sync(database, WorkbookSource(sheet.path), NOW + timedelta(minutes=1))
    assert not result.ok
    assert result.error is not None and result.error.startswith("cannot read workbook sheet.xlsx")
    last = runs(database)[-1]
    assert (last.ok, last.error) == (False, result.error)
    with database.session() as session:
        status = sync_status(session)
    assert status.failing and status.problem == result.error
    assert len(customers(database)) == 3  # the last good snapshot stays


def test_a_failure_after_the_read_is_a_recorded_failure_with_one_reason(
        tmp_path: Path, sqlite_db: Database) -> None:
    """The read went well; applying it did not. The sync's last handler records it like any other.

    Provoked through a value in the database no check of ours let in (a hand edit of the SQLite
    file): loading Bob's row raises ValueError while the reps are applied. PostgreSQL cannot hold
    such a value; what it refuses is a database error, recorded by the handler before this one.
    """
    sheet = WorkbookSheet(tmp_path / "sheet.xlsx", team_tabs())
    sync(sheet, sqlite_db)
    with sqlite_db.engine.begin() as conn:
        conn.execute(text("UPDATE reps SET updated_at = 'last tuesday' WHERE email = 'bob@example.com'"))
    rows = [r[:] for r in CUSTOMERS]
    rows[1][2] = "Diaz-Ruiz"  # a change this sync would have made
    sheet.set_tab("Customers", rows)
    result = run_sync(sqlite_db, WorkbookSource(sheet.path), NOW + timedelta(minutes=1))  # raised before
    assert not result.ok
    assert result.error == ("the sync stopped (ValueError: Invalid isoformat string: 'last tuesday'); "
                            "the previous snapshot is kept and the next sync tries again")
    last = runs(sqlite_db)[-1]
    assert (last.ok, last.error) == (False, result.error)
    with sqlite_db.session() as session:
        status = sync_status(session)
    assert status.failing and status.problem == result.error
    assert customers(sqlite_db)["Carla"].last_name == "Diaz"  # nothing of the run was half applied


def test_every_failure_of_a_sync_waits_the_normal_interval(tmp_path: Path, runtime) -> None:  # type: ignore[no-untyped-def]
    from outreach.worker import sync_if_due

    corrupt_member(runtime.settings.workbook, "xl/workbook.xml", b"<workbook")
    for seconds in (0, 5, 10, 30):
        sync_if_due(runtime, NOW + timedelta(seconds=seconds))
    assert [r.ok for r in runs(runtime.db)] == [False]
    sync_if_due(runtime, NOW + timedelta(seconds=runtime.settings.sync_interval))
    assert len(runs(runtime.db)) == 2


# -- 5. numbers are bounded; one bad lead fails alone -------------------------------------------

@pytest.mark.parametrize(("key", "raw", "reason"), [
    ("Referral Cooldown Days", "1e9", "expected a whole number from 0 to 3650"),
    ("Escalation Business Days", "1e9", "expected a whole number from 0 to 60"),
    ("Daily Calls", "1e9", "expected a whole number from 0 to 50"),
    ("Reminder Schedule", "5m, 99999999d", "at most 30d"),
    ("CC Manager After", "100000d", "at most 30d"),
    ("Average Deal Value", "1e30", "expected an amount from 0 to 1,000,000,000"),
])
def test_a_huge_number_in_settings_is_refused_and_the_day_still_plans(
        sheet: ManagerSheet, runtime, key: str, raw: str, reason: str) -> None:  # type: ignore[no-untyped-def]
    from outreach.worker import nag, plan_the_day

    sheet.set_tab("Settings", [["Key", "Value"], [key, raw]])
    result = sync(sheet, runtime.db)
    [problem] = [p for p in result.problems if p.tab == "Settings"]
    assert problem.reason == f"{reason}; the default is kept"
    with runtime.db.session() as session:
        assert team_settings(session).overridden == frozenset()
    plan_the_day(runtime, NOW)  # raised OverflowError every 15 s before
    nag(runtime, NOW)


# -- 6. a script the sandbox cannot hold is refused on its row; the sync goes on ----------------

@pytest.mark.parametrize("key", ["Referral Script", "Thank You Email"])
def test_a_script_nested_a_hundred_deep_is_named_and_every_sync_still_runs(
        sheet: ManagerSheet, database: Database, key: str) -> None:
    deep = "{{ " + "(" * 300 + "customer.first_name" + ")" * 300 + " }}"  # RecursionError before
    sheet.set_tab("Settings", [["Key", "Value"], ["Daily Calls", "4"], [key, deep]])
    result = sync(sheet, database)
    assert result.ok and result.error is None
    [problem] = [p for p in result.problems if p.tab == "Settings"]
    assert (problem.row, problem.column, problem.skipped) == (3, key, False)
    assert "cannot be used: it is nested too deeply" in problem.reason
    assert problem.reason.endswith("; the default is kept")
    with database.session() as session:
        team = team_settings(session)
    assert (team.daily_calls, team.referral_script, team.thank_you_email) == (4, "", "")


# -- 7. empty optional tabs; duplicates named ---------------------------------------------------

@pytest.mark.parametrize("tab", ["Inbound", "Settings"])
def test_an_empty_optional_tab_is_fine(sheet: ManagerSheet, database: Database, tab: str) -> None:
    sheet.set_tab(tab, [])
    result = sync(sheet, database)
    assert [p for p in result.problems if p.tab == tab] == []
    assert len(customers(database)) == 3


def test_a_repeated_unknown_header_keeps_both_columns(sheet: ManagerSheet, database: Database) -> None:
    rows = [r[:] + [value] for r, value in zip(CUSTOMERS, ["Industry", "Dentistry", "", ""], strict=True)]
    sheet.set_tab("Customers", rows)
    result = sync(sheet, database)
    [problem] = [p for p in result.problems if p.tab == "Customers"]
    assert (problem.row, problem.column, problem.skipped) == (1, "Industry", False)
    assert problem.reason == ("two columns are named 'Industry' (columns K and L); the second is kept "
                              "as 'Industry (column L)'")
    assert customers(database)["Carla"].extra == {"Industry": "Dental", "Industry (column L)": "Dentistry"}


def test_a_repeated_known_header_uses_the_first_and_says_so(sheet: ManagerSheet, database: Database) -> None:
    rows = [r[:] + [value] for r, value in zip(CUSTOMERS, ["Phone", "(212) 555-0999", "", ""], strict=True)]
    sheet.set_tab("Customers", rows)
    result = sync(sheet, database)
    [problem] = [p for p in result.problems if p.tab == "Customers"]
    assert problem.reason == ("column L is a second Phone column (the first is 'Phone', column E, which "
                              "is used); delete or rename one")
    assert customers(database)["Carla"].phone == "+12125550101"


def test_a_repeated_settings_key_uses_the_first_and_names_the_second(
        sheet: ManagerSheet, database: Database) -> None:
    sheet.set_tab("Settings", [["Key", "Value"], ["Daily Calls", "4"], ["daily calls", "9"]])
    result = sync(sheet, database)
    [problem] = [p for p in result.problems if p.tab == "Settings"]
    assert (problem.row, problem.value) == (3, "9")
    assert problem.reason == "already set on row 2; this row is ignored (delete one)"
    with database.session() as session:
        assert team_settings(session).daily_calls == 4


# -- 8. a killed sync blocks the next for a minute at most, and skipped syncs show -------------

def test_a_lease_left_by_a_killed_sync_is_taken_over_within_a_minute(
        sheet: ManagerSheet, database: Database) -> None:
    with database.session() as session, session.begin():
        assert lease.acquire(session, SYNC_LEASE, "killed worker", NOW, SYNC_LEASE_TTL)
    skipped = run_sync(database, sheet.source, NOW + timedelta(seconds=20))
    assert skipped.busy
    [run] = runs(database)
    assert (run.skipped, run.ok) == (True, False)
    with database.session() as session:
        status = sync_status(session, NOW + timedelta(seconds=30))
    assert not status.failing and status.last_run is None
    assert status.skipped_note(NOW + timedelta(seconds=30)) == (
        "Sync skipped just now: another sync was running (still running, last heard from just now). "
        "A sync that dies is taken over within 60 seconds.")
    sync(sheet, database, NOW + timedelta(seconds=61))
    with database.session() as session:
        status = sync_status(session, NOW + timedelta(seconds=62))
    assert status.skipped is None and status.last_run is not None and status.last_run.ok


def test_a_long_sync_keeps_its_lease_by_heartbeat(database: Database) -> None:
    import time

    ttl = timedelta(seconds=0.6)
    with database.session() as session, session.begin():
        assert lease.acquire(session, "sync-test", "long sync", NOW, ttl)
    with lease.kept(database, "sync-test", "long sync", NOW, ttl):
        time.sleep(1.5)  # well past the first expiry
        with database.session() as session, session.begin():
            taken = lease.acquire(session, "sync-test", "someone else", NOW + timedelta(seconds=1.5), ttl)
    assert not taken


# -- 9. text longer than its database column is cut and named, never refused -------------------
# PostgreSQL refused any such value (StringDataRightTruncation), and with it every sync; SQLite never noticed.

def test_a_250_character_inbound_first_name_is_cut_and_the_lead_kept(
        sheet: ManagerSheet, database: Database) -> None:
    name = "Rita" + "a" * 246
    sheet.set_tab("Inbound", inbound(["2026-11-16 09:10:00", name, "Ruiz", "(212) 555-0177", "", "", "", ""]))
    result = sync(sheet, database)
    problem = problems_by_cell(result)[("Inbound", 2, "First Name")]
    assert (problem.reason, problem.value, problem.skipped) == ("longer than 200 characters: cut", name,
                                                                False)
    [lead] = leads(database)
    assert (lead.first_name, lead.last_name, lead.phone) == (name[:199] + "\u2026", "Ruiz", "+12125550177")
    assert result.new_lead_ids == [lead.id]


def test_a_500_character_customer_company_and_last_name_are_cut_and_the_customer_kept(
        sheet: ManagerSheet, database: Database) -> None:
    last, company = "Diaz" + "z" * 496, "Diaz Dental" + " and Sons" * 54 + "!"
    rows = [r[:] for r in CUSTOMERS]
    rows[1][2:4] = [last, company]  # Carla's Last Name and Company
    sheet.set_tab("Customers", rows)
    result = sync(sheet, database)
    cells = problems_by_cell(result)
    assert cells[("Customers", 2, "Last Name")].reason == "longer than 200 characters: cut"
    assert cells[("Customers", 2, "Company")].reason == "longer than 300 characters: cut"
    assert not cells[("Customers", 2, "Last Name")].skipped and not cells[("Customers", 2, "Company")].skipped
    carla = customers(database)["Carla"]
    assert (carla.key, carla.phone, carla.owner_email) == ("id:C1", "+12125550101", "ann@example.com")
    assert (carla.last_name, carla.company) == (last[:199] + "\u2026", company[:299] + "\u2026")
    # The next sync (the row unchanged) names the cells again and keeps the customer as it is.
    again = sync(sheet, database, NOW + timedelta(minutes=1))
    assert {("Customers", 2, "Last Name"), ("Customers", 2, "Company")} <= set(problems_by_cell(again))
    assert customers(database)["Carla"].id == carla.id and again.counts["customers_updated"] == 0


def test_a_400_character_rep_name_is_cut_and_the_rep_keeps_their_customers(
        sheet: ManagerSheet, database: Database) -> None:
    name = "Ann Archer" + " Jr." * 97 + "!!"
    rows = [r[:] for r in REPS]
    rows[2][0] = name
    sheet.set_tab("Reps", rows)
    result = sync(sheet, database)
    problem = problems_by_cell(result)[("Reps", 3, "Name")]
    assert (problem.reason, problem.skipped) == ("longer than 200 characters: cut", False)
    ann = reps(database)["ann@example.com"]
    assert (ann.name, ann.first_name, ann.active) == (name[:199] + "\u2026", "Ann", True)
    assert customers(database)["Carla"].owner_email == "ann@example.com"


def test_a_customer_id_longer_than_its_column_is_left_out_not_cut(
        sheet: ManagerSheet, database: Database) -> None:
    """Cut, two long IDs alike at the start would be one customer; the row's phone still tells it apart."""
    long_id = "C1-" + "9" * 147
    rows = [r[:] for r in CUSTOMERS]
    rows[1][0] = long_id  # Carla, who has a phone and an e-mail
    rows.append([long_id + "-2", "Hal", "Ives", "", "", "", "", "", "", "", ""])  # nothing else knows Hal
    sheet.set_tab("Customers", rows)
    cells = problems_by_cell(sync(sheet, database))
    carla, hal = cells[("Customers", 2, "Customer ID")], cells[("Customers", 5, "Customer ID")]
    assert (carla.reason, carla.skipped) == (
        "longer than 100 characters: left out; the customer is known by its phone or e-mail", False)
    assert hal.skipped and hal.reason == (
        "longer than 100 characters, and there is no phone or e-mail to tell the customer apart")
    found = customers(database)
    assert (found["Carla"].key, found["Carla"].sheet_customer_id) == ("phone:+12125550101", None)
    assert "Hal" not in found


def test_a_time_zone_too_long_to_be_a_file_name_is_named_and_the_default_used(
        sheet: ManagerSheet, database: Database) -> None:
    """zoneinfo's OSError (file name too long) got past both checks and stopped every sync, on SQLite too."""
    zone = "America/" + "x" * 300
    rows = [r[:] for r in REPS]
    rows[2][2] = zone  # Ann's Time Zone
    sheet.set_tab("Reps", rows)
    sheet.set_tab("Settings", [["Key", "Value"], ["Time Zone", zone], ["Daily Calls", "4"]])
    cells = problems_by_cell(sync(sheet, database))
    not_a_zone = "not an IANA time zone (e.g. America/New_York)"
    assert cells[("Reps", 3, "Time Zone")].reason == f"{not_a_zone}; the team's America/New_York is used"
    assert cells[("Settings", 2, "Time Zone")].reason == f"{not_a_zone}; the default is kept"
    assert reps(database)["ann@example.com"].time_zone == "America/New_York"
    with database.session() as session:
        assert team_settings(session).daily_calls == 4


# Far longer than any column, in the shapes the checks read differently: words, an address, a number.
HUGE = ("Ab " * 700, "a" * 64 + "@" + ".".join(["b" * 63] * 32) + ".com", "2" * 2100)
GOOD_CELLS = {  # a usable row of each tab, {n} making its identities its own
    "Reps": {"name": "Rex Ray", "email": "rex{n}@example.com", "time_zone": "America/Chicago",
             "daily_calls": "2", "active": "yes", "role": "rep", "manager": "maya@example.com"},
    "Customers": {"customer_id": "S{n}", "first_name": "Sam", "last_name": "Stone", "company": "Stone Co",
                  "phone": "(212) 555-{n:04d}", "email": "sam{n}@example.com", "owner": "ann@example.com",
                  "customer_since": "2020-01-02", "do_not_call": "", "notes": "Nice"},
    "Inbound": {"timestamp": "2026-11-16 09:10:00", "first_name": "Ivy", "last_name": "Ito",
                "phone": "(212) 555-{n:04d}", "email": "ivy{n}@example.com", "heard_about": "Radio",
                "reason": "A quote", "owner": ""},
}


def every_cell_too_long(spec: sheet_tabs.TabSpec, table: list[list[str]]) -> list[list[str]]:
    """The tab's rows, then a usable row per column and shape with that one cell far too long.

    The columns are the tab's definition, so a column added to the sheet is filled here too.
    """
    fields = list(dict.fromkeys(spec.columns.values()))
    header = [spec.header_for(f) for f in fields]
    rows = [header + ["Industry"]]
    rows += [[dict(zip(table[0], row, strict=True)).get(h, "") for h in header] + [""] for row in table[1:]]
    good = GOOD_CELLS[spec.title]
    for name in fields:
        for huge in HUGE:
            cells = [good.get(f, "").format(n=100 + len(rows)) for f in fields]
            cells[fields.index(name)] = huge
            rows.append(cells + ["Dental"])
    rows.append([good.get(f, "").format(n=100 + len(rows)) for f in fields] + [HUGE[0]])
    return rows


def test_no_text_from_the_sheet_outgrows_its_database_column(database: Database) -> None:
    """Every column of every tab, in turn, far too long; then every String column of every table is measured.

    A String column the sync writes without a limit fails here: on PostgreSQL the sync is refused,
    on SQLite (which stores anything) the measure names the column.
    """
    tabs = {spec.title: every_cell_too_long(spec, table) for spec, table in (
        (sheet_tabs.REPS, REPS), (sheet_tabs.CUSTOMERS, CUSTOMERS), (sheet_tabs.INBOUND, INBOUND))}
    padded = "Daily " + "-" * 300 + " Calls"  # read as Daily Calls
    tabs["Settings"] = [["Key", "Value"], [padded, "4"], *[[huge, "1"] for huge in HUGE],
                        *[[key, huge] for key in ("Sender Name", "Time Zone", "Holiday Subdivision")
                          for huge in HUGE]]
    fake = FakeGoogleSheets()
    fake.add_spreadsheet(GoogleSheet.KEY, "Acme " * 200, tabs)  # the sheet's title names every sync run
    source = GoogleSheetSource(gspread.Client(auth=None, session=session_for(fake)), GoogleSheet.KEY,
                               sleep=lambda _s: None)
    result = run_sync(database, source, NOW)
    assert result.ok, result.error
    overlong, longest = [], {}
    with database.session() as session:
        for table in Base.metadata.sorted_tables:
            for column in table.c:
                if isinstance(column.type, String) and column.type.length:
                    most = session.scalar(select(func.max(func.length(column)))) or 0
                    longest[f"{table.name}.{column.name}"] = most
                    if most > column.type.length:
                        overlong.append(f"{table.name}.{column.name}: {most} > {column.type.length}")
        assert overlong == []
        assert team_settings(session).daily_calls == 4
    # Not vacuous: the text reached the tables, cut to the column.
    reached = {"reps.name": 200, "customers.first_name": 200, "customers.company": 300,
               "leads.last_name": 200, "leads.heard_about": 300, "sync_runs.source": 500}
    assert {name: longest[name] for name in reached} == reached
    fake.assert_contract()
