"""Django's Redis cache with one connection pool per process and server.

Django keeps cache objects per context (`caches` is an asgiref Local that is not thread
critical), and under ASGI every request runs in a context of its own: each request made
a new RedisCache, so a new connection pool and a new TCP connection to Redis (the portal
benchmark counted ~5 Redis connections per dashboard), then dropped them. This backend
shares one pool and one client per server across every context and thread of the
process (redis-py's pools and clients are thread-safe, and a pool notices a fork and
starts afresh). Behaviour is otherwise Django's `RedisCache`.

    CACHES = {"default": {"BACKEND": "simcare.kit.redis_cache.RedisCache", ...}}
"""

from __future__ import annotations

import threading
from typing import Any, cast

from django.core.cache.backends import redis

_lock = threading.Lock()
_pools: dict[tuple[str, str], Any] = {}
_clients: dict[tuple[str, str], Any] = {}


class SharedPoolRedisCacheClient(redis.RedisCacheClient):
    # Set by Django's RedisCacheClient (django-stubs leave its private attributes out).
    _servers: list[str]
    _pool_options: dict[str, Any]
    _pool_class: Any
    _client: Any

    def _shared_key(self, write: bool) -> tuple[str, str]:
        index: int = cast(Any, self)._get_connection_pool_index(write)
        return self._servers[index], repr(sorted(self._pool_options.items(), key=str))

    def _get_connection_pool(self, write: bool) -> Any:
        key = self._shared_key(write)
        pool = _pools.get(key)
        if pool is None:
            with _lock:
                pool = _pools.get(key)
                if pool is None:
                    pool = self._pool_class.from_url(key[0], **self._pool_options)
                    _pools[key] = pool
        return pool

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        shared = self._shared_key(write)
        client = _clients.get(shared)
        if client is None:
            pool = self._get_connection_pool(write)
            with _lock:
                client = _clients.setdefault(shared, self._client(connection_pool=pool))
        return client


class RedisCache(redis.RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = SharedPoolRedisCacheClient
