"""The manager's sheet drives the product: each story runs on a local workbook and on Google.

Google is real gspread against an in-process fake of the Sheets v4 API that checks every
request against Google's discovery document.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from outreach import lease
from outreach.db import Database
from outreach.models import Call, Customer, Lead, Rep, SyncRun, TeamSetting
from outreach.runtime import team_settings
from outreach.sheet.sync import SYNC_LEASE, SYNC_LEASE_TTL, SyncResult, run_sync
from tests.conftest import MONDAY_9AM_NY
from tests.fakes.google_sheets import FakeGoogleSheets
from tests.sheets import CUSTOMERS, GoogleSheet, ManagerSheet, WorkbookSheet, team_tabs

NOW = MONDAY_9AM_NY


@pytest.fixture(params=["workbook", "google"])
def sheet(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ManagerSheet]:
    if request.param == "workbook":
        yield WorkbookSheet(tmp_path / "sheet.xlsx", team_tabs())
        return
    fake = FakeGoogleSheets()
    yield GoogleSheet(fake, team_tabs())
    fake.assert_contract()


def sync(sheet: ManagerSheet, db: Database, at=NOW) -> SyncResult:  # type: ignore[no-untyped-def]
    result = run_sync(db, sheet.source, at)
    assert result.ok, result.error
    return result


def customers(db: Database) -> dict[str, Customer]:
    with db.session() as session:
        return {c.key: c for c in session.scalars(select(Customer))}


def count(db: Database, model) -> int:  # type: ignore[no-untyped-def]
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_good_rows_import_with_e164_phones_and_extras(sheet: ManagerSheet, database: Database) -> None:
    sync(sheet, database)
    found = customers(database)
    assert set(found) == {"id:C1", "id:C2", "id:C3"}
    assert found["id:C1"].phone == "+12125550101"
    assert found["id:C2"].phone == "+442079460958"  # the + survived the trip
    assert found["id:C1"].extra == {"Industry": "Dental"}
    assert found["id:C3"].do_not_call is True
    assert str(found["id:C1"].customer_since) == "2019-03-04"
    with database.session() as session:
        assert {r.email for r in session.scalars(select(Rep))} == {
            "maya@example.com", "ann@example.com", "bob@example.com"}


def test_bad_rows_are_named_and_skipped_good_rows_import(sheet: ManagerSheet, database: Database) -> None:
    rows = [r[:] for r in CUSTOMERS] + [
        ["C4", "", "", "Nameless Inc", "(212) 555-0104", "", "", "", "", "", ""],
        ["C5", "Hal", "Ives", "Ives Co", "555-CALL-NOW-PLEASE", "", "", "", "", "", ""],
        ["C6", "Ida", "Jones", "Jones Co", "(212) 555-0106", "ida@", "", "", "", "", ""],
        ["C7", "Jon", "Kay", "Kay Co", "(212) 555-0107", "", "zed@example.com", "", "", "", ""],
        ["C1", "Kim", "Lee", "Lee Co", "(212) 555-0108", "", "", "", "", "", ""],
        ["C9", "Lou", "Moe", "Moe Co", "212 555 0101", "", "", "", "", "", ""],
        ["C10", "Max", "Ng", "Ng Co", "(212) 555-0110", "", "", "sometime", "maybe", "", ""],
    ]
    sheet.set_tab("Customers", rows)
    result = sync(sheet, database)
    problems = {(p.row, p.column): p for p in result.problems}
    assert problems[(5, "First Name")].reason == "name is missing"
    assert problems[(6, "Phone")].value == "555-CALL-NOW-PLEASE"  # kept by its Customer ID, uncallable
    assert problems[(6, "Phone")].reason.endswith("; the customer is kept, off the call lists until the "
                                                  "number is fixed")
    assert "not an e-mail address" in problems[(7, "Email")].reason  # kept without it
    assert problems[(8, "Owner")].reason == "is not a rep on the Reps tab; goes to the shared pool"
    assert problems[(9, "Customer ID")].reason == "same Customer ID as row 2"
    assert problems[(10, "Phone")].reason == "same phone as row 2"
    assert all(p.tab == "Customers" and p.skipped for p in result.problems if p.row in (5, 9, 10))
    assert not any(problems[cell].skipped for cell in ((6, "Phone"), (7, "Email"), (8, "Owner")))
    assert not problems[(11, "Customer Since")].skipped  # imported without the odd date
    assert problems[(11, "Do Not Call")].reason.startswith("expected yes/no; treated as yes")
    assert set(customers(database)) == {"id:C1", "id:C2", "id:C3", "id:C5", "id:C6", "id:C7", "id:C10"}
    assert customers(database)["id:C5"].phone is None
    assert str(problems[(6, "Phone")]).startswith("Customers row 6, Phone '555-CALL-NOW-PLEASE'")


def test_two_customers_known_only_by_the_same_email_skip_the_second(
        sheet: ManagerSheet, database: Database) -> None:
    header = CUSTOMERS[0]
    pat = ["", "Pat", "Quinn", "Quinn Co", "", "pat@example.org", "", "", "", "", ""]
    again = ["", "Pat", "Q.", "", "", "PAT@example.org", "", "", "", "", ""]
    sheet.set_tab("Customers", [header, pat, again])
    for minutes in (0, 1):  # a new sheet, then the same sheet with Pat's row already known
        result = sync(sheet, database, NOW + timedelta(minutes=minutes))
        assert [str(p) for p in result.problems if p.tab == "Customers"] == [
            "Customers row 3, Email 'PAT@example.org': same e-mail as row 2 (row skipped)"]
        assert set(customers(database)) == {"email:pat@example.org"}
        assert customers(database)["email:pat@example.org"].last_name == "Quinn"


def test_reps_tab_problems_are_named(sheet: ManagerSheet, database: Database) -> None:
    sheet.set_tab("Reps", team_tabs()["Reps"] + [
        ["Cy", "cy@example.com", "Mars/Olympus", "3", "yes", "rep", ""],
        ["Di", "di@example.com", "", "three", "yes", "rep", ""],
        ["Ann Again", "ANN@example.com", "", "3", "yes", "rep", ""],
    ])
    result = sync(sheet, database)
    reasons = {(p.row, p.column): p.reason for p in result.problems}
    assert reasons[(5, "Time Zone")].startswith("not an IANA time zone")
    assert reasons[(6, "Daily Calls")] == "expected a whole number from 0 to 50; the team's 3 is used"
    assert reasons[(7, "Email")] == "same e-mail as row 3"
    assert {p.row for p in result.problems if p.skipped} == {7}  # Cy and Di keep their rows


def test_headers_match_ignoring_case_spaces_and_order(sheet: ManagerSheet, database: Database) -> None:
    sheet.set_tab("Customers", [
        ["PHONE", "first_name", "LastName", "customer id", "E-mail", "Favourite Colour"],
        ["(212) 555-0120", "Nia", "Ola", "X1", "nia@example.org", "teal"],
    ])
    sync(sheet, database)
    (only,) = customers(database).values()
    assert (only.key, only.first_name, only.email, only.extra) == (
        "id:X1", "Nia", "nia@example.org", {"Favourite Colour": "teal"})


@pytest.mark.parametrize(("change", "message"), [
    (lambda s: s.delete_tab("Reps"), "the sheet has no Reps tab"),
    (lambda s: s.set_tab("Customers", [["First Name", "Last Name", "Email"], ["A", "B", "a@b.co"]]),
     "the Customers tab has no Phone column"),
])
def test_missing_tab_or_column_fails_whole_sync_and_keeps_the_snapshot(
        sheet: ManagerSheet, database: Database, change, message: str) -> None:  # type: ignore[no-untyped-def]
    sync(sheet, database)
    change(sheet)
    result = run_sync(database, sheet.source, NOW + timedelta(minutes=1))
    assert not result.ok and message in (result.error or "")
    assert len(customers(database)) == 3 and all(c.active for c in customers(database).values())
    with database.session() as session:
        last = session.scalars(select(SyncRun).order_by(SyncRun.id.desc())).first()
        assert last is not None and last.ok is False and message in (last.error or "")


def test_sorting_inserting_and_deleting_rows_creates_no_duplicates(
        sheet: ManagerSheet, database: Database) -> None:
    sync(sheet, database)
    ids_before = {k: c.id for k, c in customers(database).items()}
    header, *rows = CUSTOMERS
    sheet.set_tab("Customers", [header, *reversed(rows)])  # sorted the other way
    sync(sheet, database)
    sheet.insert_rows("Customers", 2, [["C9", "New", "Person", "", "(212) 555-0199", "", "", "", "", "", ""]])
    sync(sheet, database)
    assert {k: c.id for k, c in customers(database).items() if k != "id:C9"} == ids_before
    assert len(customers(database)) == 4


def test_a_removed_customer_becomes_inactive_and_keeps_history(
        sheet: ManagerSheet, database: Database) -> None:
    sync(sheet, database)
    with database.session() as session, session.begin():
        ann = session.scalar(select(Rep).where(Rep.email == "ann@example.com"))
        carla = session.scalar(select(Customer).where(Customer.key == "id:C1"))
        session.add(Call(rep_id=ann.id, customer_id=carla.id, outcome="connected", created_at=NOW,
                         client_token="t1"))
    sheet.delete_rows("Customers", 2)  # Carla's row
    sync(sheet, database)
    carla = customers(database)["id:C1"]
    assert carla.active is False
    assert count(database, Call) == 1
    sheet.insert_rows("Customers", 2, [CUSTOMERS[1]])
    sync(sheet, database)
    assert customers(database)["id:C1"].active is True
    assert customers(database)["id:C1"].id == carla.id


def test_a_customer_id_added_later_keeps_the_same_customer(sheet: ManagerSheet, database: Database) -> None:
    header, *rows = CUSTOMERS
    no_ids = [header] + [["", *r[1:]] for r in rows]
    sheet.set_tab("Customers", no_ids)
    sync(sheet, database)
    by_phone = customers(database)["phone:+12125550101"].id
    sheet.set_tab("Customers", CUSTOMERS)
    sync(sheet, database)
    assert customers(database)["id:C1"].id == by_phone
    assert len(customers(database)) == 3


def test_an_unchanged_sheet_writes_nothing(sheet: ManagerSheet, database: Database) -> None:
    sync(sheet, database)
    before = {k: c.updated_at for k, c in customers(database).items()}
    if isinstance(sheet, GoogleSheet):
        sheet.fake.clear_requests()
    else:
        sheet.mark()
    result = sync(sheet, database, NOW + timedelta(minutes=1))
    assert not result.changed and result.written_tabs == []
    assert {k: c.updated_at for k, c in customers(database).items()} == before
    assert sheet.write_count() == 0


def test_settings_tab_overrides_defaults_and_reports_bad_values(
        sheet: ManagerSheet, database: Database) -> None:
    sheet.set_tab("Settings", [["Key", "Value"], ["Call List Time", "8:15"],
                               ["Business_Hours", "09:00 to 17:30"], ["Workdays", "Funday"],
                               ["Referral Cooldown Days", "60"], ["Colour", "blue"]])
    result = sync(sheet, database)
    with database.session() as session:
        team = team_settings(session)
        stored = dict(session.execute(select(TeamSetting.key, TeamSetting.value)).all())
    assert str(team.call_list_time) == "08:15:00" and str(team.business_end) == "17:30:00"
    assert team.referral_cooldown_days == 60
    assert team.workdays == frozenset(range(5))  # the bad value kept the default
    reasons = {p.column: p.reason for p in result.problems if p.tab == "Settings"}
    assert reasons["Workdays"].endswith("the default is kept")
    assert reasons["Colour"] == "unknown setting, ignored"
    assert "Workdays" not in stored


def test_an_inbound_row_becomes_exactly_one_lead(sheet: ManagerSheet, database: Database) -> None:
    header = team_tabs()["Inbound"][0]
    dana = ["2026-11-16 08:55:00", "Dana", "Whitfield", "(617) 555-0142", "dana@example.org",
            "Google", "Quote for 3 locations", ""]
    sheet.set_tab("Inbound", [header, dana])
    first = sync(sheet, database)
    assert first.counts["inbound_leads_added"] == 1 and len(first.new_lead_ids) == 1
    # The receptionist inserts a row above, then a form appends one below.
    eli = ["2026-11-16 08:57:00", "Eli", "Fox", "(617) 555-0143", "", "Radio", "", "bob@example.com"]
    sheet.insert_rows("Inbound", 2, [eli])
    sheet.set_tab("Inbound", sheet.tab("Inbound") + [["2026-11-16 09:01:00", "Gus", "Hart", "",
                                                        "gus@example.org", "", "", ""]])
    second = sync(sheet, database, NOW + timedelta(minutes=1))
    assert second.counts["inbound_leads_added"] == 2
    sheet.delete_rows("Inbound", 2)
    assert sync(sheet, database, NOW + timedelta(minutes=2)).counts["inbound_leads_added"] == 0
    with database.session() as session:
        leads = {lead.first_name: lead for lead in session.scalars(select(Lead))}
        owners = {name: session.get(Rep, lead.owner_id).email for name, lead in leads.items()}
    assert sorted(leads) == ["Dana", "Eli", "Gus"]
    assert owners["Eli"] == "bob@example.com"  # the row's Owner column wins
    assert leads["Dana"].created_at == NOW - timedelta(minutes=5)  # 08:55 New York time
    assert leads["Dana"].kind == "inbound" and leads["Dana"].need == "Quote for 3 locations"


DANA = ["2026-11-16 08:55:00", "Dana", "Whitfield", "(617) 555-0142", "dana@example.org",
        "Google", "Quote for 3 locations", ""]


def inbound_leads(db: Database) -> dict[str, Lead]:
    with db.session() as session:
        return {lead.first_name: lead for lead in session.scalars(select(Lead))}


def test_editing_an_inbound_row_never_makes_a_second_lead(
        sheet: ManagerSheet, database: Database) -> None:
    header = team_tabs()["Inbound"][0]
    gus = ["2026-11-16 08:58:00", "Gus", "Hart", "", "gus@example.org", "", "Prices?", ""]
    sheet.set_tab("Inbound", [header, DANA, gus])
    assert sync(sheet, database).counts["inbound_leads_added"] == 2
    # The receptionist corrects Dana's note, retypes her phone, and adds the phone Gus gave
    # on a call back; a form inserts a row above both.
    dana = DANA[:3] + ["+1 617-555-0142", DANA[4], DANA[5], "Quote for 4 locations, after 2pm", ""]
    gus = gus[:3] + ["617 555 0177"] + gus[4:]
    eli = ["2026-11-16 09:01:00", "Eli", "Fox", "(617) 555-0143", "", "Radio", "", ""]
    sheet.set_tab("Inbound", [header, eli, dana, gus])
    again = sync(sheet, database, NOW + timedelta(minutes=1))
    assert again.counts["inbound_leads_added"] == 1  # Eli
    assert sync(sheet, database, NOW + timedelta(minutes=2)).counts["inbound_leads_added"] == 0
    assert sorted(inbound_leads(database)) == ["Dana", "Eli", "Gus"]


def test_leads_keyed_by_the_old_whole_row_hash_are_recognised(
        sheet: ManagerSheet, database: Database) -> None:
    sync(sheet, database)
    raw = "\x1f".join(["2026-11-16 08:55:00", "dana", "whitfield", "(617) 555-0142",
                       "dana@example.org", "quote for 3 locations"])
    old_key = hashlib.sha256(raw.encode()).hexdigest()[:32] + ":1"  # as versions before stored it
    with database.session() as session, session.begin():
        ann = session.scalar(select(Rep).where(Rep.email == "ann@example.com"))
        session.add(Lead(kind="inbound", status="new", owner_id=ann.id, first_name="Dana",
                         last_name="Whitfield", inbound_key=old_key, created_at=NOW))
    sheet.set_tab("Inbound", [team_tabs()["Inbound"][0], DANA])
    assert sync(sheet, database, NOW + timedelta(minutes=1)).counts["inbound_leads_added"] == 0
    assert inbound_leads(database)["Dana"].inbound_key != old_key  # moved to the new key
    edited = DANA[:6] + ["Quote for 3 locations (urgent)", ""]
    sheet.set_tab("Inbound", [team_tabs()["Inbound"][0], edited])
    assert sync(sheet, database, NOW + timedelta(minutes=2)).counts["inbound_leads_added"] == 0
    assert list(inbound_leads(database)) == ["Dana"]


def test_inbound_leads_go_round_robin_to_reps_inside_business_hours(
        sheet: ManagerSheet, database: Database) -> None:
    header = team_tabs()["Inbound"][0]
    rows = [[f"2026-11-16 08:5{n}:00", f"Lead{n}", "X", f"(617) 555-01{50 + n}", "", "", "", ""]
            for n in range(4)]
    sheet.set_tab("Inbound", [header, *rows])
    sync(sheet, database)  # 09:00 in New York is 06:00 in Los Angeles: only Ann is open
    with database.session() as session:
        owners = [session.get(Rep, lead.owner_id).email for lead in session.scalars(select(Lead))]
    assert owners == ["ann@example.com"] * 4
    sheet.set_tab("Inbound", [header, *rows, ["2026-11-16 12:00:00", "Late", "Y", "(617) 555-0160",
                                              "", "", "", ""],
                              ["2026-11-16 12:01:00", "Later", "Z", "(617) 555-0161", "", "", "", ""]])
    sync(sheet, database, NOW + timedelta(hours=3))  # noon in NY, 09:00 in LA: both open
    with database.session() as session:
        late = [session.get(Rep, lead.owner_id).email
                for lead in session.scalars(select(Lead).where(Lead.first_name.like("Late%")))]
    assert sorted(late) == ["ann@example.com", "bob@example.com"]


def test_write_back_is_text_never_a_formula_and_only_in_app_tabs(
        sheet: ManagerSheet, database: Database) -> None:
    sheet.set_tab("Customers", CUSTOMERS + [
        ["C9", "=IMPORTXML(\"http://evil.example\",\"//a\")", "+1 555", "=1+1 Ltd", "(212) 555-0109",
         "", "", "", "", "", ""]])
    sync(sheet, database)
    with database.session() as session, session.begin():
        ann = session.scalar(select(Rep).where(Rep.email == "ann@example.com"))
        evil = session.scalar(select(Customer).where(Customer.key == "id:C9"))
        session.add(Call(rep_id=ann.id, customer_id=evil.id, outcome="connected", created_at=NOW,
                         liked_best="=HYPERLINK(\"x\")", client_token="t1"))
    customers_before = sheet.tab("Customers")
    sync(sheet, database, NOW + timedelta(minutes=1))
    log = sheet.tab("Call Log")
    assert log[0][:3] == ["Call ID", "When", "Rep"]
    assert log[1][4] == "=IMPORTXML(\"http://evil.example\",\"//a\") +1 555"
    assert log[1][5] == "=1+1 Ltd" and log[1][7] == "=HYPERLINK(\"x\")"
    assert sheet.tab("Customers") == customers_before
    if isinstance(sheet, GoogleSheet):
        assert sheet.fake.formula_cells(GoogleSheet.KEY, "Call Log") == []
        writes = [r for r in sheet.fake.api_requests() if r.path.endswith("values:batchUpdate")]
        assert writes and all(r.json["valueInputOption"] == "RAW" for r in writes)


def test_write_back_finds_app_tabs_whatever_their_case(sheet: ManagerSheet, database: Database) -> None:
    sheet.set_tab("leads", [["Lead ID"], ["old 1"], ["old 2"]])
    sheet.set_tab("CALL LOG ", [["Call ID"]])
    result = sync(sheet, database)
    assert result.error is None
    assert result.written_tabs == ["Leads", "Call Log", "Team Summary", "Referrers"]
    assert sheet.tab_titles() == ["Customers", "Reps", "Inbound", "leads", "CALL LOG ", "Team Summary",
                                  "Referrers"]
    assert sheet.tab("leads") == [sheet.tab("leads")[0]] and sheet.tab("leads")[0][0] == "Lead ID"
    assert sheet.tab("CALL LOG ")[0][:3] == ["Call ID", "When", "Rep"]
    again = sync(sheet, database, NOW + timedelta(minutes=1))
    assert again.error is None and again.written_tabs == []


def test_leading_zero_of_a_national_number_survives(sheet: ManagerSheet, database: Database) -> None:
    sheet.set_tab("Settings", [["Key", "Value"], ["Phone Region", "GB"]])
    sheet.set_tab("Customers", [CUSTOMERS[0], ["U1", "Una", "Vale", "", "020 7946 0959", "", "", "", "",
                                               "", ""]])
    result = sync(sheet, database)
    assert not [p for p in result.problems if p.tab == "Customers"]
    assert customers(database)["id:U1"].phone == "+442079460959"


def test_an_unchanged_resync_still_lists_every_problem(sheet: ManagerSheet, database: Database) -> None:
    sheet.set_tab("Customers", CUSTOMERS + [
        ["C8", "Odd", "Date", "", "(212) 555-0180", "", "", "last spring", "", "", ""],
        ["C9", "", "", "", "(212) 555-0190", "", "", "", "", "", ""]])
    first = sync(sheet, database)
    again = sync(sheet, database, NOW + timedelta(minutes=1))
    assert [str(p) for p in again.problems] == [str(p) for p in first.problems]
    assert len(again.problems) == 2 and not again.changed


def test_a_changed_cell_is_checked_again(sheet: ManagerSheet, database: Database) -> None:
    sync(sheet, database)
    rows = [r[:] for r in CUSTOMERS]
    rows[1][4] = "not a phone"
    sheet.set_tab("Customers", rows)
    result = sync(sheet, database, NOW + timedelta(minutes=1))
    assert [(p.row, p.column) for p in result.problems] == [(2, "Phone")]
    carla = customers(database)["id:C1"]
    assert (carla.active, carla.phone) == (True, None)  # kept, off the call lists until fixed


def sync_runs(db: Database) -> list[SyncRun]:
    with db.session() as session:
        return list(session.scalars(select(SyncRun).order_by(SyncRun.id)))


def test_a_sync_while_another_runs_is_skipped_and_recorded_as_skipped(
        sheet: ManagerSheet, database: Database) -> None:
    with database.session() as session, session.begin():
        assert lease.acquire(session, SYNC_LEASE, "worker on another machine", NOW, SYNC_LEASE_TTL)
    busy = run_sync(database, sheet.source, NOW + timedelta(seconds=30))
    assert not busy.ok and busy.busy
    assert busy.error == ("another sync is already running (the worker, Sync now or the CLI); "
                          "this one was skipped")
    assert [(r.skipped, r.error) for r in sync_runs(database)] == [(True, busy.error)]
    assert customers(database) == {}
    # The other holder died mid-sync: its lease runs out and syncing resumes.
    sync(sheet, database, NOW + SYNC_LEASE_TTL + timedelta(seconds=1))
    assert len(customers(database)) == 3


def test_syncs_started_together_never_raise_or_duplicate(
        sheet: ManagerSheet, database: Database) -> None:
    start = threading.Barrier(3)
    results: list[SyncResult] = []

    def sync_now() -> None:
        start.wait()
        results.append(run_sync(database, sheet.source, NOW))

    threads = [threading.Thread(target=sync_now) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 3
    assert all(r.ok or r.busy for r in results), [r.error for r in results]
    assert len(customers(database)) == 3
    assert len([r for r in sync_runs(database) if not r.skipped]) == sum(r.ok for r in results) >= 1
    assert len(sync_runs(database)) == 3  # the skipped ones too, for Data status


def refuse_new_customers(db: Database) -> None:
    """A database that refuses the write, as a full disk or a lost race would."""
    with db.engine.begin() as conn:
        if db.is_postgresql:
            conn.execute(text("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                              "$$ BEGIN RAISE EXCEPTION 'disk quota exceeded'; END $$"))
            conn.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON customers "
                              "FOR EACH ROW EXECUTE FUNCTION refuse()"))
        else:
            conn.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON customers "
                              "BEGIN SELECT RAISE(ABORT, 'disk quota exceeded'); END"))


def test_a_database_refusing_the_snapshot_is_a_recorded_failure(
        sheet: ManagerSheet, database: Database) -> None:
    refuse_new_customers(database)
    result = run_sync(database, sheet.source, NOW)
    assert not result.ok
    assert result.error is not None and result.error.startswith("the database refused the sync (")
    assert "disk quota exceeded" in result.error and "INSERT" not in result.error
    [run] = sync_runs(database)
    assert not run.ok and run.error == result.error
    with database.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse" + (" ON customers" if database.is_postgresql else "")))
    sync(sheet, database, NOW + timedelta(minutes=1))  # the lease was given back
    assert len(customers(database)) == 3
