"""Reads on lines with the access check built in (lines/queries.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from simcare.accounts.models import Role, Subscriber, User
from simcare.catalog.models import Plan
from simcare.lines import queries, services
from simcare.lines.models import Line, LineState, Number, NumberStatus
from tests.lines.lifecycle_support import add_sim, new_line

UTC = dt.UTC
DAY = dt.timedelta(days=1)
START = dt.datetime(2026, 3, 1, 15, 0, tzinfo=UTC)


def test_a_subscriber_sees_only_their_own_lines(
    subscriber: Subscriber, make_subscriber: Callable[..., Subscriber], plan: Plan
) -> None:
    mine = [new_line(subscriber, plan, now=START), new_line(subscriber, plan, now=START + DAY)]
    theirs = new_line(make_subscriber(), plan, now=START)

    visible = list(queries.lines_for(subscriber.user))

    assert visible == [mine[1], mine[0]]
    with pytest.raises(Line.DoesNotExist):
        queries.line_for(subscriber.user, theirs.msisdn)
    assert queries.line_for(subscriber.user, mine[0].msisdn) == mine[0]


@pytest.mark.parametrize("role", [Role.AGENT, Role.CLERK, Role.ADMIN])
def test_staff_see_every_line(
    subscriber: Subscriber, plan: Plan, make_staff: Callable[..., User], role: Role
) -> None:
    line = new_line(subscriber, plan, now=START)

    assert list(queries.lines_for(make_staff(role))) == [line]


def test_someone_without_a_role_or_profile_sees_nothing(subscriber: Subscriber, plan: Plan) -> None:
    new_line(subscriber, plan, now=START)
    stranger = User.objects.create(username="stranger")

    assert list(queries.lines_for(stranger)) == []


def test_line_for_prefers_the_live_line_of_a_reused_number(
    subscriber: Subscriber, make_subscriber: Callable[..., Subscriber], plan: Plan
) -> None:
    # given: the number was recycled and later given to the same person again
    old = new_line(subscriber, plan, now=START)
    Line.objects.filter(pk=old.pk).update(state=LineState.RECYCLED)
    add_sim()
    Number.objects.filter(pk=old.number_id).update(status=NumberStatus.AVAILABLE)
    fresh = services.activate_line(
        subscriber, plan, kind="physical", acting_user=None, msisdn=old.msisdn, now=START + DAY
    )

    # then
    assert queries.line_for(subscriber.user, old.msisdn) == fresh
    assert list(queries.live_lines_for(subscriber.user)) == [fresh]


def test_history_newest_first(subscriber: Subscriber, plan: Plan) -> None:
    line = new_line(subscriber, plan, now=START)
    services.renew_line_period(line, plan, acting_user=None, now=START + DAY)

    assert list(queries.history(line).values_list("cause", flat=True)) == ["renewal", "activated"]
