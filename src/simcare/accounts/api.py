"""API sign-in: a subscriber trades a username (or email, or mobile number) and password
for a bearer token, and SubscriberTokenAuth checks that token on the /me endpoints.

Failed sign-ins count towards the same django-axes lockout as the login page
(username + IP address): guessing through the API locks the web login too, and
the reverse; a locked-out sign-in is a 429 with Retry-After.
"""

from __future__ import annotations

from typing import Any

from axes.helpers import get_client_ip_address, get_cool_off
from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_logged_in
from django.http import HttpRequest
from django.utils import translation
from ninja import Field, Router, Schema
from ninja.security import HttpBearer

from simcare.accounts import services
from simcare.accounts.models import User
from simcare.kit.api import problem_responses
from simcare.kit.problems import InvalidCredentials, TooManyRequests


class SubscriberTokenAuth(HttpBearer):
    """Bearer token of a subscriber (accounts.ApiToken); staff tokens are refused.

    A request without an Accept-Language header gets its messages in the
    subscriber's preferred language.
    """

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = services.user_for_api_token(token)
        if user is None:
            return None
        request.user = user
        if "HTTP_ACCEPT_LANGUAGE" not in request.META:
            translation.activate(user.language)
            request.LANGUAGE_CODE = user.language
        return user


subscriber_auth = SubscriberTokenAuth()


def api_user(request: HttpRequest) -> User:
    """The subscriber SubscriberTokenAuth let in."""
    user: User = request.auth  # type: ignore[attr-defined]
    return user


def client_ip(request: HttpRequest) -> str | None:
    """The address axes keys lockouts on, also given to services that throttle by IP."""
    return get_client_ip_address(request)


router = Router(tags=["auth"])


class Credentials(Schema):
    username: str = Field(
        min_length=1, max_length=254, description="Username, email address or mobile number"
    )
    password: str = Field(min_length=1, max_length=1024)


class TokenOut(Schema):
    token: str


def _cool_off_seconds(request: HttpRequest) -> int:
    cool_off = get_cool_off(request)
    return int(cool_off.total_seconds()) if cool_off else 3600


@router.post(
    "/token",
    response={200: TokenOut, **problem_responses(400, 401, 422, 429)},
    auth=None,
    summary="Issue a bearer token",
    operation_id="issue_token",
)
def issue_token(request: HttpRequest, payload: Credentials) -> Any:
    user = authenticate(request, username=payload.username, password=payload.password)
    if getattr(request, "axes_locked_out", False):
        # Answered here as a problem, not by AxesMiddleware's HTML lockout page.
        request.axes_locked_out = False  # type: ignore[attr-defined]
        raise TooManyRequests(retry_after=_cool_off_seconds(request))
    if not isinstance(user, User) or not services.is_api_subscriber(user):
        raise InvalidCredentials()
    # A token is a sign-in: axes clears the failures, Django notes last_login.
    user_logged_in.send(sender=User, request=request, user=user)
    _row, token = services.issue_api_token(user)
    return {"token": token}
