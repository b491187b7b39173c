"""A process killed (SIGKILL) in the middle of fulfilment leaves nothing half-done.

A child process, on the same database as the test, renews a line (by hand, or the
auto_renew job) inside a transaction it holds open after fulfilment: the wallet is
debited, the line extended, the receipt and notifications written, not committed.
It says so on stdout and waits; the test kills it with SIGKILL, then checks that no
order, ledger transaction, attempt or notification exists and the line is as it
was, and that the same request afterwards succeeds, once. The wait is the child
script's, written here; the product code has no hook for it.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

import simcare
from simcare.accounts.models import Subscriber
from simcare.catalog.models import Plan
from simcare.ledger.models import LedgerAccount, LedgerTransaction
from simcare.lines.models import Bucket, Line
from simcare.notify.models import Notification
from simcare.orders.models import AutoRenewAttempt, Order
from simcare.orders.services import autorenew, ordering
from tests.orders.conftest import assert_ledger_clean, balance, money_snapshot

pytestmark = pytest.mark.django_db(transaction=True)

RENEWAL_CENTS = 3955
READY_TIMEOUT_SECONDS = 90

CHILD = """
import datetime as dt
import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "simcare.settings")
from django.conf import settings

settings.DATABASES["default"]["NAME"] = sys.argv[1]
import django

django.setup()
from django.db import transaction

from simcare.lines.models import Line
from simcare.orders.services import autorenew, ordering

line_id, mode, moment = int(sys.argv[2]), sys.argv[3], dt.datetime.fromisoformat(sys.argv[4])
with transaction.atomic():
    line = Line.objects.get(pk=line_id)
    if mode == "renew":
        order = ordering.renew(
            line, channel="web", payment_method="wallet", idempotency_key="user:1:killed",
            acting_user=None, now=moment,
        )
        assert order.state == "fulfilled", order.state
    else:
        summary = autorenew.run_auto_renew(now=moment)
        assert summary["renewed"] == 1, summary
    print("fulfilled, not committed", flush=True)
    time.sleep(600)
"""


def run_and_kill(tmp_path: Path, line: Line, mode: str, moment: dt.datetime) -> None:
    script = tmp_path / "renew_and_wait.py"
    script.write_text(CHILD)
    source = str(Path(simcare.__file__).resolve().parent.parent)
    environment = {**os.environ, "PYTHONPATH": source, "SIMCARE_TESTING": "1"}
    child = subprocess.Popen(
        [
            sys.executable,
            str(script),
            str(connection.settings_dict["NAME"]),
            str(line.pk),
            mode,
            moment.isoformat(),
        ],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        ready = child.stdout.readline()
        if "fulfilled" not in ready:
            child.kill()
            _out, errors_text = child.communicate(timeout=READY_TIMEOUT_SECONDS)
            raise AssertionError(f"the child did not get to fulfilment: {ready}{errors_text}")
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=READY_TIMEOUT_SECONDS)
    assert child.returncode == -signal.SIGKILL
    if child.stdout is not None:
        child.stdout.close()
    if child.stderr is not None:
        child.stderr.close()


@pytest.fixture
def line(subscriber: Subscriber, plan: Plan, make_line: Callable[..., Line]) -> Line:
    return make_line(subscriber, plan)


def line_state(line: Line) -> tuple[Any, ...]:
    return (
        *Line.objects.values_list("state", "period_end", "plan_id").get(pk=line.pk),
        Bucket.objects.filter(line=line).count(),
    )


@pytest.mark.parametrize("mode", ["renew", "auto_renew"])
def test_a_renewal_killed_inside_its_transaction_leaves_nothing_and_succeeds_once_after(
    subscriber: Subscriber,
    line: Line,
    fund: Callable[[Subscriber, int], LedgerAccount],
    tmp_path: Path,
    mode: str,
) -> None:
    # given: money for one renewal; auto-renew on for the job's case
    fund(subscriber, 5000)
    if mode == "auto_renew":
        autorenew.set_auto_renew(line, enabled=True, acting_user=None)
    moment = line.period_end - dt.timedelta(hours=24)
    before = money_snapshot()
    line_before = line_state(line)
    notifications_before = Notification.objects.count()

    # when: the child fulfils the renewal and is killed before it commits
    run_and_kill(tmp_path, line, mode, moment)

    # then: nothing of it happened
    assert money_snapshot() == before
    assert Order.objects.count() == 0
    assert line_state(line) == line_before
    assert Notification.objects.count() == notifications_before
    assert AutoRenewAttempt.objects.count() == 0
    assert_ledger_clean()

    # when: the same request again, twice
    if mode == "renew":
        first = ordering.renew(
            line,
            channel="web",
            payment_method="wallet",
            idempotency_key="user:1:killed",
            acting_user=None,
            now=moment,
        )
        second = ordering.renew(
            line,
            channel="web",
            payment_method="wallet",
            idempotency_key="user:1:killed",
            acting_user=None,
            now=moment,
        )
        assert first.pk == second.pk
    else:
        summaries = [autorenew.run_auto_renew(now=moment) for _run in range(2)]
        assert [summary["renewed"] for summary in summaries] == [1, 0]

    # then: renewed once
    assert Order.objects.count() == 1
    assert LedgerTransaction.objects.filter(kind="order_payment").count() == 1
    assert balance(subscriber) == 5000 - RENEWAL_CENTS
    line.refresh_from_db()
    assert line.period_end == line_before[1] + dt.timedelta(days=30)
    assert_ledger_clean()
