"""The manager's Team page, run in-process with Streamlit's AppTest on the demo team."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import PurePosixPath

import pytest
import time_machine
from sqlalchemy import select
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from outreach import clock
from outreach.access import viewer_for_email
from outreach.csv_export import csv_bytes
from outreach.models import Call, Customer, Lead, OutboxMessage, Rep
from outreach.runtime import Runtime, team_settings
from outreach.settings import PROJECT_ROOT
from outreach.team.metrics import SUMMARY_DAYS, SUMMARY_HEADER, Filters, report_for, summary_rows
from outreach.ui.auth import VIEWER_KEY
from tests.apptest import MANAGER, open_app
from tests.factories import add_lead
from tests.shown import shown

DEMO_REPS = {"Jordan Rivera", "Priya Patel", "Sam Okafor", "Alex Kim"}
EVIL_FORMULA = '=HYPERLINK("http://evil.example","Open")'


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, bytes]]:
    """The bytes behind each download button, by file id: AppTest keeps them only during a run."""
    files: dict[str, bytes] = {}
    keep = MemoryMediaFileStorage.load_and_get_id

    def load_and_get_id(self, path_or_data, mimetype, kind, filename=None):  # type: ignore[no-untyped-def]
        file_id = keep(self, path_or_data, mimetype, kind, filename)
        files[file_id] = path_or_data
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", load_and_get_id)
    yield files


def downloaded(at: AppTest, key: str, files: dict[str, bytes]) -> bytes:
    """What the browser gets from the download button ``key``."""
    (button,) = [b for b in at.download_button if b.proto.id.endswith(f"-{key}")]
    return files[PurePosixPath(button.proto.url).stem]


def test_a_manager_sees_every_rep_and_downloads_the_same_table(demo_app: Runtime,
                                                                 downloads: dict[str, bytes]) -> None:
    now = clock.now()
    with time_machine.travel(now, tick=False):  # the page and the check below count the same moment
        at = open_app("team.py", as_email=MANAGER)
        with demo_app.db.session() as session:
            team = team_settings(session)
            today = now.astimezone(team.zone).date()
            report = report_for(session, viewer_for_email(session, MANAGER),
                                Filters(today - timedelta(days=SUMMARY_DAYS - 1), today), now, team)
    assert not at.exception, at.exception
    assert at.title[0].value == "Team"
    by_rep = at.dataframe[0].value
    assert set(by_rep["Rep"]) == DEMO_REPS
    assert {m.label for m in at.metric} >= {"Calls made / planned", "Reached within 5 min"}
    file = downloaded(at, "team_csv", downloads)
    rows = list(csv.DictReader(io.StringIO(file.decode())))
    assert [r["Rep"] for r in rows] == list(by_rep["Rep"]) and list(rows[0]) == SUMMARY_HEADER
    assert file == csv_bytes(summary_rows(report), SUMMARY_HEADER)


def test_the_csv_downloads_never_hold_a_live_formula(demo_app: Runtime, downloads: dict[str, bytes]) -> None:
    with demo_app.db.session() as session, session.begin():
        jordan = session.scalar(select(Rep).where(Rep.email == "jordan.rivera@example.com"))
        jordan.name = "@SUM(1+1)*cmd|' /C calc'!A0"
        add_lead(session, jordan, f"{EVIL_FORMULA} Smith", created_at=clock.now() - timedelta(hours=3))
    at = open_app("team.py", as_email=MANAGER)
    assert not at.exception, at.exception
    summary = list(csv.reader(io.StringIO(downloaded(at, "team_csv", downloads).decode())))
    assert [r[0] for r in summary if "SUM" in r[0]] == ["'@SUM(1+1)*cmd|' /C calc'!A0"]
    overdue = list(csv.DictReader(io.StringIO(downloaded(at, "overdue_csv", downloads).decode())))
    (lead,) = [r for r in overdue if "HYPERLINK" in r["lead"]]
    assert lead["lead"] == f"'{EVIL_FORMULA} Smith" and lead["owner"] == "'@SUM(1+1)*cmd|' /C calc'!A0"
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in overdue for cell in row.values())


def test_the_team_page_refuses_a_rep_even_when_reached_directly(demo_app: Runtime) -> None:
    with demo_app.db.session() as session:
        rep = viewer_for_email(session, "jordan.rivera@example.com")
    at = AppTest.from_file(str(PROJECT_ROOT / "outreach/ui/pages/team.py"), default_timeout=30)
    at.session_state[VIEWER_KEY] = rep
    at.run()
    assert "This page is for managers" in at.error[0].value
    assert not at.dataframe and not at.metric


def test_a_manager_reassigns_an_overdue_lead_and_the_new_owner_is_alerted(demo_app: Runtime) -> None:
    with time_machine.travel(clock.now() + timedelta(hours=2), tick=False):
        at = open_app("team.py", as_email=MANAGER)
        assert not at.exception, at.exception
        lead_id = at.selectbox(key="overdue_lead").value
        with demo_app.db.session() as session:
            old_owner = session.get(Lead, lead_id).owner_id
            new_owner = session.scalar(select(Rep.id).where(Rep.role == "rep", Rep.id != old_owner)
                                       .order_by(Rep.id).limit(1))
        at.selectbox(key="overdue_owner").set_value(new_owner)
        at.button(key="overdue_reassign").click().run()
        assert not at.exception, at.exception
        assert "reassigned" in at.success[0].value
    with demo_app.db.session() as session:
        assert session.get(Lead, lead_id).owner_id == new_owner
        alerts = session.scalars(select(OutboxMessage).where(
            OutboxMessage.lead_id == lead_id, OutboxMessage.kind == "alert")).all()
        assert {a.rep_id for a in alerts} == {old_owner, new_owner}


def test_the_escalation_link_opens_the_reassign_control_for_that_lead(demo_app: Runtime) -> None:
    with time_machine.travel(clock.now() + timedelta(hours=2), tick=False):
        with demo_app.db.session() as session:
            lead = session.scalars(select(Lead).where(Lead.status == "new").order_by(Lead.id.desc())).first()
            other = session.scalar(select(Rep.id).where(Rep.role == "rep", Rep.id != lead.owner_id)
                                   .order_by(Rep.id).limit(1))
        at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=30)
        at.query_params["lead"] = str(lead.id)
        at.run()
        at.selectbox(key="demo_rep").set_value(MANAGER).run()
        at.switch_page("outreach/ui/pages/team.py").run()
        assert not at.exception, at.exception
        assert at.subheader[0].value == "The lead from your e-mail"
        assert at.selectbox(key="linked_lead").value == lead.id
        (only,) = at.selectbox(key="linked_lead").options  # just this one lead
        assert only.startswith(f"{lead.full_name} (")
        at.multiselect(key="team_reps").set_value([other]).run()  # the tables below: another rep's
        assert at.selectbox(key="linked_lead").value == lead.id
        at.selectbox(key="linked_owner").set_value(other)
        at.button(key="linked_reassign").click().run()
        assert not at.exception, at.exception
    with demo_app.db.session() as session:
        assert session.get(Lead, lead.id).owner_id == other


def test_a_stale_escalation_link_says_the_lead_no_longer_waits(demo_app: Runtime) -> None:
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=30)
    at.query_params["lead"] = "999999"
    at.run()
    at.selectbox(key="demo_rep").set_value(MANAGER).run()
    at.switch_page("outreach/ui/pages/team.py").run()
    assert any(i.value.startswith("Lead 999999 is no longer waiting") for i in at.info)
    assert not [s for s in at.subheader if s.value == "The lead from your e-mail"]


def test_closing_a_lead_named_like_a_link_says_so_in_plain_text(demo_app: Runtime) -> None:
    evil = "[Session expired - sign in again](http://evil.example)"
    with demo_app.db.session() as session, session.begin():
        jordan = session.scalar(select(Rep).where(Rep.email == "jordan.rivera@example.com"))
        lead = add_lead(session, jordan, f"Zed {evil}", created_at=clock.now() - timedelta(hours=3))
    at = open_app("team.py", as_email=MANAGER)
    at.selectbox(key="overdue_lead").set_value(lead.id).run()
    at.button(key="overdue_close").click().run()
    assert not at.exception, at.exception
    (said,) = [s.value for s in at.success if "closed as a duplicate" in shown(s.value)]
    assert shown(said) == f"Zed {evil} closed as a duplicate: no more reminders."
    assert "](http" not in said


def test_a_lead_number_beyond_any_key_does_not_break_the_team_page(demo_app: Runtime) -> None:
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=30)
    at.query_params["lead"] = "99999999999999999999999"
    at.run()
    at.selectbox(key="demo_rep").set_value(MANAGER).run()
    at.switch_page("outreach/ui/pages/team.py").run()
    assert not at.exception, at.exception
    assert [i.value for i in at.info if "link" in i.value] == ["That link does not name a lead."]


def test_referrals_per_ask_is_said_beside_the_metric_not_as_an_arrowed_delta(demo_app: Runtime) -> None:
    with demo_app.db.session() as session, session.begin():  # one ask today, two names from it
        jordan = session.scalar(select(Rep).where(Rep.email == "jordan.rivera@example.com"))
        customer = session.scalars(select(Customer)).first()
        call = Call(rep_id=jordan.id, customer_id=customer.id, outcome="connected", created_at=clock.now(),
                    client_token="ask-1")
        session.add(call)
        session.flush()
        for name in ("Ria One", "Rob Two"):
            add_lead(session, jordan, name, call_id=call.id, created_at=clock.now())
    at = open_app("team.py", as_email=MANAGER)
    assert not at.exception, at.exception
    (referrals,) = [m for m in at.metric if m.label == "Referrals"]
    assert not referrals.delta  # a ratio is not a change: no arrow, no green or red
    assert "2.00 per ask" in [c.value for c in at.caption]
    assert not [m for m in at.metric if "per ask" in (m.delta or "")]


def test_the_by_rep_table_shows_the_readable_columns_and_the_csv_all(demo_app: Runtime,
                                                                     downloads: dict[str, bytes]) -> None:
    at = open_app("team.py", as_email=MANAGER)
    assert not at.exception, at.exception
    assert list(at.dataframe[0].value.columns) == [
        "Rep", "Calls made", "Quota met (%)", "Conversations", "Referrals", "Referrals per ask",
        "Median minutes to talk", "Reached within 5 min (%)", "Overdue leads", "Never a conversation (%)"]
    header = next(csv.reader(io.StringIO(downloaded(at, "team_csv", downloads).decode())))
    assert header == SUMMARY_HEADER


def test_a_manager_who_only_manages_is_no_reassign_target_nor_filter_choice(demo_app: Runtime) -> None:
    with demo_app.db.session() as session:
        maya = session.scalar(select(Rep).where(Rep.email == MANAGER))
        assert maya.daily_calls == 0
    with time_machine.travel(clock.now() + timedelta(hours=2), tick=False):
        at = open_app("team.py", as_email=MANAGER)
    assert not at.exception, at.exception
    assert "Maya Chen" not in at.multiselect(key="team_reps").options
    assert set(at.multiselect(key="team_reps").options) == DEMO_REPS
    assert "Maya Chen" not in at.selectbox(key="overdue_owner").options


def test_a_manager_closes_a_duplicate_of_the_kept_lead_then_undoes_it(demo_app: Runtime) -> None:
    with demo_app.db.session() as session, session.begin():
        jordan = session.scalar(select(Rep).where(Rep.email == "jordan.rivera@example.com"))
        kept = add_lead(session, jordan, "Quinn Twice", phone="+16175550199", email="quinn@example.com",
                        created_at=clock.now() - timedelta(hours=5))
        again = add_lead(session, jordan, "Quinn Twice", phone="+16175550199",
                         created_at=clock.now() - timedelta(hours=3))
        kept_id, again_id = kept.id, again.id
    at = open_app("team.py", as_email=MANAGER)
    at.selectbox(key="overdue_lead").set_value(again_id).run()
    choice = at.selectbox(key=f"overdue_kept_{again_id}")
    assert choice.value == kept_id  # same phone and name: offered first
    assert choice.options[0].startswith("Quinn Twice (Jordan Rivera, new, ")
    assert choice.options[0].endswith("· same phone, name")
    at.button(key="overdue_close").click().run()
    assert not at.exception, at.exception
    assert any("Quinn Twice closed as a duplicate" in shown(s.value) for s in at.success)
    with demo_app.db.session() as session:
        closed = session.get(Lead, again_id)
        assert (closed.status, closed.duplicate_of_id) == ("duplicate", kept_id)
    assert at.selectbox(key="undo_lead").value == again_id
    (undo,) = at.selectbox(key="undo_lead").options
    assert undo.startswith("Quinn Twice (duplicate of Quinn Twice, closed ")
    at.button(key="undo_duplicate").click().run()
    assert not at.exception, at.exception
    assert any(shown(s.value) == "Quinn Twice is no longer a duplicate: back to new." for s in at.success)
    with demo_app.db.session() as session:
        reopened = session.get(Lead, again_id)
        assert (reopened.status, reopened.duplicate_of_id) == ("new", None)
        assert reopened.next_reminder_at is not None  # nagged again
    today = open_app(as_email="jordan.rivera@example.com")  # the owner's page draws the reopened lead
    assert not today.exception, today.exception
    panels = [e for e in today.expander if e.label.startswith("Quinn Twice")]
    history = [shown(c.value) for panel in panels for c in panel.caption]
    assert any(line.endswith(f"· Closed as a duplicate of lead {kept_id}") for line in history), history
