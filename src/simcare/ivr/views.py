"""Twilio voice webhooks of the hotline: each answers TwiML for the call's next step.

Every request must carry a valid X-Twilio-Signature for the public URL it was
sent to (SIMCARE_PUBLIC_BASE_URL + path); anything else is 403 with nothing
done. The call's state lives in its CallSession (ivr/services.py); everything
said is gettext under the caller's language.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.urls import reverse
from django.utils import timezone, translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.twiml.voice_response import Gather, VoiceResponse

from simcare.ivr import hours, queries, services, speech
from simcare.ivr.models import CallSession
from simcare.kit.problems import DomainError
from simcare.kit.twilio_webhooks import has_valid_signature
from simcare.ledger.queries import wallet_balance_cents
from simcare.orders.models import OrderKind, SalesChannel
from simcare.orders.services import ordering

View = Callable[[HttpRequest], HttpResponse]
MAX_SILENT_MENUS = 2


def twilio_webhook(view: View) -> View:
    """POST only, signed by Twilio, no CSRF token (the signature stands for it)."""

    @csrf_exempt
    @require_POST
    @wraps(view)
    def wrapped(request: HttpRequest) -> HttpResponse:
        if not has_valid_signature(request):
            return HttpResponseForbidden("invalid signature", content_type="text/plain")
        return view(request)

    return wrapped


def _twiml(response: VoiceResponse) -> HttpResponse:
    return HttpResponse(str(response), content_type="text/xml; charset=utf-8")


def _say(target: VoiceResponse | Gather, text: str, language: str) -> None:
    target.say(
        text,
        language=speech.SAY_LANGUAGES.get(language, "en-CA"),
        voice=settings.SIMCARE_HOTLINE_VOICES.get(language, "alice"),
    )


def _url(name: str, **query: str) -> str:
    path = reverse(f"ivr:{name}")
    if query:
        path += "?" + "&".join(f"{key}={value}" for key, value in query.items())
    return path


def _session(request: HttpRequest) -> CallSession:
    call_sid = request.POST.get("CallSid", "")[:64]
    return services.start_call(call_sid=call_sid, caller=request.POST.get("From", ""))


def _language(session: CallSession) -> str:
    return session.language or settings.LANGUAGE_CODE


def _digits(request: HttpRequest) -> str:
    return re.sub(r"[^0-9*#]", "", request.POST.get("Digits", ""))[:32]


def _gather(response: VoiceResponse, action: str, **options: object) -> Gather:
    gather = Gather(action=action, method="POST", input="dtmf", **options)
    response.append(gather)
    return gather


def _menu(response: VoiceResponse, session: CallSession, *, silent: int = 0) -> VoiceResponse:
    language = _language(session)
    gather = _gather(response, _url("menu"), num_digits=1, timeout=6)
    for sentence in speech.main_menu(
        has_account=session.subscriber_id is not None, has_line=session.line_id is not None
    ):
        _say(gather, sentence, language)
    if silent + 1 >= MAX_SILENT_MENUS:
        _say(response, speech.goodbye(), language)
        response.hangup()
    else:
        _say(response, speech.no_input(), language)
        response.redirect(_url("main", silent=str(silent + 1)), method="POST")
    return response


def _back_to_menu(response: VoiceResponse) -> VoiceResponse:
    response.redirect(_url("main"), method="POST")
    return response


def _silent_count(request: HttpRequest) -> int:
    raw = request.GET.get("silent", "")
    return int(raw) if raw.isdigit() else 0


def _language_menu(response: VoiceResponse, *, silent: int = 0) -> VoiceResponse:
    gather = _gather(response, _url("language"), num_digits=1, timeout=6)
    for digit, language in speech.LANGUAGE_DIGITS.items():
        with translation.override(language):
            _say(gather, speech.welcome() + " " + speech.language_choice(digit), language)
    if silent + 1 >= MAX_SILENT_MENUS:
        for language in speech.LANGUAGE_DIGITS.values():
            with translation.override(language):
                _say(response, speech.goodbye(), language)
        response.hangup()
    else:
        response.redirect(_url("voice", silent=str(silent + 1)), method="POST")
    return response


@twilio_webhook
def voice(request: HttpRequest) -> HttpResponse:
    """The call starts: greet a known caller in their language, else ask for one."""
    session = _session(request)
    response = VoiceResponse()
    if not session.language:
        return _twiml(_language_menu(response, silent=_silent_count(request)))
    with translation.override(session.language):
        _say(response, speech.welcome(), session.language)
        return _twiml(_menu(response, session))


@twilio_webhook
def language(request: HttpRequest) -> HttpResponse:
    session = _session(request)
    response = VoiceResponse()
    chosen = speech.LANGUAGE_DIGITS.get(_digits(request))
    if chosen is None:
        return _twiml(_language_menu(response))
    services.choose_language(session, chosen)
    with translation.override(chosen):
        return _twiml(_menu(response, session))


@twilio_webhook
def main(request: HttpRequest) -> HttpResponse:
    """The main menu again (a Redirect target after each branch)."""
    session = _session(request)
    with translation.override(_language(session)):
        return _twiml(_menu(VoiceResponse(), session, silent=_silent_count(request)))


@twilio_webhook
def menu(request: HttpRequest) -> HttpResponse:
    session = _session(request)
    language = _language(session)
    response = VoiceResponse()
    choice = _digits(request)
    with translation.override(language):
        if choice == "0":
            return _twiml(_agent(response, language))
        if choice in {"1", "2", "3"} and session.subscriber is None:
            _say(response, speech.main_menu(has_account=False, has_line=False)[0], language)
            return _twiml(_back_to_menu(response))
        if choice == "1" and session.subscriber is not None:
            summary = queries.account_summary(session.subscriber, session.line, now=timezone.now())
            for sentence in speech.summary(summary):
                _say(response, sentence, language)
            return _twiml(_back_to_menu(response))
        if choice == "2":
            return _twiml(_renewal_start(response, session))
        if choice == "3":
            gather = _gather(
                response, _url("voucher"), num_digits=16, timeout=15, finish_on_key="#"
            )
            _say(gather, speech.enter_voucher(), language)
            return _twiml(_back_to_menu(response))
        _say(response, speech.invalid_choice(), language)
        return _twiml(_back_to_menu(response))


def _renewal_start(response: VoiceResponse, session: CallSession) -> VoiceResponse:
    language = _language(session)
    if session.line is None:
        _say(response, speech.no_line(), language)
        return _back_to_menu(response)
    if services.is_verified(session):
        return _renewal_offer(response, session)
    if services.pin_entry_locked(session):
        _say(response, speech.pin_locked(), language)
        return _back_to_menu(response)
    gather = _gather(response, _url("pin"), finish_on_key="#", timeout=10)
    _say(gather, speech.enter_pin(), language)
    return _back_to_menu(response)


def _renewal_offer(response: VoiceResponse, session: CallSession) -> VoiceResponse:
    language = _language(session)
    line = session.line
    if line is None or session.subscriber is None:
        return _back_to_menu(response)
    try:
        quote = ordering.quote(
            kind=OrderKind.RENEWAL,
            channel=SalesChannel.IVR,
            subscriber=session.subscriber,
            plan=line.plan,
            line=line,
        )
    except DomainError as refusal:
        _say(response, refusal.message, language)
        return _back_to_menu(response)
    gather = _gather(response, _url("renew"), num_digits=1, timeout=8)
    _say(
        gather,
        speech.renewal_offer(
            plan=line.plan.name,
            days=line.plan.validity_days,
            total_cents=quote.total_cents,
            balance_cents=wallet_balance_cents(session.subscriber),
        ),
        language,
    )
    return _back_to_menu(response)


@twilio_webhook
def pin(request: HttpRequest) -> HttpResponse:
    session = _session(request)
    language = _language(session)
    response = VoiceResponse()
    with translation.override(language):
        if session.subscriber is None:
            return _twiml(_back_to_menu(response))
        outcome = services.verify_pin(session, _digits(request).rstrip("#"))
        if outcome == services.PinOutcome.ACCEPTED:
            return _twiml(_renewal_offer(response, session))
        if outcome == services.PinOutcome.CALL_ENDED:
            _say(response, speech.too_many_pins(), language)
            response.hangup()
            return _twiml(response)
        if outcome == services.PinOutcome.LOCKED:
            _say(response, speech.pin_locked(), language)
            response.hangup()
            return _twiml(response)
        _say(response, speech.wrong_pin(), language)
        gather = _gather(response, _url("pin"), finish_on_key="#", timeout=10)
        _say(gather, speech.enter_pin(), language)
        return _twiml(_back_to_menu(response))


@twilio_webhook
def renew(request: HttpRequest) -> HttpResponse:
    session = _session(request)
    language = _language(session)
    response = VoiceResponse()
    with translation.override(language):
        if _digits(request) != "1":
            return _twiml(_back_to_menu(response))
        try:
            # PIN not keyed in, wallet short, line not renewable, plan withdrawn …
            services.renew_from_wallet(session)
        except DomainError as refusal:
            _say(response, refusal.message, language)
            return _twiml(_back_to_menu(response))
        subscriber, line = session.subscriber, session.line
        if subscriber is None or line is None:  # renew_from_wallet refused these already
            return _twiml(_back_to_menu(response))
        line.refresh_from_db(fields=["period_end"])
        _say(
            response,
            speech.renewed(
                period_end=line.period_end,
                balance_cents=wallet_balance_cents(subscriber),
            ),
            language,
        )
        return _twiml(_back_to_menu(response))


@twilio_webhook
def voucher(request: HttpRequest) -> HttpResponse:
    session = _session(request)
    language = _language(session)
    response = VoiceResponse()
    with translation.override(language):
        if session.subscriber is None:
            return _twiml(_back_to_menu(response))
        try:
            redeemed = services.redeem_voucher(session, _digits(request).rstrip("#"))
        except DomainError as refusal:  # invalid PIN (counted for the lockout) or locked
            _say(response, refusal.message, language)
            return _twiml(_back_to_menu(response))
        _say(
            response,
            speech.voucher_redeemed(
                value_cents=redeemed.value_cents,
                balance_cents=wallet_balance_cents(session.subscriber),
            ),
            language,
        )
        return _twiml(_back_to_menu(response))


def _record(response: VoiceResponse, language: str) -> VoiceResponse:
    _say(response, speech.leave_message(), language)
    response.record(
        action=_url("recorded"),
        method="POST",
        max_length=settings.SIMCARE_HOTLINE_VOICEMAIL_MAX_SECONDS,
        finish_on_key="#",
        play_beep=True,
        timeout=5,
        recording_status_callback=settings.SIMCARE_PUBLIC_BASE_URL.rstrip("/") + _url("voicemail"),
        recording_status_callback_method="POST",
    )
    _say(response, speech.no_message(), language)
    response.hangup()
    return response


def _agent(response: VoiceResponse, language: str) -> VoiceResponse:
    now = timezone.now()
    schedule = hours.hotline_schedule()
    if not hours.is_open(now, schedule=schedule):
        _say(response, speech.closed(hours.next_opening(now, schedule=schedule)), language)
        return _record(response, language)
    _say(response, speech.connecting(), language)
    target = settings.SIMCARE_HOTLINE_AGENT_NUMBER
    dial = response.dial(action=_url("dialed"), method="POST", timeout=30)
    if target.startswith("sip:"):
        dial.sip(target)
    else:
        dial.number(target)
    return response


@twilio_webhook
def dialed(request: HttpRequest) -> HttpResponse:
    """After the <Dial>: a call no agent took goes to voicemail."""
    session = _session(request)
    language = _language(session)
    response = VoiceResponse()
    with translation.override(language):
        if request.POST.get("DialCallStatus", "") == "completed":
            response.hangup()
            return _twiml(response)
        _say(response, speech.agents_busy(), language)
        return _twiml(_record(response, language))


def _duration(request: HttpRequest) -> int:
    raw = request.POST.get("RecordingDuration", "")
    return int(raw) if raw.isdigit() else 0


@twilio_webhook
def recorded(request: HttpRequest) -> HttpResponse:
    """The <Record> action: the message is stored, the caller thanked."""
    session = _session(request)
    language = _language(session)
    response = VoiceResponse()
    recording_url = request.POST.get("RecordingUrl", "")
    with translation.override(language):
        if not recording_url or _duration(request) == 0:
            _say(response, speech.no_message(), language)
            response.hangup()
            return _twiml(response)
        services.record_voicemail(
            call_sid=session.call_sid,
            recording_url=recording_url,
            recording_sid=request.POST.get("RecordingSid", ""),
            duration_seconds=_duration(request),
        )
        _say(response, speech.message_received(), language)
        response.hangup()
        return _twiml(response)


@twilio_webhook
def voicemail(request: HttpRequest) -> HttpResponse:
    """Twilio's recording status callback: the recording is complete and has its final URL."""
    recording_url = request.POST.get("RecordingUrl", "")
    if request.POST.get("RecordingStatus", "completed") == "completed" and recording_url:
        _session(request)
        services.record_voicemail(
            call_sid=request.POST.get("CallSid", "")[:64],
            recording_url=recording_url,
            recording_sid=request.POST.get("RecordingSid", ""),
            duration_seconds=_duration(request),
        )
    return _twiml(VoiceResponse())
