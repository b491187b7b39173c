"""SMS gateways over the wire: Twilio's REST API (a stand-in on 127.0.0.1) and SMPP (a real
SMPP server on 127.0.0.1 built on smpplib's PDUs), through the outbox and on their own."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from twilio.request_validator import RequestValidator

from simcare.accounts.models import Subscriber
from simcare.catalog.models import Plan
from simcare.lines.models import Line
from simcare.notify import gateways, services
from simcare.notify.models import DeliveryStatus, Notification, NotificationStatus
from simcare.notify.sms import SmsDeliveryError, SmsRejected
from tests.lines.lifecycle_support import add_number, add_sim
from tests.notify.gateway_standins import TwilioStandIn
from tests.notify.smpp_server import SmppServer

PUBLIC_BASE = "https://simcare.example.com"


def activate(subscriber: Subscriber, plan: Plan) -> Line:
    """A new line: its welcome goes out by email and SMS through the outbox."""
    from simcare.lines import services as line_services

    add_number("+16475550142")
    add_sim()
    return line_services.activate_line(subscriber, plan, kind="physical", acting_user=None)


def sms_row() -> Notification:
    return Notification.objects.get(channel="sms")


# --- Twilio ----------------------------------------------------------------------------------


@pytest.fixture
def twilio(settings: Any) -> Iterator[TwilioStandIn]:
    stand_in = TwilioStandIn().start()
    settings.SIMCARE_TWILIO_ACCOUNT_SID = stand_in.account_sid
    settings.SIMCARE_TWILIO_AUTH_TOKEN = stand_in.auth_token
    settings.SIMCARE_TWILIO_API_BASE = stand_in.base_url
    settings.SIMCARE_TWILIO_SMS_FROM = "+16475550100"
    settings.SIMCARE_PUBLIC_BASE_URL = PUBLIC_BASE
    settings.SIMCARE_SMS_BACKEND = "simcare.notify.gateways.TwilioSmsBackend"
    try:
        yield stand_in
    finally:
        stand_in.stop()


def twilio_callback(stand_in: TwilioStandIn, fields: dict[str, str], *, token: str = "") -> int:
    path = "/sms/twilio/status/"
    signature = RequestValidator(token or stand_in.auth_token).compute_signature(
        PUBLIC_BASE + path, fields
    )
    return Client().post(path, fields, HTTP_X_TWILIO_SIGNATURE=signature).status_code


def test_the_outbox_sends_by_twilio_and_records_the_delivery_report(
    subscriber: Subscriber, plan: Plan, twilio: TwilioStandIn
) -> None:
    activate(subscriber, plan)

    counts = services.send_due()

    assert counts["sent"] == 2
    [message] = twilio.messages
    row = sms_row()
    assert message["To"] == subscriber.user.phone
    assert message["From"] == "+16475550100"
    assert message["Body"] == row.body
    assert message["StatusCallback"] == f"{PUBLIC_BASE}/sms/twilio/status/"
    assert (row.gateway, row.provider_message_id, row.delivery_status) == (
        "twilio",
        message["sid"],
        DeliveryStatus.ACCEPTED,
    )

    # when Twilio reports, in order and then a stale "sent" after "delivered"
    for status in ("sent", "delivered", "sent"):
        fields = {"MessageSid": message["sid"], "MessageStatus": status, "AccountSid": "AC1"}
        assert twilio_callback(twilio, fields) == 204

    row.refresh_from_db()
    assert row.delivery_status == DeliveryStatus.DELIVERED
    assert row.delivery_updated_at is not None


def test_a_twilio_status_callback_with_a_bad_signature_changes_nothing(
    subscriber: Subscriber, plan: Plan, twilio: TwilioStandIn
) -> None:
    activate(subscriber, plan)
    services.send_due()
    fields = {"MessageSid": twilio.messages[0]["sid"], "MessageStatus": "undelivered"}

    status = twilio_callback(twilio, fields, token="not-the-token")
    unsigned = Client().post("/sms/twilio/status/", fields).status_code

    assert (status, unsigned) == (403, 403)
    assert sms_row().delivery_status == DeliveryStatus.ACCEPTED


def test_twilio_busy_is_retried_and_an_invalid_number_fails_at_once(
    subscriber: Subscriber, plan: Plan, twilio: TwilioStandIn
) -> None:
    twilio.fail_next = 1
    activate(subscriber, plan)

    services.send_due()

    row = sms_row()
    assert (row.status, row.attempts) == (NotificationStatus.QUEUED, 1)
    assert row.last_error == "SmsDeliveryError: twilio answered 503 (error 20500)"
    with pytest.raises(SmsRejected, match="400"):
        gateways.TwilioSmsBackend().send("+15005550001", "hello")
    assert len(twilio.messages) == 0


def test_twilio_unreachable_is_retryable(settings: Any, twilio: TwilioStandIn) -> None:
    settings.SIMCARE_TWILIO_API_BASE = "http://127.0.0.1:9"

    with pytest.raises(SmsDeliveryError, match="unreachable"):
        gateways.TwilioSmsBackend().send("+16475550142", "hello")


# --- SMPP ------------------------------------------------------------------------------------


@pytest.fixture
def smpp(settings: Any) -> Iterator[SmppServer]:
    server = SmppServer().start()
    settings.SIMCARE_SMPP_HOST = "127.0.0.1"
    settings.SIMCARE_SMPP_PORT = server.port
    settings.SIMCARE_SMPP_SYSTEM_ID = server.system_id
    settings.SIMCARE_SMPP_PASSWORD = server.password
    settings.SIMCARE_SMS_SENDER = "simcare"
    settings.SIMCARE_SMS_GATEWAY_TIMEOUT = 5
    settings.SIMCARE_SMS_BACKEND = "simcare.notify.gateways.SmppSmsBackend"
    try:
        yield server
    finally:
        server.stop()


def test_the_outbox_sends_by_smpp_and_the_receipt_marks_it_delivered(
    subscriber: Subscriber, plan: Plan, smpp: SmppServer
) -> None:
    activate(subscriber, plan)

    counts = services.send_due()

    assert counts["sent"] == 2
    row = sms_row()
    texts = [part.text for part in smpp.submitted]
    assert "".join(texts) == row.body
    assert {part.destination for part in smpp.submitted} == {subscriber.user.phone.lstrip("+")}
    assert {part.source for part in smpp.submitted} == {"simcare"}
    assert smpp.binds == ["bind_transceiver:simcare"]
    assert row.gateway == "smpp"
    assert row.provider_message_id == ",".join(part.message_id for part in smpp.submitted)
    assert row.delivery_status == DeliveryStatus.DELIVERED


@pytest.mark.parametrize(
    ("text", "coding", "parts"),
    [
        ("simcare: your plan renews on 20 Dec. Reply STOP to opt out.", 0, 1),
        ("simcare\uff1a您的套餐将于12月20日续费。", 8, 1),
        ("simcare: " + "é" * 200, 0, 2),
        ("simcare\uff1a" + "您的套餐将于12月20日续费。" * 12, 8, 3),
    ],
)
def test_smpp_encodes_gsm_or_ucs2_and_splits_long_texts_with_a_udh(
    db: Any, smpp: SmppServer, text: str, coding: int, parts: int
) -> None:
    backend = gateways.SmppSmsBackend()

    message_ids = backend.send("+16475550142", text)
    backend.close()

    assert [part.data_coding for part in smpp.submitted] == [coding] * parts
    assert "".join(part.text for part in smpp.submitted) == text
    assert message_ids.split(",") == [part.message_id for part in smpp.submitted]
    if parts > 1:
        headers = [part.short_message[:6] for part in smpp.submitted]
        assert all(part.esm_class & 0x40 for part in smpp.submitted)
        assert [header[5] for header in headers] == list(range(1, parts + 1))
        assert {header[4] for header in headers} == {parts}
        assert len({header[3] for header in headers}) == 1  # one reference for all parts


def test_a_late_receipt_is_recorded_by_the_receipt_listener(
    subscriber: Subscriber, plan: Plan, smpp: SmppServer, settings: Any
) -> None:
    settings.SIMCARE_SMPP_RECEIPT_WAIT_SECONDS = 0.2
    smpp.hold_receipts = True
    smpp.receipt_state = "UNDELIV"
    activate(subscriber, plan)
    services.send_due()
    assert sms_row().delivery_status == DeliveryStatus.ACCEPTED

    output = io.StringIO()
    call_command("smpp_receipts", "--seconds", "1", stdout=output)

    row = sms_row()
    assert output.getvalue() == f"receipts recorded: {len(smpp.submitted)}\n"
    assert (row.delivery_status, row.delivery_error) == (DeliveryStatus.UNDELIVERED, "000")
    assert smpp.binds == ["bind_transceiver:simcare", "bind_receiver:simcare"]
    assert smpp.pending_receipts() == 0  # every receipt acknowledged by deliver_sm_resp


def test_smpp_refusals_are_final_or_retryable_by_status(db: Any, smpp: SmppServer) -> None:
    smpp.refuse = {"16475550001": 0x0000000B, "16475550002": 0x00000058}
    backend = gateways.SmppSmsBackend()

    with pytest.raises(SmsRejected, match="0x0000000b"):
        backend.send("+16475550001", "hello")
    with pytest.raises(SmsDeliveryError, match="0x00000058"):
        backend.send("+16475550002", "hello")
    assert backend.send("+16475550142", "hello") == smpp.submitted[0].message_id
    backend.close()


def test_smpp_down_or_a_wrong_password_is_retryable(
    db: Any, smpp: SmppServer, settings: Any
) -> None:
    settings.SIMCARE_SMPP_PASSWORD = "wrong"
    with pytest.raises(SmsDeliveryError):
        gateways.SmppSmsBackend().send("+16475550142", "hello")
    smpp.stop()
    settings.SIMCARE_SMPP_PASSWORD = smpp.password
    with pytest.raises(SmsDeliveryError, match="unreachable"):
        gateways.SmppSmsBackend().send("+16475550142", "hello")
    assert smpp.submitted == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "id:1234 sub:001 dlvrd:001 submit date:2612011200 done date:2612011200 stat:DELIVRD "
            "err:000 text:hi",
            ("1234", "delivered", "000"),
        ),
        ("id:77 sub:001 dlvrd:000 stat:UNDELIV err:034", ("77", "undelivered", "034")),
        ("id:77 stat:ENROUTE", ("77", "sent", "")),
        ("no receipt here", None),
    ],
)
def test_receipt_texts_are_read(text: str, expected: tuple[str, str, str] | None) -> None:
    assert gateways.parse_receipt(text.encode()) == expected


def test_a_receipt_with_only_the_tlvs_is_read() -> None:
    assert gateways.parse_receipt(b"", "ab12", 2) == ("ab12", "delivered", "")
