"""The one place that decides working days, public holidays and business hours.

Everything here is in a person's own time zone: a rep in Los Angeles opens at
08:00 Pacific. Callers pass aware UTC datetimes and get aware UTC datetimes
back; the local calendar is only used to decide.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from outreach.team_settings import TeamSettings


@lru_cache(maxsize=64)
def _holidays(country: str, subdivision: str, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(country, subdiv=subdivision or None, years=year)


class WorkCalendar:
    """Workdays, holidays and opening hours of the team's settings."""

    def __init__(self, team: TeamSettings) -> None:
        self.team = team

    def holiday_name(self, day: date) -> str | None:
        if not self.team.holiday_country:
            return None
        return _holidays(self.team.holiday_country, self.team.holiday_subdivision, day.year).get(day)

    def is_workday(self, day: date) -> bool:
        return day.weekday() in self.team.workdays and self.holiday_name(day) is None

    def next_workday(self, day: date) -> date:
        """The first workday on or after ``day``."""
        for offset in range(370):
            candidate = day + timedelta(days=offset)
            if self.is_workday(candidate):
                return candidate
        raise ValueError("no workday within a year: check the Workdays setting")

    def at_local(self, day: date, clock_time: time, zone: ZoneInfo) -> datetime:
        """A local wall-clock time on a day, as aware UTC (DST handled by zoneinfo)."""
        return datetime.combine(day, clock_time, tzinfo=zone).astimezone(ZoneInfo("UTC"))

    def opening(self, day: date, zone: ZoneInfo) -> datetime:
        return self.at_local(day, self.team.business_start, zone)

    def closing(self, day: date, zone: ZoneInfo) -> datetime:
        return self.at_local(day, self.team.business_end, zone)

    def is_open(self, at: datetime, zone: ZoneInfo) -> bool:
        day = at.astimezone(zone).date()
        return self.is_workday(day) and self.opening(day, zone) <= at < self.closing(day, zone)

    def next_opening(self, at: datetime, zone: ZoneInfo) -> datetime:
        """``at`` itself if business is open then, else the start of the next opening."""
        if self.is_open(at, zone):
            return at
        day = at.astimezone(zone).date()
        if self.is_workday(day) and at < self.opening(day, zone):
            return self.opening(day, zone)
        return self.opening(self.next_workday(day + timedelta(days=1)), zone)

    def add_business_days(self, at: datetime, days: int, zone: ZoneInfo) -> datetime:
        """The same local time ``days`` workdays later (counting from the next opening)."""
        start = self.next_opening(at, zone)
        local = start.astimezone(zone)
        day = local.date()
        for _ in range(days):
            day = self.next_workday(day + timedelta(days=1))
        return self.at_local(day, local.time(), zone)
