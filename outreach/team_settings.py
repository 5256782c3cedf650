"""The team's rules, owned by the manager in the sheet's Settings tab.

Each key has a default that runs a sensible programme out of the box. A value
in the sheet overrides it; a value we cannot understand is reported (tab, row,
reason) and the default is kept, so a typo never stops the team calling.

Keys are matched like sheet headers: case, spaces, underscores and hyphens do
not matter, so "Call List Time" and "call_list_time" are the same key.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import time, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import phonenumbers
from email_validator import EmailNotValidError, validate_email

from outreach import app_address

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class TeamSettings:
    call_list_time: time = time(7, 30)
    business_start: time = time(8, 0)
    business_end: time = time(18, 0)
    workdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # Monday = 0
    holiday_country: str = "US"
    holiday_subdivision: str = ""
    referral_cooldown_days: int = 90
    daily_calls: int = 3
    time_zone: str = "America/New_York"
    phone_region: str = "US"
    # Reminders after a lead is created; then one per business day at opening.
    reminder_offsets: tuple[timedelta, ...] = (
        timedelta(minutes=5),
        timedelta(minutes=15),
        timedelta(minutes=60),
        timedelta(hours=4),
    )
    # A worried customer comes first: concerns are reminded on this tighter schedule, then on the
    # leads' schedule from its first point past this one's last.
    concern_reminder_offsets: tuple[timedelta, ...] = (
        timedelta(minutes=5),
        timedelta(minutes=15),
        timedelta(minutes=30),
        timedelta(minutes=60),
    )
    # A front-desk intake nobody has talked to this long may be handed to the next rep in turn.
    front_desk_handover: timedelta = timedelta(minutes=15)
    # Reminders for one person falling due this close together go out as one e-mail (early).
    reminder_batch_window: timedelta = timedelta(minutes=5)
    cc_manager_after: timedelta = timedelta(minutes=60)
    escalation_business_days: int = 2
    sheet_app_url: str = ""  # the Settings tab's App URL; links use app_url (outreach.app_address)
    sender_email: str = "outreach@example.com"
    sender_name: str = "Outreach"
    average_deal_value: Decimal | None = None
    referral_script: str = ""  # empty: templates/referral_script.txt.j2
    # How a referrer is thanked when their referral is reached, booked or won (outreach.leads.thanks).
    thank_referrers: str = "task"  # task, email, both, none
    thank_you_email: str = ""  # empty: templates/thank_you_words.txt.j2
    # Filled by from_values: sheet keys that were accepted, for the data-status page.
    overridden: frozenset[str] = field(default=frozenset(), compare=False)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def app_url(self) -> str:
        """Where e-mail links point: OUTREACH_APP_URL, the sheet's App URL, or this server's address."""
        return app_address.resolve(self.sheet_app_url).url

    def offsets_for(self, kind: str) -> tuple[timedelta, ...]:
        """A lead's reminder offsets: a concern's own schedule, continued by the leads' later points."""
        if kind != "concern":
            return self.reminder_offsets
        last = self.concern_reminder_offsets[-1]
        return self.concern_reminder_offsets + tuple(o for o in self.reminder_offsets if o > last)


def normalise_key(text: str) -> str:
    return re.sub(r"[\s_\-]+", "", str(text)).lower()


# --- value parsers: each returns the typed value or raises ValueError(reason) ---

def _parse_time(raw: str) -> time:
    match = re.fullmatch(r"(\d{1,2})[:.](\d{2})\s*([ap]\.?m\.?)?", raw.strip().lower())
    if not match:
        raise ValueError("expected a time like 07:30")
    hour, minute, meridiem = int(match[1]), int(match[2]), match[3]
    if meridiem:
        if not 1 <= hour <= 12:
            raise ValueError("expected a time like 07:30")
        hour = hour % 12 + (12 if meridiem.startswith("p") else 0)
    if hour > 23 or minute > 59:
        raise ValueError("expected a time like 07:30")
    return time(hour, minute)


def _parse_hours(raw: str) -> tuple[time, time]:
    parts = re.split(r"\s*(?:-|–|to)\s*", raw.strip(), maxsplit=1)
    if len(parts) != 2:
        raise ValueError("expected opening and closing times like 08:00-18:00")
    start, end = _parse_time(parts[0]), _parse_time(parts[1])
    if end <= start:
        raise ValueError("closing time must be after opening time")
    return start, end


