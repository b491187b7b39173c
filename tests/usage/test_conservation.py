"""Conservation through the whole import (database, ledger), over random plans, add-ons,
wallets and record streams: hypothesis drives `import_cdrs` and checks what was stored."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simcare.accounts import services as account_services
from simcare.catalog.models import AddOn, Plan
from simcare.ledger import queries as ledger_queries
from simcare.ledger import services as ledger
from simcare.lines import services as line_services
from simcare.lines.models import Bucket, BucketSource, Number, SimCard, SimKind
from simcare.usage import rating
from simcare.usage.models import UsageRecord
from tests.lines.stock_support import iccid
from tests.usage.conftest import NOW, cdr_bytes, run_import

pytestmark = pytest.mark.django_db

_serial = itertools.count(1)


class _Rollback(Exception):
    pass


allowance = st.one_of(st.none(), st.integers(0, 50))
rate = st.integers(0, 40)
record = st.tuples(
    st.sampled_from(("data", "voice", "sms")),
    st.sampled_from(("CA", "US", "INTL")),
    st.sampled_from(("out", "in")),
    st.integers(-3 * 86_400, 2 * 86_400),  # seconds from NOW: before activation .. later
    st.integers(0, 3_000_000),
    st.integers(0, 1),  # which of the two lines
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data_mb=allowance,
    voice=allowance,
    sms=allowance,
    rates=st.lists(rate, min_size=9, max_size=9),
    includes_us=st.booleans(),
    addon=st.one_of(
        st.none(),
        st.tuples(
            st.sampled_from(("data", "voice", "sms")),
            st.sampled_from(("CA", "US", "INTL")),
            st.integers(0, 2_000),
        ),
    ),
    wallet_cents=st.integers(0, 500),
    records=st.lists(record, max_size=30),
    batch_size=st.integers(1, 12),
    frame_size=st.integers(1, 12),  # frames smaller than the batch: several per transaction
)
def test_every_unit_is_accounted_for_and_the_wallet_moves_by_the_charges(  # noqa: PLR0917
    db: None,
    data_mb: int | None,
    voice: int | None,
    sms: int | None,
    rates: list[int],
    includes_us: bool,
    addon: tuple[str, str, int] | None,
    wallet_cents: int,
    records: list[tuple[str, str, str, int, int, int]],
    batch_size: int,
    frame_size: int,
) -> None:
    try:
        with transaction.atomic():
            _run(
                data_mb,
                voice,
                sms,
                rates,
                includes_us,
                addon,
                wallet_cents,
                records,
                batch_size,
                frame_size,
            )
            raise _Rollback
    except _Rollback:
        pass


def _run(  # noqa: PLR0917  (the drawn values, passed on as they come)
    data_mb: int | None,
    voice: int | None,
    sms: int | None,
    rates: list[int],
    includes_us: bool,
    addon: tuple[str, str, int] | None,
    wallet_cents: int,
    records: list[tuple[str, str, str, int, int, int]],
    batch_size: int,
    frame_size: int,
) -> None:
    n = next(_serial)
    names = [
        "overage_data_cents_per_mb",
        "overage_voice_cents_per_minute",
        "overage_sms_cents",
        "us_data_cents_per_mb",
        "us_voice_cents_per_minute",
        "us_sms_cents",
        "intl_data_cents_per_mb",
        "intl_voice_cents_per_minute",
        "intl_sms_cents",
    ]
    plan = Plan.objects.create(
        code=f"prop{n}",
        name_en="p",
        name_fr="p",
        name_zh_hans="p",
        price_cents=100,
        validity_days=2,
        data_mb=data_mb,
        voice_minutes=voice,
        sms_messages=sms,
        includes_us=includes_us,
        **dict(zip(names, rates, strict=True)),
    )
    subscriber = account_services.create_subscriber(
        username=f"prop{n}", password="correct horse battery staple", email=f"p{n}@example.com"
    )
    lines = []
    for index in range(2):
        serial = 900000 + n * 2 + index
        number = Number.objects.create(msisdn=f"+1438{serial:07d}")
        sim = SimCard.objects.create(iccid=iccid(serial), kind=SimKind.PHYSICAL)
        lines.append(
            line_services.activate_line(
                subscriber,
                plan,
                kind=SimKind.PHYSICAL,
                acting_user=None,
                sim=sim,
                msisdn=number.msisdn,
                now=NOW - dt.timedelta(days=1),
            )
        )
    if addon is not None:
        kind, zone, quantity = addon
        product = AddOn.objects.create(
            code=f"add{n}",
            name_en="a",
            name_fr="a",
            name_zh_hans="a",
            kind=kind,
            zone=zone,
            quantity=quantity,
            price_cents=1,
            validity_days=1,
        )
        Bucket.objects.create(
            line=lines[0],
            kind=kind,
            zone=zone,
            source=BucketSource.ADDON,
            addon=product,
            total=quantity * 1024 if kind == "data" else quantity,
            starts_at=NOW - dt.timedelta(hours=2),
            expires_at=NOW + dt.timedelta(hours=6),
        )
    wallet = ledger.wallet_for(subscriber)
    if wallet_cents:
        ledger.transfer(
            kind="wallet_topup",
            source=ledger.system_account("clearing:stripe"),
            destination=wallet,
            amount_cents=wallet_cents,
        )
    used_before = dict(Bucket.objects.filter(line__in=lines).values_list("id", "used"))

    rows = [
        f"p{n}r{i},{lines[which].msisdn},{kind},{(NOW + dt.timedelta(seconds=offset)).isoformat()},"
        f"{quantity},{zone},{'' if kind == 'data' else direction}"
        for i, (kind, zone, direction, offset, quantity, which) in enumerate(records)
    ]
    report = run_import(cdr_bytes(*rows), batch_size=batch_size, frame_size=frame_size)

    assert report.rejected == 0
    assert report.applied == len(records)
    stored = UsageRecord.objects.filter(line__in=lines)
    for line in lines:
        mine = [r for r in stored if r.line_id == line.pk]
        imported = [
            rating.units_for(kind, quantity)
            for kind, _zone, _direction, _offset, quantity, which in records
            if lines[which].pk == line.pk
        ]
        assert sum(r.units for r in mine) == sum(imported)
        assert sum(
            r.bucket_units + r.overage_units + r.free_units + r.rejected_units for r in mine
        ) == sum(imported)
        buckets = Bucket.objects.filter(line=line)
        assert sum(b.used - used_before[b.pk] for b in buckets) == sum(r.bucket_units for r in mine)
        for b in buckets:
            assert b.total is None or b.used <= b.total
        line.refresh_from_db()
        assert line.usage_debt_cents == sum(r.debt_cents for r in mine)
        assert line.is_barred == (line.usage_debt_cents > 0)
    charged = sum(r.charged_cents for r in stored)
    wallet.refresh_from_db()
    assert wallet.cached_balance_cents == wallet_cents - charged >= 0
    revenue = ledger.system_account("revenue:usage")
    assert ledger_queries.balance_cents(revenue) == charged
    # and the ledger's invariants hold: every transaction balanced, every cached balance the
    # sum of its account's entries, no wallet below its limit (what `ledger verify` checks)
    assert ledger_queries.find_breaks() == []
