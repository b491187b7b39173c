"""The HTTP API: one NinjaAPI at /api/v1/, one router per app, one auth class per audience.

Audiences: subscribers (a mobile app) authenticate with a bearer token from
POST /api/v1/auth/token (accounts.api.SubscriberTokenAuth, on the /me routers);
resellers get their own auth class and routers under the same API (partners).
Every error, whatever raised it, leaves as application/problem+json (kit/api.py):
domain refusals keep their code and status, request validation is a 422 with one
entry per field, and an unexpected exception is logged and answered with a 500
problem, never with Django's HTML page.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.urls import URLPattern, URLResolver, path
from django.utils.translation import gettext, ngettext
from ninja import NinjaAPI, Swagger
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError

from simcare.accounts.api import router as accounts_router
from simcare.accounts.profile_api import router as profile_router
from simcare.aftersales.api import router as aftersales_router
from simcare.kit.api import PROBLEM_CONTENT_TYPE, domain_problem, problem_response
from simcare.kit.problems import (
    BadRequest,
    DomainError,
    MethodNotAllowed,
    NotAuthenticated,
    NotFound,
    TooManyRequests,
)
from simcare.lines.api import router as lines_router
from simcare.orders.api import router as orders_router
from simcare.partners.api import router as partners_router
from simcare.usage.api import router as usage_router

logger = logging.getLogger("simcare.api")

_View = Callable[..., HttpResponseBase]


def _problem_for_not_allowed(view: _View) -> _View:
    """Ninja answers a method a path lacks with a plain-text 405; make it a problem."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        if response.status_code == 405 and response.get("Content-Type", "").startswith("text/html"):
            return domain_problem_with_headers(MethodNotAllowed(), {"Allow": response["Allow"]})
        return response

    return wrapper


def domain_problem_with_headers(error: DomainError, headers: dict[str, str]) -> HttpResponse:
    response = domain_problem(error)
    for name, value in headers.items():
        response[name] = value
    return response


def unknown_endpoint(request: HttpRequest, **kwargs: str) -> HttpResponse:
    return domain_problem(NotFound())


class SimcareAPI(NinjaAPI):
    @property
    def urls(self) -> tuple[list[URLResolver | URLPattern], str, str]:
        patterns, app_name, namespace = super().urls
        wrapped: list[URLResolver | URLPattern] = []
        for entry in patterns:
            if isinstance(entry, URLPattern) and entry.name == "api-root":
                wrapped.append(path("", unknown_endpoint, name="api-root"))
            elif isinstance(entry, URLPattern):
                callback = _problem_for_not_allowed(entry.callback)
                wrapped.append(URLPattern(entry.pattern, callback, entry.default_args, entry.name))
            else:
                wrapped.append(entry)
        wrapped.append(path("<path:unmatched>", unknown_endpoint, name="unknown_endpoint"))
        return wrapped, app_name, namespace

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> Any:
        """Errors are documented with the media type they are sent with."""
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    if int(status) >= 400 and "application/json" in content:
                        content[PROBLEM_CONTENT_TYPE] = content.pop("application/json")
        return schema


api = SimcareAPI(
    title="simcare API",
    version="1",
    description=(
        "The subscriber API of simcare (token auth) and the reseller API (reseller keys). "
        "Every error is application/problem+json with a stable `code`; see docs/api.md."
    ),
    urls_namespace="api",
    openapi_url="/openapi.json",
    docs_url="/docs",
    # Served from ninja's own static files (ninja is in INSTALLED_APPS): no CDN, and
    # swagger-ui-init.js reads its settings from a JSON block, so the CSP holds.
    docs=Swagger(settings={"validatorUrl": None}),
)


def _count(ctx: dict[str, Any], key: str) -> int:
    value = ctx.get(key, 0)
    return value if isinstance(value, int) else 0


