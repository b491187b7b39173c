"""HTTP through the real ASGI application (simcare.asgi) and its pooled, synchronous
request handler (simcare.kit.web_handler): pages work through the whole middleware
stack, and requests run on a bounded set of reused threads."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import HttpCommunicator
from django.core.signals import request_finished
from django.template import engines
from django.template.loaders.cached import Loader as CachedLoader

from simcare.accounts.models import Subscriber
from simcare.asgi import application, django_asgi_app
from simcare.catalog.models import Plan
from simcare.kit.web_handler import PooledSyncASGIHandler
from simcare.lines.models import Line
from tests.conftest import signed_in_client
from tests.lines.conftest import make_line

__all__ = ["make_line"]

pytestmark = pytest.mark.django_db(transaction=True)

RESPONSE_TIMEOUT = 60  # seconds: a loaded machine is slow, not broken


async def _get(app: Any, path: str, cookie: str = "") -> dict[str, Any]:
    headers = [(b"host", b"testserver")]
    if cookie:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    communicator = HttpCommunicator(app, "GET", path, headers=headers)
    response: dict[str, Any] = await communicator.get_response(timeout=RESPONSE_TIMEOUT)
    await communicator.wait(timeout=RESPONSE_TIMEOUT)  # the request closed (request_finished)
    return response


def test_healthz_and_a_signed_in_dashboard_answer_through_the_asgi_application(
    subscriber: Subscriber, plan: Plan, make_line: Callable[..., Line]
) -> None:
    # given
    line = make_line(subscriber, plan)
    cookie = signed_in_client(subscriber.user).cookies["sessionid"].value

    # when
    try:
        health = async_to_sync(_get)(application, "/healthz")
        dashboard = async_to_sync(_get)(application, "/en/portal/", cookie)
        anonymous = async_to_sync(_get)(application, "/en/portal/")
    finally:
        django_asgi_app.close()  # the request threads' connections, before the test database goes

    # then
    assert health["status"] == 200
    assert json.loads(health["body"]) == {"status": "ok"}
    assert dashboard["status"] == 200
    page = dashboard["body"].decode()
    assert "Canada 30 days" in page
    assert f"/en/portal/lines/{line.msisdn}/renew/" in page
    assert "csrfmiddlewaretoken" in page  # the sign-out form: CSRF middleware ran
    headers = {name.lower(): value for name, value in dashboard["headers"]}
    assert b"content-security-policy" in headers
    assert b"x-request-id" in headers
    assert anonymous["status"] == 302
    location = {name.lower(): value for name, value in anonymous["headers"]}[b"location"]
    assert location.startswith(b"/en/accounts/login/")


def test_requests_run_on_at_most_the_configured_threads_and_reuse_them(db: Any) -> None:
    # given: a handler with two request threads, and a record of the thread each
    # request finished in (request_finished is sent from the request's thread)
    handler = PooledSyncASGIHandler(threads=2)
    threads: list[int] = []

    def record(**_kwargs: Any) -> None:
        threads.append(threading.get_ident())

    request_finished.connect(record)
    try:
        # when: eight requests at once, then four one after the other
        async def at_once() -> list[dict[str, Any]]:
            return await asyncio.gather(*(_get(handler, "/healthz") for _ in range(8)))

        together = async_to_sync(at_once)()
        concurrent_threads = set(threads)
        threads.clear()

        async def one_by_one() -> list[dict[str, Any]]:
            return [await _get(handler, "/healthz") for _ in range(4)]

        in_turn = async_to_sync(one_by_one)()
    finally:
        request_finished.disconnect(record)
        handler.close()

    # then: every request answered, on no more than the two threads; one after the other,
    # on the same (most recently used) thread and its database connection
    assert [response["status"] for response in together + in_turn] == [200] * 12
    assert 1 <= len(concurrent_threads) <= 2
    assert len(set(threads)) == 1
    assert threading.get_ident() not in concurrent_threads | set(threads)


def test_a_handler_needs_at_least_one_thread() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        PooledSyncASGIHandler(threads=0)


def test_compiled_templates_are_cached_with_debug_off(settings: Any) -> None:
    assert settings.DEBUG is False
    loaders = engines["django"].engine.template_loaders  # type: ignore[attr-defined]
    assert [type(loader) for loader in loaders] == [CachedLoader]
