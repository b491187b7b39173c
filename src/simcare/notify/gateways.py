"""Real SMS gateways for the outbox: Twilio's REST API, Kannel's HTTP sendsms, and SMPP.

Chosen by `settings.SIMCARE_SMS_BACKEND` (the dotted path of one class here).
Each `send` has a timeout and raises `SmsDeliveryError` for a failure that may
pass (network, gateway busy, throttled: the outbox retries with backoff) and
`SmsRejected` for a final refusal (an invalid number). Each returns the id
the gateway's delivery receipts will name, and receipts land through
`notify.services.record_delivery_status`:

- Twilio: the message SID; Twilio POSTs the status to /sms/twilio/status/
  (signed like every Twilio webhook).
- Kannel: a reference of ours carried in the dlr-url, which smsbox calls
  (GET /sms/kannel/dlr/?ref=…&token=…&status=%d) when the SMSC reports.
- SMPP: the SMSC's message_id of each part; deliver_sm receipts come back on
  the bound transceiver (read after each submit and by `listen_for_receipts`).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import re
import secrets
import select
import time
from typing import Any

import requests
import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.gsm
from django.conf import settings
from django.urls import reverse
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client as TwilioClient

from simcare.notify.models import DeliveryStatus
from simcare.notify.services import record_delivery_status
from simcare.notify.sms import SmsBackend, SmsDeliveryError, SmsRejected

logger = logging.getLogger(__name__)


def _public(path: str) -> str:
    return settings.SIMCARE_PUBLIC_BASE_URL.rstrip("/") + path


def is_gsm_text(text: str) -> bool:
    """Whether the text fits the GSM 7-bit alphabet (else it goes as UCS-2)."""
    try:
        smpplib.gsm.gsm_encode(text)
    except UnicodeError:
        return False
    return True


# --- Twilio ----------------------------------------------------------------------------------

TWILIO_STATUSES = {
    "queued": DeliveryStatus.ACCEPTED,
    "accepted": DeliveryStatus.ACCEPTED,
    "scheduled": DeliveryStatus.ACCEPTED,
    "sending": DeliveryStatus.ACCEPTED,
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "undelivered": DeliveryStatus.UNDELIVERED,
    "failed": DeliveryStatus.UNDELIVERED,
}


def twilio_client() -> TwilioClient:
    client = TwilioClient(
        settings.SIMCARE_TWILIO_ACCOUNT_SID,
        settings.SIMCARE_TWILIO_AUTH_TOKEN,
        http_client=TwilioHttpClient(timeout=settings.SIMCARE_SMS_GATEWAY_TIMEOUT),
    )
    if settings.SIMCARE_TWILIO_API_BASE:
        client.api.base_url = settings.SIMCARE_TWILIO_API_BASE.rstrip("/")
    return client


class TwilioSmsBackend(SmsBackend):
    """Programmable Messaging: POST /2010-04-01/Accounts/{sid}/Messages.json."""

    name = "twilio"

    def __init__(self, client: TwilioClient | None = None) -> None:
        self.client = client or twilio_client()

    def send(self, to: str, body: str) -> str:
        try:
            message = self.client.messages.create(
                to=to,
                from_=settings.SIMCARE_TWILIO_SMS_FROM,
                body=body,
                status_callback=_public(reverse("sms_gateways:twilio_status")),
            )
        except TwilioRestException as error:
            detail = f"twilio answered {error.status} (error {error.code})"
            if error.status == 429 or error.status >= 500:
                raise SmsDeliveryError(detail) from error
            raise SmsRejected(detail) from error
        except (requests.RequestException, TwilioException, OSError) as error:
            raise SmsDeliveryError(f"twilio unreachable: {type(error).__name__}") from error
        return str(message.sid or "")


# --- Kannel ----------------------------------------------------------------------------------

# dlr-mask: 1 delivered, 2 undelivered, 4 queued on the SMSC, 8 accepted by the SMSC,
# 16 rejected by the SMSC.
KANNEL_DLR_MASK = 1 | 2 | 4 | 8 | 16


def kannel_status(value: str) -> str | None:
    """Kannel's %d (one DLR type bit) as our delivery status."""
    if not value.isdigit():
        return None
    code = int(value)
    if code & 1:
        return DeliveryStatus.DELIVERED
    if code & (2 | 16):
        return DeliveryStatus.UNDELIVERED
    if code & (4 | 8):
        return DeliveryStatus.SENT
    return None


