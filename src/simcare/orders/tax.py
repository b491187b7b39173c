"""Canadian sales tax on a sale, by the buyer's province (pure rules, no I/O).

Rates are configuration (settings.SIMCARE_SALES_TAX, overridable with the
SIMCARE_SALES_TAX_JSON environment variable): province code → list of
[name, percent as a decimal string]. Each tax is computed on the discounted
subtotal and rounded half up to the cent, tax by tax, as a receipt shows them.

Example: 3000 cents in QC → GST 5% = 150, QST 9.975% = 299.25 → 299; total tax 449.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

# Rates in force for telecommunication services on 2026-12-01 (GST 5%; HST where
# harmonised; PST/RST/QST where the province taxes telecom separately).
DEFAULT_RATES: dict[str, list[list[str]]] = {
    "AB": [["GST", "5"]],
    "BC": [["GST", "5"], ["PST", "7"]],
    "MB": [["GST", "5"], ["RST", "7"]],
    "NB": [["HST", "15"]],
    "NL": [["HST", "15"]],
    "NS": [["HST", "14"]],
    "NT": [["GST", "5"]],
    "NU": [["GST", "5"]],
    "ON": [["HST", "13"]],
    "PE": [["HST", "15"]],
    "QC": [["GST", "5"], ["QST", "9.975"]],
    "SK": [["GST", "5"], ["PST", "6"]],
    "YT": [["GST", "5"]],
}


@dataclass(frozen=True)
class TaxLine:
    name: str
    rate: str
    amount_cents: int

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "rate": self.rate, "amount_cents": self.amount_cents}


class UnknownProvince(ValueError):
    """A province code the tax table does not know: a configuration error, not the buyer's."""


def taxes_for(
    amount_cents: int, province: str, rates: Mapping[str, Sequence[Sequence[str]]]
) -> list[TaxLine]:
    """The tax lines on amount_cents (≥ 0) sold to a buyer in province."""
    if amount_cents < 0:
        raise ValueError("a taxable amount is never negative")
    table = rates.get(province.upper())
    if table is None:
        raise UnknownProvince(province)
    lines = []
    for name, rate in table:
        amount = (Decimal(amount_cents) * Decimal(rate) / 100).quantize(
            Decimal(1), rounding=ROUND_HALF_UP
        )
        lines.append(TaxLine(name=name, rate=rate, amount_cents=int(amount)))
    return lines
