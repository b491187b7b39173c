"""The hotline through Twilio-signed webhooks: every branch, in the three languages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import translation
from django.utils.translation import gettext

from simcare.accounts.models import AuditEvent, Subscriber
from simcare.care.models import Ticket, TicketSource, TicketStatus
from simcare.ivr import speech
from simcare.ivr.models import CallSession, Voicemail
from simcare.kit.money import format_cents
from simcare.ledger import queries as ledger_queries
from simcare.ledger.models import LedgerAccount, LedgerTransaction
from simcare.lines.models import Line
from simcare.orders.models import Order, OrderKind, OrderState, VoucherFailure, VoucherStatus
from simcare.orders.services import vouchers
from tests.orders.vouchers_support import Batch, batch, make_batch, voucher_admin

from .conftest import ACCOUNT_PIN, PUBLIC_BASE, Phone, sign

__all__ = ["batch", "make_batch", "voucher_admin"]

LANGUAGES = ["zh-hans", "en", "fr"]
SAY = {"zh-hans": "zh-CN", "en": "en-CA", "fr": "fr-CA"}
# Tuesday 1 December 2026, 10:00 in Toronto (open); Sunday 6 December (closed all day).
OPEN_AT = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)
CLOSED_AT = dt.datetime(2026, 12, 6, 15, 0, tzinfo=dt.UTC)
ENDPOINTS = [
    "/ivr/voice/",
    "/ivr/language/",
    "/ivr/main/",
    "/ivr/menu/",
    "/ivr/pin/",
    "/ivr/renew/",
    "/ivr/voucher/",
    "/ivr/dialed/",
    "/ivr/recorded/",
    "/ivr/voicemail/",
]


def said(language: str, text_of: Callable[[], str]) -> tuple[str, str]:
    with translation.override(language):
        return SAY[language], text_of()


# --- signatures ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ENDPOINTS)
def test_a_bad_or_missing_signature_is_403_and_does_nothing(db: Any, path: str) -> None:
    params = {"CallSid": "CA1", "From": "+14165550142", "Digits": "1"}
    client = Client()

    missing = client.post(path, params)
    wrong_token = client.post(
        path, params, HTTP_X_TWILIO_SIGNATURE=sign(path, params, token="someone-else")
    )
    tampered = client.post(
        path, {**params, "Digits": "2"}, HTTP_X_TWILIO_SIGNATURE=sign(path, params)
    )
    other_url = client.post(path, params, HTTP_X_TWILIO_SIGNATURE=sign("/ivr/other/", params))

    assert [missing.status_code, wrong_token.status_code, tampered.status_code] == [403, 403, 403]
    assert other_url.status_code == 403
    assert CallSession.objects.count() == 0
    assert Voicemail.objects.count() == 0


def test_without_a_configured_auth_token_every_request_is_refused(db: Any, settings: Any) -> None:
    params = {"CallSid": "CA1", "From": "+14165550142"}
    signature = sign("/ivr/voice/", params)
    settings.SIMCARE_TWILIO_AUTH_TOKEN = ""

    response = Client().post("/ivr/voice/", params, HTTP_X_TWILIO_SIGNATURE=signature)

    assert response.status_code == 403
    assert CallSession.objects.count() == 0


def test_webhooks_take_post_only(db: Any) -> None:
    assert Client().get("/ivr/voice/").status_code == 405


# --- greeting and language -----------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_known_caller_is_greeted_in_their_language_with_the_menu(
    make_caller: Callable[..., tuple[Subscriber, Line]],
    call: Callable[..., Phone],
    language: str,
) -> None:
    subscriber, line = make_caller(language)
    phone = call(line.msisdn)

    answer = phone.post("/ivr/voice/")

    gather = answer.one("Gather")
    assert gather.get("action") == "/ivr/menu/"
    assert gather.get("numDigits") == "1"
    assert gather.get("input") == "dtmf"
    with translation.override(language):
        menu = speech.main_menu(has_account=True, has_line=True)
    assert answer.says()[0] == said(language, speech.welcome)
    assert [text for _lang, text in answer.says()[1:5]] == menu
    assert {lang for lang, _text in answer.says()} == {SAY[language]}
    assert all(say.get("voice") == "alice" for say in answer.all("Say"))
    session = CallSession.objects.get(call_sid=phone.call_sid)
    assert (session.subscriber, session.line, session.language) == (subscriber, line, language)


def test_a_caller_id_in_another_format_still_finds_the_line(
    make_caller: Callable[..., tuple[Subscriber, Line]], call: Callable[..., Phone]
) -> None:
    _subscriber, line = make_caller("fr")
    national = f"({line.msisdn[2:5]}) {line.msisdn[5:8]}-{line.msisdn[8:]}"

    answer = call(national).post("/ivr/voice/")

    assert answer.says()[0] == said("fr", speech.welcome)


@pytest.mark.parametrize(("digit", "language"), [("1", "zh-hans"), ("2", "en"), ("3", "fr")])
def test_an_unknown_caller_chooses_a_language_first(
    call: Callable[..., Phone], digit: str, language: str
) -> None:
    phone = call("+16135550111")

    first = phone.post("/ivr/voice/")
    chosen = phone.post("/ivr/language/", Digits=digit)

    gather = first.one("Gather")
    assert gather.get("action") == "/ivr/language/"
    assert [lang for lang, _text in first.says()] == ["zh-CN", "en-CA", "fr-CA"]
    with translation.override("zh-hans"):
        assert first.says()[0][1] == speech.welcome() + " " + speech.language_choice("1")
    with translation.override(language):
        expected = speech.main_menu(has_account=False, has_line=False)
    assert [text for _lang, text in chosen.says()[:2]] == expected
    assert chosen.one("Gather").get("action") == "/ivr/menu/"
    assert CallSession.objects.get(call_sid=phone.call_sid).language == language


def test_silence_at_the_language_menu_asks_once_more_then_hangs_up(
    call: Callable[..., Phone],
) -> None:
    phone = call("+16135550111")

    first = phone.post("/ivr/voice/")
    again = phone.post(first.one("Redirect").text or "")

    assert first.one("Redirect").text == "/ivr/voice/?silent=1"
    assert again.verbs() == ["Gather", "Say", "Say", "Say", "Hangup"]


def test_a_wrong_language_digit_asks_again(call: Callable[..., Phone]) -> None:
    answer = call("+16135550111").post("/ivr/language/", Digits="9")

    assert answer.one("Gather").get("action") == "/ivr/language/"


def test_silence_repeats_the_menu_once_then_hangs_up(
    make_caller: Callable[..., tuple[Subscriber, Line]], call: Callable[..., Phone]
) -> None:
    _subscriber, line = make_caller("en")
    phone = call(line.msisdn)

    first = phone.post("/ivr/voice/")
    again = phone.post(first.one("Redirect").text or "")

    assert first.one("Redirect").text == "/ivr/main/?silent=1"
    assert again.verbs() == ["Gather", "Say", "Hangup"]


def test_an_unknown_caller_can_only_reach_a_person(call: Callable[..., Phone]) -> None:
    phone = call("+16135550111")
    phone.post("/ivr/language/", Digits="2")

    answer = phone.post("/ivr/menu/", Digits="1")

    assert answer.says() == [
        ("en-CA", "We could not find an account for the number you are calling from.")
    ]
    assert answer.one("Redirect").text == "/ivr/main/"


# --- 1: balance ------------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_balance_expiry_and_data_are_spoken_in_the_callers_language(
    make_caller: Callable[..., tuple[Subscriber, Line]],
    call: Callable[..., Phone],
    fund: Callable[..., LedgerAccount],
    language: str,
) -> None:
    subscriber, line = make_caller(language)
    fund(subscriber, 1250)
    bucket = line.buckets.get(kind="data")
    bucket.used = bucket.total - 3 * 1024 * 1024 - 512 * 1024  # 3.5 GB left
    bucket.save()

    answer = call(line.msisdn).post("/ivr/menu/", Digits="1")

    with translation.override(language):
        expected = [
            gettext("Your wallet balance is %(amount)s.") % {"amount": format_cents(1250)},
            gettext("Your plan %(plan)s runs until %(date)s.")
            % {"plan": line.plan.name, "date": speech.spoken_date(line.period_end)},
            gettext("You have %(amount)s of data left.")
            % {"amount": speech.data_amount(3 * 1024 * 1024 + 512 * 1024)},
        ]
    assert answer.says() == [(SAY[language], text) for text in expected]
    assert answer.one("Redirect").text == "/ivr/main/"


def test_balance_words_are_real_translations(
    make_caller: Callable[..., tuple[Subscriber, Line]],
    call: Callable[..., Phone],
    fund: Callable[..., LedgerAccount],
) -> None:
    subscriber_fr, line_fr = make_caller("fr")
    subscriber_zh, line_zh = make_caller("zh-hans")
    fund(subscriber_fr, 1250)
    fund(subscriber_zh, 1250)

    french = call(line_fr.msisdn).post("/ivr/menu/", Digits="1").says()
    chinese = call(line_zh.msisdn).post("/ivr/menu/", Digits="1").says()

    assert french[0] == ("fr-CA", "Le solde de votre portefeuille est de 12,50\u00a0$.")
    assert chinese[0] == ("zh-CN", "您的钱包余额为 12.50 加元。")
    assert "gigaoctets" in french[2][1]
    assert "GB" in chinese[2][1] or "千兆字节" in chinese[2][1]


# --- 2: renewal after the account PIN -------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_renewal_from_the_wallet_after_the_account_pin(
    make_caller: Callable[..., tuple[Subscriber, Line]],
    call: Callable[..., Phone],
    fund: Callable[..., LedgerAccount],
    language: str,
) -> None:
    subscriber, line = make_caller(language)
    fund(subscriber, 5000)
    period_end = line.period_end
    phone = call(line.msisdn)

    asked = phone.post("/ivr/menu/", Digits="2")
    offered = phone.post("/ivr/pin/", Digits=ACCOUNT_PIN)
    done = phone.post("/ivr/renew/", Digits="1")
    again = phone.post("/ivr/renew/", Digits="1")

    pin_gather = asked.one("Gather")
    assert pin_gather.get("action") == "/ivr/pin/"
    assert pin_gather.get("finishOnKey") == "#"
    assert asked.says() == [said(language, speech.enter_pin)]
    order = Order.objects.get(kind=OrderKind.RENEWAL, line=line)
    assert order.channel == "ivr"
    assert order.payment_method == "wallet"
    assert order.state == OrderState.FULFILLED
    assert order.idempotency_key == f"ivr:{phone.call_sid}:renew"
    line.refresh_from_db()
    assert line.period_end == period_end + dt.timedelta(days=30)
    assert ledger_queries.wallet_balance_cents(subscriber) == 5000 - order.total_cents
    with translation.override(language):
        offer = speech.renewal_offer(
            plan=line.plan.name, days=30, total_cents=order.total_cents, balance_cents=5000
        )
        renewed = speech.renewed(period_end=line.period_end, balance_cents=5000 - order.total_cents)
    assert offered.one("Gather").get("action") == "/ivr/renew/"
    assert offered.says() == [(SAY[language], offer)]
    assert done.says() == [(SAY[language], renewed)]
    assert again.says() == [(SAY[language], renewed)]  # the same order: charged once
    assert Order.objects.filter(kind=OrderKind.RENEWAL).count() == 1


def test_renewal_with_too_little_in_the_wallet_says_so_and_charges_nothing(
    make_caller: Callable[..., tuple[Subscriber, Line]],
    call: Callable[..., Phone],
    fund: Callable[..., LedgerAccount],
) -> None:
    subscriber, line = make_caller("fr")
    fund(subscriber, 100)
    phone = call(line.msisdn)
    phone.post("/ivr/pin/", Digits=ACCOUNT_PIN)
    transactions = LedgerTransaction.objects.count()

    answer = phone.post("/ivr/renew/", Digits="1")

    assert answer.says()[0][0] == "fr-CA"
    assert "portefeuille" in answer.says()[0][1]
    assert Order.objects.filter(kind=OrderKind.RENEWAL, state=OrderState.FULFILLED).count() == 0
    assert LedgerTransaction.objects.count() == transactions
    assert ledger_queries.wallet_balance_cents(subscriber) == 100


def test_renewal_needs_the_pin_on_this_call(
    make_caller: Callable[..., tuple[Subscriber, Line]],
    call: Callable[..., Phone],
    fund: Callable[..., LedgerAccount],
) -> None:
    subscriber, line = make_caller("en")
    fund(subscriber, 5000)
    call(line.msisdn).post("/ivr/pin/", Digits=ACCOUNT_PIN)

    answer = call(line.msisdn).post("/ivr/renew/", Digits="1")

    assert answer.says() == [("en-CA", "Please enter your account PIN first.")]
    assert Order.objects.count() == 0


@pytest.mark.parametrize("language", LANGUAGES)
def test_three_wrong_pins_end_the_call(
    make_caller: Callable[..., tuple[Subscriber, Line]],
    call: Callable[..., Phone],
    language: str,
) -> None:
    _subscriber, line = make_caller(language)
    phone = call(line.msisdn)

    first = phone.post("/ivr/pin/", Digits="0000")
    phone.post("/ivr/pin/", Digits="1111")
    third = phone.post("/ivr/pin/", Digits="2222")
    fourth = phone.post("/ivr/pin/", Digits=ACCOUNT_PIN)

    assert first.says() == [said(language, speech.wrong_pin), said(language, speech.enter_pin)]
    assert first.one("Gather").get("action") == "/ivr/pin/"
    assert third.says() == [said(language, speech.too_many_pins)]
    assert third.verbs() == ["Say", "Hangup"]
    assert fourth.verbs() == ["Say", "Hangup"]  # even the right PIN: this call is over
    assert CallSession.objects.get(call_sid=phone.call_sid).verified_at is None
    assert AuditEvent.objects.filter(action="ivr.pin_failed").count() == 3
    assert "4321" not in str(list(AuditEvent.objects.values_list("data", flat=True)))


def test_five_wrong_pins_within_an_hour_lock_pin_entry_across_calls(
    make_caller: Callable[..., tuple[Subscriber, Line]],
    call: Callable[..., Phone],
) -> None:
    _subscriber, line = make_caller("en")
    first_call = call(line.msisdn)
    for pin in ("0000", "1111", "2222"):
        first_call.post("/ivr/pin/", Digits=pin)
    second_call = call(line.msisdn)

    second_call.post("/ivr/pin/", Digits="3333")
    locked = second_call.post("/ivr/pin/", Digits="4444")
    third_call = call(line.msisdn)
    refused = third_call.post("/ivr/menu/", Digits="2")
    right_pin = third_call.post("/ivr/pin/", Digits=ACCOUNT_PIN)

    assert locked.says() == [said("en", speech.pin_locked)]
    assert locked.verbs() == ["Say", "Hangup"]
    assert refused.says() == [said("en", speech.pin_locked)]
    assert right_pin.verbs() == ["Say", "Hangup"]
    assert CallSession.objects.filter(verified_at__isnull=False).count() == 0
    with time_machine.travel(dt.timedelta(hours=1, minutes=1)):
        later = call(line.msisdn).post("/ivr/menu/", Digits="2")
    assert later.one("Gather").get("action") == "/ivr/pin/"


# --- 3: voucher PIN by keypad ----------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_voucher_keyed_in_credits_the_wallet(
    make_caller: Callable[..., tuple[Subscriber, Line]],
    call: Callable[..., Phone],
    batch: Batch,
    language: str,
) -> None:
    subscriber, line = make_caller(language)
    _voucher_batch, issued = batch
    serial, pin = issued[0]
    phone = call(line.msisdn)

    asked = phone.post("/ivr/menu/", Digits="3")
    redeemed = phone.post("/ivr/voucher/", Digits=pin)

    gather = asked.one("Gather")
    assert (gather.get("action"), gather.get("numDigits")) == ("/ivr/voucher/", "16")
    assert asked.says() == [said(language, speech.enter_voucher)]
    with translation.override(language):
        expected = speech.voucher_redeemed(value_cents=2500, balance_cents=2500)
    assert redeemed.says() == [(SAY[language], expected)]
    assert ledger_queries.wallet_balance_cents(subscriber) == 2500
    assert vouchers.Voucher.objects.get(serial=serial).status == VoucherStatus.REDEEMED


@pytest.mark.parametrize("language", LANGUAGES)
def test_wrong_voucher_pins_are_counted_and_lock_redemption(
    make_caller: Callable[..., tuple[Subscriber, Line]],
    call: Callable[..., Phone],
    batch: Batch,
    language: str,
) -> None:
    subscriber, line = make_caller(language)
    _voucher_batch, issued = batch
    phone = call(line.msisdn)

    wrong = phone.post("/ivr/voucher/", Digits="1234567812345678")
    for _attempt in range(4):
        phone.post("/ivr/voucher/", Digits="1234567812345678")
    locked = phone.post("/ivr/voucher/", Digits=issued[0][1])

    with translation.override(language):
        invalid_text = vouchers.VoucherInvalid().message
        locked_text = vouchers.VoucherLocked().message
    assert wrong.says() == [(SAY[language], invalid_text)]
    assert locked.says() == [(SAY[language], locked_text)]
    assert VoucherFailure.objects.filter(subscriber=subscriber).count() == 5
    assert ledger_queries.wallet_balance_cents(subscriber) == 0


# --- 0: a person -----------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_in_business_hours_the_caller_is_dialled_through(
    make_caller: Callable[..., tuple[Subscriber, Line]],
    call: Callable[..., Phone],
    language: str,
) -> None:
    _subscriber, line = make_caller(language)

    with time_machine.travel(OPEN_AT, tick=False):
        answer = call(line.msisdn).post("/ivr/menu/", Digits="0")

    assert answer.verbs() == ["Say", "Dial"]
    assert answer.says() == [said(language, speech.connecting)]
    dial = answer.one("Dial")
    assert dial.get("action") == "/ivr/dialed/"
    assert answer.one("Number").text == "+14165550100"


def test_a_sip_agent_queue_is_dialled_as_sip(
    make_caller: Callable[..., tuple[Subscriber, Line]],
    call: Callable[..., Phone],
    settings: Any,
) -> None:
    settings.SIMCARE_HOTLINE_AGENT_NUMBER = "sip:queue@pbx.example.com"
    _subscriber, line = make_caller("en")

    with time_machine.travel(OPEN_AT, tick=False):
        answer = call(line.msisdn).post("/ivr/menu/", Digits="0")

    assert answer.one("Sip").text == "sip:queue@pbx.example.com"


@pytest.mark.parametrize("language", LANGUAGES)
def test_out_of_hours_the_caller_leaves_a_voicemail(
    make_caller: Callable[..., tuple[Subscriber, Line]],
    call: Callable[..., Phone],
    language: str,
) -> None:
    subscriber, line = make_caller(language)
    phone = call(line.msisdn)

    with time_machine.travel(CLOSED_AT, tick=False):
        answer = phone.post("/ivr/menu/", Digits="0")
        monday_nine = dt.datetime(2026, 12, 7, 14, 0, tzinfo=dt.UTC)
        closed = said(language, lambda: speech.closed(monday_nine))
    stored = phone.post(
        "/ivr/recorded/",
        RecordingUrl="https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE1",
        RecordingSid="RE1",
        RecordingDuration="42",
    )
    status = phone.post(
        "/ivr/voicemail/",
        RecordingUrl="https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE1",
        RecordingSid="RE1",
        RecordingDuration="42",
        RecordingStatus="completed",
    )

    assert answer.verbs() == ["Say", "Say", "Record", "Say", "Hangup"]
    assert answer.says()[:2] == [closed, said(language, speech.leave_message)]
    record = answer.one("Record")
    assert record.get("action") == "/ivr/recorded/"
    assert record.get("playBeep") == "true"
    assert record.get("maxLength") == "120"
    assert record.get("recordingStatusCallback") == f"{PUBLIC_BASE}/ivr/voicemail/"
    assert stored.says() == [said(language, speech.message_received)]
    assert status.verbs() == []
    voicemail = Voicemail.objects.get()
    assert voicemail.call_sid == phone.call_sid
    assert voicemail.caller == line.msisdn
    assert voicemail.subscriber == subscriber
    assert voicemail.language == language
    assert voicemail.duration_seconds == 42
    assert voicemail.recording_url.endswith("/Recordings/RE1")
    assert voicemail.is_handled is False
    # Both callbacks came: one ticket for the agents, in the caller's language.
    ticket = voicemail.ticket
    assert ticket is not None
    assert Ticket.objects.count() == 1
    assert (ticket.source, ticket.subscriber, ticket.language) == (
        TicketSource.PHONE,
        subscriber,
        language,
    )
    assert ticket.status == TicketStatus.NEW
    assert ticket.first_response_due_at is not None
    [message] = ticket.messages.all()
    assert line.msisdn in message.body
    assert "/Recordings/RE1" in message.body
    assert "42" in message.body


def test_the_recording_callback_alone_stores_the_voicemail(
    call: Callable[..., Phone],
) -> None:
    phone = call("+16135550111")

    phone.post(
        "/ivr/voicemail/",
        RecordingUrl="https://api.twilio.com/Recordings/RE9",
        RecordingSid="RE9",
        RecordingDuration="7",
        RecordingStatus="completed",
    )
    phone.post(
        "/ivr/voicemail/",
        RecordingUrl="https://api.twilio.com/Recordings/RE9",
        RecordingSid="RE9",
        RecordingDuration="7",
        RecordingStatus="completed",
    )

    voicemail = Voicemail.objects.get()
    assert (voicemail.caller, voicemail.subscriber, voicemail.duration_seconds) == (
        "+16135550111",
        None,
        7,
    )
    [ticket] = Ticket.objects.all()
    assert voicemail.ticket == ticket
    assert ticket.subscriber is None
    assert ticket.subject == "Voicemail from +16135550111"


def test_an_empty_recording_stores_nothing(call: Callable[..., Phone]) -> None:
    answer = call("+16135550111").post("/ivr/recorded/", RecordingDuration="0")

    assert answer.verbs() == ["Say", "Hangup"]
    assert Voicemail.objects.count() == 0


def test_a_dial_no_one_answers_goes_to_voicemail(
    make_caller: Callable[..., tuple[Subscriber, Line]], call: Callable[..., Phone]
) -> None:
    _subscriber, line = make_caller("zh-hans")
    phone = call(line.msisdn)

    unanswered = phone.post("/ivr/dialed/", DialCallStatus="no-answer")
    answered = phone.post("/ivr/dialed/", DialCallStatus="completed")

    assert unanswered.says()[0] == said("zh-hans", speech.agents_busy)
    assert unanswered.one("Record").get("action") == "/ivr/recorded/"
    assert answered.verbs() == ["Hangup"]


def test_an_invalid_menu_choice_is_said_and_the_menu_comes_back(
    make_caller: Callable[..., tuple[Subscriber, Line]], call: Callable[..., Phone]
) -> None:
    _subscriber, line = make_caller("fr")

    answer = call(line.msisdn).post("/ivr/menu/", Digits="7")

    assert answer.says() == [said("fr", speech.invalid_choice)]
    assert answer.one("Redirect").text == "/ivr/main/"


def test_the_voicemail_list_links_each_message_to_its_ticket(
    call: Callable[..., Phone], admin_client_verified: Any
) -> None:
    call("+16135550111").post(
        "/ivr/voicemail/",
        RecordingUrl="https://api.twilio.com/Recordings/RE9",
        RecordingSid="RE9",
        RecordingDuration="7",
        RecordingStatus="completed",
    )
    ticket = Ticket.objects.get()

    page = admin_client_verified.get("/en/admin/ivr/voicemail/").content.decode()

    assert f'/console/tickets/{ticket.number}/">#{ticket.number}</a>' in page
