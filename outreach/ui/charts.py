"""The manager page's pictures, as Altair charts built from the team report.

Plain functions from numbers to charts, so they can be checked without a browser.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from outreach.metrics import SPEED_MARKS, DailyCalls, Funnel

# Buckets edged on the metrics' marks (5 and 15 minutes), closed on the right like the
# headline's "within 5 minutes": a lead reached at 5:00 sits in the first bar.
SPEED_BINS = [0, *SPEED_MARKS, 30, 60, 120, 240, 480, 1440, 2880, 10080]
SPEED_LABELS = ["≤ 5 min", "5–15 min", "15–30 min", "30–60 min", "1–2 h", "2–4 h", "4–8 h",
                "8–24 h", "1–2 days", "2–7 days"]


def calls_per_day(daily: list[DailyCalls]) -> alt.LayerChart:
    """Bars for calls made, a red tick for the day's quota: the habit at a glance.

    Days off (no quota, no calls) are left out, so weekends do not read as failures.
    """
    frame = pd.DataFrame([{"day": d.day.strftime("%a %d %b"), "order": d.day.toordinal(),
                           "Calls made": d.done, "Quota": d.quota}
                          for d in daily if d.quota or d.done],
                         columns=["day", "order", "Calls made", "Quota"])
    base = alt.Chart(frame).encode(x=alt.X("day:O", sort=alt.SortField("order"), title=None,
                                           axis=alt.Axis(labelAngle=-45)))
    tooltip = ["day:O", "Calls made:Q", "Quota:Q"]
    bars = base.mark_bar(color="#4c78a8").encode(y=alt.Y("Calls made:Q", title="Calls"), tooltip=tooltip)
    quota = base.mark_tick(color="#e45756", thickness=3).encode(y="Quota:Q", tooltip=tooltip)
    return alt.layer(bars, quota).properties(height=260)


def speed_to_lead(minutes: list[float], unreached: int) -> alt.LayerChart:
    """How long leads waited for a conversation, with the 5- and 15-minute lines."""
    buckets = pd.cut(pd.Series(minutes, dtype="float64"), bins=SPEED_BINS + [float("inf")],
                     labels=SPEED_LABELS + ["> 7 days"], include_lowest=True)
    counts = buckets.value_counts(sort=False).rename_axis("waited").reset_index(name="leads")
    counts = pd.concat([counts, pd.DataFrame([{"waited": "never reached", "leads": unreached}])])
    order = [*SPEED_LABELS, "> 7 days", "never reached"]
    bars = alt.Chart(counts).mark_bar().encode(
        x=alt.X("waited:N", sort=order, title="Time to first conversation"),
        y=alt.Y("leads:Q", title="Leads"),
        color=alt.condition(alt.datum.waited == SPEED_LABELS[0], alt.value("#54a24b"),
                            alt.value("#9d9d9d")),
        tooltip=["waited:N", "leads:Q"])
    # The goal lines sit on the bucket edges: before the buckets that start at each mark.
    lines = alt.Chart(pd.DataFrame({"waited": SPEED_LABELS[1:1 + len(SPEED_MARKS)],
                                    "label": [f"{m} min" for m in SPEED_MARKS]})).mark_rule(
        color="#e45756", strokeDash=[4, 3], xOffset=-14).encode(x=alt.X("waited:N", sort=order))
    return alt.layer(bars, lines).properties(height=260)


def funnel(numbers: Funnel) -> alt.Chart:
    """Where asks leak: customers called, conversations, referrals, leads reached, wins."""
    steps = [("Customers called", numbers.customers_called),
             ("Conversations", numbers.conversations), ("Referrals", numbers.referrals),
             ("Leads reached", numbers.leads_reached),
             ("Appointments / won", numbers.appointments_or_won)]
    frame = pd.DataFrame([{"step": s, "count": c, "order": i} for i, (s, c) in enumerate(steps)])
    return alt.Chart(frame).mark_bar(color="#72b7b2").encode(
        y=alt.Y("step:N", sort=alt.SortField("order"), title=None, axis=alt.Axis(labelLimit=200)),
        x=alt.X("count:Q", title=None), tooltip=["step:N", "count:Q"],
    ).properties(height=220)
