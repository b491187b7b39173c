"""Fixtures for the HTTP API tests: tokens issued through the API, lines made by the real
service, and money put in wallets through the ledger."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from simcare.accounts.models import Subscriber
from simcare.catalog.models import Plan
from simcare.kit.iccid import make_iccid
from simcare.ledger import services as ledger_services
from simcare.lines import services as line_services
from simcare.lines.models import Line, Number, SimCard, SimKind

PASSWORD = "correct horse battery staple"
_serial = itertools.count(1)


class ApiClient:
    """The Django test client speaking JSON with a bearer token."""

    def __init__(self, token: str | None = None, *, language: str | None = None) -> None:
        self.client = Client(raise_request_exception=False)
        self.headers: dict[str, str] = {}
        if token is not None:
            self.headers["Authorization"] = f"Bearer {token}"
        if language is not None:
            self.headers["Accept-Language"] = language

    def get(self, path: str, **headers: str) -> Any:
        return self.client.get(path, headers={**self.headers, **headers})

    def post(self, path: str, body: Any = None, *, raw: str | None = None, **headers: str) -> Any:
        data = raw if raw is not None else json.dumps(body if body is not None else {})
        return self.client.post(
            path, data, content_type="application/json", headers={**self.headers, **headers}
        )


def issue_token(username: str, password: str = PASSWORD) -> str:
    response = ApiClient().post("/api/v1/auth/token", {"username": username, "password": password})
    assert response.status_code == 200, response.content
    token: str = response.json()["token"]
    return token


@pytest.fixture
def token(subscriber: Subscriber) -> str:
    return issue_token(subscriber.user.username)


@pytest.fixture
def api(token: str) -> ApiClient:
    return ApiClient(token)


@pytest.fixture
def make_line(db: Any) -> Callable[..., Line]:
    """A line activated through lines.services on fresh stock."""

    def make(subscriber: Subscriber, plan: Plan, *, kind: SimKind = SimKind.PHYSICAL) -> Line:
        serial = 700000 + next(_serial)
        number = Number.objects.create(msisdn=f"+1613555{serial % 10000:04d}")
        if kind == SimKind.ESIM:
            sim = SimCard.objects.create(
                iccid=make_iccid(f"8912300000{serial:08d}"),
                kind=kind,
                smdp_address="smdp.example.com",
                matching_id=f"MATCH-{serial}",
            )
        else:
            sim = SimCard.objects.create(
                iccid=make_iccid(f"8912300000{serial:08d}"), kind=kind, location="WAREHOUSE"
            )
        return line_services.activate_line(
            subscriber, plan, kind=kind, acting_user=None, sim=sim, msisdn=number.msisdn
        )

    return make


@pytest.fixture
def fund_wallet(db: Any) -> Callable[[Subscriber, int], None]:
    """Top the subscriber's wallet up as a card payment would."""

    def fund(subscriber: Subscriber, amount_cents: int) -> None:
        ledger_services.transfer(
            kind="wallet_topup",
            source=ledger_services.system_account("clearing:stripe"),
            destination=ledger_services.wallet_for(subscriber),
            amount_cents=amount_cents,
            idempotency_key=f"test-topup:{subscriber.pk}:{next(_serial)}",
        )

    return fund
