"""Who is using the app.

With an ``[auth]`` table in ``.streamlit/secrets.toml``, people sign in with
``st.login()`` (OpenID Connect, e.g. Google) and their e-mail is looked up on the
Reps tab; an e-mail that is not there gets a "not on the team" page.

The e-mail is the whole of the identity, so it counts only when the provider says
it verified it: the ID token's ``email_verified`` claim is true (``"true"`` too, as
AWS Cognito sends it). A token without the claim is refused as well: a provider
that omits it makes no promise about the address, and Microsoft Entra ID, the
common case, lets users and tenant admins set the address to anyone's ("nOAuth").
Google, Okta, Auth0 and Keycloak send the claim, so they work as they are.

Without ``[auth]`` the app runs in demo mode: a rep picker and a banner. Anyone
could pick anyone, so demo mode runs only for a browser on this machine: the
server bound to localhost, and no sign of a reverse proxy in the browser's
request (the X-Forwarded-For, X-Forwarded-Host, Forwarded or X-Real-IP headers, or
a Host or Origin that is not localhost; a proxy on the same machine makes a
localhost server public). OUTREACH_ALLOW_DEMO_AUTH=1 allows it anyway, on purpose.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

import streamlit as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach import access
from outreach.access import Viewer, viewer_for_email
from outreach.models import Lead, Rep
from outreach.ui.context import get_runtime
from outreach.ui.params import row_id
from outreach.ui.text import md_escape

LOCAL_ADDRESSES = {"localhost", "127.0.0.1", "::1"}
PROXY_HEADERS = ("x-forwarded-for", "x-forwarded-host", "forwarded", "x-real-ip")


def auth_configured() -> bool:
    try:
        return "auth" in st.secrets
    except FileNotFoundError:
        return False


VIEWER_KEY = "_viewer"


def sign_in() -> Viewer:
    """Who is here (once per run, from app.py); stops the page with an explanation otherwise."""
    viewer = _signed_in_viewer() if auth_configured() else _demo_viewer()
    st.session_state[VIEWER_KEY] = viewer
    return viewer


def current_viewer() -> Viewer:
    """The team member app.py signed in for this run (pages call this, never sign_in)."""
    viewer = st.session_state.get(VIEWER_KEY)
    if viewer is None:  # a page run without app.py: cannot happen under st.navigation
        return sign_in()
    return viewer


def require_manager(viewer: Viewer) -> None:
    """Stop a manager-only page for anyone else (its report and the manager actions check again)."""
    try:
        access.require_manager(viewer, "this page")
    except access.NotAllowed:
        home = "Callers go on the Front desk page." if viewer.is_front_desk else \
            "Your calls and leads are on the Today page."
        st.error(f"This page is for managers. {home}")
        st.stop()


def _signed_in_viewer() -> Viewer:
    if not st.user.is_logged_in:
        st.title("Outreach")
        st.write("Sign in with your work account to see today's calls and your leads.")
        st.button("Sign in", key="sign_in", type="primary", on_click=st.login)
        st.stop()
    email = str(st.user.get("email") or "")
    if not email_verified(st.user.get("email_verified")):
        st.title("Your e-mail address is not verified")
        st.markdown(f"Your sign-in provider has not verified {md_escape(email or 'this account')}, so it "
                    "cannot be matched to the team. Verify the address with your provider, or sign in "
                    "with your work account.")
        st.button("Sign out", key="sign_out", on_click=st.logout)
        st.stop()
    with get_runtime().db.session() as session:
        viewer = viewer_for_email(session, email)
    if viewer is None:
        st.title("You are not on the team")
        st.markdown(f"{md_escape(email or 'This account')} is not an active rep or manager on the Reps tab "
                    "of the team's sheet. Ask your manager to add you, then sign in again.")
        st.button("Sign out", key="sign_out", on_click=st.logout)
        st.stop()
    with st.sidebar:
        st.caption(f"Signed in as {md_escape(viewer.name)}")
        st.button("Sign out", key="sign_out", on_click=st.logout)
    return viewer


def email_verified(claim: object) -> bool:
    """The ID token's ``email_verified``: only a true value counts, a missing one does not."""
    return claim is True or (isinstance(claim, str) and claim.strip().lower() == "true")


def demo_allowed(address: str, headers: Mapping[str, str], allowed_on_purpose: bool) -> bool:
    """May the rep picker run? Only for a browser on this machine, unless allowed on purpose.

    ``address`` is server.address; ``headers`` the browser's request (st.context.headers).
    """
    if allowed_on_purpose:
        return True
    if address not in LOCAL_ADDRESSES:
        return False
    headers = {name.lower(): value for name, value in headers.items()}
    if any(name in headers for name in PROXY_HEADERS):
        return False
    host = headers.get("host")
    origin = headers.get("origin")
    return ((host is None or _host_name(host) in LOCAL_ADDRESSES)
            and (origin is None or (urlsplit(origin).hostname or "") in LOCAL_ADDRESSES))


def _host_name(host: str) -> str:
    """ "localhost:8501" -> "localhost", "[::1]:8501" -> "::1"."""
    return (urlsplit(f"//{host.strip()}").hostname or "").lower()


def _demo_allowed() -> bool:
    return demo_allowed(str(st.get_option("server.address") or ""), st.context.headers,
                        get_runtime().settings.allow_demo_auth)


def _demo_viewer() -> Viewer:
    if not _demo_allowed():
        st.error("Sign-in is not configured and this server is reachable from other machines (or "
                 "through a proxy), so anyone could act as any rep. Add an \\[auth\\] table to "
                 ".streamlit/secrets.toml (see secrets.toml.example), serve it on localhost only, "
                 "or set OUTREACH_ALLOW_DEMO_AUTH=1 if that is really what you want.")
        st.stop()
    with get_runtime().db.session() as session:
        team = list(session.scalars(select(Rep).where(Rep.active.is_(True))
                                    .order_by(Rep.role.desc(), Rep.name)))
        reader = _link_reader(session)
    if not team:
        st.info("Nobody is on the team yet: add reps to the Reps tab and sync.")
        st.stop()
    by_email = {rep.email: rep for rep in team}
    if reader in by_email and "demo_rep" not in st.session_state:
        st.session_state["demo_rep"] = reader  # the first run only: the picker is the user's after
    with st.sidebar:
        email = st.selectbox("Demo mode: you are", list(by_email), key="demo_rep",
                             format_func=lambda e: f"{by_email[e].name} ({by_email[e].role})")
    st.info("Demo mode: sign-in is not configured, so pick who you are in the sidebar.",
            icon=":material/science:")
    return Viewer.of(by_email[email])


def _link_reader(session: Session) -> str | None:
    """Demo mode: an e-mail's ``?lead=ID`` link opens as the person the e-mail went to.

    The lead's owner, or on the Team page (an escalation's reassign link) the owner's manager.
    """
    lead_id = row_id(st.query_params.get("lead"))
    lead = session.get(Lead, lead_id) if lead_id is not None else None
    owner = session.get(Rep, lead.owner_id) if lead is not None else None
    if owner is None:
        return None
    if urlsplit(st.context.url or "").path.rstrip("/").endswith("/team"):
        return owner.manager_email
    return owner.email
