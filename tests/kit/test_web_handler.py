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
from django.core.signals import request_finished, request_started
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


def test_the_request_signals_and_the_view_run_in_the_request_thread(db: Any) -> None:
    # given: a record of the thread each request signal is sent from
    handler = PooledSyncASGIHandler(threads=1)
    events: list[tuple[str, int]] = []

    def started(**_kwargs: Any) -> None:
        events.append(("started", threading.get_ident()))

    def finished(**_kwargs: Any) -> None:
        events.append(("finished", threading.get_ident()))

    request_started.connect(started)
    request_finished.connect(finished)
    try:
        # when: three requests, a page, a redirect and a missing page
        async def three() -> list[dict[str, Any]]:
            return [await _get(handler, path) for path in ("/healthz", "/en/portal/", "/nowhere/")]

        responses = async_to_sync(three)()
    finally:
        request_started.disconnect(started)
        request_finished.disconnect(finished)
        handler.close()

    # then: each request sent request_started then request_finished once, both from the one
    # request thread (not the event loop's)
    assert [response["status"] for response in responses] == [200, 302, 404]
    assert [name for name, _ in events] == ["started", "finished"] * 3
    assert len({thread for _, thread in events}) == 1
    assert threading.get_ident() not in {thread for _, thread in events}


def test_a_streamed_response_is_sent_whole_then_closed_in_the_request_thread(
    db: Any, settings: Any
) -> None:
    # given
    from tests.kit import streaming_urls

    settings.ROOT_URLCONF = "tests.kit.streaming_urls"
    streaming_urls.CLOSED_IN.clear()
    handler = PooledSyncASGIHandler(threads=1)
    finished: list[int] = []

    def record(**_kwargs: Any) -> None:
        finished.append(threading.get_ident())

    async def call() -> list[dict[str, Any]]:
        # The ASGI messages as a server sees them (channels' HttpCommunicator does not take
        # the body-less last message of a stream).
        sent: list[dict[str, Any]] = []
        requested = False

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.sleep(RESPONSE_TIMEOUT)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            message = {**message, "closed_before": bool(streaming_urls.CLOSED_IN)}
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/streamed/",
            "raw_path": b"/streamed/",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"testserver")],
            "client": ("127.0.0.1", 5000),
            "server": ("testserver", 80),
        }
        await asyncio.wait_for(handler(scope, receive, send), RESPONSE_TIMEOUT)
        return sent

    request_finished.connect(record)
    try:
        # when
        messages = async_to_sync(call)()
    finally:
        request_finished.disconnect(record)
        handler.close()

    # then: every part arrived, and the response was closed once, after it was sent, in the
    # thread its request ran in
    assert messages[0]["type"] == "http.response.start"
    assert messages[0]["status"] == 200
    assert b"".join(message.get("body", b"") for message in messages[1:]) == b"one,two,three"
    assert messages[-1] == {"type": "http.response.body", "closed_before": False}
    assert len(streaming_urls.CLOSED_IN) == 1
    assert finished == streaming_urls.CLOSED_IN


def test_a_handler_needs_at_least_one_thread() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        PooledSyncASGIHandler(threads=0)


def test_compiled_templates_are_cached_with_debug_off(settings: Any) -> None:
    assert settings.DEBUG is False
    loaders = engines["django"].engine.template_loaders  # type: ignore[attr-defined]
    assert [type(loader) for loader in loaders] == [CachedLoader]
