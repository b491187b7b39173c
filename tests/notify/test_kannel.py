"""The Kannel gateway against a real Kannel: bearerbox + smsbox started by the test on
127.0.0.1, an SMPP SMSC behind it, delivery reports back through smsbox's dlr-url."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from simcare.accounts.models import Subscriber
from simcare.catalog.models import Plan
from simcare.notify import gateways, services
from simcare.notify.models import DeliveryStatus, Notification, NotificationStatus
from simcare.notify.sms import SmsDeliveryError
from tests.notify.gateway_standins import HttpStandIn
from tests.notify.kannel import KannelGateway, kannel_installed, wait_until
from tests.notify.smpp_server import SmppServer
from tests.notify.test_gateways import activate

pytestmark = pytest.mark.skipif(
    not kannel_installed(), reason="Kannel is not installed (apt-get install kannel)"
)


@pytest.fixture
def smsc() -> Iterator[SmppServer]:
    server = SmppServer(system_id="kannel", password="smscpass").start()  # SMPP allows 8
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def dlr_recorder() -> Iterator[HttpStandIn]:
    recorder = HttpStandIn().start()
    try:
        yield recorder
    finally:
        recorder.stop()


@pytest.fixture
def kannel(
    tmp_path: Path, smsc: SmppServer, dlr_recorder: HttpStandIn, settings: Any
) -> Iterator[KannelGateway]:
    gateway = KannelGateway(tmp_path, smsc)
    try:
        gateway.start()
        settings.SIMCARE_SMS_BACKEND = "simcare.notify.gateways.KannelSmsBackend"
        settings.SIMCARE_KANNEL_SENDSMS_URL = gateway.sendsms_url
        settings.SIMCARE_KANNEL_USERNAME = gateway.username
        settings.SIMCARE_KANNEL_PASSWORD = gateway.password
        settings.SIMCARE_SMS_SENDER = "simcare"
        settings.SIMCARE_PUBLIC_BASE_URL = dlr_recorder.base_url
        yield gateway
    finally:
        gateway.stop()


def replay_reports(recorder: HttpStandIn, *, expected: int) -> list[str]:
    """Hand the delivery reports smsbox made to our endpoint; returns their DLR types."""
    wait_until(lambda: len(recorder.requests) >= expected, f"{expected} delivery reports")
    client = Client()
    kinds = []
    for request in recorder.requests:
        assert request["method"] == "GET"
        response = client.get(request["path"])
        assert response.status_code == 200
        kinds.append(parse_qs(urlsplit(request["path"]).query)["status"][0])
    return kinds


def test_the_outbox_sends_through_kannel_and_the_delivery_report_comes_back(
    subscriber: Subscriber,
    plan: Plan,
    kannel: KannelGateway,
    smsc: SmppServer,
    dlr_recorder: HttpStandIn,
) -> None:
    activate(subscriber, plan)

    services.send_due()

    row = Notification.objects.get(channel="sms")
    assert row.status == NotificationStatus.SENT
    assert (row.gateway, row.delivery_status) == ("kannel", DeliveryStatus.ACCEPTED)
    wait_until(lambda: len(smsc.submitted) >= 1, "the message reaching the SMSC")
    assert "".join(part.text for part in smsc.submitted) == row.body
    assert {part.destination for part in smsc.submitted} == {subscriber.user.phone.lstrip("+")}
    # Kannel reports the SMSC's acceptance (8), then the handset's delivery (1).
    kinds = replay_reports(dlr_recorder, expected=2 * len(smsc.submitted))
    assert set(kinds) == {"8", "1"}
    row.refresh_from_db()
    assert row.delivery_status == DeliveryStatus.DELIVERED
    assert parse_qs(urlsplit(dlr_recorder.requests[0]["path"]).query)["ref"] == [
        row.provider_message_id
    ]


def test_chinese_goes_as_ucs2_and_a_long_text_as_concatenated_parts(
    db: Any, kannel: KannelGateway, smsc: SmppServer
) -> None:
    text = "simcare\uff1a" + "您的套餐将于12月20日续费。" * 8

    gateways.KannelSmsBackend().send("+16475550142", text)

    wait_until(lambda: len(smsc.submitted) >= 2, "both parts reaching the SMSC")
    assert [part.data_coding for part in smsc.submitted] == [8, 8]
    assert all(part.esm_class & 0x40 for part in smsc.submitted)  # a UDH in each part
    assert "".join(part.text for part in smsc.submitted) == text


def test_a_refusal_by_kannel_is_retryable_and_a_forged_report_is_403(
    db: Any, kannel: KannelGateway, smsc: SmppServer, settings: Any
) -> None:
    settings.SIMCARE_KANNEL_PASSWORD = "wrong"

    with pytest.raises(SmsDeliveryError, match="403"):
        gateways.KannelSmsBackend().send("+16475550142", "hello")

    forged = Client().get("/sms/kannel/dlr/", {"ref": "abc", "token": "0" * 32, "status": "1"})
    assert forged.status_code == 403
    assert smsc.submitted == []
