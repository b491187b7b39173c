"""Double clicks that arrive at the same moment, on PostgreSQL: one export within the
interval, one closure."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.conf import settings

from simcare.accounts import closure, errors
from simcare.accounts.export import export_personal_data
from simcare.accounts.models import AuditEvent, Subscriber
from simcare.catalog.models import Plan
from simcare.ledger import queries as ledger_queries
from simcare.lines.models import Line, LineEvent
from tests import concurrency

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not settings.DATABASE_IS_POSTGRES, reason="needs PostgreSQL row locks"),
    pytest.mark.django_db(transaction=True),
]

THREADS = 6
PASSWORD = "correct horse battery staple"


def test_exports_at_once_give_one_file_and_refuse_the_rest(lin: Subscriber) -> None:
    results = concurrency.at_once(
        lambda _index: export_personal_data(lin, acting_user=lin.user), THREADS
    )

    files = [result for result in results if isinstance(result, bytes)]
    refused = [result for result in results if isinstance(result, errors.ExportTooSoon)]
    assert (len(files), len(refused)) == (1, THREADS - 1)
    assert AuditEvent.objects.filter(action="subscriber.data_exported").count() == 1


def test_closures_at_once_close_once(
    lin: Subscriber,
    make_line: Callable[..., Line],
    plan: Plan,
    fund: Callable[[Subscriber, int], None],
) -> None:
    line = make_line(lin, plan)
    fund(lin, 1200)

    results = concurrency.at_once(
        lambda _index: closure.close_account(
            lin, password=PASSWORD, confirmed=True, acting_user=lin.user
        ),
        THREADS,
    )

    summaries = [result for result in results if isinstance(result, closure.ClosureSummary)]
    refused = [result for result in results if isinstance(result, errors.AccountClosed)]
    assert (len(summaries), len(refused)) == (1, THREADS - 1)
    assert summaries[0].terminated_lines == [line.msisdn]
    assert summaries[0].wallet_balance_cents == 1200
    assert AuditEvent.objects.filter(action="subscriber.closed").count() == 1
    assert LineEvent.objects.filter(line=line, cause="account_closed").count() == 1
    assert ledger_queries.find_breaks() == []
