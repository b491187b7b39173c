"""simcare.kit.prepared: a query compiled once gives what its queryset gives, row for row and
field for field, in one query, and refuses what it cannot run faithfully."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.db.models import Model, QuerySet
from django.utils import timezone

from simcare.accounts.backends import EmailOrPhoneBackend
from simcare.accounts.models import Role, Subscriber
from simcare.catalog.models import Plan, UsageKind
from simcare.kit import prepared
from simcare.kit.prepared import Prepared
from simcare.ledger import queries as ledger_queries
from simcare.ledger import services as ledger
from simcare.lines import queries as line_queries
from simcare.lines.models import Bucket, BucketSource, Line, LineState
from tests.lines.conftest import make_line

__all__ = ["make_line"]

pytestmark = pytest.mark.django_db


def _fields(obj: Model) -> dict[str, Any]:
    return {field.attname: getattr(obj, field.attname) for field in obj._meta.concrete_fields}


def test_the_dashboards_lines_are_the_querysets_with_their_plans_loaded(
    make_subscriber: Callable[..., Subscriber],
    plan: Plan,
    make_line: Callable[..., Line],
    django_assert_num_queries: Any,
) -> None:
    # given: two subscribers' lines, one of them closed
    mine, theirs = make_subscriber(), make_subscriber()
    lines = [make_line(mine, plan) for _ in range(3)]
    make_line(theirs, plan)
    Line.objects.filter(pk=lines[0].pk).update(state=LineState.RECYCLED)

    # when
    with django_assert_num_queries(1):
        found = line_queries.live_lines_list(mine)
        plans = [line.plan for line in found]  # loaded with them, no query of their own

    # then
    expected = list(line_queries.live_lines_of(mine))
    assert [_fields(line) for line in found] == [_fields(line) for line in expected]
    assert [line.pk for line in found] == [lines[2].pk, lines[1].pk]
    assert [_fields(p) for p in plans] == [_fields(line.plan) for line in expected]
    assert isinstance(found[0].period_end, dt.datetime)
    assert timezone.is_aware(found[0].period_end)
    assert line_queries.live_lines_list(make_subscriber()) == []


def test_current_buckets_for_any_number_of_lines_are_the_querysets(
    make_subscriber: Callable[..., Subscriber],
    plan: Plan,
    make_line: Callable[..., Line],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: lines with their plan's buckets, one bucket expired and one not started yet
    subscriber = make_subscriber()
    lines = [make_line(subscriber, plan) for _ in range(4)]
    now = timezone.now()
    Bucket.objects.filter(line=lines[0], kind=UsageKind.DATA).update(
        expires_at=now - dt.timedelta(minutes=1)
    )
    Bucket.objects.create(
        line=lines[1],
        kind=UsageKind.DATA,
        source=BucketSource.PLAN,
        total=1024,
        used=0,
        starts_at=now + dt.timedelta(days=1),
        expires_at=now + dt.timedelta(days=31),
    )

    def expected(some: list[Line]) -> list[list[dict[str, Any]]]:
        found = list(line_queries.live_lines_with_current_buckets(subscriber.user, now=now))
        by_pk = {line.pk: line for line in found}
        return [[_fields(b) for b in by_pk[line.pk].current_buckets] for line in some]

    # when / then: one, two and four lines (a statement each), and beyond MAX_LIST
    for count in (1, 2, 4, 2):
        some = [Line.objects.get(pk=line.pk) for line in lines[:count]]
        line_queries.attach_current_buckets(some, now=now)
        got = [[_fields(b) for b in line.current_buckets] for line in some]  # type: ignore[attr-defined]
        assert got == expected(some)
    monkeypatch.setattr(prepared, "MAX_LIST", 2)
    some = [Line.objects.get(pk=line.pk) for line in lines]
    line_queries.attach_current_buckets(some, now=now)
    got = [[_fields(b) for b in line.current_buckets] for line in some]  # type: ignore[attr-defined]
    assert got == expected(some)
    assert got[0]
    assert all(bucket["kind"] != UsageKind.DATA for bucket in got[0])


def test_the_wallet_balance_and_the_signed_in_user(
    make_subscriber: Callable[..., Subscriber],
    make_staff: Callable[..., Any],
    django_assert_num_queries: Any,
) -> None:
    # given
    subscriber = make_subscriber()
    staff = make_staff(Role.AGENT)
    backend = EmailOrPhoneBackend()

    # then: no wallet yet, then its balance
    assert ledger_queries.wallet_balance_cents(subscriber) == 0
    ledger.transfer(
        kind="wallet_topup",
        source=ledger.system_account("clearing:stripe"),
        destination=ledger.wallet_for(subscriber),
        amount_cents=1234,
    )
    assert ledger_queries.wallet_balance_cents(subscriber) == 1234

    # a subscriber's user comes with their subscriber account, staff with none, in one query
    with django_assert_num_queries(1):
        user = backend.get_user(subscriber.user_id)
        assert user is not None
        assert user.subscriber.pk == subscriber.pk
    with django_assert_num_queries(1):
        agent = backend.get_user(str(staff.pk))  # the session stores it as text
        assert agent is not None
        assert agent.pk == staff.pk
        with pytest.raises(Subscriber.DoesNotExist):
            agent.subscriber  # noqa: B018
    assert _fields(user) == _fields(type(user).objects.get(pk=user.pk))
    assert backend.get_user(999_999) is None
    assert backend.get_user("not a number") is None


def test_a_query_that_does_not_use_an_argument_is_refused(plan: Plan) -> None:
    def ignores(plan_id: int) -> QuerySet[Plan]:
        return Plan.objects.filter(pk=plan.pk)

    with pytest.raises(ValueError, match="does not use its argument 'plan_id'"):
        Prepared(ignores, plan_id=int)(plan_id=plan.pk)


def test_arguments_must_be_the_declared_ones_and_of_their_kind(
    make_subscriber: Callable[..., Subscriber], plan: Plan, make_line: Callable[..., Line]
) -> None:
    line = make_line(make_subscriber(), plan)

    def running(line_id: int, now: dt.datetime) -> QuerySet[Line]:
        return Line.objects.filter(pk=line_id, period_end__gt=now)

    query: Prepared[Line] = Prepared(running, line_id=int, now=dt.datetime)
    assert query(line_id=line.pk, now=timezone.now()) == [line]
    assert query(line_id=line.pk, now=line.period_end) == []
    with pytest.raises(TypeError, match="expected the arguments"):
        query(line_id=line.pk)
    with pytest.raises(ValueError, match="aware datetimes"):
        query(line_id=line.pk, now=dt.datetime(2026, 1, 1))  # noqa: DTZ001
    with pytest.raises(TypeError, match="int argument got a bool"):
        query(line_id=True, now=timezone.now())
    with pytest.raises(TypeError, match="int argument got a str"):
        query(line_id="1", now=timezone.now())
    with pytest.raises(TypeError, match="datetime argument got a str"):
        query(line_id=line.pk, now="2026-01-01")
