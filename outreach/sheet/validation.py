"""Checking Reps and Customers rows: every bad cell is named (tab, row, column, value, reason).

A row that cannot be used (no name, nothing to tell it apart, a duplicate) is
skipped; a row with a cell it can do without (an odd date, a bad e-mail, an owner
not on the team) is kept with the default in that cell. Either way the problem is
listed for the manager, who fixes it in the sheet. Inbound rows: ``inbound_rows``.

Text longer than the database column it goes to is cut to the column (``RowCheck.fit``;
the lengths are the models'), as PostgreSQL refuses it and with it the whole sync.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from email_validator import EmailNotValidError, validate_email

from outreach.humanize import clip
from outreach.models import FRONT_DESK, Customer, Rep
from outreach.phones import to_e164
from outreach.sheet.sheet_tabs import CUSTOMERS, REPS, RowProblem, SheetRow
from outreach.team_settings import MAX_DAILY_CALLS, TeamSettings, parse_time_zone, parse_whole_number

_YES = {"yes", "y", "true", "x", "1", "✓", "✔"}
_NO = {"no", "n", "false", "0", ""}
ROLES = ("rep", "manager", FRONT_DESK)


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


_LENGTHS: dict[int, int] = {}  # by id() of a model attribute: those live as long as the process


def _column_length(stored_in: Any) -> int:
    """The String column's length; cached, as SQLAlchemy's attribute lookup costs more than the row's
    whole check (a 100,000-customer sync asks 300,000 times)."""
    length = _LENGTHS.get(id(stored_in))
    if length is None:
        length = _LENGTHS[id(stored_in)] = stored_in.type.length
    return length


class RowCheck:
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

    def fit(self, column: str, value: str, stored_in: Any) -> str:
        """``value`` as far as the model's String column ``stored_in`` holds it; longer is cut, and named."""
        limit = _column_length(stored_in)
        if len(value) <= limit:
            return value
        self.warn(column, value, f"longer than {limit} characters: cut")
        return clip(value, limit)

    def names(self, first: str, last: str, first_in: Any, last_in: Any) -> tuple[str, str]:
        """(first name, last name) as stored, each fitted to its column; a Last Name alone is the first."""
        if not first:
            return self.fit("Last Name", last, first_in), ""
        return self.fit("First Name", first, first_in), self.fit("Last Name", last, last_in)


# An unquoted ASCII local part (RFC 5322 dot-atom): what nearly every address has.
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


@lru_cache(maxsize=8192)
def _checked_domain(domain: str) -> str:
    # email-validator spends most of its time on the domain; a list has few distinct ones.
    return validate_email(f"x@{domain}", check_deliverability=False).domain


def normalise_email(raw: str) -> str:
    """Lower-cased, syntax-checked address; no DNS (the sheet is read offline).

    An address is never cut to its column: cut short it is another address, and two reps or two
    customers could become one. Nor does it need to be: one longer than 254 characters (the most
    an address can be; every e-mail column holds 320) is refused here as not an address, with what
    that means where it was typed (a customer's is left out, a caller's kept as typed and flagged,
    a rep's row skipped: the e-mail is who the rep is).
    """
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


def _role(check: RowCheck, raw: str) -> str:
    """rep, manager or front desk ("Front-desk", "front_desk" too); anything else is a rep, named."""
    role = " ".join(raw.lower().replace("-", " ").replace("_", " ").split()) or "rep"
    if role == "frontdesk":
        role = FRONT_DESK
    if role not in ROLES:
        check.warn("Role", raw, "expected rep, manager or front desk; treated as rep")
        return "rep"
    return role


def validate_reps(rows: list[SheetRow], team: TeamSettings) -> tuple[list[RepRecord], list[RowProblem]]:
    problems: list[RowProblem] = []
    records: list[RepRecord] = []
    seen: dict[str, int] = {}
    for row in rows:
        check = RowCheck(REPS.title, row, problems)
        name = check.fit("Name", row.get("name"), Rep.name)
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
        role = _role(check, row.get("role"))
        if role == FRONT_DESK:
            daily_calls = 0  # the front desk answers the phone; it is given no referral calls
        manager = optional_email(check, row.get("manager"), "Manager")
        if check.bad or email is None:
            continue
        seen[email] = row.number
        records.append(RepRecord(email, name, zone, daily_calls, bool(active), role, manager, row.number))
    _check_managers(records, problems)
    return records, problems


def _rep_zone(check: RowCheck, raw: str, team: TeamSettings) -> str:
    if not raw:
        return team.time_zone
    try:
        return parse_time_zone(raw)
    except ValueError as exc:
        check.warn("Time Zone", raw, f"{exc}; the team's {team.time_zone} is used")
        return team.time_zone


def _rep_daily_calls(check: RowCheck, raw: str, team: TeamSettings) -> int:
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


def _email(check: RowCheck, raw: str, *, required: bool = False, column: str = "Email") -> str | None:
    if not raw:
        if required:
            check.skip(column, "", "e-mail is missing")
        return None
    try:
        return normalise_email(raw)
    except ValueError as exc:
        check.skip(column, raw, f"is not an e-mail address ({exc})")
        return None


