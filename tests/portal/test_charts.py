"""The usage chart's geometry: every bar inside the plot, heights in proportion, totals."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from simcare.portal import charts
from simcare.usage.queries import DayTotals

FIRST = dt.date(2026, 11, 2)


def _days(values: list[int]) -> list[DayTotals]:
    return [
        DayTotals(day=FIRST + dt.timedelta(days=index), data=value * 1024, voice=value, sms=value)
        for index, value in enumerate(values)
    ]


@given(st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=366))
def test_bars_stay_inside_the_plot_and_keep_their_order_of_size(values: list[int]) -> None:
    for kind in ("data", "voice", "sms"):
        chart = charts.bar_chart(kind, "Title", "unit", _days(values))
        assert len(chart.bars) == len(values)
        for bar, value in zip(chart.bars, values, strict=True):
            assert bar.x >= 0
            assert bar.x + bar.width <= charts.WIDTH + 0.01
            assert 0 <= bar.height <= charts.PLOT_HEIGHT + 0.01
            assert abs(bar.y + bar.height - charts.PLOT_HEIGHT) < 0.02
            assert (bar.height > 0) == (value > 0)
        # a bigger day never has a shorter bar
        by_value = sorted(zip(values, [bar.height for bar in chart.bars], strict=True))
        heights = [height for _value, height in by_value]
        assert heights == sorted(heights)


@given(st.floats(min_value=0.01, max_value=1e9, allow_nan=False))
def test_the_scale_is_a_round_number_at_or_above_the_peak(peak: float) -> None:
    top = charts._nice_ceiling(peak)
    assert top >= peak
    assert top < peak * 10 + 1e-9
    leading = f"{top:e}"[0]
    assert leading in {"1", "2", "5"}


def test_totals_and_units() -> None:
    chart = charts.bar_chart("data", "Data", "MB", _days([0, 1, 2]))
    assert (chart.total_text, chart.peak_text) == ("3 MB", "2 MB")
    assert chart.first_day == FIRST
    assert chart.last_day == FIRST + dt.timedelta(days=2)
    assert not chart.is_empty
    assert charts.bar_chart("sms", "Texts", "messages", _days([0, 0])).is_empty
    assert charts.megabytes(1536) == 1.5
    assert [charts._nice_ceiling(value) for value in (37, 120, 0.3, 1, 5)] == [
        50.0,
        200.0,
        0.5,
        1.0,
        5.0,
    ]
