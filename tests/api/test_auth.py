"""POST /api/v1/auth/token and the bearer token on /me: issue, refuse, throttle, revoke."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import SESSION_KEY
from django.test import Client

from simcare.accounts import services as account_services
from simcare.accounts.models import ApiToken, AuditEvent, Role, Subscriber, User
from tests.api.conftest import PASSWORD, ApiClient, issue_token
from tests.conftest import signed_in_client

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def _token_request(username: str, password: str) -> object:
    return ApiClient().post("/api/v1/auth/token", {"username": username, "password": password})


@pytest.mark.parametrize("identifier", ["username", "email", "phone"])
def test_a_subscriber_gets_a_token_with_username_email_or_phone(
    subscriber: Subscriber, identifier: str
) -> None:
    # when
    response = _token_request(getattr(subscriber.user, identifier), PASSWORD)

    # then
    assert response.status_code == 200  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert list(body) == ["token"]
    token = body["token"]
    assert token.startswith("sct_")
    row = ApiToken.objects.get(user=subscriber.user)
    assert row.prefix == token[:12]
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in (row.prefix + row.token_hash)
    assert row.revoked_at is None
    assert AuditEvent.objects.filter(action="api_token.issued", object_id=str(row.pk)).count() == 1


def test_every_sign_in_issues_another_token_and_each_works(subscriber: Subscriber) -> None:
    first, second = issue_token(subscriber.user.username), issue_token(subscriber.user.email)

    assert first != second
    assert ApiToken.objects.filter(user=subscriber.user).count() == 2
    assert ApiClient(first).get("/api/v1/me/wallet").status_code == 200
    assert ApiClient(second).get("/api/v1/me/wallet").status_code == 200


def test_a_wrong_password_is_a_401_problem_and_issues_nothing(subscriber: Subscriber) -> None:
    response = _token_request(subscriber.user.username, "wrong password")

    assert response.status_code == 401  # type: ignore[attr-defined]
    assert response["Content-Type"] == PROBLEM  # type: ignore[index]
    assert response.json() == {  # type: ignore[attr-defined]
        "type": "urn:simcare:problem:invalid_credentials",
        "title": "Not signed in",
        "status": 401,
        "detail": "The username or the password is not correct.",
        "code": "invalid_credentials",
    }
    assert ApiToken.objects.count() == 0


def test_an_unknown_user_gets_the_same_401(db: object) -> None:
    response = _token_request("nobody@example.com", PASSWORD)

    assert response.status_code == 401  # type: ignore[attr-defined]
    assert response.json()["code"] == "invalid_credentials"  # type: ignore[attr-defined]


@pytest.mark.parametrize("role", [Role.AGENT, Role.ADMIN, Role.CLERK])
def test_staff_get_no_token_even_with_the_right_password(
    make_staff: Callable[..., User], role: Role
) -> None:
    staff = make_staff(role)

    response = _token_request(staff.username, PASSWORD)

    assert response.status_code == 401  # type: ignore[attr-defined]
    assert ApiToken.objects.count() == 0


def test_a_staff_token_made_anyway_is_refused(make_staff: Callable[..., User]) -> None:
    staff = make_staff(Role.AGENT)
    _row, token = account_services.issue_api_token(staff)

    response = ApiClient(token).get("/api/v1/me/wallet")

    assert response.status_code == 401


def test_the_tenth_failure_locks_the_api_and_the_login_page_with_a_429(
    subscriber: Subscriber,
) -> None:
    # given: nine failures
    username = subscriber.user.username
    statuses = [_token_request(username, "wrong").status_code for _ in range(9)]  # type: ignore[attr-defined]

    # when: the tenth, then the right password, then the login page
    tenth = _token_request(username, "wrong")
    afterwards = _token_request(username, PASSWORD)
    page = Client().post("/en/accounts/login/", {"username": username, "password": PASSWORD})

    # then
    assert statuses == [401] * 9
    assert tenth.status_code == 429  # type: ignore[attr-defined]
    assert afterwards.status_code == 429  # type: ignore[attr-defined]
    assert afterwards["Content-Type"] == PROBLEM  # type: ignore[index]
    assert afterwards["Retry-After"] == "3600"  # type: ignore[index]
    assert afterwards.json()["code"] == "too_many_requests"  # type: ignore[attr-defined]
    assert page.status_code == 429
    assert ApiToken.objects.count() == 0


def test_login_page_failures_count_towards_the_api_lockout(subscriber: Subscriber) -> None:
    username = subscriber.user.username
    client = Client()
    for _attempt in range(10):
        client.post("/en/accounts/login/", {"username": username, "password": "wrong"})

    response = _token_request(username, PASSWORD)

    assert response.status_code == 429  # type: ignore[attr-defined]
    assert SESSION_KEY not in client.session


def test_a_successful_token_clears_earlier_failures(subscriber: Subscriber) -> None:
    username = subscriber.user.username
    for _attempt in range(5):
        _token_request(username, "wrong")

    issue_token(username)

    assert AccessAttempt.objects.filter(failures_since_start__gt=0).count() == 0
    statuses = [_token_request(username, "wrong").status_code for _ in range(9)]  # type: ignore[attr-defined]
    assert statuses == [401] * 9


def test_a_lockout_of_one_account_leaves_another_alone(
    make_subscriber: Callable[..., Subscriber],
) -> None:
    locked, other = make_subscriber(), make_subscriber()
    for _attempt in range(10):
        _token_request(locked.user.username, "wrong")

    assert _token_request(other.user.username, PASSWORD).status_code == 200  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer sct_not-a-real-token", "Token abc", "Basic dXNlcjpwYXNz", "Bearer x"],
)
def test_no_or_an_invalid_token_is_a_401_problem(db: object, authorization: str | None) -> None:
    client = Client()
    headers = {"Authorization": authorization} if authorization else {}

    response = client.get("/api/v1/me/lines", headers=headers)

    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "not_authenticated"


def test_a_signed_in_browser_session_is_not_an_api_credential(subscriber: Subscriber) -> None:
    response = signed_in_client(subscriber.user).get("/api/v1/me/wallet")

    assert response.status_code == 401


def test_a_revoked_token_is_refused_and_the_others_still_work(subscriber: Subscriber) -> None:
    # given
    kept, revoked = issue_token(subscriber.user.username), issue_token(subscriber.user.username)
    row = ApiToken.objects.get(prefix=revoked[:12])

    # when
    assert account_services.revoke_api_token(row, acting_user=subscriber.user) is True
    again = account_services.revoke_api_token(row, acting_user=subscriber.user)

    # then
    assert again is False
    assert ApiClient(revoked).get("/api/v1/me/wallet").status_code == 401
    assert ApiClient(kept).get("/api/v1/me/wallet").status_code == 200
    assert AuditEvent.objects.filter(action="api_token.revoked").count() == 1


def test_a_deactivated_subscriber_is_refused(subscriber: Subscriber, token: str) -> None:
    User.objects.filter(pk=subscriber.user.pk).update(is_active=False)

    assert ApiClient(token).get("/api/v1/me/wallet").status_code == 401


def test_using_a_token_notes_when_it_was_last_used(subscriber: Subscriber, token: str) -> None:
    assert ApiToken.objects.get().last_used_at is None

    ApiClient(token).get("/api/v1/me/wallet")

    assert ApiToken.objects.get().last_used_at is not None


def test_the_admin_lists_tokens_read_only_and_revokes_them(
    subscriber: Subscriber, admin_client_verified: Client
) -> None:
    # given
    token = issue_token(subscriber.user.username)
    row = ApiToken.objects.get()

    # when
    listing = admin_client_verified.get("/en/admin/accounts/apitoken/")
    add = admin_client_verified.get("/en/admin/accounts/apitoken/add/")
    revoke = admin_client_verified.post(
        "/en/admin/accounts/apitoken/",
        {"action": "revoke", "_selected_action": [str(row.pk)]},
    )

    # then
    assert listing.status_code == 200
    assert row.prefix in listing.content.decode()
    assert token not in listing.content.decode()
    assert row.token_hash not in listing.content.decode()
    assert add.status_code == 403
    assert revoke.status_code == 302
    row.refresh_from_db()
    assert row.revoked_at is not None
    assert ApiClient(token).get("/api/v1/me/wallet").status_code == 401