def optional_email(check: RowCheck, raw: str, column: str = "Email") -> str | None:
    """An e-mail the row can do without: a bad one is named and left out, the row kept."""
    if not raw:
        return None
    try:
        return normalise_email(raw)
    except ValueError as exc:
        check.warn(column, raw, f"is not an e-mail address ({exc}); left out")
        return None


def known_owner(check: RowCheck, raw: str, rep_emails: set[str], instead: str) -> str | None:
    """The row's owner if they are on the Reps tab; otherwise named, and ``instead`` happens."""
    owner = optional_email(check, raw, "Owner")
    if owner and owner not in rep_emails:
        check.warn("Owner", raw, f"is not a rep on the Reps tab; {instead}")
        return None
    return owner


def _phone(raw: str, region: str) -> tuple[str | None, str]:
    """(E.164, "") or (None, why the number cannot be read)."""
    if not raw:
        return None, ""
    try:
        return to_e164(raw, region), ""
    except ValueError as exc:
        return None, str(exc)


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
    check = RowCheck(CUSTOMERS.title, row, problems)
    first, last = row.get("first_name"), row.get("last_name")
    if not (first or last):
        check.skip("First Name", "", "name is missing")
    # The Customer ID is an identity, so one too long for its column is not cut: two long IDs alike
    # at the start would become one customer, one history for two people. It is left out instead,
    # the row known by its phone or e-mail (as when the phone cannot be read), and skipped only
    # when nothing else tells it apart.
    raw_id = row.get("customer_id")
    long_id = len(raw_id) > _CUSTOMER_ID_LENGTH
    customer_id = None if long_id else raw_id or None
    if customer_id and customer_id in first_rows.ids:
        check.skip("Customer ID", customer_id,
                   f"same Customer ID as row {first_rows.ids[customer_id]}")
    phone, unreadable = _phone(row.get("phone"), team.phone_region)
    if phone and phone in first_rows.phones:
        check.skip("Phone", row.get("phone"), f"same phone as row {first_rows.phones[phone]}")
    email = optional_email(check, row.get("email"))
    if email and email in first_rows.emails:
        check.skip("Email", row.get("email"), f"same e-mail as row {first_rows.emails[email]}")
    owner = known_owner(check, row.get("owner"), rep_emails, "goes to the shared pool")
    keys = [f"id:{customer_id}" if customer_id else None,
            f"phone:{phone}" if phone else None,
            f"email:{email}" if email else None]
    identities = tuple(k for k in keys if k)
    if long_id and identities:
        check.warn("Customer ID", raw_id, f"longer than {_CUSTOMER_ID_LENGTH} characters: left out; the "
                   "customer is known by its phone or e-mail")
    elif long_id:
        check.skip("Customer ID", raw_id, f"longer than {_CUSTOMER_ID_LENGTH} characters, and there is no "
                   "phone or e-mail to tell the customer apart")
    if unreadable and identities:  # still this customer, and its history: it just cannot be called yet
        check.warn("Phone", row.get("phone"), f"{unreadable}; the customer is kept, off the call lists "
                   "until the number is fixed")
    elif unreadable:
        check.skip("Phone", row.get("phone"), f"{unreadable}, and there is no Customer ID or e-mail to "
                   "tell the customer apart")
    elif not identities and not check.bad:
        check.skip("Phone", "", "needs a Customer ID, a phone or an e-mail to tell it apart")
    if check.bad:
        return None
    first_rows.remember(row.number, customer_id, phone, email)
    first_name, last_name = check.names(first, last, Customer.first_name, Customer.last_name)
    company = check.fit("Company", row.get("company"), Customer.company)
    since = _since(check, row.get("customer_since"), team.phone_region)
    do_not_call = _do_not_call(check, row.get("do_not_call"))
    return CustomerRecord(
        key=identities[0],
        sheet_customer_id=customer_id,
        first_name=first_name,
        last_name=last_name,
        company=company,
        phone=phone,
        email=email,
        owner_email=owner,
        customer_since=since,
        do_not_call=do_not_call,
        notes=row.get("notes"),  # Text, like extra (JSON): any length
        extra=dict(row.extras),
        row=row.number,
        alt_keys=identities[1:],
        fingerprint=f"w:{fingerprint}" if check.warned else fingerprint,
    )


_CUSTOMER_ID_LENGTH = Customer.sheet_customer_id.type.length


def _since(check: RowCheck, raw: str, region: str) -> date | None:
    if not raw:
        return None
    try:
        return parse_sheet_date(raw, region)
    except ValueError as exc:
        check.warn("Customer Since", raw, str(exc))
        return None


def _do_not_call(check: RowCheck, raw: str) -> bool:
    flag = parse_yes_no(raw)
    if flag is None:
        # Someone wrote *something* there: respecting a possible request beats a wrong call.
        check.warn("Do Not Call", raw, "expected yes/no; treated as yes (do not call)")
        return True
    return flag
