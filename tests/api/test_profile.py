"""GET/PATCH /api/v1/me/profile and GET /api/v1/me/export."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from django.test import Client

from simcare.accounts.models import AuditEvent, Subscriber
from simcare.accounts.preferences import MARKETING_CONSENT_WORDING_VERSION
from tests.api.conftest import ApiClient, issue_token

pytestmark = pytest.mark.django_db


def _patch(api: ApiClient, body: object, **headers: str) -> object:
    return api.client.patch(
        "/api/v1/me/profile",
        json.dumps(body),
        content_type="application/json",
        headers={**api.headers, **headers},
    )


def test_the_profile_shows_the_document_masked(api: ApiClient, subscriber: Subscriber) -> None:
    subscriber.id_document_type = "passport"
    subscriber.id_document_number = "X1234567"
    subscriber.save()

    response = api.get("/api/v1/me/profile")

    assert response.status_code == 200
    body = response.json()
    assert body["email"] == subscriber.user.email
    assert body["id_document_number_masked"] == subscriber.id_document_number_masked
    assert "X1234567" not in response.content.decode()
    assert body["marketing_consent"] is False
    assert body["has_account_pin"] is False


def test_patch_changes_only_the_fields_sent_and_records_consent(
    api: ApiClient, subscriber: Subscriber
) -> None:
    response = _patch(api, {"language": "zh-hans", "marketing_consent": True})

    assert response.status_code == 200  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["language"] == "zh-hans"
    assert body["email_notifications"] is True
    assert body["sms_notifications"] is True
    assert body["marketing_consent_channel"] == "api"
    assert body["marketing_consent_wording_version"] == MARKETING_CONSENT_WORDING_VERSION
    subscriber.refresh_from_db()
    assert subscriber.user.language == "zh-hans"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"language": "de"}, "language_invalid"),
        ({"email_notifications": False, "sms_notifications": False}, "no_channel_left"),
        ({"email_notifications": "maybe"}, "validation_error"),
    ],
)
def test_a_refused_patch_is_a_422_problem_and_changes_nothing(
    api: ApiClient, subscriber: Subscriber, body: object, code: str
) -> None:
    response = _patch(api, body, **{"Accept-Language": "fr"})
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert response["Content-Type"] == "application/problem+json"  # type: ignore[index]
    problem = response.json()  # type: ignore[attr-defined]
    assert problem["code"] == code
    subscriber.refresh_from_db()
    assert subscriber.user.language == "en"
    assert subscriber.email_notifications_enabled is True
    assert not AuditEvent.objects.filter(action="subscriber.preferences_changed").exists()


def test_the_export_is_the_callers_own_data_once_every_few_minutes(
    api: ApiClient, subscriber: Subscriber, make_subscriber: Callable[..., Subscriber]
) -> None:
    other = make_subscriber()

    response = api.get("/api/v1/me/export")

    assert response.status_code == 200
    document = response.json()
    assert document["format"] == "simcare.personal-data/1"
    assert document["profile"]["email"] == subscriber.user.email
    assert other.user.email not in response.content.decode()
    again = api.get("/api/v1/me/export")
    assert again.status_code == 429
    assert again.json()["code"] == "export_too_soon"
    assert int(again["Retry-After"]) > 0
    # each person has their own limit
    assert ApiClient(issue_token(other.user.username)).get("/api/v1/me/export").status_code == 200
    assert Client().get("/api/v1/me/export").status_code == 401
