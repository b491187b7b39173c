"""Prometheus metrics read from the database at scrape time, so every web
process reports the same figures without shared memory."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST


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


def render() -> tuple[bytes, str]:
    registry = CollectorRegistry()
    registry.register(DatabaseCollector())
    return generate_latest(registry), CONTENT_TYPE_LATEST
