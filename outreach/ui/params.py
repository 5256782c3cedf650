"""Reading the page address: typed by anyone, so checked before it reaches the database."""

from __future__ import annotations

from outreach.access import MAX_ROW_ID


def row_id(raw: str | None) -> int | None:
    """The database id in ``?lead=...``, or None when the text cannot be one.

    Only ASCII digits count ("²" and "١" pass str.isdigit), and only within an integer key's range:
    a longer number reaches SQLite as an OverflowError instead of "no such lead".
    """
    if not raw or not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(MAX_ROW_ID)):
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ROW_ID else None
