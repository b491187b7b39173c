"""Liveness, readiness and metrics: no language prefix, no login."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from simcare.ops import metrics
from simcare.ops.models import WorkerHeartbeat


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:
        return False, type(error).__name__
    return True, connection.vendor


def _check_redis() -> tuple[bool, str]:
    import redis

    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2
        )
        client.ping()
        client.close()
    except redis.RedisError as error:
        return False, type(error).__name__
    return True, "pong"


def _check_worker() -> tuple[bool, str]:
    latest = WorkerHeartbeat.objects.order_by("-seen_at").values_list("seen_at", flat=True).first()
    if latest is None:
        return False, "no worker has started"
    age = timezone.now() - latest
    fresh = age <= dt.timedelta(seconds=settings.SIMCARE_WORKER_HEARTBEAT_MAX_AGE_SECONDS)
    return fresh, f"last heartbeat {int(age.total_seconds())} s ago"


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, Any] = {}
    database_ok, detail = _check_database()
    checks["database"] = {"ok": database_ok, "detail": detail}
    if settings.REDIS_URL:
        redis_ok, detail = _check_redis()
        checks["redis"] = {"ok": redis_ok, "detail": detail}
    if database_ok:
        worker_ok, detail = _check_worker()
    else:
        worker_ok, detail = False, "database unreachable"
    checks["worker"] = {"ok": worker_ok, "detail": detail}
    ready = all(check["ok"] for check in checks.values())
    return JsonResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status=200 if ready else 503,
    )


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    body, content_type = metrics.render()
    return HttpResponse(body, content_type=content_type)
