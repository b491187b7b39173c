"""Rating: what one usage record takes from buckets, the wallet and the debt (30-usage.md).

Pure rules, no I/O: the importer loads the accounts (lines, buckets, wallets)
of a batch, calls `rate_wallet` once per wallet with that wallet's records,
and writes the outcome set-based. Everything here is plain integers:

- units: data in KB (1 KB = 1024 bytes, rounded up per record), voice in
  minutes (rounded up per call), SMS in messages;
- money in cents; a data rate is cents per MB (1024 KB), so a record's data
  overage costs ceil(KB * rate / 1024) cents, rounded up once per record;
- times in whole microseconds since 1970 UTC (`micros`): integers compare
  several times faster than datetimes, and the importer rates millions.

Per record, in this order:

1. No service: a line that is not `active` at `started_at` (derived from its
   period and the lifecycle deadlines, so a sweep that has not run yet does
   not matter) gets nothing: outgoing usage in grace, anything while
   suspended, closed or before activation is `rejected_state`. Incoming
   usage in grace is served (grace is "incoming only").
2. Incoming domestic (`in`, zone CA, voice or SMS) is free.
3. Buckets: of the record's kind, valid at `started_at`, covering its zone
   (CA buckets for CA; US buckets for US, and the CA buckets too when the
   plan includes the US; INTL buckets for INTL); add-ons soonest-expiring
   first, then the plan's. Unlimited buckets (total None) take everything.
4. Overage: the rest at the plan's rate for the zone (CA overage rates, or
   the US / INTL roaming rates; US at the CA rate when the plan includes
   it), from the wallet down to its floor (-overdraft limit). What the
   wallet cannot pay is debt on the record and bars the line; a barred line
   gets no chargeable usage: the part that would cost money is
   `rejected_barred` (buckets still serve it).

Conservation, per record and so per line: bucket + overage + free + rejected
= units, and the wallet moves by exactly the sum of charged_cents.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple

DATA: Final = "data"
VOICE: Final = "voice"
SMS: Final = "sms"
KINDS: Final = (DATA, VOICE, SMS)

CA: Final = "CA"
US: Final = "US"
INTL: Final = "INTL"
ZONES: Final = (CA, US, INTL)

OUT: Final = "out"
IN: Final = "in"

PLAN: Final = "plan"
ADDON: Final = "addon"

RATED: Final = "rated"
FREE: Final = "free"
REJECTED_STATE: Final = "rejected_state"
REJECTED_BARRED: Final = "rejected_barred"

BYTES_PER_KB: Final = 1024
KB_PER_MB: Final = 1024
SECONDS_PER_MINUTE: Final = 60

THRESHOLDS: Final = (80, 100)
EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MICROSECOND: Final = dt.timedelta(microseconds=1)


def units_for(kind: str, quantity: int) -> int:
    """Rated units of a record: data bytes → KB, voice seconds → minutes (both rounded up)."""
    if kind == DATA:
        return -(-quantity // BYTES_PER_KB)
    if kind == VOICE:
        return -(-quantity // SECONDS_PER_MINUTE)
    return quantity


def overage_cents(kind: str, units: int, rate: int) -> int:
    """What `units` beyond the buckets cost at `rate` (cents per MB for data, else per unit)."""
    if kind == DATA:
        return -(-units * rate // KB_PER_MB)
    return units * rate


def micros(moment: dt.datetime) -> int:
    """An aware datetime as whole microseconds since 1970-01-01 UTC, the time rating works in."""
    return (moment - EPOCH) // MICROSECOND


@dataclass(frozen=True, slots=True)
class Rates:
    """A plan's prices beyond its allowances, in cents: (kind, zone) → per MB / minute / SMS."""

    cents: dict[tuple[str, str], int]
    includes_us: bool = False

    def for_zone(self, kind: str, zone: str) -> int:
        if zone == US and self.includes_us:
            zone = CA
        return self.cents.get((kind, zone), 0)


@dataclass(slots=True)
class Bucket:
    """An allowance as rating sees it; `used` moves as records are rated. Times in micros."""

    id: int
    kind: str
    zone: str
    source: str
    total: int | None
    used: int
    starts_at: int
    expires_at: int

    def remaining(self) -> int | None:
        return None if self.total is None else self.total - self.used


def consumption_order(buckets: Iterable[Bucket]) -> list[Bucket]:
    """Add-ons expiring soonest first, then the plan's buckets (by expiry as well)."""
    return sorted(buckets, key=lambda b: (b.source != ADDON, b.expires_at, b.id))


@dataclass(slots=True)
class Account:
    """One line as rating sees it (times in micros).

    `activated_at` .. `period_end` is service; then grace until
    `grace_ends_at`, suspended until `suspension_ends_at`, closed after (or
    when `is_closed`). `buckets` must be in consumption_order.
    """

    line_id: int
    rates: Rates
    activated_at: int
    period_end: int
    grace_ends_at: int
    suspension_ends_at: int
    buckets: list[Bucket]
    is_closed: bool = False
    is_barred: bool = False
    newly_barred: bool = False
    debt_cents: int = 0

    def service_at(self, moment: int) -> str:
        if self.is_closed or moment < self.activated_at:
            return "none"
        if moment < self.period_end:
            return "active"
        if moment < self.grace_ends_at:
            return "grace"
        if moment < self.suspension_ends_at:
            return "suspended"
        return "none"


