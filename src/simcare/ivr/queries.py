"""Reads for the hotline: who is calling, and what the caller hears about their account."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from simcare.accounts.models import Subscriber, User
from simcare.catalog.models import UsageKind
from simcare.kit.phone import InvalidPhoneNumber, normalize_msisdn
from simcare.ledger.queries import wallet_balance_cents
from simcare.lines.models import Bucket, Line, LineState


def normalized_caller(raw: str) -> str:
    """The caller ID in E.164, or "" for a withheld or foreign number."""
    try:
        return normalize_msisdn(raw)
    except InvalidPhoneNumber:
        return ""


def find_caller(msisdn: str) -> tuple[Subscriber | None, Line | None]:
    """The subscriber and line behind a caller ID: the live line with that number first, then
    an account whose mobile number it is (with its newest live line)."""
    if not msisdn:
        return None, None
    line = (
        Line.objects.select_related("subscriber__user", "plan")
        .filter(msisdn=msisdn)
        .exclude(state=LineState.RECYCLED)
        .first()
    )
    if line is not None:
        return line.subscriber, line
    user = User.objects.filter(phone=msisdn, is_active=True).first()
    if user is None:
        return None, None
    subscriber = Subscriber.objects.select_related("user").filter(user=user).first()
    if subscriber is None:
        return None, None
    own_line = (
        Line.objects.select_related("plan")
        .filter(subscriber=subscriber)
        .exclude(state=LineState.RECYCLED)
        .order_by("-activated_at", "-id")
        .first()
    )
    return subscriber, own_line


@dataclass(frozen=True)
class AccountSummary:
    """What "1 balance" says: the wallet, and the line's period end and data left."""

    balance_cents: int
    line: Line | None
    period_end: dt.datetime | None
    data_remaining_kb: int | None  # None: unlimited (when has_data is true)
    has_data: bool


def account_summary(
    subscriber: Subscriber, line: Line | None, *, now: dt.datetime
) -> AccountSummary:
    balance = wallet_balance_cents(subscriber)
    if line is None:
        return AccountSummary(balance, None, None, None, has_data=False)
    buckets = list(
        Bucket.objects.filter(
            line=line, kind=UsageKind.DATA, starts_at__lte=now, expires_at__gt=now
        )
    )
    if not buckets:
        return AccountSummary(balance, line, line.period_end, 0, has_data=False)
    if any(bucket.total is None for bucket in buckets):
        return AccountSummary(balance, line, line.period_end, None, has_data=True)
    remaining = sum(bucket.remaining or 0 for bucket in buckets)
    return AccountSummary(balance, line, line.period_end, remaining, has_data=True)
