"""A customer card on the rep's page, with the form that logs the call."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import streamlit as st

from outreach.access import Viewer
from outreach.calls.calls import OUTCOMES
from outreach.models import Customer, PlannedCall
from outreach.phones import display
from outreach.ui.actions import add_referral, referral_count, remove_referral, save_call, skip_call
from outreach.ui.text import email_link, phone_link
from outreach.ui.text import md_escape as _md

STATUS_BADGES = {"done": ":green-badge[:material/check: Done]",  # when no call row says more
                 "skipped": ":gray-badge[:material/skip_next: Skipped]",
                 "wrong_number": ":orange-badge[:material/phone_disabled: Wrong number]"}
REFERRAL_LABELS = (("first_name", "First name"), ("last_name", "Last name"), ("phone", "Phone"),
                   ("email", "E-mail"), ("relationship", "How they know the customer"),
                   ("need", "What they need"), ("best_time", "Best time to call"))


def status_badge(status: str, outcome: str | None) -> str:
    """What happened, in the rep's words ("Left voicemail"), not only that the call is done."""
    if status == "done" and outcome in OUTCOMES:
        return f":green-badge[:material/check: {OUTCOMES[outcome]}]"
    return STATUS_BADGES.get(status, "")


def customer_card(viewer: Viewer, planned: PlannedCall, customer: Customer, region: str,
                  script: str, expanded: bool, outcome: str | None = None,
                  referred: tuple[int, int] | None = None) -> None:
    """``referred``: (referrals given, won), so the rep knows who they are calling."""
    with st.container(border=True):
        badge = status_badge(planned.status, outcome)
        st.markdown(f"#### {planned.position}. {_md(customer.full_name)}"
                    + (f" · {_md(customer.company)}" if customer.company else "")
                    + (f"  \n{badge}" if badge else ""))
        if referred and referred[0]:
            st.caption(f":material/handshake: has referred {referred[0]} ({referred[1]} won)")
        _details(customer, region, ZoneInfo(viewer.time_zone))
        if planned.status == "open":
            with st.expander("Log this call", expanded=expanded):
                st.caption(f"Say: “{_md(script)}”")
                call_form(viewer, planned)
            st.button("Skip this customer", key=f"skip{planned.id}", on_click=skip_call,
                      args=(viewer, planned.id), help="You get one replacement for a skip.")


def _details(customer: Customer, region: str, zone: ZoneInfo) -> None:
    phone = display(customer.phone, region)
    left, middle, right = st.columns(3)
    left.markdown(f":material/call: {phone_link(phone, customer.phone)}" if customer.phone
                  else ":material/call: no phone")
    middle.markdown(f":material/mail: {email_link(customer.email)}" if customer.email
                    else ":material/mail: no e-mail")
    since = customer.customer_since.strftime("%b %Y") if customer.customer_since else "unknown"
    asked = (customer.last_asked_at.astimezone(zone).strftime("%d %b %Y") if customer.last_asked_at
             else "never")
    right.caption(f"Customer since {since} · last asked {asked}")
    if customer.notes:
        st.caption(f":material/sticky_note_2: {_md(customer.notes)}")
    if customer.extra:
        st.caption(" · ".join(f"{_md(k)}: {_md(v)}" for k, v in sorted(customer.extra.items())))


def call_form(viewer: Viewer, planned: PlannedCall) -> None:
    prefix = f"call{planned.id}_"
    errors: dict[str, str] = st.session_state.get(f"{prefix}errors", {})
    leads: dict[str, int] = st.session_state.get(f"{prefix}error_leads", {})
    st.radio("What happened?", list(OUTCOMES), format_func=OUTCOMES.get, key=f"{prefix}outcome",
             index=None, horizontal=True)
    _error(errors, "outcome")
    st.text_area("What do they like best about working with us?", key=f"{prefix}liked", height=68)
    st.text_area("Anything we can do better?", key=f"{prefix}better", height=68)
    _error(errors, "do_better")
    st.checkbox("Flag this as a concern: their owner calls back, with reminders",
                key=f"{prefix}concern")
    _error(errors, "concern")
    st.markdown("**Who do you know that we should know?**")
    _error(errors, "referrals")
    for number in range(referral_count(prefix)):
        _referral_fields(prefix, number, errors, leads)
    st.button("Another referral", key=f"{prefix}more", icon=":material/person_add:",
              on_click=add_referral, args=(prefix,))
    _error(errors, "form")
    st.button("Save call", key=f"{prefix}save", type="primary", on_click=save_call,
              args=(viewer, planned.id, prefix))


def _referral_fields(prefix: str, number: int, errors: dict[str, str], leads: dict[str, int]) -> None:
    title, remove = st.columns([4, 1], vertical_alignment="center")
    title.caption(f"Referral {number + 1}")
    # One tap drops a row (a name given twice, a duplicate): the rest of the call still saves.
    remove.button("Remove", key=f"{prefix}ref{number}_remove", icon=":material/delete:",
                  on_click=remove_referral, args=(prefix, number))
    # Four to a row, row by row: a phone stacks the columns, and then they still read name, phone, e-mail.
    for start in range(0, len(REFERRAL_LABELS), 4):
        for column, (field, label) in zip(st.columns(4), REFERRAL_LABELS[start:start + 4], strict=False):
            column.text_input(label, key=f"{prefix}ref{number}_{field}")
    for field in ("first_name", "phone", "email", "duplicate"):
        _error(errors, f"referral.{number}.{field}", leads)


def _error(errors: dict[str, str], field: str, leads: dict[str, int] | None = None) -> None:
    """The domain's message as plain text (it quotes what the rep typed), linked to the lead it means."""
    if field in errors:
        lead_id = (leads or {}).get(field)
        st.error(_md(errors[field]) + (f" [open it](?lead={int(lead_id)})" if lead_id is not None else ""))
