"""Checking sheet rows: every bad row is named (tab, row, column, value, reason).

A row with a problem that makes it unusable (no name, a phone we cannot dial,
an owner who is not on the team, a duplicate) is skipped; a row with a cell we
can do without (an odd date) is imported without that cell. Either way the
problem is listed for the manager, who fixes it in the sheet.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

from outreach.phones import to_e164
from outreach.sheet_tabs import CUSTOMERS, INBOUND, REPS, RowProblem, SheetRow
from outreach.team_settings import MAX_DAILY_CALLS, TeamSettings, parse_time_zone, parse_whole_number

_YES = {"yes", "y", "true", "x", "1", "✓", "✔"}
_NO = {"no", "n", "false", "0", ""}
ROLES = ("rep", "manager")


@dataclass(frozen=True)
class RepRecord:
    email: str
    name: str
    time_zone: str
    daily_calls: int
    active: bool
    role: str
    manager_email: str | None
    row: int = field(compare=False)


@dataclass(frozen=True)
class CustomerRecord:
    key: str
    sheet_customer_id: str | None
    first_name: str
    last_name: str
    company: str
    phone: str | None
    email: str | None
    owner_email: str | None
    customer_since: date | None
    do_not_call: bool
    notes: str
    extra: dict[str, str]
    row: int = field(compare=False)
    # Other identities of the same customer, to follow a row whose key changed
    # (a Customer ID added later, a new phone with the same e-mail).
    alt_keys: tuple[str, ...] = field(default=(), compare=False)
    # The raw row's fingerprint. A row with warnings gets a "w:" prefix: it never matches a
    # raw fingerprint, so it is re-checked (and its warnings listed) on every sync.
    fingerprint: str = field(default="", compare=False)


@dataclass(frozen=True)
class KnownCustomer:
    """A customer as an earlier sync stored it, found again by the fingerprint of its row."""

    id: int
    key: str
    sheet_customer_id: str | None
    phone: str | None
    email: str | None
    owner_email: str | None


@dataclass
class CustomerRows:
    records: list[CustomerRecord]  # new or changed rows, fully checked
    unchanged: list[KnownCustomer]  # rows exactly as the database already has them
    problems: list[RowProblem]


def row_fingerprint(row: SheetRow, region: str) -> str:
    """Identity of a row's raw text (and of the setting that changes how it reads)."""
    blob = repr((sorted(row.values.items()), sorted(row.extras.items()), region)).encode()
    return hashlib.blake2b(blob, digest_size=16).hexdigest()


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
    received: datetime | None = None  # the Timestamp read in the team's zone; None: unreadable
    # Keys a lead from this row may already carry: its e-mail's key from before a phone was
    # added, and the key of versions that hashed the whole row (see legacy_inbound_key).
    earlier_keys: tuple[str, ...] = field(default=(), compare=False)


class _Row:
    """Helpers to report problems for one row of one tab."""

    def __init__(self, tab: str, row: SheetRow, problems: list[RowProblem]) -> None:
        self.tab, self.row, self.problems = tab, row, problems
        self.bad = self.warned = False

    def skip(self, column: str, value: str, reason: str) -> None:
        self.bad = True
        self.problems.append(RowProblem(self.tab, self.row.number, column, value, reason))

    def warn(self, column: str, value: str, reason: str) -> None:
        self.warned = True
        self.problems.append(
            RowProblem(self.tab, self.row.number, column, value, reason, skipped=False)
        )


# An unquoted ASCII local part (RFC 5322 dot-atom): what nearly every address has.
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


@lru_cache(maxsize=8192)
def _checked_domain(domain: str) -> str:
    # email-validator spends most of its time on the domain; a list has few distinct ones.
    return validate_email(f"x@{domain}", check_deliverability=False).domain


