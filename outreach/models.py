"""The database tables. Alembic migrations in ``outreach/migrations`` create them.

Times are stored as UTC. SQLite has no time-zone type, so :class:`UTCDateTime`
stores naive UTC and hands back aware UTC datetimes on both databases, which
keeps comparisons in Python honest.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass an aware UTC time")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(), dict[str, Any]: JSON, list[str]: JSON, date: Date,
    }


# The Reps tab's roles besides "rep". The front desk answers the phone: it takes callers in,
# owns no leads and makes no calls.
MANAGER, FRONT_DESK = "manager", "front desk"


class Rep(Base):
    """A person on the team, from the Reps tab: role 'rep', 'manager' or 'front desk'."""

    __tablename__ = "reps"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # always lower case
    name: Mapped[str] = mapped_column(String(200))
    time_zone: Mapped[str] = mapped_column(String(64))
    daily_calls: Mapped[int] = mapped_column(Integer, default=3)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    role: Mapped[str] = mapped_column(String(16), default="rep")
    manager_email: Mapped[str | None] = mapped_column(String(320))
    # False once the row disappears from the sheet; history keeps pointing here.
    in_sheet: Mapped[bool] = mapped_column(Boolean, default=True)
    sheet_row: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime]

    @property
    def is_manager(self) -> bool:
        return self.role == MANAGER

    @property
    def is_front_desk(self) -> bool:
        return self.role == FRONT_DESK

    @property
    def first_name(self) -> str:
        """What e-mails and the script call them: the first word of Name."""
        return (self.name.split() or [self.name])[0]


class Customer(Base):
    """A current customer, from the Customers tab: the people we ask for referrals."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stable identity across sorts, inserts and deletes in the sheet:
    # "id:<Customer ID>" when the sheet has one, else "phone:<E.164>" or "email:<addr>".
    key: Mapped[str] = mapped_column(String(400), unique=True)
    sheet_customer_id: Mapped[str | None] = mapped_column(String(100))
    first_name: Mapped[str] = mapped_column(String(200))
    last_name: Mapped[str] = mapped_column(String(200), default="")
    company: Mapped[str] = mapped_column(String(300), default="")
    phone: Mapped[str | None] = mapped_column(String(32))  # E.164
    email: Mapped[str | None] = mapped_column(String(320))
    owner_email: Mapped[str | None] = mapped_column(String(320))
    customer_since: Mapped[date | None]
    do_not_call: Mapped[bool] = mapped_column(Boolean, default=False)  # as the sheet says
    # Set by the app when the customer asks on a call; survives re-syncs of the sheet.
    do_not_call_requested_at: Mapped[datetime | None]
    notes: Mapped[str] = mapped_column(Text, default="")
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # unknown sheet columns
    active: Mapped[bool] = mapped_column(Boolean, default=True)  # False: gone from the sheet
    sheet_row: Mapped[int | None] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))  # of the sheet values, to skip no-op updates
    last_asked_at: Mapped[datetime | None]  # last referral ask, for the cooldown
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (Index("ix_customers_active_owner", "active", "owner_email"),
                      # The front desk looks a caller up by number or address while they are on the line.
                      Index("ix_customers_phone", "phone"), Index("ix_customers_email", "email"))

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def is_do_not_call(self) -> bool:
        return self.do_not_call or self.do_not_call_requested_at is not None


class TeamSetting(Base):
    """One accepted key/value from the sheet's Settings tab (bad values never get here)."""

    __tablename__ = "team_settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class SyncRun(Base):
    """One attempt to read the sheet: when, from where, what was skipped and why."""

    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    source: Mapped[str] = mapped_column(String(500))
    ok: Mapped[bool] = mapped_column(Boolean, default=False)
    # Another sync held the lease: nothing was read and nothing failed, but the manager sees it.
    skipped: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    error: Mapped[str | None] = mapped_column(Text)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)

    __table_args__ = (Index("ix_sync_runs_started_at", "started_at"),)


class JobProblem(Base):
    """Something one worker job could not do for one thing (a lead, a setting), kept apart so
    the rest of the batch went on; listed on the Data status page until it stops happening."""

    __tablename__ = "job_problems"

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(40))  # nag, plans, ...
    subject: Mapped[str] = mapped_column(String(200))  # "lead 42"
    reason: Mapped[str] = mapped_column(Text)
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    times: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (UniqueConstraint("job", "subject", name="uq_job_problems_job_subject"),)


