"""The front desk: a live person answers, and the caller is someone's lead within seconds.

The person answering the phone types who called; saving decides what the call is, here and not
in the page (the page's lookup is a preview, the save looks again):

- someone with a live lead already (not won, lost, not a fit or a duplicate): no second lead.
  The owner hears "<name> called again" at once in their hours (else at their next opening), and the
  lead's history shows the call;
- an existing customer (same phone in E.164, or same e-mail): a **concern** for the customer's
  owner, alerted at once with their manager copied, reminded on ``Concern Reminder Schedule``;
- anyone else: a new inbound lead for the rep the caller asked for, else the next rep in turn.

Each save is one transaction keyed by the form's token (a LeadEvent's ``client_token``), so a
double click or a resubmitted form makes one lead. A caller is never lost: a number that cannot
be dialled is kept as typed, flagged "check the number", when there is also an e-mail or any
digits to go on.

What the desk sees of its callers afterwards, and handing one on, is in ``front_desk_day``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.orm import Session

from outreach.access import NotAllowed, Viewer
from outreach.business_hours import WorkCalendar
from outreach.calls.calls import FormErrors
from outreach.leads.followup import alert_key, hand_over, start_following_up
from outreach.leads.lead_emails import called_again_email, lead_facts
from outreach.leads.leads import InboundRoundRobin, active_owner, working_reps
from outreach.mail.outbox import enqueue
from outreach.models import Customer, Lead, LeadEvent, Rep
from outreach.phones import to_e164
from outreach.sheet.validation import normalise_email
from outreach.team_settings import TeamSettings

INTAKE, CALLED_AGAIN = "intake", "called_again"  # the LeadEvent outcomes the front desk writes
LIVE_STATUSES = ("new", "attempted", "connected", "appointment")  # a caller with one of these: no new lead
FIELD_LIMITS = {"first_name": 200, "last_name": 200, "email": 320, "phone": 200, "heard_about": 300,
                "reason": 5000}


@dataclass(frozen=True)
class IntakeInput:
    """The front-desk form as typed."""

    first_name: str = ""
    last_name: str = ""
    phone: str = ""
    email: str = ""
    heard_about: str = ""
    reason: str = ""
    asked_for_id: int | None = None
    client_token: str = ""
    as_concern: bool = True  # when the caller is a customer: a concern (else a new enquiry)


@dataclass(frozen=True)
class Caller:
    """Who the number or address belongs to, as much as the front desk needs to know."""

    kind: str  # "lead", "customer" or "new"
    name: str = ""
    owner_first_name: str = ""
    detail: str = ""  # "customer since 2021 · Acme" / "lead since 2 Dec · 2 attempts"
    customer_id: int | None = None
    lead_id: int | None = None


@dataclass(frozen=True)
class Intake:
    """What a save did, for the page to say and to send at once."""

    lead_id: int
    kind: str  # "new", "concern" or "called_again"
    owner_first_name: str
    # The owner's next reminder: when the caller can expect the call. None when none follows (the lead
    # was talked to already: a "called again" is all the owner gets).
    callback_by: datetime | None
    alert_keys: tuple[str, ...]
    repeated: bool = False  # the same form saved before (a double click): nothing new was made
    # The owner is outside their business hours now: their next opening. Nothing nags them before it.
    owner_back_at: datetime | None = None
    message_held: bool = False  # the owner's e-mail (a "called again") waits for owner_back_at


def require_desk(viewer: Viewer) -> None:
    if not (viewer.is_front_desk or viewer.is_manager):
        raise NotAllowed("only the front desk and managers take callers in")


# -- who is calling ----------------------------------------------------------------------------

def _phone_of(text: str, team: TeamSettings) -> str | None:
    try:
        return to_e164(text, team.phone_region) if text.strip() else None
    except ValueError:
        return None


def _email_of(text: str) -> str | None:
    try:
        return normalise_email(text) if text.strip() else None
    except ValueError:
        return None


def _matching(column_phone: Any, column_email: Any, phone: str | None,
              email: str | None) -> ColumnElement[bool]:
    conditions = [column_phone == phone] if phone else []
    if email:
        conditions.append(column_email == email)
    return or_(*conditions) if conditions else false()


def _live_lead(session: Session, phone: str | None, email: str | None) -> Lead | None:
    return session.scalar(select(Lead).where(Lead.status.in_(LIVE_STATUSES),
                                             _matching(Lead.phone, Lead.email, phone, email))
                          .order_by(Lead.created_at.desc(), Lead.id.desc()).limit(1))


def _customer(session: Session, phone: str | None, email: str | None) -> Customer | None:
    return session.scalar(select(Customer).where(Customer.active.is_(True),
                                                 _matching(Customer.phone, Customer.email, phone, email))
                          .order_by(Customer.id).limit(1))


def tries(lead: Lead) -> str:
    if not lead.attempts:
        return "not called yet"
    return f"{lead.attempts} attempt{'s' if lead.attempts != 1 else ''}"


def look_up_caller(session: Session, viewer: Viewer, phone: str, email: str, team: TeamSettings) -> Caller:
    """Who this caller is, from what is typed so far (a live lead first, then a customer)."""
    require_desk(viewer)
    number, address = _phone_of(phone, team), _email_of(email)
    lead = _live_lead(session, number, address)
    if lead is not None:
        owner = session.get(Rep, lead.owner_id)
        since = lead.created_at.astimezone(ZoneInfo(viewer.time_zone))
        return Caller("lead", lead.full_name, owner.first_name if owner else "",
                      f"{lead.kind} lead since {since:%a %d %b} · {tries(lead)}", lead_id=lead.id)
    customer = _customer(session, number, address)
    if customer is not None:
        owner = (session.scalar(select(Rep).where(Rep.email == customer.owner_email))
                 if customer.owner_email else None)
        since = f"customer since {customer.customer_since:%Y}" if customer.customer_since else "customer"
        return Caller("customer", customer.full_name, owner.first_name if owner else "",
                      " · ".join(x for x in (since, customer.company) if x), customer_id=customer.id)
    return Caller("new")


# -- saving ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Checked:
    first_name: str
    last_name: str
    phone: str | None
    phone_as_typed: str
    email: str | None
    asked_for: Rep | None


def check_intake(session: Session, data: IntakeInput, team: TeamSettings) -> _Checked:
    """The form's fields, or FormErrors naming each bad one (by field name) in words for the desk."""
    errors: dict[str, str] = {}
    for name, limit in FIELD_LIMITS.items():
        if len(getattr(data, name).strip()) > limit:
            errors[name] = f"at most {limit} characters"
    first, last = data.first_name.strip(), data.last_name.strip()
    if not (first or last):
        errors["first_name"] = "ask for the caller's name: the rep needs to know whom they call back"
    email = None
    if data.email.strip():
        email = _email_of(data.email)
        if email is None:
            errors["email"] = (f"{data.email.strip()!r} is not an e-mail address: check it with the "
                               "caller, or leave it empty")
    phone, as_typed = _checked_phone(data, email, team, errors)
    asked_for = _asked_for(session, data.asked_for_id, errors)
    if errors:
        raise FormErrors(errors)
    return _Checked(first or last, last if first else "", phone, as_typed, email, asked_for)


