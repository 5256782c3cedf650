"""CSV downloads open in a spreadsheet as data: text that looks like a formula is defused."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from outreach.csv_export import csv_bytes, spreadsheet_safe


@pytest.mark.parametrize("typed", ['=HYPERLINK("http://evil.example","Open")', "+1+1", "-2+3",
                                   "@SUM(A1:A9)", "\t=1", "\r=1", "＝1+1"])
def test_text_that_a_spreadsheet_would_run_gets_a_leading_quote(typed: str) -> None:
    assert spreadsheet_safe(typed) == "'" + typed


@pytest.mark.parametrize("value", ["Dara Reyes", "(617) 555-0190", " =not a formula", "a=b", ""])
def test_ordinary_text_is_left_as_it_is(value: str) -> None:
    assert spreadsheet_safe(value) == value


def test_numbers_stay_numbers_even_negative_ones() -> None:
    assert [spreadsheet_safe(v) for v in (-3, -0.5, Decimal("-2.50"), 0, None)] == [
        -3, -0.5, Decimal("-2.50"), 0, ""]
    assert spreadsheet_safe("-3") == "'-3"  # typed text, not a number we counted


def test_the_file_quotes_text_and_leaves_numbers_bare() -> None:
    rows = [{"name": '=HYPERLINK("http://evil.example","x"), Bob', "shortfall": -3, "note": None}]
    data = csv_bytes(rows, ["name", "shortfall", "note"])
    assert data == (b'"name","shortfall","note"\r\n'
                    b'"\'=HYPERLINK(""http://evil.example"",""x""), Bob",-3,""\r\n')
    assert list(csv.reader(io.StringIO(data.decode())))[1] == [
        "'=HYPERLINK(\"http://evil.example\",\"x\"), Bob", "-3", ""]
