"""The profile endpoints of the subscriber API: GET and PATCH /api/v1/me/profile and
GET /api/v1/me/export ("download my data").

Mounted by simcare/api.py under /api/v1/me/ with the subscriber token auth. The same
services as the portal's profile page: a refused change is a 422 problem and changes
nothing; a second export within five minutes is 429 export_too_soon with Retry-After.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema
from pydantic import Field

from simcare.accounts import preferences
from simcare.accounts.api import api_user, subscriber_auth
from simcare.accounts.export import export_personal_data
from simcare.accounts.models import Language, Subscriber
from simcare.kit.api import problem_responses

router = Router(tags=["profile"], auth=subscriber_auth)


class ProfileOut(Schema):
    username: str
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    language: str
    email_notifications: bool
    sms_notifications: bool
    marketing_consent: bool
    marketing_consent_at: dt.datetime | None
    marketing_consent_channel: str
    marketing_consent_wording_version: str
    id_document_type: str
    id_document_number_masked: str = Field(description="Never the whole number")
    date_of_birth: dt.date | None
    has_account_pin: bool


class ProfilePatch(Schema):
    language: str | None = Field(
        None, max_length=8, description=f"One of {', '.join(Language.values)}"
    )
    email_notifications: bool | None = None
    sms_notifications: bool | None = None
    marketing_consent: bool | None = Field(
        None,
        description=(
            "true records consent now (channel api, the current wording version); "
            "false withdraws it"
        ),
    )


def _profile(subscriber: Subscriber) -> dict[str, Any]:
    user = subscriber.user
    return {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "phone": user.phone,
        "language": user.language,
        "email_notifications": subscriber.email_notifications_enabled,
        "sms_notifications": subscriber.sms_notifications_enabled,
        "marketing_consent": subscriber.has_marketing_consent,
        "marketing_consent_at": subscriber.marketing_consent_at,
        "marketing_consent_channel": subscriber.marketing_consent_channel,
        "marketing_consent_wording_version": subscriber.marketing_consent_wording_version,
        "id_document_type": subscriber.id_document_type,
        "id_document_number_masked": subscriber.id_document_number_masked,
        "date_of_birth": subscriber.date_of_birth,
        "has_account_pin": bool(subscriber.account_pin_hash),
    }


@router.get(
    "/profile",
    response={200: ProfileOut, **problem_responses(401)},
    summary="My profile",
    operation_id="get_my_profile",
)
def get_my_profile(request: HttpRequest) -> dict[str, Any]:
    return _profile(api_user(request).subscriber)


@router.patch(
    "/profile",
    response={200: ProfileOut, **problem_responses(400, 401, 422)},
    summary="Change my language, notification channels or marketing consent",
    description=(
        "Fields left out keep their value. At least one of email and SMS stays on, with an "
        "address (422 no_channel_left, channel_without_address); an unknown language is "
        "422 language_invalid."
    ),
    operation_id="update_my_profile",
)
def update_my_profile(request: HttpRequest, payload: ProfilePatch) -> dict[str, Any]:
    user = api_user(request)
    subscriber = user.subscriber
    chosen = preferences.Preferences(
        language=payload.language if payload.language is not None else user.language,
        email_notifications=(
            payload.email_notifications
            if payload.email_notifications is not None
            else subscriber.email_notifications_enabled
        ),
        sms_notifications=(
            payload.sms_notifications
            if payload.sms_notifications is not None
            else subscriber.sms_notifications_enabled
        ),
        marketing_consent=(
            payload.marketing_consent
            if payload.marketing_consent is not None
            else subscriber.has_marketing_consent
        ),
    )
    updated = preferences.update_preferences(
        subscriber, chosen, acting_user=user, consent_channel="api"
    )
    return _profile(updated)


@router.get(
    "/export",
    response={200: dict[str, Any], **problem_responses(401, 429)},
    summary="Download my data",
    description=(
        "Every record of mine as one JSON document (format simcare.personal-data/1): profile, "
        "lines, buckets, usage, orders, payments, receipts, wallet entries, notifications, "
        "chats, returns, reviews. Once every five minutes (429 export_too_soon); audited."
    ),
    operation_id="export_my_data",
)
def export_my_data(request: HttpRequest) -> HttpResponse:
    user = api_user(request)
    document = export_personal_data(user.subscriber, acting_user=user)
    response = HttpResponse(document, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="simcare-my-data.json"'
    response["Cache-Control"] = "no-store"
    return response