def _checked_phone(data: IntakeInput, email: str | None, team: TeamSettings,
                   errors: dict[str, str]) -> tuple[str | None, str]:
    """The dialable number, or what was typed to keep (flagged) when there is something to go on."""
    typed = data.phone.strip()
    if not typed:
        if not data.email.strip():
            errors["phone"] = "a phone number or an e-mail is needed, so the rep can call back"
        return None, ""
    phone = _phone_of(typed, team)
    if phone is not None:
        return phone, ""
    if email is None and not any(c.isdigit() for c in typed):
        errors["phone"] = f"{typed!r} has no digits: ask for the number again (or an e-mail)"
    return None, typed  # saved as typed: the rep sees "check the number"


def _asked_for(session: Session, rep_id: int | None, errors: dict[str, str]) -> Rep | None:
    if rep_id is None:
        return None
    rep = next((r for r in working_reps(session) if r.id == rep_id), None)
    if rep is None:
        errors["asked_for"] = "that person does not take calls any more: choose someone else, or nobody"
    return rep


def save_intake(session: Session, viewer: Viewer, data: IntakeInput, team: TeamSettings,
                now: datetime) -> Intake:
    """Turn the call into a lead, a concern or a "called again", with the owner's e-mail queued."""
    require_desk(viewer)
    if data.client_token:
        repeated = _saved_before(session, data.client_token, team, now)
        if repeated is not None:
            return repeated
    checked = check_intake(session, data, team)
    desk = session.get(Rep, viewer.rep_id)
    assert desk is not None
    lead = _live_lead(session, checked.phone, checked.email)
    if lead is not None:
        return _called_again(session, desk, lead, checked, data, team, now)
    customer = _customer(session, checked.phone, checked.email)
    if customer is not None and data.as_concern:
        return _concern(session, desk, customer, checked, data, team, now)
    return _new_lead(session, desk, checked, data, team, now)


