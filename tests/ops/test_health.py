from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from simcare.ops.models import JobRun, WorkerHeartbeat

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