def kannel_token(reference: str) -> str:
    """Kannel does not sign its DLR callbacks: the URL carries a MAC of our reference."""
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"kannel-dlr:{reference}".encode(), hashlib.sha256).hexdigest()[:32]


def kannel_dlr_url(reference: str) -> str:
    # %d (the DLR type) and %A (the SMSC's answer) are filled in by smsbox.
    path = reverse("sms_gateways:kannel_dlr")
    return _public(f"{path}?ref={reference}&token={kannel_token(reference)}&status=%d&answer=%A")


class KannelSmsBackend(SmsBackend):
    """smsbox's sendsms interface (a sendsms-user in kannel.conf); long texts are split by
    Kannel up to the user's max-messages."""

    name = "kannel"

    def __init__(self, session: requests.Session | None = None) -> None:
        self.session = session or requests.Session()

    def send(self, to: str, body: str) -> str:
        reference = secrets.token_hex(12)
        params = {
            "username": settings.SIMCARE_KANNEL_USERNAME,
            "password": settings.SIMCARE_KANNEL_PASSWORD,
            "from": settings.SIMCARE_SMS_SENDER,
            "to": to,
            "text": body,
            "charset": "UTF-8",
            # 0: GSM 7-bit, 2: UCS-2 (Kannel converts the UTF-8 text itself).
            "coding": "0" if is_gsm_text(body) else "2",
            "dlr-mask": str(KANNEL_DLR_MASK),
            "dlr-url": kannel_dlr_url(reference),
        }
        try:
            response = self.session.get(
                settings.SIMCARE_KANNEL_SENDSMS_URL,
                params=params,
                timeout=settings.SIMCARE_SMS_GATEWAY_TIMEOUT,
            )
        except requests.RequestException as error:
            raise SmsDeliveryError(f"kannel unreachable: {type(error).__name__}") from error
        answer = response.text.strip()[:80]
        if response.status_code in {200, 202}:
            return reference
        detail = f"kannel answered {response.status_code}: {answer}"
        # 403: wrong user or password, 503: queue full; both heal without a change to the message.
        if response.status_code in {403, 429} or response.status_code >= 500:
            raise SmsDeliveryError(detail)
        raise SmsRejected(detail)


# --- SMPP ------------------------------------------------------------------------------------

# esm_class bits 2-5 = 0001: the deliver_sm is an SMSC delivery receipt (SMPP 3.4 §5.2.12).
SMSC_DELIVERY_RECEIPT = 0x04

_RETRYABLE_SMPP = {
    smpplib.consts.SMPP_ESME_RSYSERR,
    smpplib.consts.SMPP_ESME_RMSGQFUL,
    smpplib.consts.SMPP_ESME_RTHROTTLED,
    0x00000064,  # ESME_RX_T_APPN: temporary application error
}
_FINAL_SMPP = {smpplib.consts.SMPP_ESME_RINVDSTADR, smpplib.consts.SMPP_ESME_RINVSRCADR}
_RECEIPT_STATES = {
    "DELIVRD": DeliveryStatus.DELIVERED,
    "EXPIRED": DeliveryStatus.UNDELIVERED,
    "DELETED": DeliveryStatus.UNDELIVERED,
    "UNDELIV": DeliveryStatus.UNDELIVERED,
    "REJECTD": DeliveryStatus.UNDELIVERED,
    "ACCEPTD": DeliveryStatus.SENT,
    "ENROUTE": DeliveryStatus.SENT,
}
# The message_state TLV (SMPP 3.4 §5.3.2.35) for SMSCs that send it instead of the text.
_MESSAGE_STATES = {
    1: DeliveryStatus.SENT,
    2: DeliveryStatus.DELIVERED,
    3: DeliveryStatus.UNDELIVERED,
    4: DeliveryStatus.UNDELIVERED,
    5: DeliveryStatus.UNDELIVERED,
    6: DeliveryStatus.SENT,
    8: DeliveryStatus.UNDELIVERED,
}
MAX_UNMATCHED_RECEIPTS = 1000
_RECEIPT_FIELD = re.compile(r"(id|stat|err):(\S+)", re.IGNORECASE)