def _saved_before(session: Session, token: str, team: TeamSettings, now: datetime) -> Intake | None:
    event = session.scalar(select(LeadEvent).where(LeadEvent.client_token == token))
    if event is None:
        return None
    lead = session.get(Lead, event.lead_id)
    owner = session.get(Rep, lead.owner_id) if lead else None
    assert lead is not None and owner is not None
    called_again = event.outcome == CALLED_AGAIN
    return _told(lead, owner, "called_again" if called_again else _kind(lead), (), team, now,
                 held=called_again, repeated=True)


def _told(lead: Lead, owner: Rep, kind: str, keys: tuple[str, ...], team: TeamSettings, now: datetime,
          *, held: bool, repeated: bool = False) -> Intake:
    """What the save did, with the owner's hours: ``held`` when the owner's e-mail waits for them
    outside their hours (a "called again"; a new lead's alert goes at any hour)."""
    calendar, zone = WorkCalendar(team), ZoneInfo(owner.time_zone)
    back = None if calendar.is_open(now, zone) else calendar.next_opening(now, zone)
    return Intake(lead.id, kind, owner.first_name, lead.next_reminder_at, keys, repeated,
                  owner_back_at=back, message_held=held and back is not None)


def _kind(lead: Lead) -> str:
    return "concern" if lead.kind == "concern" else "new"


def _event(desk: Rep, lead: Lead, outcome: str, data: IntakeInput, now: datetime,
           note: str | None = None) -> LeadEvent:
    return LeadEvent(lead_id=lead.id, rep_id=desk.id, outcome=outcome,
                     note=data.reason.strip() if note is None else note,
                     created_at=now, client_token=data.client_token or None)


def _how_to_reach(lead: Lead, checked: _Checked) -> str:
    """What the caller gave that the lead does not hold, for the history and the owner's e-mail."""
    given = [f"called from {checked.phone}" if checked.phone and checked.phone != lead.phone else "",
             f"phone as said: {checked.phone_as_typed}" if checked.phone_as_typed else "",
             f"e-mail {checked.email}" if checked.email and checked.email != (lead.email or "").lower()
             else ""]
    return "; ".join(g for g in given if g)


def _called_again(session: Session, desk: Rep, lead: Lead, checked: _Checked, data: IntakeInput,
                  team: TeamSettings, now: datetime) -> Intake:
    """No second lead: the owner hears at once, with any new number or address the caller gave."""
    note = "; ".join(x for x in (data.reason.strip(), _how_to_reach(lead, checked)) if x)
    if checked.phone and lead.phone is None:  # a lead flagged "check the number" now has one
        lead.phone, lead.phone_as_typed = checked.phone, ""
    if checked.email and not lead.email:
        lead.email = checked.email
    owner = session.get(Rep, lead.owner_id)
    assert owner is not None
    event = _event(desk, lead, CALLED_AGAIN, data, now, note)
    session.add(event)
    session.flush()
    key = f"called-again:{lead.id}:{event.id}"
    if not owner.active:  # its owner has left the team: the next rep in turn calls back
        return _handed_on_for_call(session, desk, lead, owner, note, key, team, now)
    enqueue(session, called_again_email(lead, owner, desk.name, note, lead_facts(session, [lead]), team,
                                        now, key), now)
    return _told(lead, owner, "called_again", (key,), team, now, held=True)


def _handed_on_for_call(session: Session, desk: Rep, lead: Lead, previous: Rep, note: str, key: str,
                        team: TeamSettings, now: datetime) -> Intake:
    owner = _next_in_turn(session, team, now)
    lead.owner_id = owner.id
    session.add(LeadEvent(lead_id=lead.id, rep_id=desk.id, outcome="reassigned", from_rep_id=previous.id,
                          note="the owner has left the team; the caller phoned again", created_at=now))
    session.flush()  # the alert's key counts this reassignment
    hand_over(session, lead, previous, desk, team, now)
    if lead.is_open:  # the new owner's handover alert, at once
        return _told(lead, owner, "called_again", (alert_key(lead),), team, now, held=False)
    # Talked to already: a handover sends no alert, so the new owner hears that the lead called again.
    enqueue(session, called_again_email(lead, owner, desk.name, note, lead_facts(session, [lead]), team,
                                        now, key), now)
    return _told(lead, owner, "called_again", (key,), team, now, held=True)


