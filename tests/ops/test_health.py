from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from simcare.care.models import Ticket
from simcare.ops.models import JobRun, WorkerHeartbeat
from simcare.usage.models import CdrImport, ImportStatus

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_a_language_prefix(client: Client) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_not_ready_until_a_worker_has_beaten(client: Client) -> None:
    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["worker"]["ok"] is False


def test_readyz_is_ready_after_the_heartbeat_job_and_stale_after_three_minutes(
    client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    # given
    call_command("jobs", "run", "heartbeat")

    # then
    assert client.get("/readyz").status_code == 200
    assert WorkerHeartbeat.objects.count() == 1
    assert JobRun.objects.filter(job="heartbeat", succeeded=True).count() == 1
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=4)):
        assert client.get("/readyz").status_code == 503


def test_jobs_run_prints_the_summary_and_rejects_an_unknown_job(
    capsys: pytest.CaptureFixture[str],
) -> None:
    call_command("jobs", "run", "heartbeat")
    assert json.loads(capsys.readouterr().out)["job"] == "heartbeat"

    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no job named 'nope'"):
        call_command("jobs", "run", "nope")


def test_metrics_exposes_outbox_backlog(client: Client) -> None:
    response = client.get("/metrics")

    assert response.status_code == 200
    assert b"simcare_outbox_backlog 0.0" in response.content


def test_metrics_count_requests_by_method_and_status(client: Client) -> None:
    client.get("/healthz")
    client.get("/healthz")
    client.post("/healthz")

    body = client.get("/metrics").content.decode()

    counts = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in body.splitlines()
        if line.startswith("simcare_http_requests_total{")
    }
    assert counts['simcare_http_requests_total{method="GET",status="200"}'] >= 2
    assert counts['simcare_http_requests_total{method="POST",status="405"}'] >= 1
    assert 'simcare_http_request_duration_seconds_bucket{le="0.005",method="GET"}' in body


def test_metrics_report_rated_records_and_the_last_import_rate(client: Client) -> None:
    started = timezone.now() - dt.timedelta(seconds=4)
    CdrImport.objects.create(
        file_name="a.csv",
        status=ImportStatus.FINISHED,
        started_at=started,
        finished_at=started + dt.timedelta(seconds=2),
        rows_read=1000,
        applied=990,
        rejected=10,
    )
    CdrImport.objects.create(
        file_name="b.csv.gz",
        status=ImportStatus.FINISHED,
        started_at=started + dt.timedelta(seconds=2),
        finished_at=started + dt.timedelta(seconds=4),
        rows_read=500,
        applied=500,
    )

    body = client.get("/metrics").content.decode()

    assert 'simcare_cdr_records{outcome="rated"} 1490.0' in body
    assert 'simcare_cdr_records{outcome="rejected"} 10.0' in body
    assert "simcare_cdr_rating_records_per_second 250.0" in body


def test_with_a_multiprocess_directory_any_process_reports_every_processs_requests(
    tmp_path: Path,
) -> None:
    # Each child is a separate process, as uvicorn's workers are; they share the directory.
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    count = (
        "import django; django.setup();"
        "from simcare.ops.metrics import observe_request;"
        "[observe_request('GET', 200, 0.01) for _ in range({n})]"
    )
    report = (
        "import django; django.setup();"
        "from simcare.ops.metrics import request_metrics; print(request_metrics().decode())"
    )
    for n in (3, 4):
        subprocess.run([sys.executable, "-c", count.format(n=n)], env=env, check=True)

    body = subprocess.run(
        [sys.executable, "-c", report], env=env, check=True, capture_output=True, text=True
    ).stdout

    assert 'simcare_http_requests_total{method="GET",status="200"} 7.0' in body


def test_metrics_count_sla_breaches_by_target(client: Client) -> None:
    breached = timezone.now()
    Ticket.objects.create(source="web", subject="a", first_response_breached_at=breached)
    Ticket.objects.create(
        source="web",
        subject="b",
        first_response_breached_at=breached,
        resolution_breached_at=breached,
    )
    Ticket.objects.create(source="web", subject="c")

    body = client.get("/metrics").content.decode()

    assert 'simcare_sla_breaches{target="first_response"} 2.0' in body
    assert 'simcare_sla_breaches{target="resolution"} 1.0' in body
