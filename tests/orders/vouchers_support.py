"""Fixtures of the voucher tests: a batch with its plain PINs, a verified admin.

Imported by the voucher test modules (kept out of conftest.py, which the other
money tests share).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from simcare.accounts.models import Role, User
from simcare.orders.models import VoucherBatch
from simcare.orders.services import vouchers

Batch = tuple[VoucherBatch, list[tuple[str, str]]]


@pytest.fixture
def voucher_admin(make_staff: Callable[..., User]) -> User:
    return make_staff(Role.ADMIN)


@pytest.fixture
def make_batch(voucher_admin: User) -> Callable[..., Batch]:
    def make(**overrides: Any) -> Batch:
        fields: dict[str, Any] = {
            "name": "Dec 2026 $25 cards",
            "value_cents": 2500,
            "count": 5,
            "expires_at": timezone.now() + dt.timedelta(days=365),
            "acting_user": voucher_admin,
        }
        fields.update(overrides)
        return vouchers.generate_batch(**fields)

    return make


@pytest.fixture
def batch(make_batch: Callable[..., Batch]) -> Batch:
    return make_batch()