def _concern(session: Session, desk: Rep, customer: Customer, checked: _Checked, data: IntakeInput,
             team: TeamSettings, now: datetime) -> Intake:
    owner = (active_owner(session, customer.owner_email) or checked.asked_for
             or _next_in_turn(session, team, now))
    # What the caller gives now beats the sheet's copy: a customer may be calling from a new number.
    lead = Lead(kind="concern", status="new", owner_id=owner.id, first_name=customer.first_name,
                last_name=customer.last_name, phone=checked.phone or customer.phone,
                phone_as_typed=checked.phone_as_typed if not (checked.phone or customer.phone) else "",
                email=checked.email or customer.email, need=data.reason.strip(),
                heard_about=data.heard_about.strip(), referring_customer_id=customer.id, created_at=now)
    if checked.phone_as_typed and lead.phone:
        lead.need = "; ".join(x for x in (lead.need, f"phone as said: {checked.phone_as_typed}") if x)
    manager = active_owner(session, owner.manager_email)
    cc = (manager.email,) if manager is not None and manager.id != owner.id else ()
    return _opened(session, desk, lead, owner, data, team, now, cc)


def _new_lead(session: Session, desk: Rep, checked: _Checked, data: IntakeInput, team: TeamSettings,
              now: datetime) -> Intake:
    owner = checked.asked_for or _next_in_turn(session, team, now)
    lead = Lead(kind="inbound", status="new", owner_id=owner.id, first_name=checked.first_name,
                last_name=checked.last_name, phone=checked.phone, phone_as_typed=checked.phone_as_typed,
                email=checked.email, need=data.reason.strip(), heard_about=data.heard_about.strip(),
                created_at=now)
    return _opened(session, desk, lead, owner, data, team, now)


def _next_in_turn(session: Session, team: TeamSettings, now: datetime) -> Rep:
    owner = InboundRoundRobin(session, WorkCalendar(team)).next_owner(now)
    if owner is None:
        raise FormErrors({"form": "nobody on the Reps tab takes calls: add a rep before taking callers in"})
    return owner


def _opened(session: Session, desk: Rep, lead: Lead, owner: Rep, data: IntakeInput, team: TeamSettings,
            now: datetime, cc: tuple[str, ...] = ()) -> Intake:
    session.add(lead)
    session.flush()
    session.add(_event(desk, lead, INTAKE, data, now))
    start_following_up(session, lead, team, now, cc=cc, taken_by=desk.name)
    return _told(lead, owner, _kind(lead), (alert_key(lead),), team, now, held=False)


def what_to_say(intake: Intake, now: datetime, zone: ZoneInfo) -> str:
    """The sentence for the caller: who calls back, and when — only what the product will make true.

    In the owner's hours: their next reminder ("within 5 minutes"). Outside them: their next opening,
    in words for the caller ("tomorrow morning, from 08:00"): a new lead's alert goes at once, but
    nothing nags the owner before then, and a "called again" waits for it. A lead talked to already
    has no reminder to promise: the owner gets the message, that is all. ``zone``: the desk's.
    """
    who = intake.owner_first_name or "Someone"
    if intake.callback_by is None:
        if intake.message_held and intake.owner_back_at is not None:
            return f"{who} will get your message {_when(intake.owner_back_at, now, zone)}."
        return f"{who} has your message now and will get back to you."
    due = intake.owner_back_at or intake.callback_by
    wait = due - now
    if wait <= timedelta(minutes=1):
        return f"{who} will call you back in a minute."
    if wait <= timedelta(hours=1):
        return f"{who} will call you back within {max(1, round(wait.total_seconds() / 60))} minutes."
    if intake.owner_back_at is not None:  # their day starts then
        return f"{who} will call you back {_when(due, now, zone, 'from')}."
    return f"{who} will call you back {_when(due, now, zone, 'by')}."


def who_has_it(intake: Intake, now: datetime, zone: ZoneInfo) -> str:
    """For the desk, under the sentence: whether the owner has the e-mail yet."""
    who = intake.owner_first_name or "The owner"
    if intake.message_held and intake.owner_back_at is not None:
        return f"{who} gets the e-mail {_when(intake.owner_back_at, now, zone)} (outside their hours now)"
    return f"{who} has the e-mail"


def _when(at: datetime, now: datetime, zone: ZoneInfo, word: str = "at") -> str:
    """A moment as a caller hears it: "tomorrow morning, from 08:00", "on Monday morning, at 08:00"."""
    local, today = at.astimezone(zone), now.astimezone(zone).date()
    part = "morning" if local.hour < 12 else "afternoon" if local.hour < 17 else "evening"
    days = (local.date() - today).days
    day = (f"this {part}" if days == 0 else f"tomorrow {part}" if days == 1
           else f"on {local:%A} {part}" if days < 7 else f"on {local:%A} {local.day} {local:%B}")
    return f"{day}, {word} {local:%H:%M}"
