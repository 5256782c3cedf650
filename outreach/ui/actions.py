"""What the rep page's buttons do: each is one transaction, then immediate alerts.

Callbacks run before the page is drawn again, so they may reset a form's
widgets after a good save; after a failed one they leave every field as typed
and put the reasons where the page shows them.
"""

from __future__ import annotations

import logging
import threading
import uuid

import streamlit as st
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from outreach import clock
from outreach.access import Viewer, planned_call_for
from outreach.calls.calls import CallInput, FormErrors, ReferralInput, log_call
from outreach.calls.planner import replace_planned_call
from outreach.errors import OutreachError
from outreach.leads.followup import alert_key, handover_keys
from outreach.leads.leads import log_followup, reassign
from outreach.models import Lead
from outreach.runtime import team_settings
from outreach.ui.context import get_runtime
from outreach.ui.text import md_escape
from outreach.worker import deliver_now

log = logging.getLogger(__name__)
REFERRAL_FIELDS = ("first_name", "last_name", "phone", "email", "relationship", "need", "best_time")
SAVE_FAILED = "The save failed ({}). Nothing you typed was lost: try again in a moment."


def flash() -> None:
    """Show (once) what the last button did; callbacks run before the page is drawn.

    The messages hold names and the domain's errors as plain text: shown as typed, never as Markdown.
    They sit in a container that is always drawn, so a message coming or going does not shift (and
    remount) everything below it.
    """
    with st.container():
        if message := st.session_state.pop("flash", None):
            st.success(md_escape(message))
        if message := st.session_state.pop("flash_error", None):
            st.error(md_escape(message))


def form_token(prefix: str) -> str:
    """One token per filled-in form: a second submit of the same form is recognised."""
    return st.session_state.setdefault(f"{prefix}token", uuid.uuid4().hex)


def referral_count(prefix: str) -> int:
    return st.session_state.setdefault(f"{prefix}referrals", 1)


def add_referral(prefix: str) -> None:
    st.session_state[f"{prefix}referrals"] = referral_count(prefix) + 1


def remove_referral(prefix: str, number: int) -> None:
    """Drop one referral row: the rows below move up, so what the rep typed there stays."""
    state, count = st.session_state, referral_count(prefix)
    for row in range(number, count - 1):
        for field in REFERRAL_FIELDS:
            state[f"{prefix}ref{row}_{field}"] = state.get(f"{prefix}ref{row + 1}_{field}", "")
    for field in REFERRAL_FIELDS:
        # Set, not deleted: a deleted widget value would come back from the browser if the row is re-added.
        state[f"{prefix}ref{count - 1}_{field}"] = ""
    state[f"{prefix}referrals"] = max(count - 1, 0)
    state.pop(f"{prefix}errors", None)  # they name rows by number, and the numbers just moved
    state.pop(f"{prefix}error_leads", None)


def followup_prefix(lead_id: int) -> str:
    """The keys of a lead's follow-up form; a saved form gets new keys.

    Deleting a widget's value does not clear what the browser shows for it, so a reopened form would
    still show the old outcome and note. New keys make new, empty widgets; the old form keeps its token,
    so its second submit (a double click) is recognised and logs nothing.
    """
    return f"lead{lead_id}_{st.session_state.get(f'lead{lead_id}_form', 0)}_"


def _next_followup_form(lead_id: int, saved_prefix: str) -> None:
    if saved_prefix == followup_prefix(lead_id):
        st.session_state[f"lead{lead_id}_form"] = st.session_state.get(f"lead{lead_id}_form", 0) + 1


def _send_alerts(lead_ids: list[int], *, handover: bool = False) -> None:
    """The leads' alerts (after a handover, the previous owner's note too), sent at once."""
    runtime = get_runtime()
    with runtime.db.session() as session:
        leads = list(session.scalars(select(Lead).where(Lead.id.in_(lead_ids))))
        keys = [k for lead in leads for k in (handover_keys(lead) if handover else (alert_key(lead),))]
    # Off the page's thread: the rep sees "saved" at once, the alert leaves within seconds.
    threading.Thread(target=deliver_now, args=(runtime, keys), daemon=True).start()


