"""Schemathesis against the live OpenAPI document: generated requests to every operation,
signed in with a real token, get no server error and answers that conform to the schema.

Valid and invalid requests alike (positive and negative generation): an invalid one must
get a documented 4xx problem, never a 500. Bounded (a fixed number of examples per
operation, derandomized) so it stays well under a minute and every run tries the same
inputs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import hypothesis
import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck
from schemathesis import GenerationMode, checks

from simcare.accounts.models import Subscriber
from simcare.catalog.models import Plan
from tests.api.conftest import issue_token

pytestmark = pytest.mark.django_db

EXAMPLES_PER_OPERATION = 30


@contextlib.contextmanager
def wsgi_app() -> Iterator[WSGIHandler]:
    """The project as a WSGI server runs it, minus closing the database connection after
    each request (as Django's test client does), so the test's transaction survives.
    Django's test client reconnects the signal after each of its requests: use no test
    client inside."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _fuzz(
    operation: schemathesis.APIOperation,
    token: str,
    path_parameters: dict[str, str] | None = None,
    body: dict[str, str] | None = None,
) -> str:
    if body is not None:  # only the headers vary: valid requests that do renew
        strategy = operation.as_strategy(path_parameters=path_parameters, body=body)
    else:
        strategy = operation.as_strategy(
            GenerationMode.POSITIVE, path_parameters=path_parameters
        ) | operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=path_parameters)

    @hypothesis.settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(
            headers={"Authorization": f"Bearer {token}"},
            checks=[checks.not_a_server_error, checks.response_schema_conformance],
        )

    run()
    label: str = operation.label
    return label


def test_every_operation_survives_generated_requests_and_conforms(
    subscriber: Subscriber,
    plan: Plan,
    make_line: Callable,
    fund_wallet: Callable[[Subscriber, int], None],
) -> None:
    # given: a subscriber with a line and money, and the document the app serves
    line = make_line(subscriber, plan)
    fund_wallet(subscriber, 10_000)
    token = issue_token(subscriber.user.username)
    tried: list[str] = []

    # when / then
    with wsgi_app() as app:
        schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
        for result in schema.get_all_operations():
            tried.append(_fuzz(result.ok(), token))
        # Renewals of the subscriber's own line too, not only of numbers that are not theirs.
        renew = schema["/api/v1/me/lines/{msisdn}/renew"]["POST"]
        _fuzz(renew, token, path_parameters={"msisdn": line.msisdn})
        _fuzz(
            renew,
            token,
            path_parameters={"msisdn": line.msisdn},
            body={"plan_code": plan.code, "payment": "wallet"},
        )

    assert {
        "POST /api/v1/auth/token",
        "GET /api/v1/me/lines",
        "GET /api/v1/me/wallet",
        "GET /api/v1/me/orders",
        "POST /api/v1/me/lines/{msisdn}/renew",
        "POST /api/v1/me/vouchers/redeem",
    } <= set(tried)
