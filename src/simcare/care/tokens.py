"""Signed tokens: a visitor's identity in the widget, and a transcript link.

A visitor token is a random visitor key signed with the secret key; the widget
keeps it in localStorage and presents it on every connection, so an anonymous
visitor finds their conversation again after a reload or a dropped connection.
Nobody can forge another visitor's key without the secret.
"""

from __future__ import annotations

import secrets

from django.core import signing

VISITOR_SALT = "simcare.care.visitor"
TRANSCRIPT_SALT = "simcare.care.transcript"
VISITOR_TOKEN_MAX_AGE = 400 * 24 * 3600
TRANSCRIPT_LINK_MAX_AGE = 24 * 3600


def new_visitor_key() -> str:
    return "v_" + secrets.token_urlsafe(24)


def visitor_token(visitor_key: str) -> str:
    return signing.TimestampSigner(salt=VISITOR_SALT).sign(visitor_key)


def visitor_key_from(token: str) -> str | None:
    """The visitor key of a valid token, else None (tampered, expired, empty)."""
    if not token:
        return None
    try:
        return signing.TimestampSigner(salt=VISITOR_SALT).unsign(
            token, max_age=VISITOR_TOKEN_MAX_AGE
        )
    except signing.BadSignature:
        return None


def transcript_token(public_id: str) -> str:
    return signing.TimestampSigner(salt=TRANSCRIPT_SALT).sign(public_id)


def transcript_token_is_valid(token: str, public_id: str) -> bool:
    try:
        value = signing.TimestampSigner(salt=TRANSCRIPT_SALT).unsign(
            token, max_age=TRANSCRIPT_LINK_MAX_AGE
        )
    except signing.BadSignature:
        return False
    return value == public_id