@dataclass(slots=True)
class Wallet:
    """What the subscriber's wallet can still pay: balance + overdraft limit, in cents."""

    available_cents: int
    charged_cents: int = 0


class Usage(NamedTuple):
    """One record to rate; `position` is the caller's handle to match the result."""

    position: int
    line_id: int
    kind: str
    zone: str
    direction: str
    started_at: int
    quantity: int


class Rated(NamedTuple):
    """What rating did with one record; `rate_record` returns these fields as a plain tuple."""

    units: int
    bucket_units: int
    overage_units: int
    free_units: int
    rejected_units: int
    charged_cents: int
    debt_cents: int
    outcome: str


RatedFields = tuple[int, int, int, int, int, int, int, str]


# Positional fields and a plain tuple: the reference is run over millions of records by the
# property tests (the importer rates as columns, vectorized.py, with the two steps below).
def rate_record(  # noqa: PLR0917
    account: Account,
    wallet: Wallet,
    kind: str,
    zone: str,
    direction: str,
    started_at: int,
    quantity: int,
) -> RatedFields:
    """Rate one record against the account's buckets and the wallet (both are updated).

    Returns the fields of `Rated` as a plain tuple (built several times faster than the
    named one). The rules' reference: `vectorized.rate_frame` gives the same, as columns.
    """
    if kind == DATA:
        units = -(-quantity // BYTES_PER_KB)
    elif kind == VOICE:
        units = -(-quantity // SECONDS_PER_MINUTE)
    else:
        units = quantity
    incoming = direction == IN and kind != DATA
    in_service = account.activated_at <= started_at < account.period_end and not account.is_closed
    if not in_service and not (incoming and account.service_at(started_at) == "grace"):
        return (units, 0, 0, 0, units, 0, 0, REJECTED_STATE)
    if incoming and zone == CA:
        return (units, 0, 0, units, 0, 0, 0, FREE)

    remaining = take_from_buckets(account, kind, zone, started_at, units)
    bucket_units = units - remaining
    if remaining == 0:
        return (units, bucket_units, 0, 0, 0, 0, 0, RATED)
    overage, rejected, paid, owed, outcome = settle(account, wallet, kind, zone, remaining)
    return (units, bucket_units, overage, 0, rejected, paid, owed, outcome)


def take_from_buckets(account: Account, kind: str, zone: str, started_at: int, units: int) -> int:
    """Take `units` of a record from the account's buckets (step 3); returns what is left.

    What the buckets give does not depend on money: a barred line's usage still takes
    from them, so this part of rating is the same whatever the wallet holds."""
    remaining = units
    roaming_at_home = zone == US and account.rates.includes_us
    for bucket in account.buckets:
        if (
            bucket.kind != kind
            or not (bucket.zone == zone or (roaming_at_home and bucket.zone == CA))
            or not (bucket.starts_at <= started_at < bucket.expires_at)
        ):
            continue
        total = bucket.total
        if total is None:
            bucket.used += remaining
            return 0
        room = total - bucket.used
        if room <= 0:
            continue
        if room >= remaining:
            bucket.used += remaining
            return 0
        bucket.used = total
        remaining -= room
    return remaining


def settle(
    account: Account, wallet: Wallet, kind: str, zone: str, remaining: int
) -> tuple[int, int, int, int, str]:
    """The units left after the buckets (step 4), at the plan's rate, from the wallet:
    (overage_units, rejected_units, charged_cents, debt_cents, outcome); the wallet, the
    debt and the bar move."""
    cost = overage_cents(kind, remaining, account.rates.for_zone(kind, zone))
    if cost > 0 and account.is_barred:
        return (0, remaining, 0, 0, REJECTED_BARRED)
    available = wallet.available_cents
    paid = cost if cost <= available else max(0, available)
    owed = cost - paid
    if paid:
        wallet.available_cents = available - paid
        wallet.charged_cents += paid
    if owed:
        account.debt_cents += owed
        account.is_barred = True
        account.newly_barred = True
    return (remaining, 0, paid, owed, RATED)


def rate_wallet(
    records: Iterable[Usage], accounts: dict[int, Account], wallet: Wallet
) -> list[tuple[int, Rated]]:
    """Rate one wallet's records: (position, result) in rating order, i.e. by started_at
    (stable for ties, so each line's records keep their file order at the same instant)."""
    ordered = sorted(records, key=lambda usage: usage.started_at)
    return [
        (
            usage.position,
            Rated(
                *rate_record(
                    accounts[usage.line_id],
                    wallet,
                    usage.kind,
                    usage.zone,
                    usage.direction,
                    usage.started_at,
                    usage.quantity,
                )
            ),
        )
        for usage in ordered
    ]


def threshold_crossed(total: int | None, used_before: int, used_after: int) -> int | None:
    """The highest threshold (80 or 100 percent) `used` crossed, or None.

    Both crossed at once (70% → 100%) gives 100 only: one message that says
    the allowance is gone beats two at the same moment.
    """
    if total is None or total <= 0 or used_after <= used_before:
        return None
    crossed = None
    for percent in THRESHOLDS:
        limit = total * percent
        if used_before * 100 < limit <= used_after * 100:
            crossed = percent
    return crossed


def conserved(rated: Sequence[Rated]) -> bool:
    """The conservation rule over a set of results: every unit went somewhere, exactly once."""
    return all(
        r.units == r.bucket_units + r.overage_units + r.free_units + r.rejected_units
        and r.units >= 0
        for r in rated
    )
