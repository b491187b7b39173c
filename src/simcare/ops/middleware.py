"""Request logging, request metrics, and the request id that ties a request's log lines
together."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import structlog
from django.http import HttpRequest, HttpResponse

from simcare.ops.logs import get_logger
from simcare.ops.metrics import observe_request

log = get_logger("simcare.request")


class RequestLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
        elapsed = time.perf_counter() - started
        elapsed_ms = round(elapsed * 1000, 1)
        if not request.path.startswith("/static/"):
            observe_request(request.method or "", response.status_code, elapsed)
            # The path only, never the query string: it may carry a search or a token.
            log.info(
                "request",
                method=request.method,
                path=request.path,
                status=response.status_code,
                ms=elapsed_ms,
                request_id=request_id,
            )
        response["X-Request-Id"] = request_id
        return response
