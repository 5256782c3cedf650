"""The rep's page, driven like a rep would (Streamlit AppTest on the demo team, Monday morning)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import streamlit as st
import time_machine
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from outreach.calls.planner import build_due_plans
from outreach.models import Call, Customer, Lead, LeadEvent, OutboxMessage, PlannedCall, Rep
from outreach.runtime import Runtime, team_settings
from tests.apptest import open_app
from tests.factories import add_lead
from tests.shown import shown

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


def followup(at: AppTest, lead_id: int) -> str:
    """The key prefix of a lead's follow-up form as drawn now (a saved form gets new keys)."""
    (key,) = [r.key for r in at.radio if r.key and re.fullmatch(rf"lead{lead_id}_\d+_outcome", r.key)]
    return key.removesuffix("outcome")


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
    assert shown(at.success[0].value).startswith("Call saved: 2 new leads to follow up")
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
    assert any("'555-CALL-ME' has the wrong number of digits" in shown(e.value) for e in at.error)
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
    assert any("The save failed" in shown(e.value) and "Nothing you typed was lost" in shown(e.value)
               for e in at.error)
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
    assert shown(at.success[0].value) == "Skipped. A replacement is on your list."
    with monday.db.session() as session:
        statuses = session.scalars(select(PlannedCall.status).where(
            PlannedCall.rep_id == planned.rep_id).order_by(PlannedCall.position)).all()
    assert statuses == ["skipped", "open", "open", "open"]


def test_a_follow_up_attempt_then_a_conversation(monday: Runtime) -> None:
    with monday.db.session() as session, session.begin():
        jordan = session.scalar(select(Rep).where(Rep.email == JORDAN))
        lead = add_lead(session, jordan, "Jack Lead", next_reminder_at=MONDAY_9AM_NY)
        add_lead(session, jordan, "Kai Waiting")  # keeps the countdown table on the page
    at = as_rep(JORDAN)
    prefix = followup(at, lead.id)
    at.radio(key=f"{prefix}outcome").set_value("voicemail")
    at.button(key=f"{prefix}save").click().run()
    assert shown(at.success[0].value) == "Attempt logged. Reminders continue until you talk to them."
    (attempted,) = leads_named(monday, "Jack")
    assert (attempted.status, attempted.attempts, attempted.next_reminder_at) == (
        "attempted", 1, MONDAY_9AM_NY)
    prefix = followup(at, lead.id)
    at.radio(key=f"{prefix}outcome").set_value("connected").run()
    at.selectbox(key=f"{prefix}step").set_value("appointment")
    at.button(key=f"{prefix}save").click().run()
    (reached,) = leads_named(monday, "Jack")
    assert (reached.status, reached.first_contact_at, reached.next_reminder_at) == (
        "appointment", MONDAY_9AM_NY, None)
    countdown = set(at.dataframe[0].value["Lead"])
    assert "Kai Waiting" in countdown and "Jack Lead" not in countdown
    assert not [e for e in at.expander if e.label.startswith("Jack Lead")]


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
    at.user = {"is_logged_in": True, "email": "stranger@example.com", "email_verified": True}
    at.run()
    assert at.title[0].value == "You are not on the team"
    at.user = {"is_logged_in": True, "email": "Jordan.Rivera@example.com", "email_verified": True}
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


EVIL_NAME = "[Session expired - sign in again](http://evil.example)"
EVIL_NOTE = "![x](http://evil.example/x.png) <img src=x onerror=alert(1)> https://acme.com/contact"


def markdown_sources(at: AppTest) -> list[str]:
    """Every text the page hands Streamlit's Markdown renderer: bodies and labels."""
    bodies = [e.value for kind in ("markdown", "caption", "error", "warning", "info", "success",
                                   "title", "subheader") for e in getattr(at, kind)]
    labels = [e.label for kind in ("expander", "button", "text_input", "radio") for e in getattr(at, kind)]
    return bodies + labels


def live_markup(markdown: str) -> bool:
    """A link to the web or an HTML tag that Markdown would act on (not backslash-escaped)."""
    return re.search(r"(?<!\\)\]\(http|(?<!\\)<", markdown) is not None


