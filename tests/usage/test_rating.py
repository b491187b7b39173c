"""The pure rating rules (usage/rating.py): tables at every boundary, conservation as a property."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simcare.usage import rating
from simcare.usage.rating import (
    ADDON,
    CA,
    DATA,
    FREE,
    IN,
    INTL,
    OUT,
    PLAN,
    RATED,
    REJECTED_BARRED,
    REJECTED_STATE,
    SMS,
    US,
    VOICE,
    Account,
    Bucket,
    Rated,
    Rates,
    Usage,
    Wallet,
)

T0 = rating.micros(dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
DAY = 86_400 * 1_000_000
RATES = Rates(
    cents={
        (DATA, CA): 1,
        (VOICE, CA): 5,
        (SMS, CA): 10,
        (DATA, US): 5,
        (VOICE, US): 25,
        (SMS, US): 25,
        (DATA, INTL): 20,
        (VOICE, INTL): 100,
        (SMS, INTL): 50,
    }
)


def bucket(
    bucket_id: int,
    kind: str = DATA,
    total: int | None = 100,
    *,
    used: int = 0,
    zone: str = CA,
    source: str = PLAN,
    starts: int = T0 - 10 * DAY,
    expires: int = T0 + 20 * DAY,
) -> Bucket:
    return Bucket(bucket_id, kind, zone, source, total, used, starts, expires)


def account(*buckets: Bucket, rates: Rates = RATES, barred: bool = False) -> Account:
    return Account(
        line_id=1,
        rates=rates,
        activated_at=T0 - 10 * DAY,
        period_end=T0 + 20 * DAY,
        grace_ends_at=T0 + 50 * DAY,
        suspension_ends_at=T0 + 110 * DAY,
        buckets=rating.consumption_order(buckets),
        is_barred=barred,
    )


def rate(
    acct: Account,
    wallet: Wallet,
    kind: str,
    quantity: int,
    *,
    zone: str = CA,
    direction: str = OUT,
    at: int = T0,
) -> Rated:
    return Rated(*rating.rate_record(acct, wallet, kind, zone, direction, at, quantity))


# --- rounding ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "quantity", "units"),
    [
        (DATA, 0, 0),
        (DATA, 1, 1),
        (DATA, 1023, 1),
        (DATA, 1024, 1),
        (DATA, 1025, 2),
        (DATA, 1024 * 1024, 1024),
        (DATA, 1024 * 1024 + 1, 1025),
        (VOICE, 0, 0),
        (VOICE, 1, 1),
        (VOICE, 59, 1),
        (VOICE, 60, 1),
        (VOICE, 61, 2),
        (VOICE, 3600, 60),
        (SMS, 1, 1),
        (SMS, 3, 3),
    ],
)
def test_units_round_up_per_record(kind: str, quantity: int, units: int) -> None:
    assert rating.units_for(kind, quantity) == units
    # given an unlimited bucket, when rated, then the record counts those units
    acct = account(bucket(1, kind, None))
    assert rate(acct, Wallet(0), kind, quantity).units == units


@pytest.mark.parametrize(
    ("kb", "cents_per_mb", "cents"),
    [(0, 1, 0), (1, 1, 1), (1024, 1, 1), (1025, 1, 2), (2048, 1, 2), (512, 10, 5), (513, 10, 6)],
)
def test_data_overage_is_cents_per_mb_rounded_up_per_record(
    kb: int, cents_per_mb: int, cents: int
) -> None:
    assert rating.overage_cents(DATA, kb, cents_per_mb) == cents


# --- buckets and their order ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("used", "quantity_kb", "bucket_units", "overage_units"),
    [
        (0, 99, 99, 0),
        (0, 100, 100, 0),  # exactly the remaining
        (0, 101, 100, 1),  # one over: split across bucket and overage
        (100, 1, 0, 1),  # already full
        (99, 1, 1, 0),
        (99, 2, 1, 1),
    ],
)
def test_bucket_boundaries(
    used: int, quantity_kb: int, bucket_units: int, overage_units: int
) -> None:
    plan_bucket = bucket(1, DATA, 100, used=used)
    acct = account(plan_bucket)
    wallet = Wallet(1_000)
    rated = rate(acct, wallet, DATA, quantity_kb * 1024)
    assert (rated.bucket_units, rated.overage_units) == (bucket_units, overage_units)
    assert plan_bucket.used == used + bucket_units
    assert rated.charged_cents == rating.overage_cents(DATA, overage_units, 1)
    assert wallet.available_cents == 1_000 - rated.charged_cents


def test_addons_expiring_soonest_go_first_then_the_plan() -> None:
    plan_bucket = bucket(1, DATA, 100, expires=T0 + 5 * DAY)
    later_addon = bucket(2, DATA, 10, source=ADDON, expires=T0 + 9 * DAY)
    sooner_addon = bucket(3, DATA, 10, source=ADDON, expires=T0 + 3 * DAY)
    acct = account(plan_bucket, later_addon, sooner_addon)
    assert [b.id for b in acct.buckets] == [3, 2, 1]

    rate(acct, Wallet(0), DATA, 5 * 1024)
    assert (sooner_addon.used, later_addon.used, plan_bucket.used) == (5, 0, 0)
    rate(acct, Wallet(0), DATA, 12 * 1024)
    assert (sooner_addon.used, later_addon.used, plan_bucket.used) == (10, 7, 0)
    rated = rate(acct, Wallet(0), DATA, 104 * 1024)
    assert (sooner_addon.used, later_addon.used, plan_bucket.used) == (10, 10, 100)
    assert (rated.bucket_units, rated.overage_units) == (103, 1)


@pytest.mark.parametrize(
    ("starts", "expires", "served"),
    [
        (T0 - DAY, T0 + DAY, True),
        (T0, T0 + DAY, True),  # valid from its start, inclusive
        (T0 + 1, T0 + DAY, False),  # not started yet
        (T0 - DAY, T0, False),  # expired at the record's time, exclusive
        (T0 - DAY, T0 + 1, True),
    ],
)
def test_a_bucket_serves_only_within_its_validity(starts: int, expires: int, served: bool) -> None:
    acct = account(bucket(1, VOICE, 10, starts=starts, expires=expires))
    rated = rate(acct, Wallet(100), VOICE, 60)
    assert rated.bucket_units == (1 if served else 0)
    assert rated.overage_units == (0 if served else 1)


def test_unlimited_bucket_takes_everything() -> None:
    acct = account(bucket(1, SMS, None))
    rated = rate(acct, Wallet(0), SMS, 1_000)
    assert (rated.bucket_units, rated.overage_units, rated.charged_cents) == (1_000, 0, 0)


def test_kinds_do_not_share_buckets() -> None:
    acct = account(bucket(1, DATA, 100))
    rated = rate(acct, Wallet(100), VOICE, 60)
    assert (rated.bucket_units, rated.overage_units, rated.charged_cents) == (0, 1, 5)


# --- zones -------------------------------------------------------------------------------------


def test_roaming_uses_the_zone_rate_not_the_domestic_buckets() -> None:
    acct = account(bucket(1, VOICE, 100))
    wallet = Wallet(1_000)
    us = rate(acct, wallet, VOICE, 120, zone=US)
    intl = rate(acct, wallet, VOICE, 60, zone=INTL)
    assert (us.bucket_units, us.overage_units, us.charged_cents) == (0, 2, 50)
    assert (intl.bucket_units, intl.overage_units, intl.charged_cents) == (0, 1, 100)
    assert wallet.available_cents == 850


def test_a_plan_that_includes_the_us_serves_us_usage_like_domestic() -> None:
    rates = Rates(cents=RATES.cents, includes_us=True)
    acct = account(bucket(1, VOICE, 1), rates=rates)
    rated = rate(acct, Wallet(1_000), VOICE, 120, zone=US)
    assert (rated.bucket_units, rated.overage_units, rated.charged_cents) == (1, 1, 5)


def test_a_roaming_addon_serves_its_zone_only() -> None:
    us_pass = bucket(2, DATA, 50, zone=US, source=ADDON)
    acct = account(bucket(1, DATA, 100), us_pass)
    rated_us = rate(acct, Wallet(0), DATA, 10 * 1024, zone=US)
    rated_intl = rate(acct, Wallet(0), DATA, 1024 * 1024, zone=INTL)
    assert rated_us.bucket_units == 10
    assert us_pass.used == 10
    assert rated_intl.bucket_units == 0
    assert rated_intl.debt_cents == 20


def test_incoming_domestic_is_free_incoming_roaming_is_not() -> None:
    acct = account(bucket(1, VOICE, 0))
    wallet = Wallet(1_000)
    domestic = rate(acct, wallet, VOICE, 600, direction=IN)
    roaming = rate(acct, wallet, VOICE, 60, zone=US, direction=IN)
    assert (domestic.outcome, domestic.free_units, domestic.charged_cents) == (FREE, 10, 0)
    assert (roaming.outcome, roaming.overage_units, roaming.charged_cents) == (RATED, 1, 25)


# --- line state --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "direction", "outcome"),
    [
        (T0 - 11 * DAY, OUT, REJECTED_STATE),  # before activation
        (T0 + 20 * DAY - 1, OUT, RATED),  # last instant of the period
        (T0 + 20 * DAY, OUT, REJECTED_STATE),  # grace: no outgoing
        (T0 + 20 * DAY, IN, FREE),  # grace: incoming still works
        (T0 + 50 * DAY, IN, REJECTED_STATE),  # suspended: nothing
        (T0 + 110 * DAY, IN, REJECTED_STATE),  # past recycling
    ],
)
def test_no_service_outside_active(at: int, direction: str, outcome: str) -> None:
    acct = account(bucket(1, VOICE, None, expires=T0 + 20 * DAY))
    wallet = Wallet(100)
    rated = rate(acct, wallet, VOICE, 90, direction=direction, at=at)
    assert rated.outcome == outcome
    if outcome == REJECTED_STATE:
        assert (rated.rejected_units, rated.bucket_units, rated.charged_cents) == (2, 0, 0)
        assert wallet.available_cents == 100


# --- wallet, debt, barring ---------------------------------------------------------------------


def test_a_short_wallet_pays_what_it_has_owes_the_rest_and_bars_the_line() -> None:
    acct = account(bucket(1, VOICE, 1))
    wallet = Wallet(12)
    rated = rate(acct, wallet, VOICE, 240)  # 4 minutes: 1 from the bucket, 3 x 5¢ overage
    assert (rated.bucket_units, rated.overage_units) == (1, 3)
    assert (rated.charged_cents, rated.debt_cents) == (12, 3)
    assert wallet.available_cents == 0
    assert wallet.charged_cents == 12
    assert acct.is_barred
    assert acct.newly_barred
    assert acct.debt_cents == 3


def test_a_wallet_exactly_enough_leaves_no_debt() -> None:
    acct = account(bucket(1, VOICE, 0))
    wallet = Wallet(15)
    rated = rate(acct, wallet, VOICE, 180)
    assert (rated.charged_cents, rated.debt_cents, acct.is_barred) == (15, 0, False)
    assert wallet.available_cents == 0


def test_a_barred_line_keeps_its_buckets_but_gets_nothing_chargeable() -> None:
    acct = account(bucket(1, DATA, 10), barred=True)
    wallet = Wallet(1_000)
    rated = rate(acct, wallet, DATA, 15 * 1024)
    assert rated.outcome == REJECTED_BARRED
    assert (rated.bucket_units, rated.overage_units, rated.rejected_units) == (10, 0, 5)
    assert wallet.available_cents == 1_000
    free = rate(acct, wallet, SMS, 1, direction=IN)
    assert free.outcome == FREE


def test_free_overage_rate_is_not_chargeable_so_barring_does_not_stop_it() -> None:
    rates = Rates(cents={(SMS, CA): 0})
    acct = account(rates=rates, barred=True)
    rated = rate(acct, Wallet(0), SMS, 2)
    assert (rated.outcome, rated.overage_units, rated.charged_cents) == (RATED, 2, 0)


def test_late_record_is_rated_against_the_buckets_as_they_stand() -> None:
    plan_bucket = bucket(1, VOICE, 2)
    acct = account(plan_bucket)
    wallet = Wallet(100)
    results = rating.rate_wallet(
        [
            Usage(0, 1, VOICE, CA, OUT, T0 + 10, 120),
            Usage(1, 1, VOICE, CA, OUT, T0, 60),  # earlier in time, later in the batch
        ],
        {1: acct},
        wallet,
    )
    by_position = dict(results)
    assert [position for position, _rated in results] == [1, 0]  # time order
    assert by_position[1].bucket_units == 1
    assert (by_position[0].bucket_units, by_position[0].overage_units) == (1, 1)


# --- thresholds --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "before", "after", "crossed"),
    [
        (100, 0, 79, None),
        (100, 0, 80, 80),
        (100, 79, 80, 80),
        (100, 80, 81, None),  # already past 80
        (100, 80, 99, None),
        (100, 99, 100, 100),
        (100, 70, 100, 100),  # both at once: one message
        (100, 100, 100, None),
        (None, 0, 10**9, None),  # unlimited
        (0, 0, 0, None),
        (5, 3, 4, 80),  # 4/5 = 80%
        (3, 2, 3, 100),
    ],
)
def test_threshold_crossed(total: int | None, before: int, after: int, crossed: int | None) -> None:
    assert rating.threshold_crossed(total, before, after) == crossed


# --- conservation, as a property ---------------------------------------------------------------

kinds = st.sampled_from((DATA, VOICE, SMS))
zones = st.sampled_from((CA, US, INTL))


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[dict[int, Account], Wallet, list[Usage]]:
    rates = Rates(
        cents={
            (kind, zone): draw(st.integers(0, 50))
            for kind in (DATA, VOICE, SMS)
            for zone in (CA, US, INTL)
        },
        includes_us=draw(st.booleans()),
    )
    accounts: dict[int, Account] = {}
    next_bucket = 1
    for line_id in range(1, draw(st.integers(1, 3)) + 1):
        buckets = []
        for kind in (DATA, VOICE, SMS):
            total = draw(st.one_of(st.none(), st.integers(0, 5_000)))
            buckets.append(
                bucket(
                    next_bucket,
                    kind,
                    total,
                    used=0 if total is None else draw(st.integers(0, total)),
                )
            )
            next_bucket += 1
        for _addon in range(draw(st.integers(0, 3))):
            total = draw(st.integers(0, 3_000))
            start = T0 + draw(st.integers(-5, 5)) * DAY
            buckets.append(
                bucket(
                    next_bucket,
                    draw(kinds),
                    total,
                    used=draw(st.integers(0, total)),
                    zone=draw(zones),
                    source=ADDON,
                    starts=start,
                    expires=start + draw(st.integers(1, 10)) * DAY,
                )
            )
            next_bucket += 1
        acct = account(*buckets, rates=rates, barred=draw(st.booleans()))
        acct.line_id = line_id
        accounts[line_id] = acct
    wallet = Wallet(draw(st.integers(0, 2_000)))
    records = [
        Usage(
            position,
            draw(st.sampled_from(sorted(accounts))),
            draw(kinds),
            draw(zones),
            draw(st.sampled_from((OUT, IN))),
            T0 + draw(st.integers(-12 * DAY, 60 * DAY)),
            draw(st.integers(0, 5_000_000)),
        )
        for position in range(draw(st.integers(0, 40)))
    ]
    return accounts, wallet, records


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_conservation_over_random_plans_addons_wallets_and_records(
    scenario: tuple[dict[int, Account], Wallet, list[Usage]],
) -> None:
    accounts, wallet, records = scenario
    used_before = {b.id: b.used for a in accounts.values() for b in a.buckets}
    start_available = wallet.available_cents

    results = rating.rate_wallet(records, accounts, wallet)

    assert sorted(position for position, _rated in results) == list(range(len(records)))
    by_position = dict(results)
    for line_id, acct in accounts.items():
        mine = [by_position[u.position] for u in records if u.line_id == line_id]
        imported = sum(
            rating.units_for(u.kind, u.quantity) for u in records if u.line_id == line_id
        )
        assert sum(r.units for r in mine) == imported
        # from buckets + overage (paid or owed) + free + rejected == imported
        assert (
            sum(r.bucket_units + r.overage_units + r.free_units + r.rejected_units for r in mine)
            == imported
        )
        # the buckets moved by exactly what the records took from them, never past their total
        assert sum(b.used - used_before[b.id] for b in acct.buckets) == sum(
            r.bucket_units for r in mine
        )
        for b in acct.buckets:
            assert b.used >= used_before[b.id]
            assert b.total is None or b.used <= b.total
        assert acct.debt_cents == sum(r.debt_cents for r in mine)
    rated = [r for _position, r in results]
    assert rating.conserved(rated)
    # the wallet moved by exactly the overage charged, and never below its floor
    charged = sum(r.charged_cents for r in rated)
    assert wallet.charged_cents == charged
    assert wallet.available_cents == start_available - charged >= 0
    for r in rated:
        assert r.charged_cents + r.debt_cents == 0 or r.overage_units > 0
        assert r.charged_cents >= 0
        assert r.debt_cents >= 0
