"""The e-mails about leads: the owner's alert and reminders, the manager's escalation.

Each function takes what it shows already loaded (:func:`lead_facts` reads the
referrers and last attempts of many leads in two queries) and returns an
:class:`~outreach.mail.outbox.Email` ready to queue. Several leads in one e-mail are
listed most urgent first: concerns, then the longest waiting.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.humanize import ago, duration
from outreach.links import lead_url, reassign_url
from outreach.mail.emails import render_email
from outreach.mail.outbox import Email
from outreach.models import Customer, Lead, LeadEvent, Rep
from outreach.phones import display
from outreach.team_settings import TeamSettings

# An e-mail lists this many leads and says how many more: past about 100 lead cards, Gmail
# clips the message, and a list that long is a page to open, not an e-mail to read.
LISTED_AT_MOST = 50
ATTEMPTS = {"voicemail": "left a voicemail", "no_answer": "no answer", "wrong_number": "wrong number"}
KIND_LABELS = {"referral": "Referral", "inbound": "Inbound lead", "concern": "Customer concern"}


@dataclass(frozen=True)
class LeadFacts:
    """What an e-mail says about leads beyond their own row: who referred them, the last try."""

    referrers: dict[int, str] = field(default_factory=dict)  # customer id -> name
    last_attempts: dict[int, LeadEvent] = field(default_factory=dict)  # lead id -> event


def lead_facts(session: Session, leads: Iterable[Lead]) -> LeadFacts:
    leads = list(leads)
    customer_ids = {lead.referring_customer_id for lead in leads if lead.referring_customer_id}
    referrers = dict(session.execute(
        select(Customer.id, Customer.first_name + " " + Customer.last_name)
        .where(Customer.id.in_(customer_ids))).all()) if customer_ids else {}
    attempted = [lead.id for lead in leads if lead.attempts]
    last: dict[int, LeadEvent] = {}
    if attempted:
        events = session.scalars(select(LeadEvent).where(LeadEvent.lead_id.in_(attempted),
                                                         LeadEvent.outcome.in_(list(ATTEMPTS)))
                                 .order_by(LeadEvent.created_at, LeadEvent.id))
        last = {event.lead_id: event for event in events}  # the latest wins
    return LeadFacts({k: v.strip() for k, v in referrers.items()}, last)


def urgency(lead: Lead) -> tuple[bool, datetime, int]:
    """Concerns first (a worried customer outranks any new lead), then the longest waiting."""
    return (lead.kind != "concern", lead.created_at, lead.id)


def person(rep: Rep) -> dict[str, str]:
    return {"name": rep.name, "first_name": rep.first_name}


def lead_item(lead: Lead, facts: LeadFacts, team: TeamSettings, now: datetime) -> dict[str, object]:
    """One lead as every lead e-mail shows it (templates/_lead_card and the lists)."""
    last = facts.last_attempts.get(lead.id)
    return {
        "id": lead.id, "name": lead.full_name, "kind": lead.kind,
        "kind_label": KIND_LABELS.get(lead.kind, lead.kind), "phone": lead.phone,
        "phone_display": display(lead.phone, team.phone_region), "email": lead.email or "",
        "phone_as_typed": lead.phone_as_typed, "email_as_typed": lead.email_as_typed,
        "need": lead.need, "relationship": lead.relationship, "best_time": lead.best_time,
        "heard_about": lead.heard_about, "attempts": lead.attempts,
        "attempts_label": (f"{lead.attempts} attempt{'s' if lead.attempts != 1 else ''}"
                           if lead.attempts else "not called yet"),
        "last_attempt": f"{ATTEMPTS[last.outcome]} {ago(last.created_at, now)}" if last else "",
        "age": duration((now - lead.created_at).total_seconds()),
        "referrer": facts.referrers.get(lead.referring_customer_id or 0, ""),
        "url": lead_url(team.app_url, lead.id), "reassign_url": reassign_url(team.app_url, lead.id),
        "owner": "", "copied": False,  # filled in by the escalation and the reminder
    }


def _longest_waiting(listed: Sequence[Lead], items: list[dict[str, object]]) -> dict[str, object]:
    oldest = min(listed, key=lambda lead: lead.created_at)
    return next(item for item in items if item["id"] == oldest.id)


def _common(team: TeamSettings) -> dict[str, str]:
    return {"app_url": team.app_url, "team_name": team.sender_name}


def alert_email(lead: Lead, owner: Rep, facts: LeadFacts, team: TeamSettings, now: datetime,
                key: str, *, cc: tuple[str, ...] = (), taken_by: str = "") -> Email:
    """The owner's alert; ``taken_by``: the front-desk person who took the call (the caller waits)."""
    rendered = render_email("alert", lead=lead_item(lead, facts, team, now), owner=person(owner),
                            taken_by=taken_by, manager_copied=bool(cc), **_common(team))
    return Email(key=key, kind="alert", to_email=owner.email, to_name=owner.name,
                 subject=rendered.subject, text=rendered.text, html=rendered.html, cc=cc,
                 rep_id=owner.id, lead_id=lead.id)