def test_names_and_notes_show_as_typed_not_as_links_or_images(monday: Runtime) -> None:
    planned = first_planned(monday, JORDAN)
    with monday.db.session() as session, session.begin():
        customer = session.get(Customer, planned.customer_id)
        customer.first_name, customer.last_name, customer.notes = "Ann", EVIL_NAME, EVIL_NOTE
        customer.company = "<b>Acme</b>"
        jordan = session.scalar(select(Rep).where(Rep.email == JORDAN))
        lead = add_lead(session, jordan, f"Bea {EVIL_NAME}", need=EVIL_NOTE, relationship="*sister*")
    at = as_rep(JORDAN)
    sources = markdown_sources(at)
    assert not [s for s in sources if live_markup(s)]
    assert any(shown(s) == f"Bea {EVIL_NAME}" for s in (e.label.split(" · ")[0] for e in at.expander))
    assert any(f"Needs: {EVIL_NOTE}" in shown(c.value) for c in at.caption)
    assert any(EVIL_NOTE in shown(c.value) for c in at.caption)  # the customer's notes
    assert any(f"Ann {EVIL_NAME} · <b>Acme</b>" in shown(m.value) for m in at.markdown)
    assert any("How they know them: *sister*" in shown(c.value) for c in at.caption)
    prefix = followup(at, lead.id)
    at.radio(key=f"{prefix}outcome").set_value("voicemail")
    at.text_input(key=f"{prefix}note").input(f"left a message {EVIL_NAME}")
    at.button(key=f"{prefix}save").click().run()
    assert any(f"left a message {EVIL_NAME}" in shown(c.value) for c in at.caption)  # the history line
    assert not [s for s in markdown_sources(at) if live_markup(s)]


def test_a_duplicate_referral_names_the_lead_as_typed_and_links_only_to_it(monday: Runtime) -> None:
    with monday.db.session() as session, session.begin():
        jordan = session.scalar(select(Rep).where(Rep.email == JORDAN))
        known = add_lead(session, jordan, f"Ivy {EVIL_NAME}", phone="+16175550194")
    at = as_rep(JORDAN)
    prefix = f"call{first_planned(monday, JORDAN).id}_"
    at.radio(key=f"{prefix}outcome").set_value("connected")
    fill_referral(at, prefix, 0, first_name="Ivy", last_name="[x](http://evil.example)",
                  phone="617-555-0194")
    at.button(key=f"{prefix}save").click().run()
    (flag,) = [e.value for e in at.error if "already a lead" in shown(e.value)]
    assert shown(flag).startswith(f"Ivy [x](http://evil.example) is already a lead: Ivy {EVIL_NAME} "
                                  f"(lead {known.id}, Jordan Rivera's)")
    assert re.findall(r"(?<!\\)\]\((.*?)\)", flag) == [f"?lead={known.id}"]  # the one real link


@pytest.mark.parametrize("raw", ["99999999999999999999999", "9223372036854775808", "²", "-1", "1e3"])
def test_a_link_to_a_lead_that_cannot_exist_says_so_without_a_traceback(monday: Runtime, raw: str) -> None:
    at = open_app()
    at.query_params["lead"] = raw
    at.run()
    at.selectbox(key="demo_rep").set_value(JORDAN).run()
    assert not at.exception, at.exception
    assert any("not one of your leads" in shown(w.value) for w in at.warning)
    assert raw not in "".join(w.value for w in at.warning)  # typed text is never echoed


def test_the_domain_refuses_a_lead_number_beyond_any_key(monday: Runtime) -> None:
    from outreach.access import NotAllowed, lead_for, viewer_for_email

    with monday.db.session() as session:
        jordan = viewer_for_email(session, JORDAN)
        with pytest.raises(NotAllowed):
            lead_for(session, jordan, 10**22)


@pytest.mark.parametrize(("typed", "warning"), [
    ({"phone_as_typed": "555-01O2"}, "Check the number: it was typed as 555-01O2, which cannot be dialled"),
    ({"email_as_typed": "rita@@example"},
     "Check the e-mail: it was typed as rita@@example, which is not an address"),
], ids=["phone", "email"])
def test_a_lead_kept_with_a_typo_says_what_to_check(monday: Runtime, typed: dict[str, str],
                                                     warning: str) -> None:
    with monday.db.session() as session, session.begin():
        jordan = session.scalar(select(Rep).where(Rep.email == JORDAN))
        add_lead(session, jordan, "Rita Ruiz", kind="inbound", phone=None, **typed)
    at = as_rep(JORDAN)
    [panel] = [e for e in at.expander if e.label.startswith("Rita Ruiz")]
    assert [shown(w.value) for w in panel.warning] == [warning]
    assert not [m for m in panel.markdown if "tel:" in m.value or "mailto:" in m.value]


# Issue 13: forms that do what the rep meant.

def add_jordans_leads(runtime: Runtime, *names: str, **fields: object) -> list[Lead]:
    with runtime.db.session() as session, session.begin():
        jordan = session.scalar(select(Rep).where(Rep.email == JORDAN))
        leads = [add_lead(session, jordan, name, **fields) for name in names]
        session.expunge_all()
    return leads


