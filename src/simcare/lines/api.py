"""The subscriber's lines over the API: GET /api/v1/me/lines."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.http import HttpRequest
from ninja import Router, Schema

from simcare.accounts.api import api_user, subscriber_auth
from simcare.kit.api import problem_responses
from simcare.lines import queries
from simcare.lines.models import Bucket, Line

router = Router(tags=["lines"], auth=subscriber_auth)


class BucketOut(Schema):
    kind: Literal["data", "voice", "sms"]
    unit: Literal["KB", "minute", "message"]
    total: int | None
    remaining: int | None
    expires_at: dt.datetime
    source: Literal["plan", "addon"]
    zone: Literal["CA", "US", "INTL"]

    @staticmethod
    def resolve_unit(bucket: Bucket) -> str:
        return bucket.unit

    @staticmethod
    def resolve_remaining(bucket: Bucket) -> int | None:
        return bucket.remaining


class LineOut(Schema):
    msisdn: str
    iccid: str
    kind: Literal["physical", "esim"]
    state: Literal["active", "grace", "suspended", "recycled"]
    plan_code: str
    period_end: dt.datetime
    auto_renew: bool
    buckets: list[BucketOut]

    @staticmethod
    def resolve_iccid(line: Line) -> str:
        return line.sim.iccid

    @staticmethod
    def resolve_plan_code(line: Line) -> str:
        return line.plan.code

    @staticmethod
    def resolve_buckets(line: Line) -> list[Bucket]:
        buckets: list[Bucket] = line.current_buckets  # type: ignore[attr-defined]
        return buckets


@router.get(
    "/lines",
    response={200: list[LineOut], **problem_responses(401)},
    summary="My lines with their current allowances",
    operation_id="list_my_lines",
)
def list_my_lines(request: HttpRequest) -> list[Line]:
    return list(queries.live_lines_with_current_buckets(api_user(request)))
