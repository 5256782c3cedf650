"""Who may use the app: a verified e-mail on the Reps tab, or demo mode for a browser on this machine."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from streamlit.runtime import context as streamlit_context
from streamlit.testing.v1 import AppTest

from outreach.runtime import Runtime
from outreach.ui.auth import demo_allowed, email_verified
from tests.apptest import APP, MANAGER, open_app

AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x", "client_id": "id",
        "client_secret": "s", "server_metadata_url": "https://accounts.example.com/.well-known/openid"}


def signed_in(**claims: object) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": True, **claims}
    return at.run()


@pytest.mark.parametrize("claim", [{"email_verified": False}, {"email_verified": "false"}, {}],
                         ids=["false", "false-as-text", "absent"])
def test_an_unverified_e_mail_cannot_sign_in_as_the_manager(demo_app: Runtime, claim: dict) -> None:
    at = signed_in(email=MANAGER, **claim)
    assert not at.exception, at.exception
    assert at.title[0].value == "Your e-mail address is not verified"
    assert "has not verified" in at.markdown[0].value
    assert not [t for t in at.title if t.value in ("Today", "Team")]


@pytest.mark.parametrize("verified", [True, "true", "True"])
def test_a_verified_e_mail_signs_in(demo_app: Runtime, verified: object) -> None:
    at = signed_in(email=MANAGER, email_verified=verified)
    assert not at.exception, at.exception
    assert at.title[0].value == "Today"


def test_only_a_true_claim_counts_as_verified() -> None:
    assert [email_verified(c) for c in (True, "true", " TRUE ", False, "false", None, 1, "yes")] == [
        True, True, True, False, False, False, False, False]


LOCAL = {"Host": "localhost:8501", "Origin": "http://localhost:8501"}


@pytest.mark.parametrize("headers", [
    {}, LOCAL, {"Host": "127.0.0.1:8501"}, {"host": "[::1]:8501", "origin": "http://[::1]:8501"}],
    ids=["no-headers", "localhost", "ipv4", "ipv6"])
def test_demo_mode_runs_for_a_browser_on_this_machine(headers: dict[str, str]) -> None:
    assert demo_allowed("localhost", headers, allowed_on_purpose=False)


@pytest.mark.parametrize("headers", [
    {**LOCAL, "X-Forwarded-For": "203.0.113.9"}, {**LOCAL, "X-Forwarded-Host": "outreach.example.com"},
    {**LOCAL, "Forwarded": "for=203.0.113.9"}, {**LOCAL, "X-Real-IP": "203.0.113.9"},
    {"Host": "outreach.example.com"}, {"Host": "localhost:8501", "Origin": "https://outreach.example.com"},
    {"Host": "localhost.example.com"}],
    ids=["x-forwarded-for", "x-forwarded-host", "forwarded", "x-real-ip", "public-host", "public-origin",
         "lookalike-host"])
def test_demo_mode_refuses_a_request_through_a_proxy(headers: dict[str, str]) -> None:
    assert not demo_allowed("localhost", headers, allowed_on_purpose=False)
    assert demo_allowed("localhost", headers, allowed_on_purpose=True)  # OUTREACH_ALLOW_DEMO_AUTH=1


def test_demo_mode_refuses_a_server_bound_to_every_interface() -> None:
    assert not demo_allowed("0.0.0.0", LOCAL, allowed_on_purpose=False)
    assert not demo_allowed("", LOCAL, allowed_on_purpose=False)  # Streamlit's default: every interface


def test_the_page_reads_the_browsers_request_headers(demo_app: Runtime,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """AppTest cannot send headers (st.context.headers comes from the session's client), so the
    client context is replaced where st.context reads it."""
    proxied = SimpleNamespace(headers=[("Host", "localhost:8501"), ("X-Forwarded-For", "203.0.113.9")])
    monkeypatch.setattr(streamlit_context, "_get_client_context", lambda: proxied)
    at = open_app()
    assert "anyone could act as any rep" in at.error[0].value
    assert not at.sidebar.selectbox  # no rep picker
