"""Named people for tests: build reps, customers and leads straight into a database."""

from __future__ import annotations

import itertools
from datetime import datetime

from sqlalchemy.orm import Session

from outreach.models import Customer, Lead, Rep
from tests.conftest import MONDAY_9AM_NY

_numbers = itertools.count(100)


def add_rep(session: Session, email: str, *, zone: str = "America/New_York", daily_calls: int = 3,
            role: str = "rep", manager: str | None = None, name: str | None = None) -> Rep:
    rep = Rep(email=email, name=name or email.split("@")[0].title(), time_zone=zone,
              daily_calls=daily_calls, active=True, role=role, manager_email=manager, in_sheet=True,
              updated_at=MONDAY_9AM_NY)
    session.add(rep)
    session.flush()
    return rep


def add_customer(session: Session, name: str, *, owner: str | None = None,
                 last_asked_at: datetime | None = None, do_not_call: bool = False,
                 phone: str | None = "auto", active: bool = True, **fields: object) -> Customer:
    number = next(_numbers)
    first, _, last = name.partition(" ")
    customer = Customer(
        key=f"test:{name}:{number}", first_name=first, last_name=last, company=f"{first} & Co",
        phone=f"+1212555{number:04d}" if phone == "auto" else phone, email=fields.pop("email", None),
        owner_email=owner,
        do_not_call=do_not_call, notes="", extra={}, active=active, content_hash=f"h{number}",
        last_asked_at=last_asked_at, created_at=MONDAY_9AM_NY, updated_at=MONDAY_9AM_NY, **fields)
    session.add(customer)
    session.flush()
    return customer


def add_lead(session: Session, owner: Rep, name: str, *, created_at: datetime = MONDAY_9AM_NY,
             kind: str = "referral", **fields: object) -> Lead:
    first, _, last = name.partition(" ")
    lead = Lead(kind=kind, status=fields.pop("status", "new"), owner_id=owner.id, first_name=first,
                last_name=last, phone=fields.pop("phone", "+16175550142"), created_at=created_at,
                attempts=fields.pop("attempts", 0), reminders_sent=0, **fields)
    session.add(lead)
    session.flush()
    return lead
