"""The voucher back office through the Django test client, as a verified admin."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from simcare.accounts.models import AuditEvent, Role, Subscriber, User
from simcare.kit.time import local
from simcare.orders import pins
from simcare.orders.models import Voucher, VoucherBatch, VoucherStatus
from simcare.orders.services import vouchers
from tests.conftest import signed_in_client

from .vouchers_support import Batch, batch, make_batch, voucher_admin

__all__ = ["batch", "make_batch", "voucher_admin"]  # fixtures

pytestmark = pytest.mark.django_db

GENERATE_URL = reverse("admin:orders_voucherbatch_generate")


def _download_url(batch: VoucherBatch) -> str:
    return reverse("admin:orders_voucherbatch_download_pins", args=(batch.pk,))


def _messages(response: object) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]  # type: ignore[attr-defined]


def _form(**overrides: str) -> dict[str, str]:
    fields = {
        "name": "Dec 2026 $25 cards",
        "value": "25.00",
        "count": "12",
        "expires_on": (local(timezone.now()).date() + dt.timedelta(days=365)).isoformat(),
    }
    fields.update(overrides)
    return fields


def test_admin_generates_a_batch_and_downloads_its_pins_once(voucher_admin: User) -> None:
    client = signed_in_client(voucher_admin)

    # given: the form
    page = client.get(GENERATE_URL)
    assert page.status_code == 200
    assert 'name="count"' in page.content.decode()

    # when: generating
    response = client.post(GENERATE_URL, _form())

    # then: the batch exists and the admin is sent to its one-time download
    batch = VoucherBatch.objects.get()
    assert (batch.name, batch.value_cents, batch.count) == ("Dec 2026 $25 cards", 2500, 12)
    assert local(batch.expires_at).date().isoformat() == _form()["expires_on"]
    assert local(batch.expires_at).time() == dt.time(23, 59, 59, 999999)
    assert response.status_code == 302
    assert response["Location"] == _download_url(batch)
    explained = client.get(_download_url(batch))
    assert explained.status_code == 200
    assert "Download the CSV file" in explained.content.decode()
    change = client.get(reverse("admin:orders_voucherbatch_change", args=(batch.pk,)))
    assert _download_url(batch) in change.content.decode()

    # when: downloading
    download = client.post(_download_url(batch))

    # then: one row per voucher, each PIN matching its stored hash
    assert download.status_code == 200
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    assert download["Content-Disposition"] == f'attachment; filename="vouchers-{batch.pk}.csv"'
    assert "no-store" in download["Cache-Control"]
    rows = list(csv.DictReader(io.StringIO(download.content.decode())))
    assert len(rows) == 12
    key = vouchers.current_voucher_key()
    stored = dict(Voucher.objects.values_list("serial", "pin_hash"))
    assert {row["serial"]: pins.hash_pin(row["pin"], key=key) for row in rows} == stored
    assert {row["value_cents"] for row in rows} == {"2500"}
    assert AuditEvent.objects.filter(action="voucher_batch.pins_exported").count() == 1

    # when: downloading again
    again = client.post(_download_url(batch))

    # then: gone
    assert again.status_code == 302
    assert "no longer available" in " ".join(_messages(again))
    assert client.get(_download_url(batch)).status_code == 302
    change = client.get(reverse("admin:orders_voucherbatch_change", args=(batch.pk,)))
    assert _download_url(batch) not in change.content.decode()


def test_another_admin_cannot_take_the_download(
    voucher_admin: User, make_staff: Callable[..., User]
) -> None:
    # given
    signed_in_client(voucher_admin).post(GENERATE_URL, _form(count="3"))
    batch = VoucherBatch.objects.get()
    other = signed_in_client(make_staff(Role.ADMIN))

    # when
    response = other.post(_download_url(batch))

    # then
    assert response.status_code == 302
    assert VoucherBatch.objects.get().pins_exported_at is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("count", "0"),
        ("count", "10001"),
        ("value", "0"),
        ("value", "abc"),
        ("expires_on", "2001-01-01"),
    ],
)
def test_generate_form_refuses_bad_fields_and_keeps_the_rest(
    voucher_admin: User, field: str, value: str
) -> None:
    client = signed_in_client(voucher_admin)

    response = client.post(GENERATE_URL, _form(**{field: value}))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Dec 2026 $25 cards" in page  # the rest of the form kept
    assert response.context["form"].errors[field]
    assert VoucherBatch.objects.count() == 0


def test_void_batch_asks_for_confirmation_then_voids(
    batch: Batch, voucher_admin: User, subscriber: Subscriber
) -> None:
    # given
    voucher_batch, issued = batch
    vouchers.redeem_voucher(subscriber, issued[0][1], ip_address=None, acting_user=None)
    client = signed_in_client(voucher_admin)
    url = reverse("admin:orders_voucherbatch_void", args=(voucher_batch.pk,))

    # when: the confirmation page
    confirm = client.get(url)

    # then: nothing changed yet
    assert confirm.status_code == 200
    assert "The 4 unredeemed vouchers" in confirm.content.decode()
    assert Voucher.objects.filter(status=VoucherStatus.ACTIVE).count() == 4

    # when: confirmed
    response = client.post(url)

    # then
    assert response.status_code == 302
    assert Voucher.objects.filter(status=VoucherStatus.VOID).count() == 4
    assert Voucher.objects.filter(status=VoucherStatus.REDEEMED).count() == 1
    event = AuditEvent.objects.get(action="voucher_batch.voided")
    assert event.actor == voucher_admin
    change = client.get(response["Location"])
    assert url not in change.content.decode()
    assert client.get(url).status_code == 302  # already void


def test_voucher_pages_show_serial_and_redemption_never_a_hash(
    batch: Batch, voucher_admin: User, subscriber: Subscriber
) -> None:
    # given
    voucher_batch, issued = batch
    voucher = vouchers.redeem_voucher(subscriber, issued[0][1], ip_address=None, acting_user=None)
    client = signed_in_client(voucher_admin)

    # when
    pages = [
        client.get(reverse("admin:orders_voucher_changelist")),
        client.get(reverse("admin:orders_voucher_changelist") + "?q=V-" + voucher.serial[1:]),
        client.get(reverse("admin:orders_voucher_change", args=(voucher.pk,))),
        client.get(reverse("admin:orders_voucherbatch_changelist")),
        client.get(reverse("admin:orders_voucherbatch_change", args=(voucher_batch.pk,))),
    ]

    # then
    assert [page.status_code for page in pages] == [200] * 5
    hashes = set(Voucher.objects.values_list("pin_hash", flat=True))
    for page in pages:
        html = page.content.decode()
        assert not [digest for digest in hashes if digest in html]
    assert subscriber.user.username in pages[2].content.decode()
    assert voucher.serial in pages[1].content.decode()
    assert "4 active, 1 redeemed, 0 void." in pages[4].content.decode()
    assert client.get(reverse("admin:orders_voucher_add")).status_code == 403


def test_agents_may_not_generate_or_void(batch: Batch, make_staff: Callable[..., User]) -> None:
    voucher_batch, _issued = batch
    agent = signed_in_client(make_staff(Role.AGENT))

    assert agent.get(GENERATE_URL).status_code == 403
    assert agent.post(GENERATE_URL, _form()).status_code == 403
    void_url = reverse("admin:orders_voucherbatch_void", args=(voucher_batch.pk,))
    assert agent.post(void_url).status_code == 403
    assert VoucherBatch.objects.count() == 1
    assert Voucher.objects.filter(status=VoucherStatus.VOID).count() == 0


def test_staff_without_totp_are_sent_to_sign_in(voucher_admin: User) -> None:
    client: Client = signed_in_client(voucher_admin, verified=False)

    response = client.post(GENERATE_URL, _form())

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    assert VoucherBatch.objects.count() == 0
