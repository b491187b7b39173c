"""Prometheus metrics.

State (lines, outbox backlog, job runs, chat queue, CDR rating) is read from the
database at scrape time, so every web process reports the same figures without
shared memory. Requests are counted in the process that serves them; with
several web processes set PROMETHEUS_MULTIPROC_DIR (an empty directory, the
same for all of them) and every process's counts are summed on each scrape.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from django.db.models import Count, Q, Sum
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

HTTP_REQUESTS = Counter(
    "simcare_http_requests", "HTTP requests served", labelnames=["method", "status"]
)
HTTP_LATENCY = Histogram(
    "simcare_http_request_duration_seconds",
    "Time to answer an HTTP request",
    labelnames=["method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


def observe_request(method: str, status: int, seconds: float) -> None:
    """Count one answered request; unknown methods share one label so the set stays small."""
    label = method if method in _METHODS else "OTHER"
    HTTP_REQUESTS.labels(method=label, status=str(status)).inc()
    HTTP_LATENCY.labels(method=label).observe(seconds)


class DatabaseCollector:
    def collect(self) -> Iterator[Metric]:
        from simcare.lines.models import Line
        from simcare.notify.models import Notification, NotificationStatus
        from simcare.ops.models import JobRun

        lines = GaugeMetricFamily("simcare_lines", "Lines by lifecycle state", labels=["state"])
        for row in Line.objects.values("state").annotate(count=Count("id")).order_by():
            lines.add_metric([row["state"]], row["count"])
        yield lines

        backlog = GaugeMetricFamily("simcare_outbox_backlog", "Notifications waiting to be sent")
        backlog.add_metric(
            [], Notification.objects.filter(status=NotificationStatus.QUEUED).count()
        )
        yield backlog

        runs = GaugeMetricFamily("simcare_job_runs", "Recorded job runs", labels=["job", "outcome"])
        run_counts = JobRun.objects.values_list("job", "succeeded").annotate(count=Count("id"))
        for job, succeeded, count in run_counts.order_by():
            runs.add_metric([job, "success" if succeeded else "failure"], count)
        yield runs

        from simcare.care.models import Conversation, ConversationStatus

        queue = GaugeMetricFamily("simcare_chat_queue_length", "Chats waiting for a person")
        queue.add_metric([], Conversation.objects.filter(status=ConversationStatus.QUEUED).count())
        yield queue

        from simcare.care.models import Ticket

        breaches = GaugeMetricFamily(
            "simcare_sla_breaches", "Tickets that missed an SLA target", labels=["target"]
        )
        counts = Ticket.objects.aggregate(
            first_response=Count("pk", filter=Q(first_response_breached_at__isnull=False)),
            resolution=Count("pk", filter=Q(resolution_breached_at__isnull=False)),
        )
        for target, count in counts.items():
            breaches.add_metric([target], count)
        yield breaches

        yield from _rating()


def _rating() -> Iterator[Metric]:
    from simcare.usage.models import CdrImport, ImportStatus

    totals = CdrImport.objects.aggregate(applied=Sum("applied"), rejected=Sum("rejected"))
    records = GaugeMetricFamily(
        "simcare_cdr_records", "Usage records imported, by outcome", labels=["outcome"]
    )
    records.add_metric(["rated"], totals["applied"] or 0)
    records.add_metric(["rejected"], totals["rejected"] or 0)
    yield records

    throughput = GaugeMetricFamily(
        "simcare_cdr_rating_records_per_second",
        "Records read per second by the last finished CDR import",
    )
    last = (
        CdrImport.objects.filter(finished_at__isnull=False, status=ImportStatus.FINISHED)
        .order_by("-finished_at")
        .first()
    )
    if last is not None and last.finished_at is not None:
        seconds = (last.finished_at - last.started_at).total_seconds()
        throughput.add_metric([], last.rows_read / seconds if seconds > 0 else 0.0)
    yield throughput


def request_metrics() -> bytes:
    """The request counts: this process's, or every process's with PROMETHEUS_MULTIPROC_DIR."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def render() -> tuple[bytes, str]:
    registry = CollectorRegistry()
    registry.register(DatabaseCollector())
    return generate_latest(registry) + request_metrics(), CONTENT_TYPE_LATEST
