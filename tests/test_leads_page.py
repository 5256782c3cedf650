"""The Leads page, driven like a rep would (Streamlit AppTest on the demo team)."""

from __future__ import annotations

from datetime import date, time, timedelta

import time_machine
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from outreach import clock
from outreach.access import Viewer
from outreach.leads.leads import log_followup
from outreach.models import Lead, Rep
from outreach.runtime import Runtime
from outreach.settings import PROJECT_ROOT
from tests.apptest import MANAGER, open_app
from tests.factories import add_lead
from tests.shown import shown

JORDAN, PRIYA = "jordan.rivera@example.com", "priya.patel@example.com"
LEADS = "leads.py"


def add(runtime: Runtime, owner: str, name: str, **fields: object) -> int:
    with runtime.db.session() as session, session.begin():
        rep = session.scalar(select(Rep).where(Rep.email == owner))
        return add_lead(session, rep, name, created_at=clock.now() - timedelta(days=2), **fields).id


def table_names(at: AppTest) -> list[str]:
    return sorted(at.dataframe[0].value["Lead"]) if at.dataframe else []  # the results, above any lead


def test_a_rep_filters_and_searches_only_their_own_leads(demo_app: Runtime) -> None:
    add(demo_app, JORDAN, "Quinn Talked", status="connected", email="quinn@example.org")
    add(demo_app, JORDAN, "Rosa Signed", status="won", phone="+12125550177")
    add(demo_app, PRIYA, "Quinn Priyas", status="connected")
    at = open_app(LEADS, as_email=JORDAN)
    assert not at.exception, at.exception
    assert "Quinn Talked" in table_names(at) and "Quinn Priyas" not in table_names(at)
    assert "Rosa Signed" not in table_names(at)  # won is not open
    at.multiselect(key="leads_status").set_value(["won"]).run()
    assert table_names(at) == ["Rosa Signed"]
    at.multiselect(key="leads_status").set_value(["open", "won"]).run()
    at.text_input(key="leads_search").input("212-555-0177").run()
    assert table_names(at) == ["Rosa Signed"]
    at.text_input(key="leads_search").input("QUINN@example").run()
    assert table_names(at) == ["Quinn Talked"]
    manager = open_app(LEADS, as_email=MANAGER)
    manager.text_input(key="leads_search").input("quinn").run()
    assert table_names(manager) == ["Quinn Priyas", "Quinn Talked"]
    assert not at.get("selectbox") or "leads_owner" not in [s.key for s in at.selectbox]  # a rep's own
    with demo_app.db.session() as session:
        priya = session.scalar(select(Rep.id).where(Rep.email == PRIYA))
    manager.selectbox(key="leads_owner").set_value(str(priya)).run()
    assert table_names(manager) == ["Quinn Priyas"]  # a manager narrows the list to one owner


def test_a_link_opens_the_lead_with_its_whole_history(demo_app: Runtime) -> None:
    lead_id = add(demo_app, JORDAN, "Sam Linked", status="attempted")
    with demo_app.db.session() as session, session.begin():
        jordan = session.scalar(select(Rep).where(Rep.email == JORDAN))
        log_followup(session, Viewer.of(jordan), lead_id, "voicemail", clock.now() - timedelta(hours=1),
                     note="[call me](http://evil.example)")
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=30)
    at.query_params["lead"] = str(lead_id)
    at.run()
    at.selectbox(key="demo_rep").set_value(JORDAN).run()
    at.switch_page(f"outreach/ui/pages/{LEADS}").run()
    assert not at.exception, at.exception
    assert [shown(s.value) for s in at.subheader] == ["Sam Linked · Attempted"]
    history = at.dataframe[-1].value  # the opened lead's, below the results
    assert list(history["What"]) == ["Left voicemail"]
    assert list(history["Note"]) == ["[call me](http://evil.example)"]  # literally, in a dataframe
    assert list(history["Who"]) == ["Jordan Rivera"]


def test_a_lead_kept_with_what_was_typed_is_found_by_it_and_says_what_to_check(demo_app: Runtime) -> None:
    lead_id = add(demo_app, JORDAN, "Rita Typo", kind="inbound", phone=None, phone_as_typed="555-01O2",
                  email_as_typed="rita@@example")
    at = open_app(LEADS, as_email=JORDAN)
    at.text_input(key="leads_search").input("rita@@").run()
    assert table_names(at) == ["Rita Typo"]
    row = at.dataframe[0].value.iloc[0]
    assert (row["Phone"], row["Email"]) == ("555-01O2", "rita@@example")
    at.query_params["lead"] = str(lead_id)
    at.run()
    assert not at.exception, at.exception
    assert [shown(w.value) for w in at.warning] == [
        "Check the number: it was typed as 555-01O2, which cannot be dialled",
        "Check the e-mail: it was typed as rita@@example, which is not an address"]

def test_a_link_to_another_reps_lead_shows_nothing_of_it(demo_app: Runtime) -> None:
    lead_id = add(demo_app, PRIYA, "Secret Lead", status="connected")
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=30)
    at.query_params["lead"] = str(lead_id)
    at.run()
    at.selectbox(key="demo_rep").set_value(JORDAN).run()
    at.switch_page(f"outreach/ui/pages/{LEADS}").run()
    assert [w.value for w in at.warning] == [f"Lead {lead_id} is not one of your leads."]
    assert not any("Secret" in s.value for s in at.subheader)


