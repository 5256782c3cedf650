"""What the Front desk page's buttons do: one transaction each, then the owner's e-mail at once.

The form's widgets are keyed by a prefix that changes after each good save: the next caller gets
empty fields, and a second submit of the old form (a double click) still carries the old token,
so it is recognised and makes nothing. After a failed save every field stays as typed.
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import streamlit as st
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from outreach import clock
from outreach.access import Viewer
from outreach.calls.calls import FormErrors
from outreach.errors import OutreachError
from outreach.leads.followup import handover_keys
from outreach.leads.front_desk import Intake, IntakeInput, save_intake, what_to_say, who_has_it
from outreach.leads.front_desk_day import hand_to_next
from outreach.models import Lead
from outreach.runtime import team_settings
from outreach.ui.context import get_runtime
from outreach.worker import deliver_now

log = logging.getLogger(__name__)
FIELDS = ("first_name", "last_name", "phone", "email", "heard_about", "reason")
SAVE_FAILED = "The save failed ({}). Nothing you typed was lost: save again in a moment."
NOBODY = "nobody"  # the "asked for" choice meaning round-robin


def form_prefix() -> str:
    return f"fd{st.session_state.get('fd_form', 0)}_"


def form_token(prefix: str) -> str:
    return st.session_state.setdefault(f"{prefix}token", uuid.uuid4().hex)


def _input(prefix: str) -> IntakeInput:
    state = st.session_state
    asked = state.get(f"{prefix}asked_for") or NOBODY
    return IntakeInput(**{field: str(state.get(f"{prefix}{field}", "") or "") for field in FIELDS},
                       asked_for_id=None if asked == NOBODY else int(asked),
                       client_token=form_token(prefix),
                       as_concern=state.get(f"{prefix}what", "concern") == "concern")


def send_now(keys: list[str]) -> None:
    """Off the page's thread: the desk sees "saved" at once, the e-mail leaves within a second."""
    if keys:
        threading.Thread(target=deliver_now, args=(get_runtime(), keys), daemon=True).start()


def save(viewer: Viewer, prefix: str) -> None:
    data = _input(prefix)
    if not any(getattr(data, field).strip() for field in FIELDS):
        return  # an empty form: the second click of a double click landed on the next caller's form
    now = clock.now()
    try:
        intake = _save_once(viewer, data, now)
    except FormErrors as exc:
        st.session_state[f"{prefix}errors"] = exc.errors
        st.session_state.pop("fd_said", None)  # the last caller's words must not be said to this one
        return
    except (OutreachError, SQLAlchemyError) as exc:
        log.exception("saving a front-desk intake failed")
        st.session_state[f"{prefix}errors"] = {"form": SAVE_FAILED.format(type(exc).__name__)}
        st.session_state.pop("fd_said", None)
        return
    if prefix == form_prefix():  # the old form's second submit must not empty the new one
        st.session_state["fd_form"] = st.session_state.get("fd_form", 0) + 1
    if not intake.repeated:
        send_now(list(intake.alert_keys))
    done = {"new": "New lead", "concern": "Concern", "called_again": "Called again"}[intake.kind]
    zone = ZoneInfo(viewer.time_zone)
    st.session_state["fd_said"] = (what_to_say(intake, now, zone),
                                   f"{done}: {data.first_name} {data.last_name}".strip()
                                   + f" · {who_has_it(intake, now, zone)}")


def _save_once(viewer: Viewer, data: IntakeInput, now: datetime) -> Intake:
    """Save; when the same form's other submit (a double click) committed first, its token is taken:
    the save is read back as that one's repeat instead of failing."""
    runtime = get_runtime()
    try:
        with runtime.db.session() as session, session.begin():
            return save_intake(session, viewer, data, team_settings(session), now)
    except IntegrityError:
        with runtime.db.session() as session, session.begin():
            return save_intake(session, viewer, data, team_settings(session), now)


def hand_on(viewer: Viewer, lead_id: int) -> None:
    runtime = get_runtime()
    try:
        with runtime.db.session() as session, session.begin():
            owner = hand_to_next(session, viewer, lead_id, team_settings(session), clock.now())
            keys = list(handover_keys(session.scalar(select(Lead).where(Lead.id == lead_id))))
    except FormErrors as exc:
        st.session_state["fd_error"] = "; ".join(exc.errors.values())
        return
    except (OutreachError, SQLAlchemyError) as exc:
        log.exception("handing lead %s on failed", lead_id)
        why = exc if isinstance(exc, OutreachError) else type(exc).__name__
        st.session_state["fd_error"] = f"Not handed on: {why}."
        return
    send_now(keys)
    st.session_state["fd_done"] = f"Handed on to {owner.name}; they have the e-mail."
