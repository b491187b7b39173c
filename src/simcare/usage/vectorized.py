"""Rating a frame of records with polars expressions that provably give what
`rating.rate_record` gives record by record (the property tests compare both).

`rating` stays the reference of the rules. Three kinds of records are rated here
as columns, because for them `rate_record` returns before it reads or moves
any state (buckets, wallet, debt, bars), so their results depend on nothing
but the record and the line's dates, and the order they are rated in does not
matter:

- a line not in service at the record's time (except incoming in grace):
  `rejected_state`;
- incoming domestic voice/SMS in service or grace: `free`.

The rest go to the buckets, then to the wallet; what a bucket gives does not
depend on money (a barred line's usage still takes from its buckets), so the
two steps are done one after the other.

Buckets. Per line and kind, in rating order (per wallet by started_at, ties in
file order: restricted to one line that is its records by time, then file
order), a record's *target* is the first bucket in consumption order that
applies to it (kind, zone, valid at its time) and has room left at the start
of the frame (or is unlimited). The longest prefix of a line's records of one
kind in which every record has a target and the units aimed at each target so
far fit in its room takes all its units from its targets: that is what the
loop does with them (buckets before the target had no room at the start and
room only shrinks; the target has room for everything aimed at it up to and
including the record, since only records of this prefix took from it). A
record with no target gets nothing from the buckets wherever it is rated. The
records after a prefix (one that reaches a bucket's end, and every record of
its line and kind after it) go through `rating.take_from_buckets` one by one,
with the buckets as the prefix left them: those are few (a line's records of
one kind in the frame after its allowance runs out).

Wallet. What the buckets left is priced at the plan's rate; per wallet, in
rating order, running sums decide who pays, owes or is refused (`_settle`,
where the rule is spelled out). A wallet whose sums could leave 64 bits (or a
negative rate) is settled by `rating.settle` one record at a time.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from simcare.usage import rating

RATED_COLUMNS = list(rating.Rated._fields)
_REJECTED, _FREE, _BUCKETS = 0, 1, 2
# Records of more units (or rates of more cents) than this go through the loop: sums and
# products of the columns then stay far inside 64 bits, as Python's integers need no bound.
_SMALL = 1 << 31
_WIDE = 1 << 62  # a wallet's sums stay below this, or it is settled by the loop
_RECORD_SCHEMA = {
    "position": pl.Int64,
    "line_id": pl.Int64,
    "subscriber_id": pl.Int64,
    "kind": pl.String,
    "zone": pl.String,
    "direction": pl.String,
    "ts": pl.Int64,
    "quantity": pl.Int64,
}


def _lines(accounts: dict[int, rating.Account], line_ids: list[int]) -> pl.DataFrame:
    chosen = [accounts[line_id] for line_id in line_ids]
    return pl.DataFrame(
        {
            "line_id": line_ids,
            "activated": [a.activated_at for a in chosen],
            "period_end": [a.period_end for a in chosen],
            "grace_ends": [a.grace_ends_at for a in chosen],
            "closed": [a.is_closed for a in chosen],
            "includes_us": [a.rates.includes_us for a in chosen],
            "barred": [a.is_barred for a in chosen],
            "rates_key": [id(a.rates) for a in chosen],
        },
        schema={
            "line_id": pl.Int64,
            "activated": pl.Int64,
            "period_end": pl.Int64,
            "grace_ends": pl.Int64,
            "closed": pl.Boolean,
            "includes_us": pl.Boolean,
            "barred": pl.Boolean,
            "rates_key": pl.Int64,
        },
    )


def _buckets(
    accounts: dict[int, rating.Account], line_ids: list[int]
) -> tuple[pl.DataFrame, dict[int, rating.Bucket]]:
    """The lines' buckets as rows (their index in consumption order, room at this moment)."""
    rows = [
        (line_id, index, bucket)
        for line_id in line_ids
        for index, bucket in enumerate(accounts[line_id].buckets)
    ]
    by_id = {bucket.id: bucket for _line, _index, bucket in rows}
    columns: dict[str, list[Any]] = {
        "line_id": [row[0] for row in rows],
        "b_index": [row[1] for row in rows],
        "b_id": [row[2].id for row in rows],
        "kind": [row[2].kind for row in rows],
        "b_zone": [row[2].zone for row in rows],
        "unlimited": [row[2].total is None for row in rows],
        "room": [0 if b.total is None else b.total - b.used for _l, _i, b in rows],
        "starts": [row[2].starts_at for row in rows],
        "expires": [row[2].expires_at for row in rows],
    }
    frame = pl.DataFrame(
        columns,
        schema={
            "line_id": pl.Int64,
            "b_index": pl.Int64,
            "b_id": pl.Int64,
            "kind": pl.String,
            "b_zone": pl.String,
            "unlimited": pl.Boolean,
            "room": pl.Int64,
            "starts": pl.Int64,
            "expires": pl.Int64,
        },
    )
    return frame, by_id


