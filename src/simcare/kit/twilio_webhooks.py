"""Twilio's webhook signature (X-Twilio-Signature), checked with the twilio library.

Twilio signs the full public URL it called plus the POSTed form fields with
the account's auth token; behind a proxy the URL Django sees differs, so the
public base URL comes from settings.SIMCARE_PUBLIC_BASE_URL.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from twilio.request_validator import RequestValidator


def public_url(request: HttpRequest) -> str:
    return settings.SIMCARE_PUBLIC_BASE_URL.rstrip("/") + request.get_full_path()


def has_valid_signature(request: HttpRequest) -> bool:
    """False without a configured auth token, without a signature, or with a wrong one."""
    token = settings.SIMCARE_TWILIO_AUTH_TOKEN
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature:
        return False
    return bool(RequestValidator(token).validate(public_url(request), request.POST, signature))
