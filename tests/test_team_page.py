"""The manager's Team page, run in-process with Streamlit's AppTest on the demo team."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from outreach import clock
from outreach.access import viewer_for_email
from outreach.models import Lead, OutboxMessage, Rep
from outreach.runtime import Runtime
from outreach.settings import PROJECT_ROOT
from outreach.ui.auth import VIEWER_KEY
from tests.apptest import MANAGER, open_app

DEMO_REPS = {"Jordan Rivera", "Priya Patel", "Sam Okafor", "Alex Kim"}


def test_a_manager_sees_every_rep_and_can_download_the_table(demo_app: Runtime) -> None:
    at = open_app("team.py", as_email=MANAGER)
    assert not at.exception, at.exception
    assert at.title[0].value == "Team"
    by_rep = at.dataframe[0].value
    assert set(by_rep["Rep"]) == DEMO_REPS
    assert {m.label for m in at.metric} >= {"Calls made / planned", "Reached within 5 min"}
    assert at.get("download_button")  # the CSV


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
