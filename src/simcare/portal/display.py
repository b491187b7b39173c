"""What the portal shows of a line and a price: plain values the templates lay out."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass

from django.core.exceptions import ObjectDoesNotExist
from django.utils import formats, timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from simcare.catalog.models import UsageKind
from simcare.kit.money import format_cents
from simcare.lines import lifecycle
from simcare.lines.models import Bucket, Line, LineState
from simcare.orders import pricing
from simcare.orders.services.receipts import TAX_NAMES, format_rate


def data_amount(kb: int) -> str:
    """5_242_880 KB → "5 GB"; 1_572_864 → "1.5 GB"; 300_000 → "293 MB" (locale decimals)."""
    mb = kb / 1024
    if mb >= 1024:
        gb = round(mb / 1024, 1)
        text = formats.number_format(gb, decimal_pos=0 if gb == int(gb) else 1, use_l10n=True)
        return _("%(amount)s GB") % {"amount": text}
    return _("%(amount)s MB") % {"amount": formats.number_format(math.floor(mb), use_l10n=True)}


def amount_in_unit(kind: str, amount: int) -> str:
    if kind == UsageKind.DATA:
        return data_amount(amount)
    if kind == UsageKind.VOICE:
        return _("%(amount)s min") % {"amount": formats.number_format(amount, use_l10n=True)}
    return _("%(amount)s SMS") % {"amount": formats.number_format(amount, use_l10n=True)}


KIND_LABELS = {
    UsageKind.DATA: lambda: _("Data"),
    UsageKind.VOICE: lambda: _("Calls"),
    UsageKind.SMS: lambda: _("Texts"),
}


@dataclass(frozen=True)
class Allowance:
    """One bar: "Data: 3.2 GB left of 5 GB"; unlimited has no bar."""

    kind: str
    label: str
    remaining: int | None
    total: int | None
    text: str

    @property
    def unlimited(self) -> bool:
        return self.total is None

    @property
    def percent_left(self) -> int:
        if not self.total or self.remaining is None:
            return 100 if self.total is None else 0
        return round(100 * self.remaining / self.total)

    @property
    def is_low(self) -> bool:
        return self.total is not None and self.percent_left < 20


def allowances(buckets: list[Bucket]) -> list[Allowance]:
    """The buckets in force summed per kind (plan and add-ons together), data first."""
    result = []
    for kind in (UsageKind.DATA, UsageKind.VOICE, UsageKind.SMS):
        mine = [bucket for bucket in buckets if bucket.kind == kind]
        if not mine:
            continue
        label = KIND_LABELS[kind]()
        if any(bucket.total is None for bucket in mine):
            result.append(Allowance(kind, label, None, None, _("Unlimited")))
            continue
        total = sum(bucket.total or 0 for bucket in mine)
        remaining = sum(bucket.remaining or 0 for bucket in mine)
        text = _("%(remaining)s left of %(total)s") % {
            "remaining": amount_in_unit(kind, remaining),
            "total": amount_in_unit(kind, total),
        }
        result.append(Allowance(kind, label, remaining, total, text))
    return result


@dataclass(frozen=True)
class LineSummary:
    line: Line
    days_left: int
    deadlines: lifecycle.Deadlines
    allowances: list[Allowance]
    next_step: str

    @property
    def state_class(self) -> str:
        return f"state-{self.line.state}"

    @property
    def renewal_method(self) -> str:
        return renewal_method(self.line)

    @property
    def card_key(self) -> tuple[object, ...]:
        """Every value the dashboard's card of this line shows (with the language and time
        zone, which {% memo %} adds): the card is rendered again when one of them changes."""
        line = self.line
        return (
            line.pk,
            line.msisdn,
            line.state,
            line.kind,
            line.plan.name,
            line.period_end,
            line.auto_renew,
            self.renewal_method,
            self.days_left,
            tuple(self.allowances),
            self.next_step,
        )


def renewal_method(line: Line) -> str:
    """The card that renews `line` by itself, as its card shows it ("" when none is set)."""
    if not line.auto_renew:
        return ""
    try:
        setting = line.renew_setting
    except ObjectDoesNotExist:
        return ""
    return str(setting.payment_method) if setting.payment_method else ""


def _when(moment: dt.datetime) -> str:
    return formats.date_format(timezone.localtime(moment), "DATE_FORMAT")


def next_step(line: Line, deadlines: lifecycle.Deadlines) -> str:
    """What happens next in the lifecycle, in one sentence."""
    kept = _when(deadlines.recycles_at)
    if line.state == LineState.ACTIVE:
        if line.auto_renew:
            return _(
                "Auto-renew is on: we renew this line on %(end)s. Your number is kept until "
                "%(kept)s even if a renewal fails."
            ) % {"end": _when(deadlines.period_end), "kept": kept}
        return _(
            "Renew before %(end)s to keep your service. If you don't, your line enters a grace "
            "period until %(grace)s, and your number is kept until %(kept)s."
        ) % {
            "end": _when(deadlines.period_end),
            "grace": _when(deadlines.grace_ends_at),
            "kept": kept,
        }
    if line.state == LineState.GRACE:
        return _(
            "Your plan ended. Renew before %(grace)s to avoid suspension; your number is kept "
            "until %(kept)s."
        ) % {"grace": _when(deadlines.grace_ends_at), "kept": kept}
    if line.state == LineState.SUSPENDED:
        return _(
            "Your line is suspended. Renew to bring it back; your number is kept until %(kept)s."
        ) % {"kept": kept}
    return _("This line is closed and its number was released.")


def summarize(line: Line, *, now: dt.datetime) -> LineSummary:
    config = lifecycle.current_config()
    limits = lifecycle.deadlines(line.period_end, config)
    seconds = (line.period_end - now).total_seconds()
    days_left = max(0, math.ceil(seconds / 86400))
    buckets = getattr(line, "current_buckets", None)
    if buckets is None:
        buckets = list(line.buckets.filter(starts_at__lte=now, expires_at__gt=now))
    return LineSummary(line, days_left, limits, allowances(buckets), next_step(line, limits))


NAMED_ITEMS = frozenset({"plan", "addon"})


@dataclass(frozen=True)
class PriceLine:
    label: str
    amount: str


@dataclass(frozen=True)
class PriceView:
    """A quote laid out: items, discount, each tax, total."""

    items: list[PriceLine]
    subtotal: str
    discount: str | None
    taxes: list[PriceLine]
    total: str
    total_cents: int
    coupon_code: str


def price_view(quote: pricing.Quote, *, names: Mapping[str, str] | None = None) -> PriceView:
    """The quote laid out; `names` gives a plan's or add-on's name in the page's language
    (the quote describes items in the subscriber's stored language, for the receipt)."""
    names = names or {}
    items = []
    for item in quote.items:
        label = names.get(item.code, "") if item.kind in NAMED_ITEMS else ""
        label = label or item.description
        if item.quantity != 1:
            label = f"{label} \u00d7 {item.quantity}"
        items.append(PriceLine(label, format_cents(item.amount_cents)))
    taxes = []
    language = get_language() or "en"
    for tax in quote.taxes:
        label = str(TAX_NAMES.get(tax.name.upper(), tax.name))
        rate = format_rate(tax.rate, language=language)
        if rate:
            label = _("%(tax)s (%(rate)s)") % {"tax": label, "rate": rate}
        taxes.append(PriceLine(label, format_cents(tax.amount_cents)))
    return PriceView(
        items=items,
        subtotal=format_cents(quote.subtotal_cents),
        discount=format_cents(-quote.discount_cents) if quote.discount_cents else None,
        taxes=taxes,
        total=format_cents(quote.total_cents),
        total_cents=quote.total_cents,
        coupon_code=quote.coupon_code,
    )
