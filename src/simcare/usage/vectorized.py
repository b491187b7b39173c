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
        },
        schema={
            "line_id": pl.Int64,
            "activated": pl.Int64,
            "period_end": pl.Int64,
            "grace_ends": pl.Int64,
            "closed": pl.Boolean,
            "includes_us": pl.Boolean,
        },
    )


def _buckets(
    accounts: dict[int, rating.Account], line_ids: list[int]
) -> tuple[pl.DataFrame, dict[int, rating.Bucket]]:
    """The lines' buckets as rows (their index in consumption order, room at this moment)."""
    columns: dict[str, list[Any]] = {
        name: []
        for name in (
            "line_id",
            "b_index",
            "b_id",
            "kind",
            "b_zone",
            "unlimited",
            "room",
            "starts",
            "expires",
        )
    }
    by_id: dict[int, rating.Bucket] = {}
    for line_id in line_ids:
        for index, bucket in enumerate(accounts[line_id].buckets):
            by_id[bucket.id] = bucket
            columns["line_id"].append(line_id)
            columns["b_index"].append(index)
            columns["b_id"].append(bucket.id)
            columns["kind"].append(bucket.kind)
            columns["b_zone"].append(bucket.zone)
            columns["unlimited"].append(bucket.total is None)
            columns["room"].append(0 if bucket.total is None else bucket.total - bucket.used)
            columns["starts"].append(bucket.starts_at)
            columns["expires"].append(bucket.expires_at)
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


def _fast(bucketed: pl.DataFrame, buckets: pl.DataFrame) -> pl.DataFrame:
    """For the bucket records (rating order): whether each is in its line and kind's prefix
    (`fast`), and its target bucket's id (`b_id`, null when none has room)."""
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
    targeted = (
        bucketed.select("position", "line_id", "kind", "units")
        .join(candidates, on="position", how="left", maintain_order="left")
        .join(
            buckets.select(
                "line_id", pl.col("b_index").alias("target"), "b_id", "unlimited", "room"
            ),
            on=["line_id", "target"],
            how="left",
            maintain_order="left",
        )
    )
    aimed = col("units").cum_sum().over("line_id", "target")
    fits = (col("target").is_not_null() & (col("unlimited") | (aimed <= col("room")))).fill_null(
        False
    )
    return targeted.select(
        fast=fits.cast(pl.Int8).cum_min().over("line_id", "kind") == 1, b_id="b_id"
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
    bucketed = frame.filter(col("path") == _BUCKETS)
    buckets, by_id = _buckets(accounts, line_ids)
    bucketed = bucketed.hstack(_fast(bucketed, buckets))

    # The prefix: each bucket takes what was aimed at it (the same sums the loop adds up).
    taken = bucketed.filter(col("fast")).group_by("b_id").agg(col("units").sum())
    for bucket_id, units in taken.iter_rows():
        by_id[bucket_id].used += units

    zero = pl.lit(0, dtype=pl.Int64)
    units = col("units")
    path = col("path")
    vectorized = pl.concat(
        [
            frame.filter(path != _BUCKETS),
            bucketed.filter(col("fast")).drop("fast", "b_id"),
        ]
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
    looped = _loop(bucketed.filter(~col("fast")), accounts, wallets)
    return pl.concat([vectorized, looped]).sort("position")


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