def _units() -> pl.Expr:
    quantity = pl.col("quantity")
    return (
        pl.when(pl.col("kind") == rating.DATA)
        .then((quantity + (rating.BYTES_PER_KB - 1)) // rating.BYTES_PER_KB)
        .when(pl.col("kind") == rating.VOICE)
        .then((quantity + (rating.SECONDS_PER_MINUTE - 1)) // rating.SECONDS_PER_MINUTE)
        .otherwise(quantity)
    )


def _path() -> pl.Expr:
    col = pl.col
    ts = col("ts")
    incoming = (col("direction") == rating.IN) & (col("kind") != rating.DATA)
    in_service = (col("activated") <= ts) & (ts < col("period_end")) & ~col("closed")
    grace = (
        ~col("closed")
        & (ts >= col("activated"))
        & (ts >= col("period_end"))
        & (ts < col("grace_ends"))
    )
    return (
        pl.when(~in_service & ~(incoming & grace))
        .then(pl.lit(_REJECTED))
        .when(incoming & (col("zone") == rating.CA))
        .then(pl.lit(_FREE))
        .otherwise(pl.lit(_BUCKETS))
    )


def _targets(bucketed: pl.DataFrame, buckets: pl.DataFrame) -> pl.DataFrame:
    """The bucket records (rating order) with their target: the first bucket in consumption
    order that applies and has room at the start of the frame (`target` its index, `b_id`,
    `unlimited`, `room`; null when none has)."""
    col = pl.col
    candidates = (
        bucketed.select("position", "line_id", "kind", "zone", "ts", "includes_us")
        .join(buckets, on=["line_id", "kind"], how="inner")
        .filter(
            (
                (col("b_zone") == col("zone"))
                | ((col("zone") == rating.US) & col("includes_us") & (col("b_zone") == rating.CA))
            )
            & (col("starts") <= col("ts"))
            & (col("ts") < col("expires"))
            & (col("unlimited") | (col("room") > 0))
        )
        .group_by("position")
        .agg(target=col("b_index").min())
    )
    return bucketed.join(candidates, on="position", how="left", maintain_order="left").join(
        buckets.select("line_id", col("b_index").alias("target"), "b_id", "unlimited", "room"),
        on=["line_id", "target"],
        how="left",
        maintain_order="left",
    )


def _rates(accounts: dict[int, rating.Account], line_ids: list[int]) -> pl.DataFrame:
    """Each line's overage rate per (kind, zone), as `Rates.for_zone` gives it (lines of one
    plan share one Rates object: one set of rows per plan, joined by `rates_key`)."""
    plans = {id(accounts[line_id].rates): accounts[line_id].rates for line_id in line_ids}
    rows = [
        (key, kind, zone, rates.for_zone(kind, zone))
        for key, rates in plans.items()
        for kind in rating.KINDS
        for zone in rating.ZONES
    ]
    return pl.DataFrame(
        rows,
        schema={"rates_key": pl.Int64, "kind": pl.String, "zone": pl.String, "rate": pl.Int64},
        orient="row",
    )


def rate_frame(
    records: pl.DataFrame,
    accounts: dict[int, rating.Account],
    wallets: dict[int, rating.Wallet],
) -> pl.DataFrame:
    """Rate a frame: `records` has position (file order, unique), line_id, subscriber_id, kind,
    zone, direction (out/in), ts (micros) and quantity; `accounts` by line id, `wallets` by
    subscriber id, both updated as `rate_record` updates them. Returns position and the
    fields of `rating.Rated`, sorted by position; the same as rating each wallet's records
    with `rating.rate_record` in rating order (the property tests compare both)."""
    col = pl.col
    line_ids = records.get_column("line_id").unique().sort().to_list()
    frame = (
        records.sort("subscriber_id", "ts", "position")
        .join(_lines(accounts, line_ids), on="line_id", how="left", maintain_order="left")
        .with_columns(units=_units(), path=_path())
    )
    buckets, by_id = _buckets(accounts, line_ids)
    targeted = _targets(frame.filter(col("path") == _BUCKETS), buckets)
    small = col("units") < _SMALL

    # Records with no target take nothing from the buckets whenever they are rated (no room
    # at the start of the frame, and room only shrinks): all their units are left for the
    # wallet, and they do not end the prefix of their line and kind; the first record with a
    # target that does not fit does.
    untargeted = targeted.filter(col("target").is_null())
    aimed = col("units").cum_sum().over("line_id", "target")
    fits = (small & (col("unlimited") | (aimed <= col("room")))).fill_null(False)
    rest = targeted.filter(col("target").is_not_null()).with_columns(
        fast=fits.cast(pl.Int8).cum_min().over("line_id", "kind") == 1
    )

    # The prefix: each bucket takes what was aimed at it (the same sums the loop adds up).
    taken = rest.filter(col("fast")).group_by("b_id").agg(col("units").sum())
    for bucket_id, units in taken.iter_rows():
        by_id[bucket_id].used += units

    zero = pl.lit(0, dtype=pl.Int64)
    units = col("units")
    path = col("path")
    simple = pl.concat(
        [frame.filter(path != _BUCKETS), rest.filter(col("fast")).select(frame.columns)]
    ).select(
        "position",
        units=units,
        bucket_units=pl.when(path == _BUCKETS).then(units).otherwise(zero),
        overage_units=zero,
        free_units=pl.when(path == _FREE).then(units).otherwise(zero),
        rejected_units=pl.when(path == _REJECTED).then(units).otherwise(zero),
        charged_cents=zero,
        debt_cents=zero,
        outcome=pl.when(path == _REJECTED)
        .then(pl.lit(rating.REJECTED_STATE))
        .when(path == _FREE)
        .then(pl.lit(rating.FREE))
        .otherwise(pl.lit(rating.RATED)),
    )
    # The rest of each line and kind after its prefix: through the buckets one by one, in
    # rating order (what a bucket gives does not depend on money); the untargeted get none.
    after = rest.filter(~col("fast")).select(frame.columns).sort("subscriber_id", "ts", "position")
    left = pl.concat(
        [
            untargeted.select(frame.columns).with_columns(remaining=units),
            after.with_columns(remaining=_take(after, accounts)),
        ]
    ).sort("subscriber_id", "ts", "position")
    return pl.concat([simple, _settle(left, accounts, wallets, line_ids)]).sort("position")


def _take(after: pl.DataFrame, accounts: dict[int, rating.Account]) -> pl.Series:
    """What each record leaves after the buckets, by `rating.take_from_buckets` (in order)."""
    take = rating.take_from_buckets
    columns = [after.get_column(name).to_list() for name in ("line_id", "kind", "zone", "ts")]
    left = [
        take(accounts[line_id], kind, zone, ts, units)
        for line_id, kind, zone, ts, units in zip(
            *columns, after.get_column("units").to_list(), strict=True
        )
    ]
    return pl.Series("remaining", left, dtype=pl.Int64)


def _settle(
    left: pl.DataFrame,
    accounts: dict[int, rating.Account],
    wallets: dict[int, rating.Wallet],
    line_ids: list[int],
) -> pl.DataFrame:
    """The money of the records past the buckets (`left`: rating order, `remaining` the units
    the buckets did not take), as `rating.settle` does it one by one, per wallet in order:

    A record's cost is its remaining units at the plan's rate. Costs of 0 move nothing. Per
    wallet, costly records of lines barred at the start are rejected (and pay nothing); the
    others are paid in full while their running sum stays within what the wallet had. The
    first that goes past it pays what was left (if anything) and owes the rest, which bars
    its line; from then on the wallet has nothing, so each line's first costly record owes
    its whole cost (barring the line) and its later costly records are rejected.

    A wallet with a negative rate or sums that could leave 64 bits goes through the loop."""
    col = pl.col
    zero = pl.lit(0, dtype=pl.Int64)
    available = pl.DataFrame(
        {
            "subscriber_id": list(wallets),
            "available": [
                w.available_cents if abs(w.available_cents) < _WIDE else None
                for w in wallets.values()
            ],
        },
        schema={"subscriber_id": pl.Int64, "available": pl.Int64},
    )
    priced = (
        left.join(
            _rates(accounts, line_ids),
            on=["rates_key", "kind", "zone"],
            how="left",
            maintain_order="left",
        )
        .join(available, on="subscriber_id", how="left", maintain_order="left")
        .with_columns(
            cost=pl.when(col("remaining") == 0)
            .then(zero)
            .when((col("remaining") >= _SMALL) | (col("rate") < 0) | (col("rate") >= _SMALL))
            .then(pl.lit(None, dtype=pl.Int64))
            .when(col("kind") == rating.DATA)
            .then((col("remaining") * col("rate") + (rating.KB_PER_MB - 1)) // rating.KB_PER_MB)
            .otherwise(col("remaining") * col("rate"))
        )
    )
    wide = (
        col("cost").is_null().any()
        | (col("cost").max().cast(pl.Float64) * pl.len() >= float(_WIDE))
        | col("available").is_null().any()
    ).over("subscriber_id")
    priced = priced.with_columns(loop=wide)
    looped = _settle_loop(priced.filter(col("loop")), accounts, wallets)
    fast = priced.filter(~col("loop"))

    costly = col("cost") > 0
    eligible = costly & ~col("barred")
    eligible_cost = pl.when(eligible).then(col("cost")).otherwise(zero)
    spent = eligible_cost.cum_sum().over("subscriber_id")
    fast = fast.with_columns(spent=spent, short=eligible & (spent > col("available")))
    fast = fast.with_columns(
        after_break=col("short").cast(pl.Int8).cum_max().over("subscriber_id") == 1
    )
    owing = eligible & col("after_break")
    first_owing = owing & (owing.cast(pl.Int64).cum_sum().over("line_id") == 1)
    at_break = col("short") & (col("short").cast(pl.Int64).cum_sum().over("subscriber_id") == 1)
    paid_at_break = pl.max_horizontal(zero, col("available") - (col("spent") - col("cost")))
    fast = fast.with_columns(
        paid=pl.when(eligible & ~col("after_break"))
        .then(col("cost"))
        .when(at_break)
        .then(paid_at_break)
        .otherwise(zero),
        owes=first_owing,
        rejected=costly & (col("barred") | (owing & ~first_owing)),
    ).with_columns(owed=pl.when(col("owes")).then(col("cost") - col("paid")).otherwise(zero))
    settled = fast.select(
        "position",
        units=col("units"),
        bucket_units=col("units") - col("remaining"),
        overage_units=pl.when(col("rejected")).then(zero).otherwise(col("remaining")),
        free_units=zero,
        rejected_units=pl.when(col("rejected")).then(col("remaining")).otherwise(zero),
        charged_cents=col("paid"),
        debt_cents=col("owed"),
        outcome=pl.when(col("rejected"))
        .then(pl.lit(rating.REJECTED_BARRED))
        .otherwise(pl.lit(rating.RATED)),
    )
    # The state the loop would have left: the wallets' money, the lines' debt and bars.
    for subscriber_id, paid in (
        fast.group_by("subscriber_id").agg(col("paid").sum()).filter(col("paid") != 0).iter_rows()
    ):
        wallet = wallets[subscriber_id]
        wallet.available_cents -= paid
        wallet.charged_cents += paid
    for line_id, owed in (
        fast.filter(col("owes")).group_by("line_id").agg(col("owed").sum()).iter_rows()
    ):
        account = accounts[line_id]
        account.debt_cents += owed
        account.is_barred = True
        account.newly_barred = True
    return pl.concat([settled, looped])


def _settle_loop(
    priced: pl.DataFrame, accounts: dict[int, rating.Account], wallets: dict[int, rating.Wallet]
) -> pl.DataFrame:
    """The money of these records (rating order) by `rating.settle`, one by one."""
    settle = rating.settle
    columns = [
        priced.get_column(name).to_list()
        for name in ("line_id", "subscriber_id", "kind", "zone", "remaining")
    ]
    results = [
        settle(accounts[line_id], wallets[subscriber_id], kind, zone, remaining)
        if remaining
        else (0, 0, 0, 0, rating.RATED)
        for line_id, subscriber_id, kind, zone, remaining in zip(*columns, strict=True)
    ]
    units = priced.get_column("units")
    return pl.DataFrame(
        {
            "position": priced.get_column("position"),
            "units": units,
            "bucket_units": units - priced.get_column("remaining"),
            "overage_units": [r[0] for r in results],
            "free_units": pl.Series([0] * len(results), dtype=pl.Int64),
            "rejected_units": [r[1] for r in results],
            "charged_cents": [r[2] for r in results],
            "debt_cents": [r[3] for r in results],
            "outcome": [r[4] for r in results],
        },
        schema={
            name: pl.String if name == "outcome" else pl.Int64
            for name in ["position", *RATED_COLUMNS]
        },
    )
