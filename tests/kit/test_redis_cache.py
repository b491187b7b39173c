"""simcare.kit.redis_cache: one Redis connection pool a process, whatever the thread or the
request's context (Django's stock backend made a pool, and connections, per request under
ASGI)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import pytest
import redis
from asgiref.sync import async_to_sync
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache

from simcare.accounts.models import Subscriber
from simcare.asgi import django_asgi_app
from simcare.catalog.models import Plan
from simcare.kit.redis_cache import RedisCache
from simcare.lines.models import Line
from tests.conftest import signed_in_client
from tests.kit.test_web_handler import _get
from tests.lines.conftest import make_line

__all__ = ["make_line"]

pytestmark = [
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL"),
    pytest.mark.django_db(transaction=True),
]


def _connections_received(probe: redis.Redis) -> int:
    return int(probe.info("stats")["total_connections_received"])


def test_caches_of_every_thread_share_one_client_and_pool() -> None:
    # given: the default cache as two other threads see it
    seen: list[BaseCache] = []

    def look() -> None:
        seen.append(caches["default"])

    threads = [threading.Thread(target=look) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then: two cache objects (Django's, one per thread), one client and pool under them
    first, second = seen
    assert isinstance(first, RedisCache)
    assert first is not second
    client: Any = first._cache.get_client()  # type: ignore[attr-defined]
    assert client is second._cache.get_client()  # type: ignore[attr-defined]
    assert client.connection_pool is second._cache.get_client(write=True).connection_pool  # type: ignore[attr-defined]
    first.set("simcare-test-shared", "yes", 30)
    assert second.get("simcare-test-shared") == "yes"


def test_requests_through_the_asgi_application_reuse_the_redis_connections(
    subscriber: Subscriber, plan: Plan, make_line: Callable[..., Line]
) -> None:
    # given: a signed-in subscriber, whose session the dashboard reads from Redis
    make_line(subscriber, plan)
    cookie = signed_in_client(subscriber.user).cookies["sessionid"].value
    probe = redis.Redis.from_url(os.environ["REDIS_URL"])
    try:
        async_to_sync(_get)(django_asgi_app, "/en/portal/", cookie)  # pools warm
        before = _connections_received(probe)

        # when: twenty dashboards, one after the other
        for _ in range(20):
            response = async_to_sync(_get)(django_asgi_app, "/en/portal/", cookie)
            assert response["status"] == 200
        after = _connections_received(probe)
    finally:
        django_asgi_app.close()
        probe.close()

    # then: no new connection a request (the stock backend opened several each)
    assert after - before <= 2
