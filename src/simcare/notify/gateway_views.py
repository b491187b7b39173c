"""Delivery receipts from the SMS gateways (no language prefix, no session, no CSRF)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from simcare.kit.twilio_webhooks import has_valid_signature
from simcare.notify import gateways, services


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    """Twilio's status callback of a message: MessageSid, MessageStatus, ErrorCode."""
    if not has_valid_signature(request):
        return HttpResponseForbidden("invalid signature", content_type="text/plain")
    status = gateways.TWILIO_STATUSES.get(request.POST.get("MessageStatus", ""))
    if status is not None:
        services.record_delivery_status(
            gateway=gateways.TwilioSmsBackend.name,
            message_id=request.POST.get("MessageSid", "")[:64],
            status=status,
            error=request.POST.get("ErrorCode", ""),
        )
    return HttpResponse(status=204)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def kannel_dlr(request: HttpRequest) -> HttpResponse:
    """smsbox's dlr-url call: our reference and its MAC, the DLR type (%d), the SMSC's answer."""
    query = request.GET
    reference = query.get("ref", "")[:64]
    token = query.get("token", "")
    if not reference or not constant_time_compare(token, gateways.kannel_token(reference)):
        return HttpResponseForbidden("invalid token", content_type="text/plain")
    status = gateways.kannel_status(query.get("status", ""))
    if status is not None:
        error = "" if status == "delivered" else query.get("answer", "")
        services.record_delivery_status(
            gateway=gateways.KannelSmsBackend.name,
            message_id=reference,
            status=status,
            error=error,
        )
    return HttpResponse("OK", content_type="text/plain")
