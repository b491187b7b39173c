"""No PIN in any log line or back-office page: generation, a refusal, a redemption, the admin."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from django.urls import reverse

from simcare.accounts.models import Subscriber, User
from simcare.ops.logs import RedactFilter, make_formatter
from simcare.orders import pins
from simcare.orders.errors import VoucherInvalid
from simcare.orders.models import Voucher, VoucherBatch
from simcare.orders.services import vouchers
from tests.conftest import signed_in_client

from .vouchers_support import voucher_admin

__all__ = ["voucher_admin"]  # fixtures

pytestmark = pytest.mark.django_db


@pytest.fixture
def structured_output() -> Iterator[io.StringIO]:
    """What the production formatter writes (structlog's JSON), at DEBUG, for every logger."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(make_formatter(as_json=True))
    handler.addFilter(RedactFilter())
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def _forms_of(pin: str) -> list[str]:
    """The ways a PIN could be written down: plain, grouped, dashed, and its stored hash."""
    return [
        pin,
        pins.format_pin(pin),
        pins.format_pin(pin).replace(" ", "-"),
        pins.hash_pin(pin, key=vouchers.current_voucher_key()),
    ]


def test_no_pin_reaches_a_log_or_a_page(
    # structured_output first: set up first, torn down last, so the root logger's level is
    # restored after caplog has restored the level it saw (the one structured_output set).
    structured_output: io.StringIO,
    caplog: pytest.LogCaptureFixture,
    voucher_admin: User,
    subscriber: Subscriber,
) -> None:
    caplog.set_level(logging.DEBUG)
    client = signed_in_client(voucher_admin)
    generate = reverse("admin:orders_voucherbatch_generate")

    # when: generating and downloading through the admin
    client.post(
        generate, {"name": "Log check", "value": "10", "count": "3", "expires_on": "2099-12-31"}
    )
    batch = VoucherBatch.objects.get()
    download = client.post(reverse("admin:orders_voucherbatch_download_pins", args=(batch.pk,)))
    issued = [line.split(",")[:2] for line in download.content.decode().splitlines()[1:]]
    assert len(issued) == 3
    # when: a wrong PIN (one digit off a real one), then a right one typed with dashes
    real = issued[0][1]
    wrong = real[:-1] + str((int(real[-1]) + 1) % 10)
    with pytest.raises(VoucherInvalid):
        vouchers.redeem_voucher(subscriber, wrong, ip_address="203.0.113.7", acting_user=None)
    voucher = vouchers.redeem_voucher(
        subscriber, pins.format_pin(real).replace(" ", "-"), ip_address=None, acting_user=None
    )
    # when: the back-office pages of all of it
    pages = [
        client.get(reverse("admin:orders_voucherbatch_changelist")),
        client.get(reverse("admin:orders_voucherbatch_change", args=(batch.pk,))),
        client.get(reverse("admin:orders_voucher_changelist")),
        client.get(reverse("admin:orders_voucher_change", args=(voucher.pk,))),
        client.get(reverse("admin:accounts_auditevent_changelist")),
        client.get(reverse("admin:notify_notification_changelist")),
        client.get(reverse("admin:orders_voucherbatch_void", args=(batch.pk,))),
    ]

    # then
    assert [page.status_code for page in pages] == [200] * len(pages)
    assert Voucher.objects.filter(pk=voucher.pk, status="redeemed").exists()
    records = "\n".join(
        f"{record.name} {record.getMessage()} {record.__dict__}" for record in caplog.records
    )
    written = structured_output.getvalue()
    assert "voucher batch generated" in written
    assert "voucher redemption refused" in written
    assert "voucher redeemed" in written
    secrets = [form for _serial, pin in issued for form in _forms_of(pin)] + _forms_of(wrong)
    html = "\n".join(page.content.decode() for page in pages)
    assert [secret for secret in secrets if secret in records] == []
    assert [secret for secret in secrets if secret in written] == []
    assert [secret for secret in secrets if secret in html] == []