def _call_input(prefix: str, planned_call_id: int) -> CallInput:
    state = st.session_state
    referrals = tuple(
        ReferralInput(**{f: str(state.get(f"{prefix}ref{n}_{f}", "") or "") for f in REFERRAL_FIELDS})
        for n in range(referral_count(prefix)))
    return CallInput(planned_call_id=planned_call_id, outcome=state.get(f"{prefix}outcome") or "",
                     client_token=form_token(prefix), liked_best=state.get(f"{prefix}liked", ""),
                     do_better=state.get(f"{prefix}better", ""),
                     concern=bool(state.get(f"{prefix}concern")), referrals=referrals)


def save_call(viewer: Viewer, planned_call_id: int, prefix: str) -> None:
    data = _call_input(prefix, planned_call_id)
    runtime = get_runtime()
    try:
        with runtime.db.session() as session, session.begin():
            saved = log_call(session, viewer, data, team_settings(session), clock.now())
    except FormErrors as exc:
        st.session_state[f"{prefix}errors"] = exc.errors
        st.session_state[f"{prefix}error_leads"] = exc.leads
        return
    except (OutreachError, SQLAlchemyError) as exc:
        log.exception("saving call %s failed", planned_call_id)
        st.session_state[f"{prefix}errors"] = {"form": SAVE_FAILED.format(type(exc).__name__)}
        return
    _clear(prefix)
    if saved.lead_ids and not saved.repeated_submit:
        _send_alerts(saved.lead_ids)
    count = len(saved.lead_ids)
    st.session_state["flash"] = ("Call saved" + (f": {count} new lead{'s' if count != 1 else ''} "
                                 "to follow up, the alert is on its way" if count else "."))


def _clear(prefix: str) -> None:
    for key in [k for k in st.session_state if str(k).startswith(prefix)]:
        del st.session_state[key]


def skip_call(viewer: Viewer, planned_call_id: int) -> None:
    runtime = get_runtime()
    try:
        with runtime.db.session() as session, session.begin():
            planned = planned_call_for(session, viewer, planned_call_id)
            replacement = replace_planned_call(session, planned, "skipped", team_settings(session),
                                               clock.now())
    except OutreachError as exc:
        st.session_state["flash_error"] = f"Not skipped: {exc}."
        return
    except SQLAlchemyError as exc:
        st.session_state["flash_error"] = SAVE_FAILED.format(type(exc).__name__)
        return
    st.session_state["flash"] = ("Skipped. A replacement is on your list." if replacement
                                 else "Skipped. Nobody else is left to call today.")


def save_followup(viewer: Viewer, lead_id: int, prefix: str) -> None:
    state = st.session_state
    runtime = get_runtime()
    try:
        with runtime.db.session() as session, session.begin():
            lead = log_followup(session, viewer, lead_id, state.get(f"{prefix}outcome") or "",
                                clock.now(), next_step=state.get(f"{prefix}step") or "",
                                note=state.get(f"{prefix}note", ""), client_token=form_token(prefix))
            connected = lead.first_contact_at is not None
    except OutreachError as exc:
        state[f"{prefix}errors"] = {"form": str(exc)}
        return
    except SQLAlchemyError as exc:
        state[f"{prefix}errors"] = {"form": SAVE_FAILED.format(type(exc).__name__)}
        return
    state.pop(f"{prefix}errors", None)
    _next_followup_form(lead_id, prefix)
    state["flash"] = ("Conversation logged: no more reminders for this lead." if connected
                      else "Attempt logged. Reminders continue until you talk to them.")


def reassign_lead(viewer: Viewer, lead_id: int, owner_key: str) -> None:
    """The manager hands a lead over; the new owner's alert leaves at once."""
    new_owner = st.session_state.get(owner_key)
    runtime = get_runtime()
    try:
        with runtime.db.session() as session, session.begin():
            lead = reassign(session, viewer, lead_id, int(new_owner or 0), team_settings(session),
                            clock.now())
            name = lead.full_name
    except OutreachError as exc:
        st.session_state["flash_error"] = str(exc)
        return
    except SQLAlchemyError as exc:
        st.session_state["flash_error"] = SAVE_FAILED.format(type(exc).__name__)
        return
    _send_alerts([lead_id], handover=True)
    st.session_state["flash"] = f"{name} reassigned; the new owner is being alerted."