def _parse_workdays(raw: str) -> frozenset[int]:
    days: set[int] = set()
    for part in re.split(r"[,\s]+", raw.strip().lower()):
        if not part:
            continue
        bounds = part.split("-")
        try:
            idx = [WEEKDAYS.index(b[:3]) for b in bounds]
        except ValueError:
            raise ValueError("expected days like Mon-Fri or Mon,Tue,Wed") from None
        if len(idx) == 1:
            days.add(idx[0])
        elif len(idx) == 2 and idx[0] <= idx[1]:
            days.update(range(idx[0], idx[1] + 1))
        else:
            raise ValueError("expected days like Mon-Fri or Mon,Tue,Wed")
    if not days:
        raise ValueError("at least one workday is needed")
    return frozenset(days)


def parse_whole_number(raw: str, low: int, high: int) -> int:
    """A whole number inside [low, high]: "3" and "3.0" are 3; "3.5", "1e9", "three" are refused.

    Every count a manager types is bounded, so a typo like 1e9 is named here instead of
    overflowing a date computation in every later tick.
    """
    try:
        number = Decimal(raw.strip())
    except InvalidOperation:
        raise ValueError(f"expected a whole number from {low} to {high}") from None
    if not number.is_finite() or number != number.to_integral_value() or not low <= number <= high:
        raise ValueError(f"expected a whole number from {low} to {high}")
    return int(number)


def _whole_number(low: int, high: int) -> Callable[[str], int]:
    return lambda raw: parse_whole_number(raw, low, high)


