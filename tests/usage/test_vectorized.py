"""The vectorized rating of a frame (usage/vectorized.py) against the reference loop
(rating.rate_record in rating order): the same result for every record and the same
effects on every line and wallet, over random lines, buckets, wallets and streams,
rated in one frame or in several."""

from __future__ import annotations

import copy
import datetime as dt
import itertools

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from simcare.usage import rating, vectorized
from simcare.usage.rating import ADDON, CA, DATA, IN, INTL, OUT, PLAN, SMS, US, VOICE

T0 = rating.micros(dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
DAY = 86_400 * 1_000_000
kinds = st.sampled_from((DATA, VOICE, SMS))
zones = st.sampled_from((CA, CA, CA, US, INTL))  # mostly domestic, as traffic is
RATES = st.integers(0, 30)
WALLETS = st.integers(-5, 300)

Scenario = tuple[
    dict[int, rating.Account], dict[int, rating.Wallet], dict[int, int], list[tuple], list[int]
]


@st.composite
def scenarios(
    draw: st.DrawFn,
    *,
    rate: st.SearchStrategy[int] = RATES,
    wallet: st.SearchStrategy[int] = WALLETS,
    most_records: int = 60,
    subscribers: int = 2,
    largest: int = 10**15 - 1,
) -> Scenario:
    accounts: dict[int, rating.Account] = {}
    subscriber_of: dict[int, int] = {}
    next_bucket = 1
    for line_id in range(1, draw(st.integers(1, 5)) + 1):
        rates = rating.Rates(
            cents={(k, z): draw(rate) for k in (DATA, VOICE, SMS) for z in (CA, US, INTL)},
            includes_us=draw(st.booleans()),
        )
        buckets = []
        for _ in range(draw(st.integers(0, 8))):
            total = draw(st.one_of(st.none(), st.integers(0, 40), st.integers(0, 5_000)))
            start = T0 + draw(st.integers(-3, 1)) * DAY
            buckets.append(
                rating.Bucket(
                    next_bucket,
                    draw(kinds),
                    draw(zones),
                    draw(st.sampled_from((PLAN, ADDON))),
                    total,
                    0 if total is None else draw(st.integers(0, total + 5)),
                    start,
                    start + draw(st.integers(1, 8)) * DAY,
                )
            )
            next_bucket += 1
        activated = T0 + draw(st.integers(-4, 0)) * DAY
        end = activated + draw(st.integers(0, 8)) * DAY
        grace = end + draw(st.integers(0, 2)) * DAY
        accounts[line_id] = rating.Account(
            line_id=line_id,
            rates=rates,
            activated_at=activated,
            period_end=end,
            grace_ends_at=grace,
            suspension_ends_at=grace + DAY,
            buckets=rating.consumption_order(buckets),
            is_closed=draw(st.integers(0, 9)) == 0,
            is_barred=draw(st.booleans()),
        )
        subscriber_of[line_id] = draw(st.integers(1, subscribers))
    wallets = {
        subscriber: rating.Wallet(draw(wallet)) for subscriber in set(subscriber_of.values())
    }
    quantity = st.one_of(
        st.integers(0, 3), st.integers(0, 200), st.integers(0, 100_000), st.integers(0, largest)
    )
    records = [
        (
            draw(st.sampled_from(sorted(accounts))),
            draw(kinds),
            draw(zones),
            draw(st.sampled_from((OUT, IN))),
            T0 + draw(st.integers(-2 * DAY, 5 * DAY)) // draw(st.sampled_from((1, 10_000_000))),
            draw(quantity),
        )
        for _ in range(draw(st.integers(0, most_records)))
    ]
    frames = sorted(set(draw(st.lists(st.integers(0, len(records)), max_size=3))))
    return accounts, wallets, subscriber_of, records, frames


def _state(accounts: dict[int, rating.Account], wallets: dict[int, rating.Wallet]) -> object:
    return (
        {
            line_id: (
                [(b.id, b.used) for b in a.buckets],
                a.debt_cents,
                a.is_barred,
                a.newly_barred,
            )
            for line_id, a in accounts.items()
        },
        {s: (w.available_cents, w.charged_cents) for s, w in wallets.items()},
    )


def _frames(records: list[tuple], cuts: list[int]) -> list[range]:
    bounds = [0, *cuts, len(records)]
    return [range(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def _rates_like_the_loop(scenario: Scenario) -> None:
    accounts, wallets, subscriber_of, records, cuts = scenario
    ref_accounts, ref_wallets = copy.deepcopy(accounts), copy.deepcopy(wallets)

    expected: dict[int, tuple] = {}
    got: dict[int, tuple] = {}
    for frame in _frames(records, cuts):
        # the reference: each frame's records by wallet, time, then file order
        order = sorted(frame, key=lambda p: (subscriber_of[records[p][0]], records[p][4], p))
        for position in order:
            line_id, kind, zone, direction, ts, quantity = records[position]
            expected[position] = rating.rate_record(
                ref_accounts[line_id],
                ref_wallets[subscriber_of[line_id]],
                kind,
                zone,
                direction,
                ts,
                quantity,
            )
        rows = [(p, *records[p]) for p in frame]
        result = vectorized.rate_frame(
            pl.DataFrame(
                {
                    "position": [r[0] for r in rows],
                    "line_id": [r[1] for r in rows],
                    "subscriber_id": [subscriber_of[r[1]] for r in rows],
                    "kind": [r[2] for r in rows],
                    "zone": [r[3] for r in rows],
                    "direction": [r[4] for r in rows],
                    "ts": [r[5] for r in rows],
                    "quantity": [r[6] for r in rows],
                },
                schema=vectorized._RECORD_SCHEMA,
            ),
            accounts,
            wallets,
        )
        assert result.get_column("position").to_list() == list(frame)
        for row in result.iter_rows():
            got[row[0]] = tuple(row[1:])

    assert got == expected
    assert _state(accounts, wallets) == _state(ref_accounts, ref_wallets)


@settings(max_examples=400, deadline=None)
@given(scenarios())
def test_the_vectorized_path_rates_like_the_loop(scenario: Scenario) -> None:
    _rates_like_the_loop(scenario)


@settings(max_examples=150, deadline=None)
@given(scenarios(wallet=st.integers(-20, 2_000), most_records=150, subscribers=1))
def test_one_wallet_shared_by_lines_pays_runs_short_and_bars_like_the_loop(
    scenario: Scenario,
) -> None:
    """Many records of several lines on one wallet: paid in full, then the record that finds
    the wallet short pays the rest and owes the remainder, then each line's first costly
    record owes and its later ones are refused, as in the loop."""
    _rates_like_the_loop(scenario)


@settings(max_examples=150, deadline=None)
@given(
    scenarios(
        rate=st.one_of(st.integers(-5, 30), st.integers(2**30, 2**31 - 1)),
        wallet=st.one_of(st.integers(-5, 300), st.integers(2**61, 2**63 - 1)),
        largest=2**31 - 1,
    )
)
def test_wallets_the_columns_cannot_hold_go_through_the_loop_alike(scenario: Scenario) -> None:
    """Negative rates, costs whose sums would pass 64 bits, wallets past 2**62: those wallets
    are settled one record at a time by rating.settle, with the same results (each record's
    own figures still fit the database's 64-bit columns)."""
    _rates_like_the_loop(scenario)


def test_records_that_fit_take_their_bucket_and_the_first_past_its_end_pays() -> None:
    """Given a bucket of 10 SMS: the records that fit take it (rated as columns); the one
    past its end goes through the loop and pays; incoming domestic is free."""
    bucket = rating.Bucket(1, SMS, CA, PLAN, 10, 0, T0 - DAY, T0 + DAY)
    unlimited = rating.Bucket(2, VOICE, CA, PLAN, None, 0, T0 - DAY, T0 + DAY)
    account = rating.Account(
        line_id=1,
        rates=rating.Rates(cents={(SMS, CA): 7}),
        activated_at=T0 - DAY,
        period_end=T0 + DAY,
        grace_ends_at=T0 + 2 * DAY,
        suspension_ends_at=T0 + 3 * DAY,
        buckets=[bucket, unlimited],
    )
    wallet = rating.Wallet(100)
    stream = [(SMS, OUT, 4), (SMS, OUT, 6), (VOICE, OUT, 600), (SMS, OUT, 1), (SMS, IN, 1)]
    result = vectorized.rate_frame(
        pl.DataFrame(
            {
                "position": list(range(len(stream))),
                "line_id": [1] * len(stream),
                "subscriber_id": [1] * len(stream),
                "kind": [s[0] for s in stream],
                "zone": [CA] * len(stream),
                "direction": [s[1] for s in stream],
                "ts": [T0 + i for i in range(len(stream))],
                "quantity": [s[2] for s in stream],
            },
            schema=vectorized._RECORD_SCHEMA,
        ),
        {1: account},
        {1: wallet},
    )
    assert [tuple(row[1:]) for row in result.iter_rows()] == [
        (4, 4, 0, 0, 0, 0, 0, rating.RATED),
        (6, 6, 0, 0, 0, 0, 0, rating.RATED),
        (10, 10, 0, 0, 0, 0, 0, rating.RATED),
        (1, 0, 1, 0, 0, 7, 0, rating.RATED),
        (1, 0, 0, 1, 0, 0, 0, rating.FREE),
    ]
    assert (bucket.used, unlimited.used, wallet.available_cents) == (10, 10, 93)
