"""Bar charts of a line's daily usage, drawn on the server as SVG: no script, no library.

The geometry is plain numbers the template lays out in a viewBox, so a chart scales to
any width (360 px phones included). Each chart has a table of the same figures beside
it for screen readers and for anyone who prefers numbers.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from django.utils import formats
from django.utils.translation import gettext as _

from simcare.usage.queries import DayTotals

WIDTH = 300
HEIGHT = 120
LABEL_SPACE = 14  # room under the bars for the first/last day labels
PLOT_HEIGHT = HEIGHT - LABEL_SPACE
GAP = 2


@dataclass(frozen=True)
class Bar:
    day: dt.date
    value: float
    text: str
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Chart:
    kind: str
    title: str
    unit: str
    total_text: str
    peak_text: str
    bars: list[Bar]
    width: int = WIDTH
    height: int = HEIGHT
    plot_height: int = PLOT_HEIGHT

    @property
    def is_empty(self) -> bool:
        return all(bar.value == 0 for bar in self.bars)

    @property
    def first_day(self) -> dt.date:
        return self.bars[0].day

    @property
    def last_day(self) -> dt.date:
        return self.bars[-1].day


def megabytes(kb: int) -> float:
    """KB → MB with one decimal: 1536 → 1.5."""
    return round(kb / 1024, 1)


def _number(value: float) -> str:
    decimals = 0 if value == int(value) else 1
    return formats.number_format(value, decimal_pos=decimals, use_l10n=True)


def _amount(kind: str, value: float) -> str:
    if kind == "data":
        return _("%(amount)s MB") % {"amount": _number(value)}
    if kind == "voice":
        return _("%(amount)s min") % {"amount": _number(value)}
    return _("%(amount)s SMS") % {"amount": _number(value)}


def bar_chart(kind: str, title: str, unit: str, days: list[DayTotals]) -> Chart:
    """One chart of `kind` ("data" in MB, "voice" in minutes, "sms" in messages) over `days`."""
    values = [megabytes(day.data) if kind == "data" else float(getattr(day, kind)) for day in days]
    peak = max(values, default=0.0)
    # A round top for the scale, so a day's bar height reads the same across reloads.
    scale = _nice_ceiling(peak) if peak > 0 else 1.0
    slot = WIDTH / max(1, len(values))
    bars = []
    for index, (day, value) in enumerate(zip(days, values, strict=True)):
        height = PLOT_HEIGHT * value / scale
        if value > 0:
            height = max(height, 1.5)  # a tiny day still shows
        bars.append(
            Bar(
                day=day.day,
                value=value,
                text=_amount(kind, value),
                x=round(index * slot + GAP / 2, 2),
                y=round(PLOT_HEIGHT - height, 2),
                width=round(max(slot - GAP, 1), 2),
                height=round(height, 2),
            )
        )
    return Chart(
        kind=kind,
        title=title,
        unit=unit,
        total_text=_amount(kind, round(sum(values), 1)),
        peak_text=_amount(kind, peak),
        bars=bars,
    )


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 times 10^n at or above value: 37 → 50, 120 → 200, 0.3 → 0.5."""
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value:
            return float(candidate)
    return float(10 ** (exponent + 1))
