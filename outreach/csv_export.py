"""CSV files that a spreadsheet opens as data: no cell we write ever runs as a formula.

Excel, LibreOffice and Google Sheets read a cell that starts with ``=``, ``+``, ``-`` or ``@`` (some
also a tab, carriage return or line feed, or the full-width forms an IME types) as a formula: a lead
named ``=HYPERLINK("http://evil.example","Open")`` would be a live link in the manager's spreadsheet,
and older DDE payloads can start programs. As OWASP advises, such a text cell gets a leading single
quote, which spreadsheets show as text, and every text cell is quoted, so a comma or a quote inside
it cannot start another cell.

Only text is escaped: a number we computed (int, float, Decimal) is written as a number, minus sign
and all, so a spreadsheet can still add up the columns. The same "-3" typed as a name is text, and
becomes ``'-3``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def spreadsheet_safe(value: object) -> object:
    """A cell as we write it: numbers as they are, text defused, nothing as an empty cell."""
    if isinstance(value, str):  # most cells: checked first, since a big table has tens of thousands
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    if value is None:
        return ""
    if isinstance(value, int | float | Decimal):  # bool too: written as True/False
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_bytes(rows: Iterable[Mapping[str, object]], columns: Sequence[str]) -> bytes:
    """The rows as a UTF-8 CSV file with a header line, every cell through ``spreadsheet_safe``."""
    out = io.StringIO()
    # QUOTE_NONNUMERIC quotes every text cell and leaves numbers bare, so they stay numbers.
    writer = csv.writer(out, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\r\n")
    safe = spreadsheet_safe
    writer.writerow([safe(c) for c in columns])
    writer.writerows([safe(row.get(c)) for c in columns] for row in rows)
    return out.getvalue().encode("utf-8")
