"""The embedded default and the production services behind the same settings."""

from __future__ import annotations

import os

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from huey.contrib.djhuey import HUEY

WITH_REDIS = bool(os.environ.get("REDIS_URL"))


@pytest.mark.django_db
def test_database_is_the_one_the_environment_names() -> None:
    if os.environ.get("DATABASE_URL"):
        assert connection.vendor == "postgresql"
    else:
        assert connection.vendor == "sqlite"
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            assert cursor.fetchone()[0] == "wal"


def test_channel_layer_delivers_a_message() -> None:
    layer = get_channel_layer()
    assert layer is not None
    expected = "RedisChannelLayer" if WITH_REDIS else "InMemoryChannelLayer"
    assert type(layer).__name__ == expected

    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.send)(channel, {"type": "test.message", "text": "你好"})
    assert async_to_sync(layer.receive)(channel) == {"type": "test.message", "text": "你好"}


@pytest.mark.django_db
def test_cache_round_trips() -> None:
    cache.set("simcare-test-key", {"a": 1}, 30)
    assert cache.get("simcare-test-key") == {"a": 1}
    expected = "RedisCache" if WITH_REDIS else "DatabaseCache"
    assert settings.CACHES["default"]["BACKEND"].endswith(expected)


def test_task_queue_backend_follows_redis_url() -> None:
    expected = "RedisHuey" if WITH_REDIS else "SqliteHuey"
    assert settings.HUEY["huey_class"].endswith(expected)
    assert HUEY.name == "simcare"
