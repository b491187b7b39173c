"""What every API audience shares: the problem+json document (RFC 9457) and its rendering.

A problem looks like
    {"type": "urn:simcare:problem:wallet_short", "title": "Refused", "status": 422,
     "detail": "Your wallet balance is too low for this order.", "code": "wallet_short"}
and a validation problem adds "errors": [{"field": "plan_code", "code": "missing",
"message": "This field is required."}]. `code` is the stable, machine-readable part;
`title` and `detail` are in the request's language.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.http import HttpResponse
from django.utils.translation import gettext
from ninja import Schema

from simcare.kit.problems import DomainError

PROBLEM_CONTENT_TYPE = "application/problem+json"


class FieldError(Schema):
    field: str
    code: str
    message: str


class Problem(Schema):
    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[FieldError] | None = None


def problem_type(code: str) -> str:
    return f"urn:simcare:problem:{code}"


def problem_title(status: int) -> str:
    titles = {
        400: gettext("Bad request"),
        401: gettext("Not signed in"),
        403: gettext("Forbidden"),
        404: gettext("Not found"),
        405: gettext("Method not allowed"),
        409: gettext("Conflict"),
        413: gettext("Request too large"),
        415: gettext("Unsupported media type"),
        422: gettext("Refused"),
        429: gettext("Too many requests"),
    }
    return titles.get(status, gettext("Server error") if status >= 500 else gettext("Error"))


def problem_response(
    *,
    status: int,
    code: str,
    detail: str,
    errors: Iterable[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    body: dict[str, Any] = {
        "type": problem_type(code),
        "title": problem_title(status),
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors is not None:
        body["errors"] = list(errors)
    return HttpResponse(
        json.dumps(body, ensure_ascii=False),
        status=status,
        content_type=PROBLEM_CONTENT_TYPE,
        headers=headers,
    )


def retry_after_seconds(error: DomainError) -> int | None:
    """Seconds until a throttled action may be retried, from the error's details."""
    from django.utils import timezone

    value = error.details.get("retry_after", error.details.get("retry_after_seconds"))
    if value is None and error.details.get("locked_until") is not None:
        locked_until = error.details["locked_until"]
        value = (locked_until - timezone.now()).total_seconds()  # type: ignore[operator]
    if isinstance(value, int | float):
        return max(1, int(value + 0.999))
    return None


def domain_problem(error: DomainError) -> HttpResponse:
    headers = {}
    if error.status == 429:
        headers["Retry-After"] = str(retry_after_seconds(error) or 60)
    return problem_response(
        status=error.status, code=error.code, detail=error.message, headers=headers
    )


def problem_responses(*statuses: int) -> dict[int, type[Problem]]:
    """The `response=` entries documenting these error statuses as problems."""
    return dict.fromkeys(statuses, Problem)