def parse_receipt(
    short_message: bytes | str, receipted_id: str = "", state: int | None = None
) -> tuple[str, str, str] | None:
    """A deliver_sm receipt as (message id, our status, error code), or None."""
    text = short_message.decode("latin-1") if isinstance(short_message, bytes) else short_message
    fields = {key.lower(): value for key, value in _RECEIPT_FIELD.findall(text)}
    message_id = receipted_id or fields.get("id", "")
    status = _RECEIPT_STATES.get(fields.get("stat", "").upper())
    if status is None and state is not None:
        status = _MESSAGE_STATES.get(state)
    if not message_id or status is None:
        return None
    return message_id, status, fields.get("err", "")


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return "" if value is None else str(value)


class SmppSmsBackend(SmsBackend):
    """An SMPP 3.4 ESME (smpplib): one transceiver bind per outbox run, GSM 7-bit or UCS-2,
    long texts as concatenated parts (UDH), a delivery receipt asked for every part."""

    name = "smpp"

    def __init__(self) -> None:
        self._client: smpplib.client.Client | None = None
        self._responses: dict[int, tuple[int, str]] = {}
        # Receipts that named no stored id yet: a receipt may beat the outbox's write of the
        # message id it answers (it can arrive while send() still reads its submit_sm_resp).
        self._unmatched: list[tuple[str, str, str]] = []
        self._awaiting: set[str] = set()
        self.receipts_recorded = 0

    # connection

    def _bound_client(self, *, mode: str = "transceiver") -> smpplib.client.Client:
        if self._client is not None:
            return self._client
        client = smpplib.client.Client(
            settings.SIMCARE_SMPP_HOST,
            settings.SIMCARE_SMPP_PORT,
            timeout=settings.SIMCARE_SMS_GATEWAY_TIMEOUT,
            allow_unknown_opt_params=True,
        )
        client.set_message_sent_handler(self._on_submit_response)
        client.set_message_received_handler(self._on_deliver)
        client.set_error_pdu_handler(self._on_error_pdu)
        client.connect()
        bind = client.bind_transceiver if mode == "transceiver" else client.bind_receiver
        bind(
            system_id=settings.SIMCARE_SMPP_SYSTEM_ID,
            password=settings.SIMCARE_SMPP_PASSWORD,
            system_type=settings.SIMCARE_SMPP_SYSTEM_TYPE,
        )
        self._client = client
        return client

    def _record_receipts(self, receipts: list[tuple[str, str, str]]) -> None:
        unmatched: list[tuple[str, str, str]] = []
        for message_id, status, error in receipts:
            changed = record_delivery_status(
                gateway=self.name, message_id=message_id, status=status, error=error
            )
            if changed:
                self.receipts_recorded += changed
            else:
                unmatched.append((message_id, status, error))
        self._unmatched = unmatched[-MAX_UNMATCHED_RECEIPTS:]

    def _wait_for_receipts(self, client: smpplib.client.Client, seconds: float) -> None:
        """Read receipts until every part sent on this bind has one or `seconds` pass."""
        deadline = time.monotonic() + seconds
        while self._awaiting and (left := deadline - time.monotonic()) > 0:
            readable, _writable, _errors = select.select([client._socket], [], [], left)
            if not readable:
                return
            client.read_once(auto_send_enquire_link=False)

    def close(self) -> None:
        """Wait a moment for the receipts of what was sent (later ones reach
        `listen_for_receipts`), record them, unbind."""
        if self._client is not None:
            with contextlib.suppress(
                smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError, OSError
            ):
                self._wait_for_receipts(self._client, settings.SIMCARE_SMPP_RECEIPT_WAIT_SECONDS)
        self._record_receipts(self._unmatched)
        if self._unmatched:
            logger.info("smpp receipts for unknown messages dropped: %s", len(self._unmatched))
            self._unmatched = []
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.unbind()
        except (smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError, OSError):
            pass
        finally:
            client.disconnect()

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(OSError):
                client.disconnect()

    # handlers (called by smpplib while reading)

    def _on_submit_response(self, pdu: Any, **_kwargs: Any) -> None:
        self._responses[int(pdu.sequence)] = (int(pdu.status), _text(pdu.message_id))

    def _on_error_pdu(self, pdu: Any) -> None:
        if pdu.command == "submit_sm_resp":
            self._on_submit_response(pdu)
            return
        raise smpplib.exceptions.PDUError(f"{pdu.command} failed", int(pdu.status))

    def _on_deliver(self, pdu: Any, **_kwargs: Any) -> int:
        is_receipt = bool(int(pdu.esm_class or 0) & SMSC_DELIVERY_RECEIPT)
        receipt = parse_receipt(
            pdu.short_message or b"",
            _text(getattr(pdu, "receipted_message_id", None)),
            getattr(pdu, "message_state", None),
        )
        if is_receipt and receipt is not None:
            self._unmatched.append(receipt)
            self._awaiting.discard(receipt[0])
        return smpplib.consts.SMPP_ESME_ROK

    # sending

    def send(self, to: str, body: str) -> str:
        parts, encoding, esm_class = smpplib.gsm.make_parts(body)
        sender = settings.SIMCARE_SMS_SENDER
        sender_ton = (
            smpplib.consts.SMPP_TON_INTL
            if sender.lstrip("+").isdigit()
            else (smpplib.consts.SMPP_TON_ALNUM)
        )
        message_ids: list[str] = []
        self._record_receipts(self._unmatched)
        try:
            client = self._bound_client()
            for part in parts:
                submitted = client.send_message(
                    source_addr_ton=sender_ton,
                    source_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
                    source_addr=sender.lstrip("+"),
                    dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
                    dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
                    destination_addr=to.lstrip("+"),
                    short_message=part,
                    data_coding=encoding,
                    esm_class=esm_class,
                    registered_delivery=True,
                )
                message_ids.append(self._await_response(client, int(submitted.sequence)))
                self._awaiting.add(message_ids[-1])
            client.poll()  # receipts that came back already
        except smpplib.exceptions.PDUError as error:
            status = int(error.args[1]) if len(error.args) > 1 else 0
            detail = f"smpp refused with status 0x{status:08x}"
            if status in _FINAL_SMPP:
                raise SmsRejected(detail) from error
            if status not in _RETRYABLE_SMPP:
                self._drop()
            raise SmsDeliveryError(detail) from error
        except (smpplib.exceptions.ConnectionError, OSError) as error:
            self._drop()
            raise SmsDeliveryError(f"smpp unreachable: {type(error).__name__}") from error
        return ",".join(message_ids)

    def _await_response(self, client: smpplib.client.Client, sequence: int) -> str:
        deadline = time.monotonic() + settings.SIMCARE_SMS_GATEWAY_TIMEOUT
        while sequence not in self._responses:
            if time.monotonic() > deadline:
                raise smpplib.exceptions.ConnectionError("no submit_sm_resp")
            try:
                client.read_once(auto_send_enquire_link=False)
            except TimeoutError as error:
                raise smpplib.exceptions.ConnectionError("no submit_sm_resp") from error
        status, message_id = self._responses.pop(sequence)
        if status != smpplib.consts.SMPP_ESME_ROK:
            raise smpplib.exceptions.PDUError("submit_sm refused", status)
        return message_id

    def listen_for_receipts(self, *, seconds: float) -> int:
        """Bind as a receiver (unless already bound) and record the receipts that arrive
        within `seconds`; returns how many notifications changed."""
        before = self.receipts_recorded
        deadline = time.monotonic() + seconds
        try:
            client = self._bound_client(mode="receiver")
            while time.monotonic() < deadline:
                client.poll()
                self._record_receipts(self._unmatched)
                time.sleep(0.05)
        except (smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError, OSError) as error:
            self._drop()
            raise SmsDeliveryError(f"smpp receipts: {type(error).__name__}") from error
        return self.receipts_recorded - before