def called_again_email(lead: Lead, owner: Rep, taken_by: str, note: str, facts: LeadFacts,
                       team: TeamSettings, now: datetime, key: str) -> Email:
    """A lead phoned the front desk again: the owner hears at once in their hours (kind "called-again",
    held like a reminder outside them: only a new lead's alert goes at any hour)."""
    rendered = render_email("called_again", lead=lead_item(lead, facts, team, now), owner=person(owner),
                            taken_by=taken_by, note=note, **_common(team))
    return Email(key=key, kind="called-again", to_email=owner.email, to_name=owner.name,
                 subject=rendered.subject, text=rendered.text, html=rendered.html,
                 rep_id=owner.id, lead_id=lead.id)


def handover_email(lead: Lead, owner: Rep, previous: Rep, manager: Rep, facts: LeadFacts,
                   team: TeamSettings, now: datetime, key: str) -> Email:
    """The new owner's alert for a reassigned lead: from whom, how old, how many tries.

    Kind "alert": it is this assignment's alert (same key, same priority, sent at once).
    """
    rendered = render_email("handover", lead=lead_item(lead, facts, team, now), owner=person(owner),
                            previous=person(previous), manager=person(manager), **_common(team))
    return Email(key=key, kind="alert", to_email=owner.email, to_name=owner.name,
                 subject=rendered.subject, text=rendered.text, html=rendered.html,
                 rep_id=owner.id, lead_id=lead.id)


def left_you_email(lead: Lead, owner: Rep, previous: Rep, manager: Rep, team: TeamSettings,
                   now: datetime, key: str) -> Email:
    """A short note to the previous owner: the lead left their list (so they stop calling it)."""
    rendered = render_email("left_you", lead=lead_item(lead, LeadFacts(), team, now), owner=person(owner),
                            previous=person(previous), manager=person(manager), **_common(team))
    return Email(key=key, kind="left-you", to_email=previous.email, to_name=previous.name,
                 subject=rendered.subject, text=rendered.text, html=rendered.html,
                 rep_id=previous.id, lead_id=lead.id)


def reminder_email(owner: Rep, leads: Sequence[Lead], copied: set[int], manager: Rep | None,
                   facts: LeadFacts, team: TeamSettings, now: datetime, key: str) -> Email:
    """One e-mail for every lead of the owner's that is due; ``copied``: those the manager must see.

    A lead due alone gets the single-lead reminder (its card, its reminder number).
    """
    listed = sorted(leads, key=urgency)
    items = [lead_item(lead, facts, team, now) | {"copied": lead.id in copied} for lead in listed]
    cc = (manager.email,) if manager is not None else ()
    context = {"owner": person(owner), "manager_copied": manager is not None, **_common(team)}
    if len(listed) == 1:
        rendered = render_email("reminder", lead=items[0], number=listed[0].reminders_sent, **context)
    else:
        rendered = render_email("reminders", leads=items[:LISTED_AT_MOST], count=len(items),
                                more=max(0, len(items) - LISTED_AT_MOST),
                                longest=_longest_waiting(listed, items),
                                copied_names=[i["name"] for i in items if i["copied"]], **context)
    return Email(key=key, kind="reminder", to_email=owner.email, to_name=owner.name,
                 subject=rendered.subject, text=rendered.text, html=rendered.html, cc=cc,
                 rep_id=owner.id, lead_id=listed[0].id if len(listed) == 1 else None)


def escalation_email(manager: Rep, leads: Sequence[Lead], owners: dict[int, Rep], facts: LeadFacts,
                     team: TeamSettings, now: datetime, key: str) -> Email:
    """Every lead that needs a new owner, in one e-mail to their manager."""
    listed = sorted(leads, key=urgency)
    items = [lead_item(lead, facts, team, now) | {"owner": owners[lead.owner_id].name}
             for lead in listed]
    value = team.average_deal_value
    rendered = render_email(
        "escalation", manager=person(manager), leads=items[:LISTED_AT_MOST], count=len(items),
        more=max(0, len(items) - LISTED_AT_MOST), longest=_longest_waiting(listed, items),
        value_each=f"{value:,.0f}" if value is not None else "",
        value_at_risk=f"{value * len(items):,.0f}" if value is not None else "",
        team_url=f"{team.app_url}/team", **_common(team))
    return Email(key=key, kind="escalation", to_email=manager.email, to_name=manager.name,
                 subject=rendered.subject, text=rendered.text, html=rendered.html, rep_id=manager.id,
                 lead_id=listed[0].id if len(listed) == 1 else None)
