"""The rep's page, driven like a rep would (Streamlit AppTest on the demo team, Monday morning)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import streamlit as st
import time_machine
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from outreach.models import Call, Customer, Lead, OutboxMessage, PlannedCall, Rep
from outreach.planner import build_due_plans
from outreach.runtime import Runtime, team_settings
from tests.apptest import open_app
from tests.factories import add_lead

MONDAY_9AM_NY = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
JORDAN, PRIYA = "jordan.rivera@example.com", "priya.patel@example.com"


@pytest.fixture
def monday(demo_app: Runtime) -> Iterator[Runtime]:
    with time_machine.travel(MONDAY_9AM_NY, tick=False):
        with demo_app.db.session() as session, session.begin():
            build_due_plans(session, MONDAY_9AM_NY, team_settings(session))
        yield demo_app


def as_rep(email: str) -> AppTest:
    at = open_app()
    at.selectbox(key="demo_rep").set_value(email).run()
    assert not at.exception, at.exception
    return at


def first_planned(runtime: Runtime, email: str) -> PlannedCall:
    with runtime.db.session() as session:
        return session.scalar(select(PlannedCall).join(Rep, Rep.id == PlannedCall.rep_id)
                              .where(Rep.email == email, PlannedCall.status == "open")
                              .order_by(PlannedCall.position).limit(1))


def fill_referral(at: AppTest, prefix: str, number: int, **fields: str) -> None:
    for field, value in fields.items():
        at.text_input(key=f"{prefix}ref{number}_{field}").input(value)


def leads_named(runtime: Runtime, *names: str) -> list[Lead]:
    with runtime.db.session() as session:
        return list(session.scalars(select(Lead).where(Lead.first_name.in_(names)).order_by(Lead.id)))


def test_logging_a_call_with_two_referrals_makes_two_leads_with_alerts(monday: Runtime) -> None:
    at = as_rep(JORDAN)
    planned = first_planned(monday, JORDAN)
    prefix = f"call{planned.id}_"
    at.radio(key=f"{prefix}outcome").set_value("connected")
    at.text_area(key=f"{prefix}liked").input("You always pick up the phone")
    fill_referral(at, prefix, 0, first_name="Dara", last_name="Reyes", phone="(617) 555-0190",
                  relationship="Sister-in-law", need="New office fit-out", best_time="Mornings")
    at.button(key=f"{prefix}more").click().run()
    fill_referral(at, prefix, 1, first_name="Eli", last_name="Stone", email="eli.stone@example.org")
    at.button(key=f"{prefix}save").click().run()
    assert not at.exception, at.exception
    assert at.success[0].value.startswith("Call saved: 2 new leads to follow up")
    dana, eli = leads_named(monday, "Dara", "Eli")
    assert (dana.kind, dana.phone, dana.relationship, dana.best_time) == (
        "referral", "+16175550190", "Sister-in-law", "Mornings")
    assert eli.email == "eli.stone@example.org" and dana.owner_id == eli.owner_id
    with monday.db.session() as session:
        assert session.get(PlannedCall, planned.id).status == "done"
        assert session.get(Customer, planned.customer_id).last_asked_at == MONDAY_9AM_NY
        alerts = session.scalars(select(OutboxMessage.key).where(OutboxMessage.kind == "alert")).all()
    assert f"alert:{dana.id}:{dana.owner_id}" in alerts and f"alert:{eli.id}:{eli.owner_id}" in alerts
    countdown = at.dataframe[0].value
    assert {"Dara Reyes", "Eli Stone"} <= set(countdown["Lead"])
    assert at.get("progress")[0].proto.text == "1 of 3 done"


def test_a_failed_save_keeps_everything_typed_and_says_why(monday: Runtime) -> None:
    at = as_rep(JORDAN)
    prefix = f"call{first_planned(monday, JORDAN).id}_"
    at.radio(key=f"{prefix}outcome").set_value("connected")
    at.text_area(key=f"{prefix}better").input("Invoices arrive late")
    fill_referral(at, prefix, 0, first_name="Gail", phone="555-CALL-ME")
    at.button(key=f"{prefix}save").click().run()
    assert any("555-CALL-ME' has the wrong number of digits" in e.value for e in at.error)
    assert at.text_input(key=f"{prefix}ref0_first_name").value == "Gail"
    assert at.text_area(key=f"{prefix}better").value == "Invoices arrive late"
    assert leads_named(monday, "Gail") == []
    at.text_input(key=f"{prefix}ref0_phone").input("(617) 555-0191")
    at.button(key=f"{prefix}save").click().run()
    assert [lead.phone for lead in leads_named(monday, "Gail")] == ["+16175550191"]


def test_when_the_database_refuses_halfway_nothing_is_half_saved_and_the_form_is_kept(
        monday: Runtime) -> None:
    at = as_rep(JORDAN)
    prefix = f"call{first_planned(monday, JORDAN).id}_"
    at.radio(key=f"{prefix}outcome").set_value("connected")
    fill_referral(at, prefix, 0, first_name="Hana", phone="(617) 555-0192")
    with monday.db.engine.begin() as conn:  # the call row goes in, then the lead is refused
        conn.exec_driver_sql("CREATE TRIGGER refuse BEFORE INSERT ON leads "
                             "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END")
    at.button(key=f"{prefix}save").click().run()
    assert any("The save failed" in e.value and "Nothing you typed was lost" in e.value for e in at.error)
    assert at.text_input(key=f"{prefix}ref0_first_name").value == "Hana"
    with monday.db.session() as session:
        assert session.scalars(select(Call)).all() == []  # the call did not stay without its lead
    with monday.db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER refuse")
    at.button(key=f"{prefix}save").click().run()
    assert [lead.phone for lead in leads_named(monday, "Hana")] == ["+16175550192"]


def test_a_duplicate_referral_is_flagged_with_a_link_not_doubled(monday: Runtime) -> None:
    with monday.db.session() as session, session.begin():
        jordan = session.scalar(select(Rep).where(Rep.email == JORDAN))
        add_lead(session, jordan, "Ivy Known", phone="+16175550193")
    at = as_rep(JORDAN)
    prefix = f"call{first_planned(monday, JORDAN).id}_"
    at.radio(key=f"{prefix}outcome").set_value("connected")
    fill_referral(at, prefix, 0, first_name="Ivy", phone="617-555-0193")
    at.button(key=f"{prefix}save").click().run()
    (flag,) = [e.value for e in at.error if "already a lead" in e.value]
    assert "Ivy Known" in flag and "(?lead=" in flag
    assert len(leads_named(monday, "Ivy")) == 1


def test_asked_not_to_be_called_marks_the_customer_do_not_call(monday: Runtime) -> None:
    at = as_rep(JORDAN)
    planned = first_planned(monday, JORDAN)
    prefix = f"call{planned.id}_"
    at.radio(key=f"{prefix}outcome").set_value("do_not_call")
    at.button(key=f"{prefix}save").click().run()
    with monday.db.session() as session:
        assert session.get(Customer, planned.customer_id).is_do_not_call


def test_a_concern_becomes_a_follow_up_for_the_customers_owner(monday: Runtime) -> None:
    at = as_rep(JORDAN)
    planned = first_planned(monday, JORDAN)
    prefix = f"call{planned.id}_"
    at.radio(key=f"{prefix}outcome").set_value("connected")
    at.text_area(key=f"{prefix}better").input("Worried about the price rise")
    at.checkbox(key=f"{prefix}concern").check()
    at.button(key=f"{prefix}save").click().run()
    with monday.db.session() as session:
        customer = session.get(Customer, planned.customer_id)
        concern = session.scalar(select(Lead).where(Lead.kind == "concern"))
        owner = session.get(Rep, concern.owner_id)
    assert concern.need == "Worried about the price rise" and concern.next_reminder_at is not None
    assert owner.email == (customer.owner_email or JORDAN)


def test_skip_brings_one_replacement(monday: Runtime) -> None:
    at = as_rep(JORDAN)
    planned = first_planned(monday, JORDAN)
    at.button(key=f"skip{planned.id}").click().run()
    assert at.success[0].value == "Skipped. A replacement is on your list."
    with monday.db.session() as session:
        statuses = session.scalars(select(PlannedCall.status).where(
            PlannedCall.rep_id == planned.rep_id).order_by(PlannedCall.position)).all()
    assert statuses == ["skipped", "open", "open", "open"]


def test_a_follow_up_attempt_then_a_conversation(monday: Runtime) -> None:
    with monday.db.session() as session, session.begin():
        jordan = session.scalar(select(Rep).where(Rep.email == JORDAN))
        lead = add_lead(session, jordan, "Jack Lead", next_reminder_at=MONDAY_9AM_NY)
    at = as_rep(JORDAN)
    prefix = f"lead{lead.id}_"
    at.radio(key=f"{prefix}outcome").set_value("voicemail")
    at.button(key=f"{prefix}save").click().run()
    assert at.success[0].value == "Attempt logged. Reminders continue until you talk to them."
    (attempted,) = leads_named(monday, "Jack")
    assert (attempted.status, attempted.attempts, attempted.next_reminder_at) == (
        "attempted", 1, MONDAY_9AM_NY)
    at.radio(key=f"{prefix}outcome").set_value("connected").run()
    at.selectbox(key=f"{prefix}step").set_value("appointment")
    at.button(key=f"{prefix}save").click().run()
    (reached,) = leads_named(monday, "Jack")
    assert (reached.status, reached.first_contact_at, reached.next_reminder_at) == (
        "appointment", MONDAY_9AM_NY, None)
    assert "Jack Lead" not in set(at.dataframe[0].value["Lead"]) if at.dataframe else True


def test_a_rep_never_sees_another_reps_lead(monday: Runtime) -> None:
    with monday.db.session() as session, session.begin():
        priya = session.scalar(select(Rep).where(Rep.email == PRIYA))
        secret = add_lead(session, priya, "Kim Private")
    at = open_app()
    at.query_params["lead"] = str(secret.id)
    at.run()
    at.selectbox(key="demo_rep").set_value(JORDAN).run()
    assert any(f"Lead {secret.id} is not one of your leads" in w.value for w in at.warning)
    names = set(at.dataframe[0].value["Lead"]) if at.dataframe else set()
    assert "Kim Private" not in names
    assert all("Kim Private" not in e.label for e in at.expander)


def test_the_e_mail_link_opens_that_lead(monday: Runtime) -> None:
    with monday.db.session() as session, session.begin():
        jordan = session.scalar(select(Rep).where(Rep.email == JORDAN))
        lead = add_lead(session, jordan, "Lou Linked")
    at = open_app()
    at.query_params["lead"] = str(lead.id)
    at.run()
    at.selectbox(key="demo_rep").set_value(JORDAN).run()
    assert at.subheader[0].value == "The lead from your e-mail"
    assert at.expander[0].label.startswith("Lou Linked") and at.expander[0].proto.expanded


def test_a_manager_sees_everyones_leads(monday: Runtime) -> None:
    with monday.db.session() as session, session.begin():
        for email, name in ((JORDAN, "Mo One"), (PRIYA, "Ned Two")):
            add_lead(session, session.scalar(select(Rep).where(Rep.email == email)), name)
    at = as_rep("maya.chen@example.com")
    assert {"Mo One", "Ned Two"} <= set(at.dataframe[0].value["Lead"])


def test_sign_in_maps_the_account_to_the_reps_tab(monday: Runtime) -> None:
    at = AppTest.from_file(open_app.__globals__["APP"], default_timeout=30)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x",
                          "client_id": "id", "client_secret": "s",
                          "server_metadata_url": "https://accounts.example.com/.well-known/openid"}
    at.user = {"is_logged_in": True, "email": "stranger@example.com"}
    at.run()
    assert at.title[0].value == "You are not on the team"
    at.user = {"is_logged_in": True, "email": "Jordan.Rivera@example.com"}
    at.run()
    assert not at.exception and at.title[0].value == "Today"
    assert "Signed in as Jordan Rivera" in [c.value for c in at.sidebar.caption]


def test_demo_sign_in_refuses_to_run_on_a_public_address(monday: Runtime) -> None:
    previous = st.get_option("server.address")
    st.config.set_option("server.address", "0.0.0.0")
    try:
        at = open_app()
    finally:
        st.config.set_option("server.address", previous)
    assert "anyone could act as any rep" in at.error[0].value
