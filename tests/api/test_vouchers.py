"""POST /api/v1/me/vouchers/redeem: a voucher PIN into the wallet; wrong 422; locked 429."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from simcare.accounts.models import Subscriber
from simcare.ledger import queries as ledger_queries
from simcare.orders.services import vouchers
from tests.api.conftest import ApiClient

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


@pytest.fixture
def pins(db: object) -> list[str]:
    _batch, issued = vouchers.generate_batch(
        name="API test",
        value_cents=2500,
        count=2,
        expires_at=timezone.now() + dt.timedelta(days=365),
        acting_user=None,
    )
    return [pin for _serial, pin in issued]


def _redeem(api: ApiClient, pin: object) -> object:
    return api.post("/api/v1/me/vouchers/redeem", {"pin": pin})


def test_a_good_pin_credits_the_wallet_and_returns_the_new_balance(
    api: ApiClient, subscriber: Subscriber, pins: list[str]
) -> None:
    first = _redeem(api, pins[0])
    second = _redeem(api, pins[1])

    assert first.status_code == 200  # type: ignore[attr-defined]
    assert first.json() == {"balance_cents": 2500, "currency": "CAD"}  # type: ignore[attr-defined]
    assert second.json() == {"balance_cents": 5000, "currency": "CAD"}  # type: ignore[attr-defined]
    assert ledger_queries.wallet_balance_cents(subscriber) == 5000


def test_a_pin_redeems_once_then_is_a_422(
    api: ApiClient, subscriber: Subscriber, pins: list[str]
) -> None:
    _redeem(api, pins[0])

    again = _redeem(api, pins[0])

    assert again.status_code == 422  # type: ignore[attr-defined]
    assert again["Content-Type"] == PROBLEM  # type: ignore[index]
    assert again.json()["code"] == "voucher_invalid"  # type: ignore[attr-defined]
    assert ledger_queries.wallet_balance_cents(subscriber) == 2500


def test_a_wrong_pin_is_a_422_problem_and_credits_nothing(
    api: ApiClient, subscriber: Subscriber, pins: list[str]
) -> None:
    response = _redeem(api, "0000 0000 0000 0000")

    assert response.status_code == 422  # type: ignore[attr-defined]
    assert response["Content-Type"] == PROBLEM  # type: ignore[index]
    assert response.json()["code"] == "voucher_invalid"  # type: ignore[attr-defined]
    assert ledger_queries.wallet_balance_cents(subscriber) == 0


def test_repeated_wrong_pins_lock_with_a_429_and_retry_after(
    api: ApiClient, subscriber: Subscriber, pins: list[str]
) -> None:
    # given: wrong PINs until the lock
    statuses = [_redeem(api, f"1111 2222 3333 {index:04d}").status_code for index in range(5)]  # type: ignore[attr-defined]

    # when: even the right PIN
    locked = _redeem(api, pins[0])

    # then
    assert statuses == [422] * 5
    assert locked.status_code == 429  # type: ignore[attr-defined]
    assert locked["Content-Type"] == PROBLEM  # type: ignore[index]
    assert locked.json()["code"] == "voucher_locked"  # type: ignore[attr-defined]
    assert 0 < int(locked["Retry-After"]) <= 3600  # type: ignore[index]
    assert ledger_queries.wallet_balance_cents(subscriber) == 0


@pytest.mark.parametrize("body", [{}, {"pin": ""}, {"pin": 1234}, {"pin": "9" * 65}])
def test_a_missing_or_malformed_pin_field_is_a_422_validation_problem(
    api: ApiClient, subscriber: Subscriber, body: dict[str, object]
) -> None:
    response = api.post("/api/v1/me/vouchers/redeem", body)

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert [error["field"] for error in response.json()["errors"]] == ["pin"]
