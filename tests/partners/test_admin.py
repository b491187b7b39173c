"""The reseller admin through the browser's requests: keys shown once and revoked, the float
topped up through the ledger (once per form), the webhook secret rotated, the delivery log."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from simcare.accounts.models import AuditEvent
from simcare.partners import services
from simcare.partners.models import Reseller, ResellerApiKey
from tests.api.conftest import ApiClient

pytestmark = pytest.mark.django_db


def _shown_once(response: object) -> str:
    match = re.search(r'<pre id="shown-once"[^>]*>([^<]+)</pre>', response.content.decode())  # type: ignore[attr-defined]
    assert match, "the page shows the secret"
    return match.group(1).strip()


def test_an_admin_creates_a_key_that_works_and_is_shown_once(
    admin_client_verified: Client, reseller: Reseller
) -> None:
    url = reverse("admin:partners_reseller_create_key", args=(reseller.pk,))

    form = admin_client_verified.get(url)
    created = admin_client_verified.post(url, {"label": "shop backend"})

    assert form.status_code == 200
    assert created["Cache-Control"].startswith("no-store") or "no-store" in created["Cache-Control"]
    key = _shown_once(created)
    assert ApiClient(key).get("/api/v1/float").status_code == 200
    row = ResellerApiKey.objects.get(reseller=reseller)
    assert row.label == "shop backend"
    page = admin_client_verified.get(reverse("admin:partners_reseller_change", args=(reseller.pk,)))
    assert key not in page.content.decode()

    revoked = admin_client_verified.post(
        reverse("admin:partners_resellerapikey_changelist"),
        {"action": "revoke", "_selected_action": [row.pk]},
    )
    assert revoked.status_code == 302
    assert ApiClient(key).get("/api/v1/float").status_code == 401


def test_an_admin_tops_the_float_up_once_per_form(
    admin_client_verified: Client, reseller: Reseller
) -> None:
    url = reverse("admin:partners_reseller_top_up", args=(reseller.pk,))
    form = admin_client_verified.get(url)
    token = re.search(r'name="token" value="([0-9a-f]+)"', form.content.decode())
    assert token
    data = {
        "amount": "250.00",
        "source": "clearing:bank",
        "reference": "wire 42",
        "token": token.group(1),
    }

    first = admin_client_verified.post(url, data)
    again = admin_client_verified.post(url, data)  # a double submit

    assert first.status_code == 302
    assert again.status_code == 302
    assert services.float_balance_cents(reseller) == 25_000
    assert AuditEvent.objects.filter(action="reseller.float_topped_up").exists()


def test_a_rotated_secret_is_shown_once_and_signs_from_then_on(
    admin_client_verified: Client, reseller: Reseller
) -> None:
    url = reverse("admin:partners_reseller_rotate_secret", args=(reseller.pk,))
    old = reseller.webhook_secret

    secret = _shown_once(admin_client_verified.post(url))

    reseller.refresh_from_db()
    assert secret == reseller.webhook_secret != old
    assert secret.startswith("whsec_")


def test_the_admin_adds_a_reseller_with_a_secret_and_a_float(
    admin_client_verified: Client,
) -> None:
    response = admin_client_verified.post(
        reverse("admin:partners_reseller_add"),
        {
            "name": "Corner Shop",
            "slug": "corner",
            "is_active": "on",
            "rate_limit_per_second": "20",
            "webhook_url": "",
            "prices-TOTAL_FORMS": "0",
            "prices-INITIAL_FORMS": "0",
            "api_keys-TOTAL_FORMS": "0",
            "api_keys-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    reseller = Reseller.objects.get(slug="corner")
    assert reseller.webhook_secret.startswith("whsec_")
    assert services.float_balance_cents(reseller) == 0
