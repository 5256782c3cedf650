"""Times and durations in words, and text cut to fit, for pages, e-mails and the database."""

from __future__ import annotations

from datetime import datetime


def ago(then: datetime, now: datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 60:
        return "just now"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''} ago"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} hour{'s' if hours != 1 else ''} ago"
    return f"{hours // 24} days ago"


def duration(seconds: float) -> str:
    """A lead's age or a wait, the way a person would say it: "12 minutes", "3 hours", "2 days"."""
    seconds = max(0, int(seconds))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            amount = seconds // size
            return f"{amount} {unit}{'s' if amount != 1 else ''}"
    return "less than a minute"


def short_duration(minutes: float) -> str:
    """The same, for a headline figure with little room: "4 min", "3.5 h", "2.1 d"."""
    if minutes < 60:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} d"


def clip(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters; cut short, it ends in "…"."""
    return text if len(text) <= limit else f"{text[:limit - 1]}\u2026"
