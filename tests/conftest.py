"""Shared fixtures: people of every role, a plan, and clients signed in as them."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client
from django.utils import translation
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from simcare.accounts import services as account_services
from simcare.accounts.models import Role, Subscriber, User
from simcare.catalog.models import Plan

_counter = itertools.count(1)


@pytest.fixture(autouse=True)
def _english_by_default() -> Iterator[None]:
    """Requests leave their language active in the thread; each test starts in English."""
    translation.activate("en")
    yield
    translation.activate("en")


@pytest.fixture(autouse=True)
def _fresh_channel_layer() -> Iterator[None]:
    """Each test gets its own channel layer instance. The Redis layer keeps asyncio locks (its
    receive lock) bound to the event loop that first waited on them: a consumer of a test
    that ended while receiving would leave the next test's loop a lock it cannot take."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture
def make_plan(db: Any) -> Callable[..., Plan]:
    def make(**overrides: Any) -> Plan:
        number = next(_counter)
        fields: dict[str, Any] = {
            "code": f"plan{number}",
            "name_en": f"Plan {number}",
            "name_fr": f"Forfait {number}",
            "name_zh_hans": f"套餐 {number}",
            "price_cents": 3500,
            "validity_days": 30,
            "data_mb": 20480,
            "voice_minutes": None,
            "sms_messages": None,
        }
        fields.update(overrides)
        return Plan.objects.create(**fields)

    return make


@pytest.fixture
def plan(make_plan: Callable[..., Plan]) -> Plan:
    return make_plan(
        code="talk30",
        name_en="Canada 30 days",
        name_fr="Canada 30 jours",
        name_zh_hans="加拿大30天",
    )


@pytest.fixture
def make_subscriber(db: Any) -> Callable[..., Subscriber]:
    def make(**overrides: Any) -> Subscriber:
        number = next(_counter)
        fields: dict[str, Any] = {
            "username": f"subscriber{number}",
            "password": "correct horse battery staple",
            "email": f"subscriber{number}@example.com",
            "phone": f"+1416555{number % 10000:04d}",
            "language": "en",
        }
        fields.update(overrides)
        return account_services.create_subscriber(**fields)

    return make


@pytest.fixture
def subscriber(make_subscriber: Callable[..., Subscriber]) -> Subscriber:
    return make_subscriber()


@pytest.fixture
def make_staff(db: Any) -> Callable[..., User]:
    def make(role: Role, **overrides: Any) -> User:
        number = next(_counter)
        user = account_services.create_staff(
            username=overrides.pop("username", f"{role}{number}"),
            password=overrides.pop("password", "correct horse battery staple"),
            role=role,
            **overrides,
        )
        TOTPDevice.objects.create(user=user, name="default", confirmed=True)
        return user

    return make


def signed_in_client(user: User, *, verified: bool = True) -> Client:
    """A test client signed in as user; staff also pass the TOTP step when verified."""
    client = Client()
    client.force_login(user, backend="simcare.accounts.backends.EmailOrPhoneBackend")
    if verified:
        device = TOTPDevice.objects.filter(user=user).first()
        if device is not None:
            session = client.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()
    return client


@pytest.fixture
def admin_client_verified(make_staff: Callable[..., User]) -> Client:
    return signed_in_client(make_staff(Role.ADMIN))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests run last: Playwright's sync API keeps an event loop in the
    main thread while its browser is open, and async_to_sync refuses to run
    beside one."""
    items.sort(key=lambda item: "tests/e2e/" in str(item.path))
