"""Two imports of the same file at once, on PostgreSQL: each record is rated and charged once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from simcare.accounts.models import Subscriber
from simcare.catalog.models import Plan
from simcare.ledger.models import LedgerTransaction
from simcare.lines.models import Bucket, Line
from simcare.usage.models import UsageRecord
from tests.usage.conftest import balance, cdr_bytes, fund, run_import

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not settings.DATABASE_IS_POSTGRES, reason="needs PostgreSQL locks"),
    pytest.mark.django_db(transaction=True),
]

AT = "2026-12-01T10:00:00-05:00"


def test_the_same_file_imported_twice_at_once_is_applied_once(
    make_line: Callable[..., Line], subscriber: Subscriber, make_plan: Callable[..., Plan]
) -> None:
    plan = make_plan(voice_minutes=5, overage_voice_cents_per_minute=5)
    line = make_line(subscriber, plan)
    fund(subscriber, 1_000)
    data = cdr_bytes(*(f"c{n},{line.msisdn},voice,{AT},60,CA,out" for n in range(40)))
    barrier = threading.Barrier(2)
    reports: list[Any] = [None, None]

    def work(index: int) -> None:
        try:
            barrier.wait()
            reports[index] = run_import(data, batch_size=7)
        except Exception as error:  # the test inspects both outcomes
            reports[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not any(isinstance(report, Exception) for report in reports), reports
    # the batches of the two imports interleave under the lock: together, each record once
    assert sum(report.applied for report in reports) == 40
    assert sum(report.duplicates for report in reports) == 40
    assert UsageRecord.objects.count() == 40
    assert Bucket.objects.get(line=line, kind="voice").used == 5
    assert balance(subscriber) == 1_000 - 35 * 5
    charged = sum(r.charged_cents for r in UsageRecord.objects.all())
    assert charged == 175
    assert LedgerTransaction.objects.filter(kind="usage_charge").count() >= 1
