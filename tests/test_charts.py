"""The Team page's charts, checked in their Vega-Lite specs: every bar fits, lines keep off bars."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from outreach.team.metrics import DailyCalls, Funnel
from outreach.ui import charts


def layers(chart: Any) -> list[dict[str, Any]]:
    return chart.to_dict()["layer"]


def domain_top(layer: dict[str, Any], channel: str) -> float:
    scale = layer["encoding"][channel]["scale"]
    assert scale.get("nice") is False  # a "nice" domain may be rounded, but never below the data
    low, high = scale["domain"]
    assert low == 0
    return high


@pytest.mark.parametrize("done,quota", [([3, 9, 4], [5, 5, 5]), ([2, 1, 0], [8, 8, 8])])
def test_the_calls_chart_fits_the_tallest_bar_or_quota(done: list[int], quota: list[int]) -> None:
    monday = date(2026, 11, 16)
    daily = [DailyCalls(monday + timedelta(days=n), d, q)
             for n, (d, q) in enumerate(zip(done, quota, strict=True))]
    bars, ticks = layers(charts.calls_per_day(daily))
    tallest = max(*done, *quota)
    assert domain_top(bars, "y") > tallest and domain_top(ticks, "y") == domain_top(bars, "y")


def test_the_speed_chart_fits_its_tallest_bar_and_its_count() -> None:
    minutes = [1.0] * 3 + [7.0] * 12 + [45.0] * 2
    bars, values, _lines, _names = layers(charts.speed_to_lead(minutes, unreached=5))
    assert domain_top(bars, "y") >= 12 * charts.HEADROOM  # room above 12 for the count "12"
    assert values["mark"]["type"] == "text" and values["encoding"]["text"]["field"] == "leads"


def test_the_goal_lines_stand_left_of_a_bar_not_across_it() -> None:
    bars, _values, lines, names = layers(charts.speed_to_lead([3.0, 20.0], unreached=0))
    assert lines["encoding"]["x"]["bandPosition"] == 0  # the bar's left edge...
    assert lines["mark"]["xOffset"] < 0  # ...and a little further left, in the gap
    gap = bars["encoding"]["x"]["scale"]["paddingInner"]
    assert gap > 0
    # The line names hang from the top edge, above the headroom the tallest count uses.
    assert names["encoding"]["y"] == {"value": 0} and names["mark"]["baseline"] == "top"


def test_an_empty_chart_still_has_an_axis() -> None:
    bars, *_ = layers(charts.speed_to_lead([], unreached=0))
    assert domain_top(bars, "y") == 1


def test_the_funnel_fits_its_longest_bar_and_says_what_each_counts() -> None:
    chart = charts.funnel(Funnel(customers_called=40, conversations=25, referrals=12, leads_reached=8,
                                 appointments_or_won=3))
    bars, values = layers(chart)
    assert domain_top(bars, "x") > 40 and values["encoding"]["text"]["field"] == "count"
    spec = chart.to_dict()
    rows = spec["datasets"][spec["data"]["name"]]
    assert [(r["step"], r["count"]) for r in rows] == [
        ("Different customers called", 40), ("Customer conversations (asks)", 25), ("Referrals", 12),
        ("Leads reached", 8), ("Appointments / won", 3)]  # not the headline's "Conversations"
