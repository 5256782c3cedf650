"""Phone numbers: what the sheet says in, E.164 out, and a readable form for people."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat


def to_e164(raw: str, default_region: str) -> str:
    """Parse a number as typed in a sheet; raise ValueError with a reason a manager understands."""
    text = raw.strip()
    try:
        number = phonenumbers.parse(text, default_region)
    except NumberParseException:
        raise ValueError("is not a phone number") from None
    if not phonenumbers.is_possible_number(number):
        raise ValueError("has the wrong number of digits for a phone number")
    # The team's own region first: is_valid_number alone tries every region sharing the
    # country code (25 for +1), which dominated a 100,000-row sync.
    if not (phonenumbers.is_valid_number_for_region(number, default_region)
            or phonenumbers.is_valid_number(number)):
        region = phonenumbers.region_code_for_number(number) or default_region
        raise ValueError(f"is not a valid number in {region}")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


@lru_cache(maxsize=8192)  # the same leads' numbers are shown in every reminder and on every page
def display(e164: str | None, home_region: str = "US") -> str:
    """National format for the team's own country, international for the rest."""
    if not e164:
        return ""
    number = phonenumbers.parse(e164)
    # Asked of the home region only: finding a number's region tries all 25 regions of +1.
    if phonenumbers.is_valid_number_for_region(number, home_region):
        return phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)


def tel_link(e164: str | None) -> str:
    return f"tel:{e164}" if e164 else ""