def test_a_saved_follow_up_reopens_empty_and_a_double_click_logs_one_attempt(monday: Runtime) -> None:
    (lead,) = add_jordans_leads(monday, "Jack Lead")
    at = as_rep(JORDAN)
    prefix = followup(at, lead.id)
    at.radio(key=f"{prefix}outcome").set_value("voicemail")
    at.text_input(key=f"{prefix}note").input("left a message")
    at.button(key=f"{prefix}save").click()
    old_widgets = {at.radio(key=f"{prefix}outcome").id, at.text_input(key=f"{prefix}note").id}
    # A double click: the second click reaches the server carrying the form as the first one sent it.
    second_click = at._tree.get_widget_states()
    at.run()
    at._run(second_click)
    assert not at.exception, at.exception
    with monday.db.session() as session:
        assert session.get(Lead, lead.id).attempts == 1
        assert len(session.scalars(select(LeadEvent).where(LeadEvent.lead_id == lead.id)).all()) == 1
    fresh = followup(at, lead.id)
    assert at.radio(key=f"{fresh}outcome").value is None and at.text_input(key=f"{fresh}note").value == ""
    # A browser keeps showing its own value for a widget whose id it already knows: new ids, new widgets.
    assert not old_widgets & {at.radio(key=f"{fresh}outcome").id, at.text_input(key=f"{fresh}note").id}


def test_after_a_save_the_panel_being_filled_in_stays_open(monday: Runtime) -> None:
    first, second = add_jordans_leads(monday, "Jack Lead", "Kai Waiting")
    at = as_rep(JORDAN)
    prefix = followup(at, first.id)
    at.radio(key=f"{prefix}outcome").set_value("voicemail")
    at.button(key=f"{prefix}save").click().run()
    # That the saved panel itself stays open is for the browser test: AppTest never sends an expander's state.
    assert [e.label for e in at.expander if e.label.startswith("Jack Lead")] == ["Jack Lead · referral"]
    at.radio(key=f"{followup(at, second.id)}outcome").set_value("connected").run()
    (panel,) = [e for e in at.expander if e.label.startswith("Kai Waiting")]
    assert panel.proto.expanded
    assert panel.selectbox(key=f"{followup(at, second.id)}step")  # Next step, inside the open panel


def test_a_follow_up_error_shows_in_an_open_panel(monday: Runtime) -> None:
    (lead,) = add_jordans_leads(monday, "Jack Lead")
    at = as_rep(JORDAN)
    at.button(key=f"{followup(at, lead.id)}save").click().run()  # no outcome chosen
    (panel,) = [e for e in at.expander if e.label.startswith("Jack Lead")]
    assert panel.proto.expanded and [shown(e.value) for e in panel.error] == ["choose what happened"]


def test_a_finished_call_card_says_what_happened(monday: Runtime) -> None:
    at = as_rep(JORDAN)
    prefix = f"call{first_planned(monday, JORDAN).id}_"
    at.radio(key=f"{prefix}outcome").set_value("voicemail")
    at.button(key=f"{prefix}save").click().run()
    prefix = f"call{first_planned(monday, JORDAN).id}_"
    at.radio(key=f"{prefix}outcome").set_value("do_not_call")
    at.button(key=f"{prefix}save").click().run()
    badges = [m.value for m in at.markdown if "badge[" in m.value]
    assert any("Left voicemail" in b for b in badges) and any("Asked not to be called" in b for b in badges)
    assert not any(":material/check: Done]" in b for b in badges)


def test_a_reps_own_table_has_no_owner_column(monday: Runtime) -> None:
    add_jordans_leads(monday, "Jack Lead")
    assert "Owner" not in as_rep(JORDAN).dataframe[0].value.columns
    assert "Owner" in as_rep("maya.chen@example.com").dataframe[0].value.columns


def test_at_night_the_concern_and_then_the_oldest_lead_come_first(monday: Runtime) -> None:
    opening = datetime(2026, 11, 24, 13, 0, tzinfo=UTC)  # every reminder waits for tomorrow's opening
    with monday.db.session() as session, session.begin():
        jordan = session.scalar(select(Rep).where(Rep.email == JORDAN))
        for name, hours_old, kind in (("Ned Newest", 1, "referral"), ("Olga Oldest", 9, "referral"),
                                      ("Pat Middle", 5, "inbound"), ("Cy Concern", 2, "concern")):
            add_lead(session, jordan, name, kind=kind, next_reminder_at=opening,
                     created_at=MONDAY_9AM_NY - timedelta(hours=hours_old))
    mine = {"Cy Concern", "Olga Oldest", "Pat Middle", "Ned Newest"}  # the demo team has leads of its own
    order = [name for name in as_rep(JORDAN).dataframe[0].value["Lead"] if name in mine]
    assert order == ["Cy Concern", "Olga Oldest", "Pat Middle", "Ned Newest"]


