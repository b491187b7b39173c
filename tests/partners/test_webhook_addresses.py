"""Webhook URLs reach the public internet only (kit/egress.py): a loopback, private or
link-local address is refused when a reseller is saved (service and admin) and again where
a delivery connects, unless SIMCARE_WEBHOOK_ALLOW_PRIVATE is set."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.test import Client, override_settings
from django.urls import reverse

from simcare.catalog.models import Plan
from simcare.kit import egress
from simcare.lines.models import Line
from simcare.partners import services
from simcare.partners.models import DeliveryStatus, Reseller, WebhookEvent
from tests.api.conftest import ApiClient
from tests.partners.conftest import fund

pytestmark = pytest.mark.django_db

PRIVATE_URLS = [
    "http://127.0.0.1:8080/hook",
    "http://localhost/hook",
    "http://10.0.0.5/hook",
    "https://192.168.1.20/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://[::1]/hook",
    "http://[::ffff:10.0.0.5]/hook",
    "http://0.0.0.0/hook",
]


@pytest.fixture(autouse=True)
def _private_refused(settings: Any) -> None:
    settings.SIMCARE_WEBHOOK_ALLOW_PRIVATE = False
    cache.clear()


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_a_reseller_with_a_private_webhook_url_is_refused(url: str) -> None:
    with pytest.raises(ValidationError) as refused:
        services.create_reseller(name="Edge", slug="edge", acting_user=None, webhook_url=url)

    assert "private or local network" in str(refused.value.message_dict["webhook_url"])
    assert not Reseller.objects.exists()


def test_a_public_address_is_accepted_and_the_setting_lets_private_ones_through(
    settings: Any,
) -> None:
    public = services.create_reseller(
        name="Far", slug="far", acting_user=None, webhook_url="https://93.184.216.34/hook"
    )
    settings.SIMCARE_WEBHOOK_ALLOW_PRIVATE = True
    local = services.create_reseller(
        name="Near", slug="near", acting_user=None, webhook_url="http://127.0.0.1:9/hook"
    )

    assert (public.webhook_url, local.webhook_url) == (
        "https://93.184.216.34/hook",
        "http://127.0.0.1:9/hook",
    )


def _reseller_form(webhook_url: str) -> dict[str, str]:
    return {
        "name": "Corner Shop",
        "slug": "corner",
        "is_active": "on",
        "rate_limit_per_second": "20",
        "webhook_url": webhook_url,
        "prices-TOTAL_FORMS": "0",
        "prices-INITIAL_FORMS": "0",
        "api_keys-TOTAL_FORMS": "0",
        "api_keys-INITIAL_FORMS": "0",
    }


def test_the_admin_refuses_a_link_local_webhook_url_with_a_message(
    admin_client_verified: Client,
) -> None:
    url = reverse("admin:partners_reseller_add")

    refused = admin_client_verified.post(url, _reseller_form("http://169.254.169.254/"))
    accepted = admin_client_verified.post(url, _reseller_form("https://93.184.216.34/hook"))

    assert refused.status_code == 200
    assert "private or local network" in refused.content.decode()
    assert accepted.status_code == 302
    assert Reseller.objects.get().webhook_url == "https://93.184.216.34/hook"


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("100.64.0.1", False),
        ("169.254.169.254", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("::ffff:192.168.0.1", False),
    ],
)
def test_which_addresses_are_public(address: str, public: bool) -> None:
    assert egress.is_public(address) is public


@pytest.fixture
def local_receiver() -> Iterator[list[bytes]]:
    received: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    received.append(f"http://127.0.0.1:{server.server_address[1]}/hook".encode())
    yield received
    server.shutdown()
    server.server_close()


def test_a_delivery_to_an_address_that_became_private_is_refused_at_connect(
    reseller: Reseller,
    reseller_api: ApiClient,
    plan: Plan,
    line: Line,
    local_receiver: list[bytes],
) -> None:
    # given: a URL saved while it was allowed (or whose DNS changed since), and an order
    url = local_receiver.pop().decode()
    Reseller.objects.filter(pk=reseller.pk).update(webhook_url=url)
    fund(reseller, 10_000)
    body = {"external_order_no": "SSRF-1", "kind": "renewal", "msisdn": line.msisdn}
    assert reseller_api.post("/api/v1/orders", {**body, "plan_code": plan.code}).status_code == 201

    # when: the job delivers with private addresses refused
    summary = services.deliver_due_webhooks()

    # then: nothing reached the receiver; the attempt says why and the delivery retries
    assert summary == {"attempted": 1, "delivered": 0, "retrying": 1, "abandoned": 0}
    assert local_receiver == []
    delivery = WebhookEvent.objects.get()
    attempt = delivery.attempt_log.get()
    assert attempt.status_code is None
    assert "non-public address (127.0.0.1)" in attempt.error
    assert delivery.status == DeliveryStatus.PENDING

    # and with the setting on, the same delivery goes through on its next try
    with override_settings(SIMCARE_WEBHOOK_ALLOW_PRIVATE=True):
        services.attempt_delivery(delivery)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert len(local_receiver) == 1
