"""The returns policy at the edges of its windows and conditions (pure, no database)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from django.utils import translation

from simcare.aftersales import policy

UTC = dt.UTC
# Delivered Tuesday 1 December 2026 at 10:00 Toronto (15:00 UTC).
DELIVERED = dt.datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
# The last moment of day 7 in Toronto is Wednesday 9 December 04:59:59.999999 UTC.
END_OF_DAY_7 = dt.datetime(2026, 12, 9, 4, 59, 59, 999999, tzinfo=UTC)
START_OF_DAY_8 = dt.datetime(2026, 12, 9, 5, 0, tzinfo=UTC)
END_OF_DAY_30 = dt.datetime(2027, 1, 1, 4, 59, 59, tzinfo=UTC)
START_OF_DAY_31 = dt.datetime(2027, 1, 1, 5, 0, tzinfo=UTC)

FRESH = policy.Facts(
    is_sim_order=True,
    is_fulfilled=True,
    is_refunded=False,
    has_live_line=True,
    sim_kind="physical",
    delivered_at=DELIVERED,
    network_activated=False,
    has_usage=False,
    esim_downloaded=False,
    has_open_request=False,
)
POLICY = policy.ReturnPolicy()


def facts(**changes: Any) -> policy.Facts:
    return dataclasses.replace(FRESH, **changes)


@pytest.mark.parametrize(
    ("kind", "case", "now", "eligible", "failed"),
    [
        # no-reason return: 7 days from delivery, never used
        ("no_reason", facts(), DELIVERED, True, []),
        ("no_reason", facts(), END_OF_DAY_7, True, []),
        ("no_reason", facts(), START_OF_DAY_8, False, ["outside_window"]),
        ("no_reason", facts(network_activated=True), DELIVERED, False, ["sim_activated"]),
        ("no_reason", facts(has_usage=True), END_OF_DAY_7, False, ["line_used"]),
        (
            "no_reason",
            facts(network_activated=True, has_usage=True),
            START_OF_DAY_8,
            False,
            ["outside_window", "sim_activated", "line_used"],
        ),
        # eSIM: from purchase, and never downloaded
        ("no_reason", facts(sim_kind="esim"), END_OF_DAY_7, True, []),
        ("no_reason", facts(sim_kind="esim"), START_OF_DAY_8, False, ["outside_window"]),
        (
            "no_reason",
            facts(sim_kind="esim", esim_downloaded=True),
            DELIVERED,
            False,
            ["esim_downloaded"],
        ),
        # a downloaded physical SIM does not exist; the flag means nothing there
        ("no_reason", facts(esim_downloaded=True), DELIVERED, True, []),
        # quality replacement: 30 days, used or not
        ("quality", facts(network_activated=True, has_usage=True), END_OF_DAY_30, True, []),
        ("quality", facts(), START_OF_DAY_31, False, ["outside_window"]),
        ("quality", facts(sim_kind="esim", esim_downloaded=True), END_OF_DAY_30, True, []),
        # wrong item: 30 days
        ("wrong_item", facts(has_usage=True), END_OF_DAY_30, True, []),
        ("wrong_item", facts(), START_OF_DAY_31, False, ["outside_window"]),
        # what no window can fix
        ("quality", facts(is_sim_order=False), DELIVERED, False, ["not_a_sim_order"]),
        ("quality", facts(is_refunded=True), DELIVERED, False, ["order_refunded"]),
        ("quality", facts(has_live_line=False), DELIVERED, False, ["line_closed"]),
        ("quality", facts(has_open_request=True), DELIVERED, False, ["request_open"]),
        (
            "no_reason",
            facts(is_fulfilled=False, delivered_at=None),
            DELIVERED,
            False,
            ["order_not_fulfilled"],
        ),
    ],
)
def test_policy_table(
    kind: str, case: policy.Facts, now: dt.datetime, eligible: bool, failed: list[str]
) -> None:
    evaluation = policy.evaluate(kind, case, now=now, policy=POLICY)

    assert evaluation.eligible is eligible
    assert evaluation.codes == failed


@pytest.mark.parametrize(
    ("now", "day"),
    [
        (DELIVERED, 0),
        # 23:59 Toronto on 1 December is already 2 December in UTC: still day 0
        (dt.datetime(2026, 12, 2, 4, 59, tzinfo=UTC), 0),
        (dt.datetime(2026, 12, 2, 5, 0, tzinfo=UTC), 1),
        (END_OF_DAY_7, 7),
        (START_OF_DAY_8, 8),
    ],
)
def test_days_are_counted_in_toronto(now: dt.datetime, day: int) -> None:
    assert policy.day_number(DELIVERED, now) == day


def test_the_deadline_is_the_last_moment_of_the_last_day() -> None:
    evaluation = policy.evaluate("no_reason", FRESH, now=DELIVERED, policy=POLICY)

    assert evaluation.deadline == END_OF_DAY_7
    assert (evaluation.window_days, evaluation.day, evaluation.outcomes) == (7, 0, ("refund",))


def test_windows_are_configuration(settings: Any) -> None:
    settings.SIMCARE_RETURNS = {**settings.SIMCARE_RETURNS, "no_reason_days": 14}

    evaluation = policy.evaluate("no_reason", FRESH, now=START_OF_DAY_8)

    assert evaluation.eligible is True
    assert evaluation.window_days == 14


def test_outcomes_per_kind() -> None:
    assert policy.outcomes_of("no_reason") == ("refund",)
    assert policy.outcomes_of("quality") == ("replacement",)
    assert policy.outcomes_of("wrong_item") == ("replacement", "refund")


def test_reasons_are_translated_and_survive_storage() -> None:
    evaluation = policy.evaluate("no_reason", facts(network_activated=True), now=START_OF_DAY_8)
    window = next(reason for reason in evaluation.reasons if reason.code == "outside_window")

    stored = policy.Reason.from_dict(window.as_dict())

    assert window.message == "This request can be made within 7 days of delivery; it is day 8."
    with translation.override("fr"):
        assert stored.message == (
            "Cette demande peut être faite dans les 7 jours suivant la livraison ; "
            "nous sommes au jour 8."
        )
    with translation.override("zh-hans"):
        assert "7" in stored.message
        assert "8" in stored.message


def test_an_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown return kind"):
        policy.evaluate("whatever", FRESH, now=DELIVERED)