def test_the_script_box_reads_with_the_next_customers_name(monday: Runtime) -> None:
    with monday.db.session() as session:
        customer = session.get(Customer, first_planned(monday, JORDAN).customer_id)
    at = as_rep(JORDAN)
    (script,) = [i.value for i in at.info if "The script" in i.value]
    assert customer.first_name in shown(script) and "[name]" not in shown(script)


def test_a_referral_row_goes_with_one_click_and_a_duplicate_is_dropped_the_rest_saves(
        monday: Runtime) -> None:
    add_jordans_leads(monday, "Ivy Known", phone="+16175550193")
    at = as_rep(JORDAN)
    planned = first_planned(monday, JORDAN)
    prefix = f"call{planned.id}_"
    at.radio(key=f"{prefix}outcome").set_value("connected")
    fill_referral(at, prefix, 0, first_name="Ivy", phone="617-555-0193")
    at.button(key=f"{prefix}more").click().run()
    fill_referral(at, prefix, 1, first_name="Zoe", last_name="Park", phone="(617) 555-0177")
    at.button(key=f"{prefix}save").click().run()
    assert any("already a lead" in shown(e.value) for e in at.error)
    at.button(key=f"{prefix}ref0_remove").click().run()
    assert at.text_input(key=f"{prefix}ref0_first_name").value == "Zoe"  # the row below moved up
    assert not [t for t in at.text_input if t.key == f"{prefix}ref1_first_name"]
    assert not [e for e in at.error if "already a lead" in shown(e.value)]
    at.button(key=f"{prefix}save").click().run()
    assert shown(at.success[0].value).startswith("Call saved: 1 new lead")
    assert [lead.full_name for lead in leads_named(monday, "Ivy", "Zoe")] == ["Ivy Known", "Zoe Park"]
    with monday.db.session() as session:
        assert session.get(PlannedCall, planned.id).status == "done"


def test_a_concern_reads_concern_from_the_customer(monday: Runtime) -> None:
    with monday.db.session() as session:
        customer = session.get(Customer, first_planned(monday, JORDAN).customer_id)
    add_jordans_leads(monday, customer.full_name, kind="concern", referring_customer_id=customer.id,
                      need="Invoices arrive late")
    at = as_rep(JORDAN)
    (panel,) = [e for e in at.expander if e.label.startswith(customer.first_name)]
    facts = "\n".join(shown(c.value) for c in panel.caption)
    assert f"Concern from: {customer.full_name}" in facts and "Referred by" not in facts


def test_tapping_a_leads_card_opens_it_first_among_the_forms(monday: Runtime) -> None:
    _, second = add_jordans_leads(monday, "Jack Lead", "Kai Waiting")
    at = as_rep(JORDAN)
    at.button(key=f"card{second.id}").click().run()
    assert not at.exception, at.exception
    panels = [e for e in at.expander if e.label.startswith(("Jack Lead", "Kai Waiting"))]
    assert panels[0].label.startswith("Kai Waiting") and panels[0].proto.expanded
    assert not panels[1].proto.expanded


def test_calls_and_leads_are_one_tap_apart(monday: Runtime) -> None:
    at = as_rep(JORDAN)
    assert [t.label for t in at.tabs] == ["Calls", "Leads"]


def test_an_e_mail_link_to_a_won_lead_shows_its_history_not_a_follow_up_form(monday: Runtime) -> None:
    from datetime import timedelta

    from outreach.access import Viewer
    from outreach.leads.lead_life import log_next_step

    with monday.db.session() as session, session.begin():
        jordan = session.scalar(select(Rep).where(Rep.email == JORDAN))
        lead = add_lead(session, jordan, "Wes Won", status="connected")
        log_next_step(session, Viewer.of(jordan), lead.id, "won", MONDAY_9AM_NY - timedelta(hours=1),
                      note="Signed today")
    at = open_app()
    at.query_params["lead"] = str(lead.id)
    at.run()
    at.selectbox(key="demo_rep").set_value(JORDAN).run()
    assert not at.exception, at.exception
    assert at.subheader[0].value == "The lead from your e-mail"
    [history] = [t.value for t in at.dataframe if "Signed today" in t.value.to_string()]
    assert "Won" in history.to_string()
    assert not [e for e in at.expander if e.label.startswith("Wes Won")]  # no follow-up panel


def test_a_passed_appointment_is_back_on_today(monday: Runtime) -> None:
    from datetime import timedelta

    with monday.db.session() as session, session.begin():
        jordan = session.scalar(select(Rep).where(Rep.email == JORDAN))
        add_lead(session, jordan, "Uma Booked", status="appointment",
                 appointment_at=MONDAY_9AM_NY - timedelta(hours=2))
    at = as_rep(JORDAN)
    assert "Appointments to log (1)" in [s.value for s in at.subheader]
