"""Fixtures for the usage tests: lines made by the real service, wallets funded by the ledger."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import itertools
from collections.abc import Callable
from typing import Any

import pytest

from simcare.accounts.models import Subscriber
from simcare.catalog.models import Plan
from simcare.ledger import services as ledger
from simcare.lines import services as line_services
from simcare.lines.models import Line, Number, SimCard, SimKind
from simcare.usage import services
from tests.lines.stock_support import iccid

_serial = itertools.count(1)

HEADER = "record_id,msisdn,type,started_at,quantity,zone,direction"
NOW = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def make_line(db: Any) -> Callable[..., Line]:
    """A line activated through lines.services on fresh stock, by default at NOW - 1 day."""

    def make(
        subscriber: Subscriber, plan: Plan, *, now: dt.datetime = NOW - dt.timedelta(days=1)
    ) -> Line:
        serial = 700000 + next(_serial)
        number = Number.objects.create(msisdn=f"+1647555{serial % 10000:04d}")
        sim = SimCard.objects.create(
            iccid=iccid(serial), kind=SimKind.PHYSICAL, location="WAREHOUSE"
        )
        return line_services.activate_line(
            subscriber,
            plan,
            kind=SimKind.PHYSICAL,
            acting_user=None,
            sim=sim,
            msisdn=number.msisdn,
            now=now,
        )

    return make


def fund(subscriber: Subscriber, cents: int) -> None:
    """Put money in the subscriber's wallet the way a card top-up does."""
    ledger.transfer(
        kind="wallet_topup",
        source=ledger.system_account("clearing:stripe"),
        destination=ledger.wallet_for(subscriber),
        amount_cents=cents,
    )


def balance(subscriber: Subscriber) -> int:
    return ledger.wallet_for(subscriber).cached_balance_cents


def cdr_bytes(*rows: str, compress: bool = False, header: str = HEADER) -> bytes:
    text = "\n".join([header, *rows]) + "\n"
    data = text.encode()
    return gzip.compress(data) if compress else data


def run_import(data: bytes, **options: Any) -> services.ImportReport:
    rejects: list[services.RejectedRow] = []
    options.setdefault("now", NOW)
    report = services.import_cdrs(
        io.BytesIO(data), file_name="test.csv", on_reject=rejects.append, **options
    )
    report.first_rejects = rejects
    return report
