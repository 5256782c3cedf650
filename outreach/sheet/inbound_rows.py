"""Checking Inbound rows: each becomes one lead, and no caller is lost to a typo.

A row whose phone or e-mail cannot be read is kept, flagged "check the number" (or
"check the e-mail") with what was typed; a Timestamp that is not a plausible time is
named and the time of the sync is used. A row is known by who enquired and when
(:func:`inbound_key`), never by its position or its free text, so editing or moving it
never makes a second lead.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from outreach.models import Lead
from outreach.phones import to_e164
from outreach.sheet.sheet_tabs import INBOUND, RowProblem, SheetRow
from outreach.sheet.validation import RowCheck, clip, known_owner, normalise_email
from outreach.team_settings import TeamSettings


@dataclass(frozen=True)
class InboundRecord:
    key: str  # who enquired and when (see inbound_key), never the row's position
    submitted_at: str
    first_name: str
    last_name: str
    phone: str | None
    email: str | None
    heard_about: str
    reason: str
    owner_email: str | None
    extra: dict[str, str]
    row: int = field(compare=False)
    # The phone exactly as typed when it is not a number we can dial ("check the number").
    phone_as_typed: str = ""
    email_as_typed: str = ""  # the same for an e-mail that is not an address ("check the e-mail")
    received: datetime | None = None  # the Timestamp read in the team's zone; None: unreadable
    # Keys a lead from this row may already carry: its e-mail's key from before a phone was
    # added, and the key of versions that hashed the whole row (see legacy_inbound_key).
    earlier_keys: tuple[str, ...] = field(default=(), compare=False)


def validate_inbound(
    rows: list[SheetRow], rep_emails: set[str], team: TeamSettings
) -> tuple[list[InboundRecord], list[RowProblem]]:
    problems: list[RowProblem] = []
    records: list[InboundRecord] = []
    numbered = _Occurrences()
    for row in rows:
        check = RowCheck(INBOUND.title, row, problems)
        first, last = row.get("first_name"), row.get("last_name")
        if not (first or last):
            check.skip("First Name", "", "name is missing")
        phone, unreadable = _caller_contact(check, "Phone", row.get("phone"),
                                            partial(to_e164, default_region=team.phone_region), "number")
        email, unreadable_email = _caller_contact(check, "Email", row.get("email"), _address, "e-mail")
        if not (phone or email or unreadable or unreadable_email) and not check.bad:
            check.skip("Phone", "", "a lead needs a phone or an e-mail to follow up")
        owner = known_owner(check, row.get("owner"), rep_emails, "assigned automatically")
        if check.bad:
            continue
        stamp = row.get("timestamp")
        named = " ".join(f"{first} {last}".lower().split())
        key = numbered(inbound_key(stamp, phone, email, named))
        earlier = [numbered(inbound_key(stamp, None, email))] if phone and email else []
        if phone or email:  # it may have been imported with a misspelt number or e-mail
            earlier.append(numbered(inbound_key(stamp, None, None, named)))
        first_name, last_name = check.names(first, last, Lead.first_name, Lead.last_name)
        records.append(InboundRecord(
            key=key, submitted_at=stamp, received=_received(check, stamp, team),
            first_name=first_name, last_name=last_name,
            phone=phone, phone_as_typed=unreadable, email=email, email_as_typed=unreadable_email,
            heard_about=check.fit("How did you hear about us", row.get("heard_about"), Lead.heard_about),
            reason=row.get("reason"),  # the lead's need: Text, of any length
            owner_email=owner, extra=dict(row.extras), row=row.number,
            earlier_keys=(*earlier, numbered(legacy_inbound_key(row))),
        ))
    return records, problems


_STAMP_ISO = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S")
_STAMP_MONTH_FIRST = ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M")  # Google Forms in a US locale
_STAMP_DAY_FIRST = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M")
# A form's Timestamp outside these years is a typo; measuring speed-to-lead (or counting
# business days for an escalation) from it would be nonsense, or overflow.
_PLAUSIBLE_YEARS = range(2000, 2101)


def parse_timestamp(stamp: str, team: TeamSettings) -> datetime:
    """A form's Timestamp as an aware time in the team's zone; ValueError(reason) otherwise."""
    month_first = team.phone_region in ("US", "CA")
    formats = _STAMP_ISO + ((_STAMP_MONTH_FIRST + _STAMP_DAY_FIRST) if month_first
                            else (_STAMP_DAY_FIRST + _STAMP_MONTH_FIRST))
    for fmt in formats:
        try:
            local = datetime.strptime(stamp.strip(), fmt)
        except ValueError:
            continue
        if local.year not in _PLAUSIBLE_YEARS:
            raise ValueError("is not a plausible date")
        return local.replace(tzinfo=team.zone)
    raise ValueError("is not a date and time like 2026-03-02 14:05")


def _received(check: RowCheck, stamp: str, team: TeamSettings) -> datetime | None:
    if not stamp:
        return None
    try:
        return parse_timestamp(stamp, team)
    except ValueError as exc:
        check.warn("Timestamp", stamp, f"{exc}; the time the row was read is used")
        return None


def _caller_contact(check: RowCheck, column: str, raw: str, read: Callable[[str], str],
                    what: str) -> tuple[str | None, str]:
    """(what ``read`` makes of the cell, "") or (None, what was typed): a typo never loses the caller."""
    if not raw:
        return None, ""
    try:
        return read(raw), ""
    except ValueError as exc:
        check.warn(column, raw, f"{exc}; the lead is kept, flagged to check the {what}")
        # Kept as typed, as far as the column holds (an overlong value refused would stop every sync);
        # the problem just named says the cell is wrong, so a cut is not named again.
        return None, clip(raw, _AS_TYPED[column].type.length)


_AS_TYPED = {"Phone": Lead.phone_as_typed, "Email": Lead.email_as_typed}


def _address(raw: str) -> str:
    try:
        return normalise_email(raw)
    except ValueError as exc:
        raise ValueError(f"is not an e-mail address ({exc})") from None


class _Occurrences:
    """Numbers equal keys in sheet order: two identical submissions are two rows, two leads."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def __call__(self, base: str) -> str:
        self._counts[base] = self._counts.get(base, 0) + 1
        return f"{base}:{self._counts[base]}"


def inbound_key(timestamp: str, phone: str | None, email: str | None, name: str = "") -> str:
    """An enquiry's identity: the form's Timestamp and the normalised phone, else e-mail.

    Free text ("Why are you calling") is left out, so correcting a note or reformatting a
    phone never makes a second lead; the row number is left out, so inserting or deleting
    rows above it does not either. Only a caller with neither a readable phone nor an
    e-mail is known by name.
    """
    contact = f"phone:{phone}" if phone else f"email:{email}" if email else f"name:{name}"
    stamp = " ".join(timestamp.split()).lower()
    return hashlib.sha256(f"{stamp}\x1f{contact}".encode()).hexdigest()[:32]


def legacy_inbound_key(row: SheetRow) -> str:
    """The key leads got before inbound_key: a hash of the row's raw text, free text included.

    Existing leads cannot be re-keyed by a migration (their raw Timestamp text was never
    stored), so a sync matches this key too and moves the lead to the new key.
    """
    parts = [re.sub(r"\s+", " ", row.get(name)).strip().lower()
             for name in ("timestamp", "first_name", "last_name", "phone", "email", "reason")]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