_FIELD_MESSAGES: dict[str, Callable[[dict[str, Any]], str]] = {
    "missing": lambda ctx: gettext("This field is required."),
    "string_too_short": lambda ctx: (
        ngettext(
            "Use at least %(count)d character.",
            "Use at least %(count)d characters.",
            _count(ctx, "min_length"),
        )
        % {"count": _count(ctx, "min_length")}
    ),
    "string_too_long": lambda ctx: (
        ngettext(
            "Use at most %(count)d character.",
            "Use at most %(count)d characters.",
            _count(ctx, "max_length"),
        )
        % {"count": _count(ctx, "max_length")}
    ),
    "string_type": lambda ctx: gettext("Enter text."),
    "int_parsing": lambda ctx: gettext("Enter a whole number."),
    "int_type": lambda ctx: gettext("Enter a whole number."),
    "int_from_float": lambda ctx: gettext("Enter a whole number."),
    "bool_parsing": lambda ctx: gettext("Enter true or false."),
    "bool_type": lambda ctx: gettext("Enter true or false."),
    "greater_than_equal": lambda ctx: (
        gettext("Enter a number of at least %(limit)s.") % {"limit": ctx.get("ge", "")}
    ),
    "less_than_equal": lambda ctx: (
        gettext("Enter a number of at most %(limit)s.") % {"limit": ctx.get("le", "")}
    ),
    "literal_error": lambda ctx: (
        gettext("Choose one of: %(choices)s.") % {"choices": ctx.get("expected", "")}
    ),
    "json_invalid": lambda ctx: gettext("The request body is not valid JSON."),
    "model_attributes_type": lambda ctx: gettext("Send a JSON object."),
    "dict_type": lambda ctx: gettext("Send a JSON object."),
    "model_type": lambda ctx: gettext("Send a JSON object."),
}


def _field_name(location: list[Any]) -> str:
    """("body", "payload", "plan_code") → "plan_code"; ("header", "Idempotency-Key") → the
    header's name; a whole body that is not an object → "body"."""
    source, *rest = [str(part) for part in location] or ["body"]
    if source == "body":
        rest = rest[1:]
    return ".".join(rest) or source


def _field_error(error: dict[str, Any]) -> dict[str, str]:
    kind = str(error.get("type", "value_error"))
    render = _FIELD_MESSAGES.get(kind)
    message = render(error.get("ctx") or {}) if render else gettext("This value is not valid.")
    return {"field": _field_name(list(error.get("loc", []))), "code": kind, "message": message}


def _on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [_field_error(error) for error in exc.errors]
    if any(error["code"] == "json_invalid" for error in errors):
        return problem_response(
            status=400,
            code="malformed_json",
            detail=gettext("The request body is not valid JSON."),
            errors=errors,
        )
    return problem_response(
        status=422,
        code="validation_error",
        detail=gettext("Some fields are missing or not valid."),
        errors=errors,
    )


def _on_domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return domain_problem(exc)


def _on_not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    return domain_problem(NotFound())


def _on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc, AuthenticationError):
        return domain_problem(NotAuthenticated())
    if isinstance(exc, Throttled):
        return domain_problem(TooManyRequests(retry_after=int(exc.wait or 60)))
    if exc.status_code == 404:
        return domain_problem(NotFound())
    if exc.status_code == 400:  # ninja could not parse the body
        return domain_problem(
            BadRequest(gettext("The request body could not be read: send a JSON object."))
        )
    return problem_response(status=exc.status_code, code="http_error", detail=exc.message)


def _on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    # The path and the exception, never the body or headers (tokens, PINs, passwords).
    logger.exception("api.unhandled_exception", extra={"path": request.path})
    return problem_response(
        status=500,
        code="server_error",
        detail=gettext("Something went wrong on our side. Please try again later."),
    )


def install_problem_handlers(target: NinjaAPI) -> None:
    """Answer every exception an operation of `target` raises with a problem document."""
    target.add_exception_handler(Exception, _on_unexpected)  # type: ignore[arg-type]
    target.add_exception_handler(HttpError, _on_http_error)  # type: ignore[arg-type]
    target.add_exception_handler(ValidationError, _on_validation_error)  # type: ignore[arg-type]
    target.add_exception_handler(DomainError, _on_domain_error)  # type: ignore[arg-type]
    target.add_exception_handler(Http404, _on_not_found)  # type: ignore[arg-type]
    target.add_exception_handler(ObjectDoesNotExist, _on_not_found)  # type: ignore[arg-type]


install_problem_handlers(api)

api.add_router("/auth/", accounts_router)
api.add_router("/me/", lines_router)
api.add_router("/me/", orders_router)
api.add_router("/me/", aftersales_router)
api.add_router("/me/", usage_router)
api.add_router("/me/", profile_router)
api.add_router("/", partners_router)
