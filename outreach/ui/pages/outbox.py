"""Outbox: every e-mail the product sent (or would send), rendered as the recipient sees it.

Without SendGrid this is where the e-mails go; with SendGrid it is the delivery
log, including failures and why.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from outreach.mail.outbox import recent_messages
from outreach.ui.auth import current_viewer
from outreach.ui.context import get_runtime
from outreach.ui.text import email_link, md_escape

KINDS = ["call-list", "alert", "called-again", "reminder", "escalation", "left-you", "thank-you"]
STATUSES = ["pending", "claimed", "sending", "sent", "failed", "cancelled", "skipped"]


def render() -> None:
    runtime = get_runtime()
    viewer = current_viewer()
    st.title("Outbox" if viewer.is_manager else "Your e-mails")
    if runtime.settings.uses_sendgrid:
        st.caption("E-mails are delivered by SendGrid; this is the delivery log.")
    else:
        st.caption("SendGrid is not configured: e-mails stay here, in the embedded outbox. "
                   "Set SENDGRID_API_KEY to deliver them.")
    left, right = st.columns(2)
    kinds = left.multiselect("Kind", KINDS, key="outbox_kinds")
    statuses = right.multiselect("Status", STATUSES, key="outbox_statuses")
    with runtime.db.session() as session:
        # A rep sees the e-mails addressed to them; the manager sees everything.
        messages = recent_messages(session, kinds=kinds, statuses=statuses,
                                   rep_id=None if viewer.is_manager else viewer.rep_id)
    zone = ZoneInfo(viewer.time_zone)  # times in the reader's own zone
    if not messages:
        st.info("No e-mails yet.")
        return
    failed = [m for m in messages if m.status == "failed"]
    if failed:
        st.error(f"{len(failed)} e-mail(s) could not be delivered. The latest: "
                 f"{md_escape(failed[0].last_error or '')}")
    table = pd.DataFrame([{
        "id": m.id, "created": m.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        "kind": m.kind, "to": m.to_email, "subject": m.subject, "status": m.status,
        "attempts": m.attempts, "note": m.last_error or "",  # why it failed, waits or was dropped
    } for m in messages])
    st.dataframe(table, hide_index=True, width="stretch")
    chosen = st.selectbox("Show e-mail", messages, key="outbox_message",
                          format_func=lambda m: f"#{m.id} {m.subject} → {m.to_email}")
    if chosen is not None:
        show(chosen)


def show(message) -> None:  # type: ignore[no-untyped-def]
    # The subject holds names from the sheet and the rep page: shown as typed, never as Markdown.
    st.markdown(f"**{md_escape(message.subject)}**  \nTo: {email_link(message.to_email)}"
                + (f"  \nCc: {', '.join(email_link(cc) for cc in message.cc)}" if message.cc else ""))
    if message.status == "pending" and message.last_error:
        st.caption(md_escape(message.last_error))  # e.g. waiting for the reader's business hours
    html_tab, text_tab = st.tabs(["HTML", "Plain text"])
    with html_tab:
        if message.html:
            # st.html sanitizes (no scripts, no same-origin frame), on top of the templates'
            # own autoescaping: defence in depth for text that came from a sheet.
            with st.container(height=640):
                st.html(message.html)
        else:
            st.caption("No HTML part.")
    with text_tab:
        st.text(message.text)


render()