def _parse_duration(raw: str, longest: timedelta = timedelta(days=30), why: str = "") -> timedelta:
    """'5', '5m', '15 min', '4h', '1d' -> timedelta (bare numbers are minutes), at most ``longest``."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(m|min|mins|minutes?|h|hr|hrs|hours?|d|days?)?",
                         raw.strip().lower())
    if not match:
        raise ValueError("expected a duration like 15m, 4h or 1d")
    amount, unit = float(match[1]), (match[2] or "m")[0]
    minutes = amount * {"m": 1, "h": 60, "d": 1440}[unit]
    if minutes > longest.total_seconds() / 60:
        raise ValueError(f"at most {_readable(longest)}{why}")
    return timedelta(minutes=minutes)


def _readable(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes // 1440}d" if minutes % 1440 == 0 else f"{minutes}m"


MAX_BATCH_WINDOW = timedelta(hours=1)
MAX_DAILY_CALLS = 50
THANK_REFERRERS = ("task", "email", "both", "none")


def _parse_batch_window(raw: str) -> timedelta:
    # Folding in reminders due later sends them early: an hour early is still useful, a day is not.
    return _parse_duration(raw, MAX_BATCH_WINDOW, ": a larger window sends reminders far too early")


def _parse_durations(raw: str) -> tuple[timedelta, ...]:
    offsets = tuple(_parse_duration(p) for p in re.split(r"[,;]+", raw) if p.strip())
    if not offsets:
        raise ValueError("expected durations like 5m, 15m, 60m, 4h")
    if list(offsets) != sorted(set(offsets)):
        raise ValueError("durations must be increasing")
    return offsets


def _parse_country(raw: str) -> str:
    code = raw.strip().upper()
    if code in ("", "NONE", "-"):
        return ""
    if code not in _supported_countries():
        raise ValueError("not a country the holidays calendar knows (use a code like US, GB, DE)")
    return code


@cache
def _supported_countries() -> frozenset[str]:
    return frozenset(holidays.list_supported_countries())


def _parse_zone(raw: str) -> str:
    return parse_time_zone(raw)


def parse_time_zone(raw: str) -> str:
    name = raw.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file's
        raise ValueError("not an IANA time zone (e.g. America/New_York)") from None
    return name


def _parse_region(raw: str) -> str:
    region = raw.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError("not a phone region code (e.g. US, GB, DE)")
    return region


def _parse_email(raw: str) -> str:
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None


MAX_DEAL_VALUE = 10**9  # larger is a typo, and would swamp every "value at risk" sum


def _parse_money(raw: str) -> Decimal:
    try:
        value = Decimal(re.sub(r"[,$€£\s]", "", raw))
    except InvalidOperation:
        raise ValueError("expected an amount like 2500") from None
    if not value.is_finite() or not 0 <= value <= MAX_DEAL_VALUE:
        raise ValueError(f"expected an amount from 0 to {MAX_DEAL_VALUE:,}")
    return value


def _parse_script(raw: str) -> str:
    from outreach.calls.script import check_script  # the script module renders with Jinja

    return check_script(_parse_text(raw))


def _parse_thank_referrers(raw: str) -> str:
    choice = raw.strip().lower()
    if choice not in THANK_REFERRERS:
        raise ValueError(f"expected one of {', '.join(THANK_REFERRERS)}")
    return choice


def _parse_thank_you(raw: str) -> str:
    from outreach.calls.script import check_thank_you  # the script module renders with the templates

    return check_thank_you(raw.strip())


def _parse_text(raw: str) -> str:
    text = raw.strip()
    if not text:
        raise ValueError("must not be empty")
    return text


# key -> (fields it sets, parser, help for the README and the data-status page)
_KEYS: dict[str, tuple[tuple[str, ...], Callable[[str], Any], str]] = {
    "calllisttime": (("call_list_time",), _parse_time,
                     "Local time the morning call list is e-mailed (07:30)."),
    "businesshours": (("business_start", "business_end"), _parse_hours,
                      "When reminders and escalations may go out, in each recipient's own zone "
                      "(08:00-18:00)."),
    "workdays": (("workdays",), _parse_workdays, "Working days (Mon-Fri)."),
    "holidaycountry": (("holiday_country",), _parse_country,
                       "Public holidays skipped for calls and reminders (US; 'none' for none)."),
    "holidaysubdivision": (("holiday_subdivision",), _parse_text,
                           "State or province for regional holidays (e.g. CA)."),
    "referralcooldowndays": (("referral_cooldown_days",), _whole_number(0, 3650),
                             "Days before a customer is asked for referrals again (90; 0 to 3650)."),
    "dailycalls": (("daily_calls",), _whole_number(0, MAX_DAILY_CALLS),
                   "Default calls per rep per day when the Reps tab leaves it blank (3; 0 to 50)."),
    "timezone": (("time_zone",), _parse_zone,
                 "Default time zone for reps without one (America/New_York)."),
    "phoneregion": (("phone_region",), _parse_region,
                    "Country assumed for phone numbers written without +country code (US)."),
    "reminderschedule": (("reminder_offsets",), _parse_durations,
                         "Reminders after a lead arrives, before the daily ones (5m, 15m, 60m, 4h; each "
                         "at most 30d)."),
    "concernreminderschedule": (("concern_reminder_offsets",), _parse_durations,
                                "Reminders for a customer's concern, tighter than a lead's (5m, 15m, "
                                "30m, 60m; then the Reminder Schedule's later points and the daily "
                                "ones)."),
    "frontdeskhandover": (("front_desk_handover",), _parse_duration,
                          "Minutes without a conversation after which the front desk may hand a "
                          "caller to the next rep in turn (15m; at most 30d)."),
    "reminderbatchwindow": (("reminder_batch_window",), _parse_batch_window,
                            "Reminders for one person due within this time of each other go out "
                            "together, as one e-mail, and a lead is reminded at most once in it "
                            "(5m; at most 60m)."),
    "ccmanagerafter": (("cc_manager_after",), _parse_duration,
                       "Copy the rep's manager on reminders from this lead age on (60m; at most 30d)."),
    "escalationbusinessdays": (("escalation_business_days",), _whole_number(0, 60),
                               "Business days without a conversation before the manager is "
                               "asked to reassign (2; 0 to 60)."),
    "appurl": (("sheet_app_url",), app_address.parse_url,
               "Address of the app in e-mail links (blank: the address the server runs on; "
               "OUTREACH_APP_URL overrides it)."),
    "senderemail": (("sender_email",), _parse_email,
                    "From address of every e-mail (must be a verified SendGrid sender)."),
    "sendername": (("sender_name",), _parse_text, "From name of every e-mail (Outreach)."),
    "averagedealvalue": (("average_deal_value",), _parse_money,
                         "Average value of a won referral, for 'value at risk' (blank: hidden; at "
                         "most 1,000,000,000)."),
    "referralscript": (("referral_script",), _parse_script,
                       "The words reps say; {{ customer.first_name }} and {{ rep.first_name }} are "
                       "filled in (blank: the standard script)."),
    "thankreferrers": (("thank_referrers",), _parse_thank_referrers,
                       "How the customer who referred is thanked when the referral is reached, books an "
                       "appointment or is won: task (a Say thank you item on Today and in the morning "
                       "e-mail), email (a short e-mail from the rep), both, or none (task)."),
    "thankyouemail": (("thank_you_email",), _parse_thank_you,
                      "The thank-you e-mail's words; {{ customer.first_name }}, {{ friend.first_name }}, "
                      "{{ rep.name }} and {{ milestone }} (reached, appointment, won) are filled in (blank: "
                      "the standard words)."),
}


def documented_keys() -> dict[str, str]:
    """Readable key -> help text, for the README and the app."""
    names = {
        "calllisttime": "Call List Time", "businesshours": "Business Hours",
        "workdays": "Workdays", "holidaycountry": "Holiday Country",
        "holidaysubdivision": "Holiday Subdivision",
        "referralcooldowndays": "Referral Cooldown Days", "dailycalls": "Daily Calls",
        "timezone": "Time Zone", "phoneregion": "Phone Region",
        "reminderschedule": "Reminder Schedule", "reminderbatchwindow": "Reminder Batch Window",
        "concernreminderschedule": "Concern Reminder Schedule", "frontdeskhandover": "Front Desk Handover",
        "ccmanagerafter": "CC Manager After",
        "escalationbusinessdays": "Escalation Business Days", "appurl": "App URL",
        "senderemail": "Sender Email", "sendername": "Sender Name",
        "averagedealvalue": "Average Deal Value", "referralscript": "Referral Script",
        "thankreferrers": "Thank Referrers", "thankyouemail": "Thank You Email",
    }
    return {names[k]: help_text for k, (_, _, help_text) in _KEYS.items()}


@dataclass(frozen=True)
class SettingProblem:
    key: str
    value: str
    reason: str
    row: int | None = None


def parse_team_settings(
    values: Iterable[tuple[str, str, int | None]],
    base: TeamSettings | None = None,
) -> tuple[TeamSettings, list[SettingProblem]]:
    """Apply (key, value, row) pairs over ``base``; return the settings and what was refused."""
    settings = base or TeamSettings()
    problems: list[SettingProblem] = []
    changes: dict[str, Any] = {}
    accepted: set[str] = set()
    for key, raw, row in values:
        entry = _KEYS.get(normalise_key(key))
        if entry is None:
            problems.append(SettingProblem(key, raw, "unknown setting, ignored", row))
            continue
        if not str(raw).strip():
            continue  # blank value: keep the default, nothing to report
        names, parser, _ = entry
        try:
            parsed = parser(str(raw))
        except (ValueError, ArithmeticError) as exc:
            problems.append(SettingProblem(key, raw, f"{exc}; the default is kept", row))
            continue
        parsed_values = parsed if len(names) > 1 else (parsed,)
        changes.update(zip(names, parsed_values, strict=True))
        accepted.add(normalise_key(key))
    problem = _check_subdivision(settings, changes)
    if problem:
        problems.append(problem)
        changes.pop("holiday_subdivision", None)
        accepted.discard("holidaysubdivision")
    return replace(settings, **changes, overridden=frozenset(accepted)), problems


def _check_subdivision(base: TeamSettings, changes: Mapping[str, Any]) -> SettingProblem | None:
    country = changes.get("holiday_country", base.holiday_country)
    subdivision = changes.get("holiday_subdivision", base.holiday_subdivision)
    if not (country and subdivision):
        return None
    try:
        holidays.country_holidays(country, subdiv=subdivision)
    except NotImplementedError:
        return SettingProblem("Holiday Subdivision", subdivision,
                              f"not a subdivision of {country}; ignored")
    return None


def settings_from_store(stored: Mapping[str, str]) -> TeamSettings:
    """Rebuild the team settings from the values a sync accepted and stored."""
    settings, _ = parse_team_settings((k, v, None) for k, v in stored.items())
    return settings
