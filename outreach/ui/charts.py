"""The manager page's pictures, as Altair charts built from the team report.

Plain functions from numbers to charts, so they can be checked without a browser.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from outreach.team.metrics import SPEED_MARKS, DailyCalls, Funnel

# Buckets edged on the metrics' marks (5 and 15 minutes), closed on the right like the
# headline's "within 5 minutes": a lead reached at 5:00 sits in the first bar.
SPEED_BINS = [0, *SPEED_MARKS, 30, 60, 120, 240, 480, 1440, 2880, 10080]
SPEED_LABELS = ["≤ 5 min", "5–15 min", "15–30 min", "30–60 min", "1–2 h", "2–4 h", "4–8 h",
                "8–24 h", "1–2 days", "2–7 days"]

HEADROOM = 1.2  # the value axis ends this far above the tallest bar: its top and label stay inside


COUNT_AXIS = alt.Axis(tickMinStep=1)  # counts: no 2.5 calls on the axis


def value_scale(*values: float) -> alt.Scale:
    """A value axis from 0 past the largest value (1 when all are 0, so an empty chart has an axis)."""
    top = max([0, *values])
    return alt.Scale(domain=[0, top * HEADROOM if top else 1], nice=False)


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
    scale = value_scale(*frame["Calls made"], *frame["Quota"])
    bars = base.mark_bar(color="#4c78a8").encode(
        y=alt.Y("Calls made:Q", title="Calls", scale=scale, axis=COUNT_AXIS), tooltip=tooltip)
    quota = base.mark_tick(color="#e45756", thickness=3).encode(y=alt.Y("Quota:Q", scale=scale),
                                                                 tooltip=tooltip)
    return alt.layer(bars, quota).properties(height=260)


GAP = 0.4  # the share of each step between two speed bars


def speed_to_lead(minutes: list[float], unreached: int) -> alt.LayerChart:
    """How long leads waited for a conversation, with the 5- and 15-minute lines."""
    buckets = pd.cut(pd.Series(minutes, dtype="float64"), bins=SPEED_BINS + [float("inf")],
                     labels=SPEED_LABELS + ["> 7 days"], include_lowest=True)
    counts = buckets.value_counts(sort=False).rename_axis("waited").reset_index(name="leads")
    counts = pd.concat([counts, pd.DataFrame([{"waited": "never reached", "leads": unreached}])])
    order = [*SPEED_LABELS, "> 7 days", "never reached"]
    scale = value_scale(*counts["leads"])
    # Bars take 60% of each step; the goal lines stand just left of a bucket's bar, in the gap
    # (a few pixels: any laptop width leaves more), so they never cross a bar or its count.
    x = alt.X("waited:N", sort=order, title="Time to first conversation",
              scale=alt.Scale(paddingInner=GAP, paddingOuter=GAP / 2))
    base = alt.Chart(counts).encode(x=x, y=alt.Y("leads:Q", title="Leads", scale=scale, axis=COUNT_AXIS))
    bars = base.mark_bar().encode(
        color=alt.condition(alt.datum.waited == SPEED_LABELS[0], alt.value("#54a24b"), alt.value("#9d9d9d")),
        tooltip=["waited:N", "leads:Q"])
    values = base.mark_text(dy=-6, baseline="bottom", fontSize=11).encode(text="leads:Q")
    marks = pd.DataFrame({"waited": SPEED_LABELS[1:1 + len(SPEED_MARKS)],
                          "label": [f"{m} min" for m in SPEED_MARKS]})
    gap = alt.X("waited:N", sort=order, bandPosition=0)
    lines = alt.Chart(marks).mark_rule(color="#e45756", strokeDash=[4, 3], xOffset=-3).encode(x=gap)
    names = alt.Chart(marks).mark_text(color="#e45756", baseline="top", dy=2, dx=-3, fontSize=11).encode(
        x=gap, y=alt.value(0), text="label:N")
    return alt.layer(bars, values, lines, names).properties(height=260)


# Each bar says what it counts: the headline's Conversations also holds lead follow-ups, and
# its Calls made counts calls, not people.
FUNNEL_STEPS = ("Different customers called", "Customer conversations (asks)", "Referrals",
                "Leads reached", "Appointments / won")


def funnel(numbers: Funnel) -> alt.LayerChart:
    """Where asks leak: customers called, conversations with them, referrals, leads reached, wins."""
    counts = (numbers.customers_called, numbers.conversations, numbers.referrals, numbers.leads_reached,
              numbers.appointments_or_won)
    frame = pd.DataFrame([{"step": s, "count": c, "order": i}
                          for i, (s, c) in enumerate(zip(FUNNEL_STEPS, counts, strict=True))])
    base = alt.Chart(frame).encode(
        y=alt.Y("step:N", sort=alt.SortField("order"), title=None, axis=alt.Axis(labelLimit=240)),
        x=alt.X("count:Q", title=None, scale=value_scale(*counts)), tooltip=["step:N", "count:Q"])
    bars = base.mark_bar(color="#72b7b2")
    values = base.mark_text(align="left", dx=4, fontSize=11).encode(text="count:Q")
    return alt.layer(bars, values).properties(height=220)
