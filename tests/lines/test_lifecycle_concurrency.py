"""Two workers running the lifecycle and reminders jobs at the same moment (PostgreSQL).

Each thread has its own database connection; a barrier starts them together.
Whatever the interleaving, each transition must be recorded once and
announced once.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.db import connection, connections

from simcare.accounts.models import Subscriber
from simcare.catalog.models import Plan
from simcare.lines.models import Line, LineEvent, LineState
from simcare.notify.models import Notification
from simcare.ops.jobs import discover, run_job
from tests.lines.lifecycle_support import new_line

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks"),
    pytest.mark.django_db(transaction=True),
]

UTC = dt.UTC
DAY = dt.timedelta(days=1)
START = dt.datetime(2026, 3, 1, 15, 0, tzinfo=UTC)


def run_together(job: str, *, workers: int = 2) -> list[dict[str, Any]]:
    barrier = threading.Barrier(workers)
    results: list[dict[str, Any]] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            barrier.wait()
            summary = run_job(job)
            with lock:
                results.append(summary)
        except BaseException as error:  # surfaced by the assertion below
            with lock:
                failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    return results


@pytest.fixture
def lines(make_subscriber: Callable[..., Subscriber], plan: Plan) -> list[Line]:
    """40 lines: 10 due for grace, 10 for suspension, 10 for recycling, 10 not due."""
    made = [new_line(make_subscriber(), plan, now=START) for _ in range(40)]
    end = START + 30 * DAY
    stages = [
        (LineState.ACTIVE, end),
        (LineState.GRACE, end - 30 * DAY),
        (LineState.SUSPENDED, end - 90 * DAY),
        (LineState.ACTIVE, end + 10 * DAY),
    ]
    for index, line in enumerate(made):
        state, period_end = stages[index // 10]
        Line.objects.filter(pk=line.pk).update(
            state=state, period_start=period_end - 30 * DAY, period_end=period_end
        )
    return made


def test_two_concurrent_sweeps_move_each_line_once(lines: list[Line]) -> None:
    # given
    discover()
    moment = START + 30 * DAY + dt.timedelta(minutes=1)

    # when: three rounds of two workers at once
    with time_machine.travel(moment, tick=False):
        summaries = [summary for _ in range(3) for summary in run_together("lifecycle")]

    # then
    moved = Counter()
    for summary in summaries:
        moved.update({key: value for key, value in summary.items() if key != "numbers_released"})
    assert dict(moved) == {
        "active_to_grace": 10,
        "grace_to_suspended": 10,
        "suspended_to_recycled": 10,
    }
    assert Counter(
        LineEvent.objects.exclude(cause="activated").values_list("cause", flat=True)
    ) == {"period_ended": 10, "grace_ended": 10, "suspension_ended": 10}
    assert (
        LineEvent.objects.exclude(cause="activated").values("line", "cause").distinct().count()
        == 30
    )
    assert Counter(
        Notification.objects.filter(template__startswith="lifecycle.").values_list(
            "template", "channel"
        )
    ) == {
        (template, channel): 10
        for template in ("lifecycle.expired", "lifecycle.suspended", "lifecycle.recycled")
        for channel in ("email", "sms")
    }
    assert Counter(Line.objects.values_list("state", flat=True)) == {
        "grace": 10,
        "suspended": 10,
        "recycled": 10,
        "active": 10,
    }


def test_two_concurrent_reminder_runs_queue_each_reminder_once(
    make_subscriber: Callable[..., Subscriber], plan: Plan
) -> None:
    # given: 20 lines seven days before their end
    discover()
    for _ in range(20):
        new_line(make_subscriber(), plan, now=START)

    # when
    with time_machine.travel(START + 23 * DAY, tick=False):
        summaries = [summary for _ in range(3) for summary in run_together("reminders")]

    # then
    assert sum(summary["expiry-7"] for summary in summaries) == 40
    assert Notification.objects.filter(template="lifecycle.expiry_reminder").count() == 40
    assert (
        Notification.objects.filter(template="lifecycle.expiry_reminder")
        .values("line", "channel")
        .distinct()
        .count()
        == 40
    )
