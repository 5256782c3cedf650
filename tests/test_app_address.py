"""E-mail links open the app that sent them: OUTREACH_APP_URL, the sheet's App URL, or the served address."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from outreach import app_address
from outreach.errors import ConfigError
from outreach.leads.lead_emails import LeadFacts, reminder_email
from outreach.models import Lead, Rep
from outreach.runtime import Runtime
from outreach.serve import _served_url
from outreach.settings import PROJECT_ROOT, load_settings
from outreach.team_settings import TeamSettings, parse_team_settings
from tests.apptest import MANAGER, open_app
from tests.factories import MONDAY_9AM_NY
from tests.shown import shown


def test_the_deployment_beats_the_sheet_which_beats_the_served_address() -> None:
    assert app_address.resolve("").url == "http://localhost:8501"
    app_address.serving_at("http://localhost:8611/")
    assert app_address.resolve("") == app_address.AppAddress("http://localhost:8611",
                                                             "the address this server runs on")
    assert app_address.resolve("https://sheet.example.com").url == "https://sheet.example.com"
    app_address.configure("https://outreach.example.com/")
    assert app_address.resolve("https://sheet.example.com") == app_address.AppAddress(
        "https://outreach.example.com", "OUTREACH_APP_URL")


@pytest.mark.parametrize(("address", "port", "base", "url"), [
    ("localhost", 8611, "", "http://localhost:8611"),
    ("127.0.0.1", 8501, "/", "http://127.0.0.1:8501"),
    ("0.0.0.0", 80, "outreach/", "http://localhost:80/outreach"),  # every interface: this machine's
    ("", 8501, "", "http://localhost:8501"),
    ("::1", 8502, "", "http://[::1]:8502"),
])
def test_the_served_address_is_what_a_browser_types(address: str, port: int, base: str, url: str) -> None:
    assert app_address.served_url(address, port, base) == url


def test_the_launcher_reads_the_port_from_its_flags_then_from_the_config_file() -> None:
    assert _served_url(["--server.port", "8611"]) == "http://localhost:8611"  # make run PORT=8611
    assert _served_url(["--server.port=8612", "--server.address", "127.0.0.1"]) == "http://127.0.0.1:8612"
    assert _served_url([]) == "http://localhost:8501"  # .streamlit/config.toml


def test_the_launcher_reads_streamlits_environment_variables_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMLIT_SERVER_PORT", "8613")
    monkeypatch.setenv("STREAMLIT_SERVER_BASE_URL_PATH", "outreach")
    assert _served_url([]) == "http://localhost:8613/outreach"
    assert _served_url(["--server.port", "8614"]) == "http://localhost:8614/outreach"  # a flag wins


def test_a_bad_outreach_app_url_is_refused_at_start_and_a_good_one_is_used(tmp_path: Path) -> None:
    none = tmp_path / "none.toml"
    with pytest.raises(ConfigError, match="OUTREACH_APP_URL"):
        load_settings({"OUTREACH_APP_URL": "outreach.example.com"}, none)
    settings = load_settings({"OUTREACH_APP_URL": "https://outreach.example.com/"}, none)
    assert settings.app_url == "https://outreach.example.com"
    Runtime.open(settings)
    assert TeamSettings(sheet_app_url="https://sheet.example.com").app_url == "https://outreach.example.com"


def test_the_sheets_app_url_is_read_and_a_blank_one_leaves_the_served_address() -> None:
    app_address.serving_at("http://localhost:8611")
    sheet, problems = parse_team_settings([("App URL", "https://crm.example.com/", 5)])
    assert (sheet.app_url, problems) == ("https://crm.example.com", [])
    blank, _ = parse_team_settings([("App URL", "", 5)])
    assert blank.app_url == "http://localhost:8611"


def test_a_reminder_links_to_the_served_port() -> None:
    app_address.serving_at("http://localhost:8611")
    rep = Rep(id=1, email="jordan@example.com", name="Jordan Rivera", time_zone="America/New_York")
    lead = Lead(id=42, kind="referral", status="new", owner_id=1, first_name="Quinn", last_name="Lee",
                phone="+16175550142", created_at=MONDAY_9AM_NY, attempts=0, reminders_sent=1)
    email = reminder_email(rep, [lead], set(), None, LeadFacts(), TeamSettings(), MONDAY_9AM_NY, "reminder:1")
    assert 'href="http://localhost:8611/?lead=42"' in email.html


def test_data_status_says_which_address_the_e_mails_use(demo_app: Runtime,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_app("data_status.py", as_email=MANAGER)
    assert not at.exception, at.exception
    said = [shown(c.value) for c in at.caption if "E-mail links open" in c.value]
    assert said == ["E-mail links open http://localhost:8501 (from the address this server runs on)"]
    monkeypatch.setenv("OUTREACH_APP_URL", "https://outreach.example.com")
    import streamlit as st

    st.cache_resource.clear()  # a new process, as a restart with the new setting would be
    at = open_app("data_status.py", as_email=MANAGER)
    said = [shown(c.value) for c in at.caption if "E-mail links open" in c.value]
    assert said == ["E-mail links open https://outreach.example.com (from OUTREACH_APP_URL)"]
    assert not [w for w in at.warning if "its own process" in w.value]


def test_data_status_warns_when_a_separate_worker_cannot_know_the_address(demo_app: Runtime) -> None:
    # app_environment runs the worker as its own process (OUTREACH_RUN_WORKER_IN_APP=false)
    at = open_app("data_status.py", as_email=MANAGER)
    assert not at.exception, at.exception
    (warning,) = [w.value for w in at.warning if "its own process" in w.value]
    assert "link to http://localhost:8501" in warning and "OUTREACH_APP_URL" in warning


def test_in_demo_mode_a_link_opens_as_the_person_it_was_sent_to(demo_app: Runtime) -> None:
    from sqlalchemy import select

    from outreach import clock
    from tests.factories import add_lead

    with demo_app.db.session() as session, session.begin():
        priya = session.scalar(select(Rep).where(Rep.email == "priya.patel@example.com"))
        lead_id = add_lead(session, priya, "Linked Lead", created_at=clock.now()).id
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=30)
    at.query_params["lead"] = str(lead_id)
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="demo_rep").value == "priya.patel@example.com"
    assert "The lead from your e-mail" in [s.value for s in at.subheader]
    at.selectbox(key="demo_rep").set_value(MANAGER).run()  # the picker is still the user's
    assert at.selectbox(key="demo_rep").value == MANAGER
