"""Django's ASGI handler, run like a WSGI server: one thread switch per request, on a bounded
set of reused threads.

Django's stock ASGIHandler, with our middleware (mostly synchronous), switches between the
event loop and a thread about twenty times per request: every MiddlewareMixin called in
async mode runs its process_request and process_response through sync_to_async, and each
synchronous middleware in between switches back. Under load each switch waits for the
loop: `/healthz` cost about 2 ms of CPU instead of 0.5 ms (benchmarks/portal.py). It also
starts a new thread for every request (and another one to join it), so every request opens
a new database connection, and under overload there are as many connections as requests in
flight (PostgreSQL refused more: benchmarks/reseller.py, docs/partners.md).

This handler loads the middleware in synchronous mode and runs the whole request (the
request signals, all middleware and the view) with one sync_to_async call, in a thread
borrowed for the request's lifetime from a pool of `threads` single-thread executors
(SIMCARE_WEB_THREADS), so that:
- the thread-sensitive code of a request (the view, its middleware, the response's close)
  still runs in one thread, as Django requires;
- a request beyond `threads` in flight waits (asynchronously) for a free thread;
- each thread keeps its database connection between requests (CONN_MAX_AGE, checked by
  Django at each request's start and end), so a process holds at most `threads`
  connections, plus the one of the WebSocket consumers' thread.
WebSockets do not come here: Channels routes them (simcare.asgi).
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.db import connections
from django.http import FileResponse, HttpResponseBase
from django.urls import set_script_prefix

THREAD_NAME_PREFIX = "simcare-web"


class PooledSyncASGIHandler(ASGIHandler):
    def __init__(self, *, threads: int) -> None:
        if threads < 1:
            raise ValueError("threads must be at least 1")
        # Not ASGIHandler.__init__: it loads the middleware in async mode.
        base.BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self.threads = threads
        self._executors: list[ThreadPoolExecutor] = []
        # One pool per event loop (one in a server process; tests may run several loops).
        self._pools: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, asyncio.LifoQueue[ThreadPoolExecutor]
        ] = weakref.WeakKeyDictionary()

    def _pool(self) -> asyncio.LifoQueue[ThreadPoolExecutor]:
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is None:
            pool = asyncio.LifoQueue()  # the most recently used thread first
            for _ in range(self.threads):
                executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=THREAD_NAME_PREFIX)
                self._executors.append(executor)
                pool.put_nowait(executor)
            self._pools[loop] = pool
        return pool

    def close(self) -> None:
        """Close the database connections the request threads keep, and stop the threads
        (from synchronous code, once no request is in flight: tests, a shutdown). The
        handler makes new threads if it is called again."""
        executors, self._executors = self._executors, []
        self._pools = weakref.WeakKeyDictionary()
        for executor in executors:
            executor.submit(connections.close_all).result()
            executor.shutdown()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        pool = self._pool()
        executor = await pool.get()
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            pool.put_nowait(executor)

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """One switch to the request's thread for the whole synchronous part of a request
        (request_started, the request, middleware and view, and for a response already in
        memory its close and request_finished); the event loop reads the body and sends the
        response.

        Django's handle() switches three times (request_started's receivers, the response,
        its close) and runs a task that listens for the client going away, to cancel an
        async view; a synchronous view cannot be cancelled, so it is left out. A streaming
        response (a file) is closed after it is sent, in the request's thread."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            response = await sync_to_async(self._respond, thread_sensitive=True)(scope, body_file)
            try:
                await self.send_response(response, send)
            except asyncio.CancelledError:
                pass  # the client went away while the response was sent
            finally:
                if response.streaming:
                    await sync_to_async(response.close, thread_sensitive=True)()
        finally:
            body_file.close()

    def _respond(self, scope: dict[str, Any], body_file: Any) -> HttpResponseBase:
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        response: HttpResponseBase
        if request is None:  # create_request gives the request or the error response
            response = cast(HttpResponseBase, error_response)
        else:
            response = self.get_response(request)
        response._handler_class = self.__class__  # type: ignore[attr-defined]
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size
        if not response.streaming:
            response.close()  # its content is in memory; request_finished, in this thread
        return response


# Young collections every 10,000 allocations instead of 700, middle ones every 10 of them.
GC_THRESHOLDS = (10_000, 10, 10)


def tune_garbage_collector() -> None:
    """For a long-running server process, once the application is loaded.

    The objects of the loaded application (Django, the apps, the URL and template caches:
    several hundred thousand) go to the permanent generation, so no collection walks them
    again, and young collections run less often. With 5,000 WebSocket clients in one
    process the default settings paused it for up to 185 ms in middle and 3.4 s in full
    collections on a loaded machine (benchmarks/chat.py), which is what the p99 of
    message delivery was made of. Reference counting still frees almost everything at
    once; the thresholds only space out the search for reference cycles.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