class Lease(Base):
    """A named lock with an expiry, so one scheduler acts at a time across processes."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]


class Call(Base):
    """One referral call a rep made to a customer, as logged on the rep's page."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    rep_id: Mapped[int] = mapped_column(ForeignKey("reps.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    planned_call_id: Mapped[int | None] = mapped_column(Integer)
    # connected, voicemail, no_answer, wrong_number, do_not_call
    outcome: Mapped[str] = mapped_column(String(20))
    liked_best: Mapped[str] = mapped_column(Text, default="")
    do_better: Mapped[str] = mapped_column(Text, default="")
    concern: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    # Sent with the form: a second submit of the same form (a double click) is a no-op.
    client_token: Mapped[str] = mapped_column(String(64), unique=True)

    __table_args__ = (Index("ix_calls_rep_created", "rep_id", "created_at"),
                      Index("ix_calls_customer", "customer_id"))


# What a lead's status means, decided here once. Open leads are nagged until a conversation;
# followed-up ones had one; closed ones need nothing more.
OPEN_STATUSES = ("new", "attempted")
FOLLOWED_UP_STATUSES = ("connected", "appointment", "won", "lost", "not_a_fit")
CLOSED_STATUSES = ("appointment", "won", "lost", "not_a_fit", "duplicate")