def test_opening_a_lead_and_logging_won(demo_app: Runtime) -> None:
    lead_id = add(demo_app, JORDAN, "Tara Closer", status="connected")
    at = open_app(LEADS, as_email=JORDAN)
    at.selectbox(key="leads_open").set_value(lead_id).run()
    prefix = f"leads{lead_id}_"
    at.radio(key=f"{prefix}step").set_value("won").run()
    at.text_input(key=f"{prefix}note").input("Signed today")
    at.button(key=f"{prefix}save").click().run()
    assert not at.exception, at.exception
    assert shown(at.success[0].value) == "Tara Closer: Won logged."
    assert at.radio(key=f"leads{lead_id}_1_step").value is None  # a fresh, empty form
    assert not [t for t in at.text_input if t.key == f"leads{lead_id}_1_note" and t.value]
    with demo_app.db.session() as session:
        lead = session.get(Lead, lead_id)
        assert (lead.status, lead.closed_at is not None) == ("won", True)


def test_a_booked_appointment_comes_back_once_its_time_has_passed(demo_app: Runtime) -> None:
    lead_id = add(demo_app, JORDAN, "Uma Booked", status="connected")
    at = open_app(LEADS, as_email=JORDAN)
    at.selectbox(key="leads_open").set_value(lead_id).run()
    prefix = f"leads{lead_id}_"
    at.radio(key=f"{prefix}step").set_value("appointment").run()
    at.date_input(key=f"{prefix}date").set_value(date(2026, 11, 24))
    at.time_input(key=f"{prefix}time").set_value(time(15, 30))
    at.button(key=f"{prefix}save").click().run()
    assert not at.exception, at.exception
    with demo_app.db.session() as session:
        lead = session.get(Lead, lead_id)
    assert lead.status == "appointment"
    assert lead.appointment_at.isoformat() == "2026-11-24T20:30:00+00:00"  # 15:30 in New York
    assert not [s for s in at.subheader if s.value.startswith("Appointments to log")]
    with time_machine.travel(lead.appointment_at + timedelta(hours=1), tick=False):
        later = open_app(LEADS, as_email=JORDAN)
        assert not later.exception, later.exception
        assert "Appointments to log (1)" in [s.value for s in later.subheader]


def test_a_concern_reads_concern_from_the_customer_not_referred_by(demo_app: Runtime) -> None:
    from outreach.models import Customer

    with demo_app.db.session() as session:
        customer = session.scalars(select(Customer).order_by(Customer.id)).first()
    lead_id = add(demo_app, JORDAN, "Invoice Worry", kind="concern", referring_customer_id=customer.id,
                  need="Invoices arrive late", status="connected")
    at = open_app(LEADS, as_email=JORDAN)
    at.selectbox(key="leads_open").set_value(lead_id).run()
    assert not at.exception, at.exception
    facts = "\n".join(shown(c.value) for c in at.caption)
    assert f"Concern from: {customer.full_name}" in facts and "Concern: Invoices arrive late" in facts
    assert "Referred by" not in facts and "Needs:" not in facts


def test_on_a_phone_a_lead_is_a_card_and_one_tap_opens_it(demo_app: Runtime) -> None:
    lead_id = add(demo_app, JORDAN, "Vera Tapped", status="connected")
    at = open_app(LEADS, as_email=JORDAN)
    at.multiselect(key="leads_status").set_value(["open", "appointment", "won", "lost"]).run()
    assert any("min-height: 44px" in h.proto.body for h in at.get("html"))  # the tap targets
    at.button(key=f"leads_card{lead_id}").click().run()
    assert not at.exception, at.exception
    assert at.selectbox(key="leads_open").value == lead_id
    assert [shown(s.value) for s in at.subheader] == ["Vera Tapped · Connected"]
    # The other cards make way, so the lead sits under the search, not 50 cards down.
    assert not [b for b in at.button if b.key.startswith("leads_card")]
    at.button(key="leads_back").click().run()
    assert at.selectbox(key="leads_open").value is None and at.button(key=f"leads_card{lead_id}")
    at.button(key=f"leads_card{lead_id}").click().run()
    at.multiselect(key="leads_status").set_value(["won"]).run()  # filtered out, still worked on
    assert not at.exception, at.exception
    assert at.selectbox(key="leads_open").value == lead_id
    assert [shown(s.value) for s in at.subheader] == ["Vera Tapped · Connected"]
    at.selectbox(key="demo_rep").set_value(PRIYA).run()  # someone else at this browser: not theirs
    assert not at.exception, at.exception
    assert not [s for s in at.subheader if "Vera" in s.value] and at.selectbox(key="leads_open").value is None


def test_a_link_with_a_number_too_big_for_a_lead_says_so_without_a_traceback(demo_app: Runtime) -> None:
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=30)
    at.query_params["lead"] = "99999999999999999999999"
    at.run()
    at.switch_page(f"outreach/ui/pages/{LEADS}").run()
    assert not at.exception, at.exception
    assert [w.value for w in at.warning] == ["The lead in this link is not one of your leads."]