def normalise_email(raw: str) -> str:
    """Lower-cased, syntax-checked address; no DNS (the sheet is read offline)."""
    text = raw.strip()
    local, at, domain = text.rpartition("@")
    try:
        if at and len(local) <= 64 and len(text) <= 254 and _DOT_ATOM.fullmatch(local):
            return f"{local}@{_checked_domain(domain)}".lower()
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(str(exc).rstrip(".")) from None


def parse_yes_no(raw: str) -> bool | None:
    text = raw.strip().lower()
    if text in _YES:
        return True
    if text in _NO:
        return False
    return None


def parse_sheet_date(raw: str, region: str) -> date:
    """ISO dates, or the day/month order of the team's country for slashed dates."""
    text = raw.strip()
    for fmt in ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            pass
    order = ("%m/%d/%Y", "%m/%d/%y") if region in ("US", "CA", "PH") else ("%d/%m/%Y", "%d/%m/%y")
    for fmt in (*order, "%d.%m.%Y", "%b %d, %Y", "%d %b %Y", "%B %d, %Y", "%d %B %Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            pass
    raise ValueError("is not a date (use YYYY-MM-DD)")


def validate_reps(rows: list[SheetRow], team: TeamSettings) -> tuple[list[RepRecord], list[RowProblem]]:
    problems: list[RowProblem] = []
    records: list[RepRecord] = []
    seen: dict[str, int] = {}
    for row in rows:
        check = _Row(REPS.title, row, problems)
        name = row.get("name")
        if not name:
            check.skip("Name", "", "name is missing")
        email = _email(check, row.get("email"), required=True)
        if email and email in seen:
            check.skip("Email", row.get("email"), f"same e-mail as row {seen[email]}")
        zone = _rep_zone(check, row.get("time_zone"), team)
        daily_calls = _rep_daily_calls(check, row.get("daily_calls"), team)
        active = parse_yes_no(row.get("active") or "yes")
        if active is None:
            check.warn("Active", row.get("active"), "expected yes or no; treated as yes")
            active = True
        role = (row.get("role") or "rep").lower()
        if role not in ROLES:
            check.warn("Role", row.get("role"), "expected rep or manager; treated as rep")
            role = "rep"
        manager = _optional_email(check, row.get("manager"), "Manager")
        if check.bad or email is None:
            continue
        seen[email] = row.number
        records.append(RepRecord(email, name, zone, daily_calls, bool(active), role, manager, row.number))
    _check_managers(records, problems)
    return records, problems


def _rep_zone(check: _Row, raw: str, team: TeamSettings) -> str:
    if not raw:
        return team.time_zone
    try:
        return parse_time_zone(raw)
    except ValueError as exc:
        check.warn("Time Zone", raw, f"{exc}; the team's {team.time_zone} is used")
        return team.time_zone


def _rep_daily_calls(check: _Row, raw: str, team: TeamSettings) -> int:
    if not raw:
        return team.daily_calls
    try:
        return parse_whole_number(raw, 0, MAX_DAILY_CALLS)
    except ValueError as exc:
        check.warn("Daily Calls", raw, f"{exc}; the team's {team.daily_calls} is used")
        return team.daily_calls


def _check_managers(records: list[RepRecord], problems: list[RowProblem]) -> None:
    known = {r.email for r in records}
    for rep in records:
        if rep.manager_email and rep.manager_email not in known:
            problems.append(RowProblem(REPS.title, rep.row, "Manager", rep.manager_email,
                                       "is not on the Reps tab; escalations will have nobody to go to",
                                       skipped=False))


def _email(check: _Row, raw: str, *, required: bool = False, column: str = "Email") -> str | None:
    if not raw:
        if required:
            check.skip(column, "", "e-mail is missing")
        return None
    try:
        return normalise_email(raw)
    except ValueError as exc:
        check.skip(column, raw, f"is not an e-mail address ({exc})")
        return None


def _optional_email(check: _Row, raw: str, column: str = "Email") -> str | None:
    """An e-mail the row can do without: a bad one is named and left out, the row kept."""
    if not raw:
        return None
    try:
        return normalise_email(raw)
    except ValueError as exc:
        check.warn(column, raw, f"is not an e-mail address ({exc}); left out")
        return None


def _owner(check: _Row, raw: str, rep_emails: set[str], instead: str) -> str | None:
    """The row's owner if they are on the Reps tab; otherwise named, and ``instead`` happens."""
    owner = _optional_email(check, raw, "Owner")
    if owner and owner not in rep_emails:
        check.warn("Owner", raw, f"is not a rep on the Reps tab; {instead}")
        return None
    return owner


def _phone(check: _Row, raw: str, region: str) -> str | None:
    if not raw:
        return None
    try:
        return to_e164(raw, region)
    except ValueError as exc:
        check.skip("Phone", raw, str(exc))
        return None


@dataclass
class _FirstRows:
    """The row that first used each Customer ID, phone and e-mail: a later one is a duplicate.

    A duplicate e-mail matters as much as a duplicate phone: a row without ID or phone is
    known by its e-mail, and two such rows would be one customer to the database.
    """

    ids: dict[str, int] = field(default_factory=dict)
    phones: dict[str, int] = field(default_factory=dict)
    emails: dict[str, int] = field(default_factory=dict)

    def clashes(self, customer_id: str | None, phone: str | None, email: str | None) -> bool:
        return bool((customer_id and customer_id in self.ids) or (phone and phone in self.phones)
                    or (email and email in self.emails))

    def remember(self, number: int, customer_id: str | None, phone: str | None,
                 email: str | None) -> None:
        for seen, value in ((self.ids, customer_id), (self.phones, phone), (self.emails, email)):
            if value:
                seen[value] = number


def validate_customers(
    rows: list[SheetRow], rep_emails: set[str], team: TeamSettings,
    known: Mapping[str, KnownCustomer] | None = None,
) -> CustomerRows:
    """Check every row; a row unchanged since the last sync only gets the cross-row checks."""
    result = CustomerRows([], [], [])
    first = _FirstRows()
    for row in rows:
        fingerprint = row_fingerprint(row, team.phone_region)
        stored = (known or {}).get(fingerprint)
        if stored is not None and _still_fits(stored, rep_emails, first):
            first.remember(row.number, stored.sheet_customer_id, stored.phone, stored.email)
            result.unchanged.append(stored)
            continue
        record = _customer(row, rep_emails, team, result.problems, first, fingerprint)
        if record is not None:
            result.records.append(record)
    return result


def _still_fits(stored: KnownCustomer, rep_emails: set[str], first: _FirstRows) -> bool:
    """An unchanged row can still clash with other rows or lose its owner from the Reps tab."""
    return not (first.clashes(stored.sheet_customer_id, stored.phone, stored.email)
                or (stored.owner_email and stored.owner_email not in rep_emails))


def _customer(
    row: SheetRow,
    rep_emails: set[str],
    team: TeamSettings,
    problems: list[RowProblem],
    first_rows: _FirstRows,
    fingerprint: str = "",
) -> CustomerRecord | None:
    check = _Row(CUSTOMERS.title, row, problems)
    first, last = row.get("first_name"), row.get("last_name")
    if not (first or last):
        check.skip("First Name", "", "name is missing")
    customer_id = row.get("customer_id") or None
    if customer_id and customer_id in first_rows.ids:
        check.skip("Customer ID", customer_id,
                   f"same Customer ID as row {first_rows.ids[customer_id]}")
    phone = _phone(check, row.get("phone"), team.phone_region)
    if phone and phone in first_rows.phones:
        check.skip("Phone", row.get("phone"), f"same phone as row {first_rows.phones[phone]}")
    email = _optional_email(check, row.get("email"))
    if email and email in first_rows.emails:
        check.skip("Email", row.get("email"), f"same e-mail as row {first_rows.emails[email]}")
    owner = _owner(check, row.get("owner"), rep_emails, "goes to the shared pool")
    keys = [f"id:{customer_id}" if customer_id else None,
            f"phone:{phone}" if phone else None,
            f"email:{email}" if email else None]
    identities = tuple(k for k in keys if k)
    if not identities and not check.bad:
        check.skip("Phone", "", "needs a Customer ID, a phone or an e-mail to tell it apart")
    if check.bad:
        return None
    first_rows.remember(row.number, customer_id, phone, email)
    since = _since(check, row.get("customer_since"), team.phone_region)
    do_not_call = _do_not_call(check, row.get("do_not_call"))
    return CustomerRecord(
        key=identities[0],
        sheet_customer_id=customer_id,
        first_name=first or last,
        last_name=last if first else "",
        company=row.get("company"),
        phone=phone,
        email=email,
        owner_email=owner,
        customer_since=since,
        do_not_call=do_not_call,
        notes=row.get("notes"),
        extra=dict(row.extras),
        row=row.number,
        alt_keys=identities[1:],
        fingerprint=f"w:{fingerprint}" if check.warned else fingerprint,
    )


def _since(check: _Row, raw: str, region: str) -> date | None:
    if not raw:
        return None
    try:
        return parse_sheet_date(raw, region)
    except ValueError as exc:
        check.warn("Customer Since", raw, str(exc))
        return None


def _do_not_call(check: _Row, raw: str) -> bool:
    flag = parse_yes_no(raw)
    if flag is None:
        # Someone wrote *something* there: respecting a possible request beats a wrong call.
        check.warn("Do Not Call", raw, "expected yes/no; treated as yes (do not call)")
        return True
    return flag


def validate_inbound(
    rows: list[SheetRow], rep_emails: set[str], team: TeamSettings
) -> tuple[list[InboundRecord], list[RowProblem]]:
    problems: list[RowProblem] = []
    records: list[InboundRecord] = []
    numbered = _Occurrences()
    for row in rows:
        check = _Row(INBOUND.title, row, problems)
        first, last = row.get("first_name"), row.get("last_name")
        if not (first or last):
            check.skip("First Name", "", "name is missing")
        phone, unreadable = _caller_phone(check, row.get("phone"), team.phone_region)
        email = _optional_email(check, row.get("email"))
        if not (phone or email or unreadable) and not check.bad:
            check.skip("Phone", "", "a lead needs a phone or an e-mail to follow up")
        owner = _owner(check, row.get("owner"), rep_emails, "assigned automatically")
        if check.bad:
            continue
        stamp = row.get("timestamp")
        named = " ".join(f"{first} {last}".lower().split())
        key = numbered(inbound_key(stamp, phone, email, named))
        earlier = [numbered(inbound_key(stamp, None, email))] if phone and email else []
        if phone or email:  # it may have been imported with a misspelt number and no e-mail
            earlier.append(numbered(inbound_key(stamp, None, None, named)))
        records.append(InboundRecord(
            key=key, submitted_at=stamp, received=_received(check, stamp, team),
            first_name=first or last, last_name=last if first else "",
            phone=phone, phone_as_typed=unreadable, email=email, heard_about=row.get("heard_about"),
            reason=row.get("reason"), owner_email=owner, extra=dict(row.extras), row=row.number,
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


def _received(check: _Row, stamp: str, team: TeamSettings) -> datetime | None:
    if not stamp:
        return None
    try:
        return parse_timestamp(stamp, team)
    except ValueError as exc:
        check.warn("Timestamp", stamp, f"{exc}; the time the row was read is used")
        return None


def _caller_phone(check: _Row, raw: str, region: str) -> tuple[str | None, str]:
    """(E.164 phone, "") or (None, what was typed): a typo never loses the caller."""
    if not raw:
        return None, ""
    try:
        return to_e164(raw, region), ""
    except ValueError as exc:
        check.warn("Phone", raw, f"{exc}; the lead is kept, flagged to check the number")
        return None, raw


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