class Lead(Base):
    """Someone to follow up: a referral, an inbound enquiry, or a customer's concern."""

    __tablename__ = "leads"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # referral, inbound, concern
    # new, attempted, connected, appointment, won, lost, not_a_fit, duplicate
    status: Mapped[str] = mapped_column(String(16), default="new")
    owner_id: Mapped[int] = mapped_column(ForeignKey("reps.id"))
    first_name: Mapped[str] = mapped_column(String(200))
    last_name: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str | None] = mapped_column(String(32))
    # What was typed when it is not a number we can dial: the lead is kept, "check the number".
    phone_as_typed: Mapped[str] = mapped_column(String(200), default="", server_default="")
    email: Mapped[str | None] = mapped_column(String(320))
    # The same for an e-mail that is not an address ("check the e-mail"): a caller is never lost to a typo.
    email_as_typed: Mapped[str] = mapped_column(String(320), default="", server_default="")
    relationship: Mapped[str] = mapped_column(Text, default="")  # how they know the customer
    need: Mapped[str] = mapped_column(Text, default="")  # what they need / why they called
    best_time: Mapped[str] = mapped_column(String(200), default="")
    heard_about: Mapped[str] = mapped_column(String(300), default="")
    referring_customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"))
    # The Inbound row's identity (Timestamp + phone, else e-mail): one sheet row, one lead, ever.
    inbound_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    first_contact_at: Mapped[datetime | None]  # when Connected was logged
    closed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[datetime | None]
    # The follow-up engine's state: when to nag next (None once followed up or closed).
    next_reminder_at: Mapped[datetime | None]
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    escalated_at: Mapped[datetime | None]
    appointment_at: Mapped[datetime | None]  # the booked meeting; passing it unlogged brings the lead back
    lost_reason: Mapped[str] = mapped_column(String(300), default="", server_default="")
    # Closed as a duplicate: the lead that is kept (both histories say so; a manager may undo it).
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", name="fk_leads_duplicate_of"))

    __table_args__ = (Index("ix_leads_owner_status", "owner_id", "status"),
                      Index("ix_leads_next_reminder", "next_reminder_at"),
                      Index("ix_leads_created", "created_at"),
                      Index("ix_leads_phone", "phone"), Index("ix_leads_email", "email"))

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class LeadEvent(Base):
    """Something done about a lead: a follow-up attempt, a conversation, a reassignment."""

    __tablename__ = "lead_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id"))
    # connected, voicemail, no_answer, wrong_number, reassigned, closed
    outcome: Mapped[str] = mapped_column(String(20))
    next_step: Mapped[str] = mapped_column(String(20), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    from_rep_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id", name="fk_lead_events_from_rep"))
    # The other lead of a duplicate (the one kept, or the one closed into this one).
    related_lead_id: Mapped[int | None] = mapped_column(
        ForeignKey("leads.id", name="fk_lead_events_related_lead"))
    appointment_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    client_token: Mapped[str | None] = mapped_column(String(64), unique=True)

    __table_args__ = (Index("ix_lead_events_lead", "lead_id"),)


class OutboxMessage(Base):
    """An e-mail the product decided to send, written in the same transaction as the decision.

    ``key`` names the message by what it is ("reminder:42:3", "call-list:7:2026-11-23"), so
    deciding twice (a restart, two workers) can never make two messages. Delivery is
    at-least-once: a worker claims a message, sends it, then marks it sent; only a crash
    between the provider's 202 and that commit can send one twice.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # call-list, alert, reminder, escalation
    to_email: Mapped[str] = mapped_column(String(320))
    to_name: Mapped[str] = mapped_column(String(200), default="")
    cc: Mapped[list[str]] = mapped_column(JSON, default=list)
    subject: Mapped[str] = mapped_column(String(500))
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id"))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"))
    # A customer's thank-you comes from their rep: the rep's name on Sender Email, replies to the rep.
    from_name: Mapped[str | None] = mapped_column(String(200))
    reply_to_email: Mapped[str | None] = mapped_column(String(320))
    reply_to_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    # pending -> claimed -> sending (claim renewed to send) -> sent | failed; a lapsed claim is free again.
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    first_attempt_at: Mapped[datetime | None]  # transient failures are retried for a day from here
    next_attempt_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    transport: Mapped[str | None] = mapped_column(String(20))  # sendgrid, outbox
    provider_message_id: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),
                      Index("ix_outbox_lead", "lead_id"),
                      # A person's unsent reminder, found when a newer one replaces it.
                      Index("ix_outbox_reader", "rep_id", "kind", "status"))


class NagItem(Base):
    """One lead's line in a reminder or escalation e-mail.

    An e-mail may speak of several leads (one reminder per person at a time), so the
    outbox row cannot say which; this table does. Before a nag is sent the worker asks it
    whether any of those leads is still waiting; it is also each lead's record of the
    reminders and escalations that named it.
    """

    __tablename__ = "nag_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_key: Mapped[str] = mapped_column(ForeignKey("outbox.key"))
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    kind: Mapped[str] = mapped_column(String(20))  # reminder, escalation
    number: Mapped[int | None] = mapped_column(Integer)  # the lead's reminder count; None: escalation
    manager_copied: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("outbox_key", "lead_id", name="uq_nag_items_message_lead"),
                      Index("ix_nag_items_lead", "lead_id"))


class PlannedCall(Base):
    """One customer on one rep's call list for one day (the rep's local date)."""

    __tablename__ = "planned_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_date: Mapped[date]
    rep_id: Mapped[int] = mapped_column(ForeignKey("reps.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    position: Mapped[int] = mapped_column(Integer)
    # open -> done (a call was logged) | skipped | wrong_number (both earn one replacement)
    status: Mapped[str] = mapped_column(String(16), default="open")
    replacement_for_id: Mapped[int | None] = mapped_column(ForeignKey("planned_calls.id"), unique=True)
    created_at: Mapped[datetime]

    __table_args__ = (
        # A customer is on at most one list a day: two reps never ask the same customer.
        UniqueConstraint("plan_date", "customer_id", name="uq_planned_calls_day_customer"),
        Index("ix_planned_calls_rep_day", "rep_id", "plan_date"),
    )


class ThankYou(Base):
    """A thank-you owed to the customer whose referral reached a milestone (outreach.leads.thanks)."""

    __tablename__ = "thank_yous"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    rep_id: Mapped[int] = mapped_column(ForeignKey("reps.id"))  # who says it
    milestone: Mapped[str] = mapped_column(String(20))  # reached, appointment, won
    created_at: Mapped[datetime]
    done_at: Mapped[datetime | None]  # None: still on the rep's Today
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id", name="fk_thank_yous_done_by"))
    done_note: Mapped[str] = mapped_column(String(300), default="")

    __table_args__ = (UniqueConstraint("lead_id", "milestone", name="uq_thank_yous_lead_milestone"),
                      Index("ix_thank_yous_rep_open", "rep_id", "done_at"),
                      Index("ix_thank_yous_customer", "customer_id"))
