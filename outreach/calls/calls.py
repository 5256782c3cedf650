"""Logging a referral call: what happened, what they said, and every name they gave.

One save is one transaction: the call, the customer's new state, the planned
call's status, every referral as a lead (with its alert queued), and a flagged
concern. If anything is wrong nothing is saved and each problem is named by
field, so the page can keep everything the rep typed. The form's token makes a
second submit (a double click) return the first save instead of doubling leads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from outreach.access import NotAllowed, Viewer, leads_visible_to, planned_call_for
from outreach.calls.planner import replace_planned_call
from outreach.errors import OutreachError
from outreach.leads.followup import start_following_up
from outreach.leads.leads import concern_owner
from outreach.leads.thanks import done_by_call
from outreach.models import Call, Customer, Lead, PlannedCall, Rep
from outreach.phones import to_e164
from outreach.sheet.validation import normalise_email
from outreach.team_settings import TeamSettings

OUTCOMES = {
    "connected": "Connected",
    "voicemail": "Left voicemail",
    "no_answer": "No answer",
    "wrong_number": "Wrong number",
    "do_not_call": "Asked not to be called",
}


@dataclass(frozen=True)
class ReferralInput:
    first_name: str = ""
    last_name: str = ""
    phone: str = ""
    email: str = ""
    relationship: str = ""
    need: str = ""
    best_time: str = ""

    @property
    def blank(self) -> bool:
        return not any(v.strip() for v in vars(self).values())


@dataclass(frozen=True)
class CallInput:
    planned_call_id: int
    outcome: str
    client_token: str
    liked_best: str = ""
    do_better: str = ""
    concern: bool = False
    referrals: tuple[ReferralInput, ...] = ()


class FormErrors(OutreachError):
    """What is wrong with a form, by field ("outcome", "referral.1.phone", ...), as plain text.

    ``leads`` names, by field, the lead an error is about, so a page can link to it.
    """

    def __init__(self, errors: dict[str, str], leads: dict[str, int] | None = None) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors
        self.leads = leads or {}


@dataclass
class CallSaved:
    call_id: int
    lead_ids: list[int] = field(default_factory=list)
    repeated_submit: bool = False
    replacement_id: int | None = None


@dataclass(frozen=True)
class _Referral:
    number: int  # the row on the form, so errors land next to the right fields
    first_name: str
    last_name: str
    phone: str | None
    email: str | None
    source: ReferralInput


def log_call(session: Session, viewer: Viewer, data: CallInput, team: TeamSettings,
             now: datetime) -> CallSaved:
    """Save the call and everything it produced, or raise FormErrors and save nothing."""
    earlier = session.scalar(select(Call).where(Call.client_token == data.client_token))
    if earlier is not None:
        return _repeat(session, earlier)
    try:
        planned = planned_call_for(session, viewer, data.planned_call_id)
    except NotAllowed as exc:
        raise FormErrors({"form": str(exc)}) from None
    if planned.status != "open":
        # Saved already (a second click after the page moved on), or skipped: one call per slot.
        raise FormErrors({"form": "this call was already logged; nothing was doubled"})
    customer = session.get(Customer, planned.customer_id)
    referrals = _checked(session, viewer, data, team)
    call = Call(rep_id=planned.rep_id, customer_id=customer.id, planned_call_id=planned.id,
                outcome=data.outcome, liked_best=data.liked_best.strip(),
                do_better=data.do_better.strip(), concern=data.concern, created_at=now,
                client_token=data.client_token)
    session.add(call)
    try:
        session.flush()
    except IntegrityError:
        # Two submits of one form raced past the check above; the other one saved it.
        raise FormErrors({"form": "this call was just saved (a second click); nothing was doubled"}) \
            from None
    saved = CallSaved(call.id)
    done_by_call(session, customer.id, planned.rep_id, now)  # any call with them thanks them too
    saved.replacement_id = _apply_outcome(session, planned, customer, data.outcome, team, now)
    rep = session.get(Rep, planned.rep_id)
    for referral in referrals:
        saved.lead_ids.append(_open_lead(session, _referral_lead(referral, rep, customer, call, now),
                                         team, now))
    if data.concern:
        owner = concern_owner(session, customer.owner_email, rep)
        concern = Lead(kind="concern", status="new", owner_id=owner.id,
                       first_name=customer.first_name, last_name=customer.last_name,
                       phone=customer.phone, email=customer.email, need=call.do_better,
                       referring_customer_id=customer.id, call_id=call.id, created_at=now)
        saved.lead_ids.append(_open_lead(session, concern, team, now))
    return saved


def _repeat(session: Session, call: Call) -> CallSaved:
    lead_ids = list(session.scalars(select(Lead.id).where(Lead.call_id == call.id).order_by(Lead.id)))
    return CallSaved(call.id, lead_ids, repeated_submit=True)


def _apply_outcome(session: Session, planned: PlannedCall, customer: Customer, outcome: str,
                   team: TeamSettings, now: datetime) -> int | None:
    if outcome == "wrong_number":
        replacement = replace_planned_call(session, planned, "wrong_number", team, now)
        return replacement.id if replacement else None
    planned.status = "done"
    if outcome == "connected":
        customer.last_asked_at = now  # the ask happened: the cooldown starts
    elif outcome == "do_not_call":
        customer.do_not_call_requested_at = now
    return None


def _open_lead(session: Session, lead: Lead, team: TeamSettings, now: datetime) -> int:
    session.add(lead)
    session.flush()
    start_following_up(session, lead, team, now)
    return lead.id


def _referral_lead(referral: _Referral, rep: Rep, customer: Customer, call: Call,
                   now: datetime) -> Lead:
    source = referral.source
    return Lead(kind="referral", status="new", owner_id=rep.id, first_name=referral.first_name,
                last_name=referral.last_name, phone=referral.phone, email=referral.email,
                relationship=source.relationship.strip(), need=source.need.strip(),
                best_time=source.best_time.strip(), referring_customer_id=customer.id,
                call_id=call.id, created_at=now)


def _checked(session: Session, viewer: Viewer, data: CallInput, team: TeamSettings) -> list[_Referral]:
    errors: dict[str, str] = {}
    if data.outcome not in OUTCOMES:
        errors["outcome"] = "choose what happened on the call"
    given = [(n, r) for n, r in enumerate(data.referrals) if not r.blank]
    if given and data.outcome != "connected":
        errors["referrals"] = "referrals come from a conversation: choose Connected"
    if data.concern and not data.do_better.strip():
        errors["do_better"] = "write down what worries the customer to flag it as a concern"
    if data.concern and data.outcome != "connected":
        errors["concern"] = "a concern comes from a conversation: choose Connected"
    referrals = []
    for number, referral in given:
        checked = _check_referral(number, referral, team, errors)
        if checked is not None:
            referrals.append(checked)
    leads = _flag_duplicates(session, viewer, referrals, errors)
    if errors:
        raise FormErrors(errors, leads)
    return referrals


def _check_referral(number: int, referral: ReferralInput, team: TeamSettings,
                    errors: dict[str, str]) -> _Referral | None:
    prefix = f"referral.{number}"
    first, last = referral.first_name.strip(), referral.last_name.strip()
    if not (first or last):
        errors[f"{prefix}.first_name"] = "a referral needs a name"
    phone = email = None
    if referral.phone.strip():
        try:
            phone = to_e164(referral.phone, team.phone_region)
        except ValueError as exc:
            errors[f"{prefix}.phone"] = f"{referral.phone.strip()!r} {exc}"
    if referral.email.strip():
        try:
            email = normalise_email(referral.email)
        except ValueError as exc:
            errors[f"{prefix}.email"] = f"{referral.email.strip()!r} is not an e-mail address ({exc})"
    if not (referral.phone.strip() or referral.email.strip()):
        errors[f"{prefix}.phone"] = "a referral needs a phone number or an e-mail to follow up"
    if any(key.startswith(prefix) for key in errors):
        return None
    return _Referral(number, first or last, last if first else "", phone, email, referral)


def _flag_duplicates(session: Session, viewer: Viewer, referrals: list[_Referral],
                     errors: dict[str, str]) -> dict[str, int]:
    """Point at the lead or customer a referral already is, instead of doubling it."""
    seen: dict[str, int] = {}
    leads: dict[str, int] = {}
    for referral in referrals:
        for contact in (c for c in (referral.phone, referral.email) if c):
            if contact in seen:
                errors[f"referral.{referral.number}.phone"] = f"same person as referral {seen[contact] + 1}"
            seen.setdefault(contact, referral.number)
        match, lead_id = _existing(session, viewer, referral)
        if match:
            errors[f"referral.{referral.number}.duplicate"] = match
        if lead_id is not None:
            leads[f"referral.{referral.number}.duplicate"] = lead_id
    return leads


def _existing(session: Session, viewer: Viewer, referral: _Referral) -> tuple[str | None, int | None]:
    """Who the referral already is, and the lead to open when the viewer may see it."""
    conditions = []
    for column_lead, column_customer, value in ((Lead.phone, Customer.phone, referral.phone),
                                                (Lead.email, Customer.email, referral.email)):
        if value:
            conditions.append((column_lead == value, column_customer == value))
    if not conditions:
        return None, None
    name = f"{referral.first_name} {referral.last_name}".strip()
    lead_id = session.scalar(select(Lead.id).where(or_(*(c[0] for c in conditions)))
                             .order_by(Lead.id).limit(1))
    if lead_id is not None:
        lead = session.scalar(leads_visible_to(viewer, select(Lead).where(Lead.id == lead_id)))
        if lead is None:  # another rep's lead: say so, without showing it
            return f"{name} is already another rep's lead; ask your manager before adding them again", None
        owner = session.get(Rep, lead.owner_id)
        return f"{name} is already a lead: {lead.full_name} (lead {lead.id}, {owner.name}'s)", lead.id
    customer = session.scalar(select(Customer).where(or_(*(c[1] for c in conditions))).limit(1))
    if customer is not None:
        return (f"{customer.full_name} is already a customer ({customer.company or 'no company'}): "
                "ask them for referrals on their own call instead"), None
    return None, None
