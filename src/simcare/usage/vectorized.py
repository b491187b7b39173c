"""Rating a frame of records with polars expressions where that provably gives what
`rating.rate_record` gives, and with `rate_record` itself for the rest.

`rating` stays the reference of the rules. Three kinds of records are rated here
as columns, because for them `rate_record` returns before it reads or moves
any state (buckets, wallet, debt, bars), so their results depend on nothing
but the record and the line's dates, and the order they are rated in does not
matter:

- a line not in service at the record's time (except incoming in grace):
  `rejected_state`;
- incoming domestic voice/SMS in service or grace: `free`.

The rest go to the buckets. For those, per line and kind, in rating order
(per wallet by started_at, ties in file order: restricted to one line that is
its records by time, then file order), a record's *target* is the first bucket
in consumption order that applies to it (kind, zone, valid at its time) and
has room left at the start of the frame (or is unlimited). The longest prefix
of a line's records of one kind in which every record has a target and the
units aimed at each target so far fit in its room is rated here: each of those
records takes all its units from its target (`rated`, no money). That is what
the loop does with them: buckets before the target in its order had no room at
the start and room only shrinks; the target has room for everything aimed at
it before and including the record, since only records of this prefix took
from it. Such records never touch the wallet, the debt or the bar, and other
kinds use other buckets, so taking them out of the loop changes nothing for
the records left in it. Those (a record that reaches a bucket's end or finds
no bucket with room, and every record of its line and kind after it) go
through `rate_record` in rating order, with the buckets as the prefix left them.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from simcare.usage import rating

RATED_COLUMNS = list(rating.Rated._fields)
# (kind, zone, direction) of a record as one integer for the loop: _COMBOS[code]. Python keeps
# these strings once, so the loop compares interned strings, not a new object per record.
_COMBOS = tuple(
    (kind, zone, direction)
    for kind in rating.KINDS
    for zone in rating.ZONES
    for direction in (rating.OUT, rating.IN)
)
_KIND_CODES = {kind: index for index, kind in enumerate(rating.KINDS)}
_ZONE_CODES = {zone: index for index, zone in enumerate(rating.ZONES)}
_COMBO_KIND = len(rating.ZONES) * 2
_REJECTED, _FREE, _BUCKETS = 0, 1, 2
# Records of more units (or rates of more cents) than this go through the loop: sums and
# products of the columns then stay far inside 64 bits, as Python's integers need no bound.
_SMALL = 1 << 31
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

    # A barred line's record with no bucket room at the start of the frame has none later
    # (room only shrinks) and stays barred: what costs money is rejected, a free rest is
    # overage of 0 cents. It moves nothing, so it is rated here whatever its place.
    idle = (
        targeted.filter(col("target").is_null() & col("barred") & small)
        .join(_rates(accounts, line_ids), on=["rates_key", "kind", "zone"], how="left")
        .filter(col("rate").abs() < _SMALL)
        .with_columns(
            cost=pl.when(col("kind") == rating.DATA)
            .then((col("units") * col("rate") + (rating.KB_PER_MB - 1)) // rating.KB_PER_MB)
            .otherwise(col("units") * col("rate"))
        )
    )
    rest = targeted.join(idle.select("position"), on="position", how="anti", maintain_order="left")
    # Records with no target skip every bucket whenever they are rated: they go to the loop
    # (the wallet) and do not end the prefix of their line and kind; the first record with a
    # target that does not fit does.
    untargeted = rest.filter(col("target").is_null())
    aimed = col("units").cum_sum().over("line_id", "target")
    fits = (small & (col("unlimited") | (aimed <= col("room")))).fill_null(False)
    rest = rest.filter(col("target").is_not_null()).with_columns(
        fast=fits.cast(pl.Int8).cum_min().over("line_id", "kind") == 1
    )

    # The prefix: each bucket takes what was aimed at it (the same sums the loop adds up).
    taken = rest.filter(col("fast")).group_by("b_id").agg(col("units").sum())
    for bucket_id, units in taken.iter_rows():
        by_id[bucket_id].used += units

    zero = pl.lit(0, dtype=pl.Int64)
    units = col("units")
    path = col("path")
    results = (
        "position",
        "units",
        "bucket_units",
        "overage_units",
        "free_units",
        "rejected_units",
        "charged_cents",
        "debt_cents",
        "outcome",
    )
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
    costly = col("cost") > 0
    barred = idle.select(
        "position",
        units=units,
        bucket_units=zero,
        overage_units=pl.when(costly).then(zero).otherwise(units),
        free_units=zero,
        rejected_units=pl.when(costly).then(units).otherwise(zero),
        charged_cents=zero,
        debt_cents=zero,
        outcome=pl.when(costly)
        .then(pl.lit(rating.REJECTED_BARRED))
        .otherwise(pl.lit(rating.RATED)),
    )
    looped = _loop(
        pl.concat([untargeted, rest.filter(~col("fast")).drop("fast")]).sort(
            "subscriber_id", "ts", "position"
        ),
        accounts,
        wallets,
    )
    return pl.concat([simple, barred, looped.select(results)]).sort("position")


def _loop(
    slow: pl.DataFrame, accounts: dict[int, rating.Account], wallets: dict[int, rating.Wallet]
) -> pl.DataFrame:
    """The records left, through `rating.rate_record`, in rating order."""
    col = pl.col
    inputs = slow.select(
        "position",
        "line_id",
        "subscriber_id",
        combo=(
            col("kind").replace_strict(_KIND_CODES, return_dtype=pl.Int64) * _COMBO_KIND
            + col("zone").replace_strict(_ZONE_CODES, return_dtype=pl.Int64) * 2
            + (col("direction") == rating.IN).cast(pl.Int64)
        ),
        ts="ts",
        quantity="quantity",
    )
    results: list[rating.RatedFields] = []
    rate = rating.rate_record
    combos = _COMBOS
    columns = [inputs.get_column(name).to_list() for name in inputs.columns]
    for _position, line_id, subscriber_id, combo, ts, quantity in zip(*columns, strict=True):
        kind, zone, direction = combos[combo]
        results.append(
            rate(accounts[line_id], wallets[subscriber_id], kind, zone, direction, ts, quantity)
        )
    schema = {
        name: pl.String if name == "outcome" else pl.Int64 for name in ["position", *RATED_COLUMNS]
    }
    return pl.DataFrame(
        {
            "position": columns[0],
            **{
                name: [result[index] for result in results]
                for index, name in enumerate(RATED_COLUMNS)
            },
        },
        schema=schema,
    )
