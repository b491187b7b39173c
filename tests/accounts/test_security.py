"""The security baseline (70-trust.md): hashing, the admin's second factor, lockouts,
headers, CSRF, the TOTP setup command, and identity numbers in the back office."""

from __future__ import annotations

import base64
import io
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import SESSION_KEY
from django.core.management import CommandError, call_command
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from simcare.accounts.models import AuditEvent, Role, Subscriber, User
from tests.conftest import signed_in_client

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def current_code(device: TOTPDevice) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def production_like_environment(data_dir: Path) -> dict[str, str]:
    """This environment without the test switches, so settings take their production branch."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "SIMCARE_TESTING",
            "SIMCARE_PRODUCTION",
            "DJANGO_SETTINGS_MODULE",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        }
    }
    environment["SIMCARE_DATA_DIR"] = str(data_dir)
    return environment


# --- passwords -----------------------------------------------------------------------------------


def test_argon2_is_the_production_password_hasher(tmp_path: Path) -> None:
    # given: a Python without pytest imported and without SIMCARE_TESTING
    script = (
        "import sys, django\n"
        "import simcare.settings as settings\n"
        "assert 'pytest' not in sys.modules\n"
        "print(settings.PASSWORD_HASHERS[0])\n"
        "import os; os.environ['DJANGO_SETTINGS_MODULE'] = 'simcare.settings'\n"
        "django.setup()\n"
        "from django.contrib.auth.hashers import make_password\n"
        "print(make_password('a long password').split('$')[0])\n"
    )

    # when
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=production_like_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    # then
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "argon2",
    ]


# --- the admin's second factor -------------------------------------------------------------------


def test_admin_login_with_the_password_alone_stays_on_the_login_page(
    make_staff: Callable[..., User],
) -> None:
    # given
    make_staff(Role.ADMIN, username="ops.lead", password=PASSWORD)
    client = Client()

    # when
    response = client.post(
        "/en/admin/login/?next=/en/admin/",
        {"username": "ops.lead", "password": PASSWORD, "otp_token": ""},
    )

    # then
    assert response.status_code == 200
    assert b'id="login-form"' in response.content
    assert SESSION_KEY not in client.session
    assert client.get("/en/admin/").status_code == 302


def test_admin_login_with_the_password_and_a_wrong_code_stays_on_the_login_page(
    make_staff: Callable[..., User],
) -> None:
    # given
    staff = make_staff(Role.ADMIN, username="ops.lead", password=PASSWORD)
    device = TOTPDevice.objects.get(user=staff)
    wrong = f"{(int(current_code(device)) + 1) % 1_000_000:06d}"
    client = Client()

    # when
    response = client.post(
        "/en/admin/login/", {"username": "ops.lead", "password": PASSWORD, "otp_token": wrong}
    )

    # then
    assert response.status_code == 200
    assert SESSION_KEY not in client.session


def test_admin_login_with_the_password_and_the_current_code_reaches_the_admin(
    make_staff: Callable[..., User],
) -> None:
    # given
    staff = make_staff(Role.ADMIN, username="ops.lead", password=PASSWORD)
    device = TOTPDevice.objects.get(user=staff)
    client = Client()

    # when
    response = client.post(
        "/en/admin/login/?next=/en/admin/",
        {"username": "ops.lead", "password": PASSWORD, "otp_token": current_code(device)},
    )

    # then
    assert response.status_code == 302
    assert response["Location"] == "/en/admin/"
    assert client.get("/en/admin/").status_code == 200


def test_staff_signed_in_without_the_second_factor_is_refused_by_the_admin(
    make_staff: Callable[..., User],
) -> None:
    # given: an administrator whose session never passed the TOTP step
    client = signed_in_client(make_staff(Role.ADMIN), verified=False)

    # when
    index = client.get("/en/admin/")
    plans = client.get("/en/admin/catalog/plan/")

    # then
    assert index.status_code == 302
    assert index["Location"] == "/en/admin/login/?next=/en/admin/"
    assert plans.status_code == 302
    assert plans["Location"].startswith("/en/admin/login/")


def test_staff_without_a_model_permission_sees_the_index_but_not_the_models(
    make_staff: Callable[..., User],
) -> None:
    client = signed_in_client(make_staff(Role.AGENT))

    assert client.get("/en/admin/").status_code == 200
    assert client.get("/en/admin/catalog/plan/").status_code == 403
    assert client.get("/en/admin/accounts/subscriber/").status_code == 403


def test_a_failed_admin_login_is_recorded_without_the_code_or_the_password(
    make_staff: Callable[..., User],
) -> None:
    # given
    staff = make_staff(Role.ADMIN, username="ops.lead", password=PASSWORD)
    code = current_code(TOTPDevice.objects.get(user=staff))

    # when
    Client().post(
        "/en/admin/login/", {"username": "ops.lead", "password": "wrong", "otp_token": code}
    )

    # then
    attempt = AccessAttempt.objects.get()
    assert attempt.failures_since_start == 1
    assert code not in attempt.post_data
    assert "wrong" not in attempt.post_data
    assert "otp_token=********" in attempt.post_data


# --- login throttling ----------------------------------------------------------------------------


def test_public_login_locks_out_after_ten_failures_in_the_users_language(
    subscriber: Subscriber,
) -> None:
    # given
    client = Client()
    username = subscriber.user.username
    statuses = [
        client.post("/fr/accounts/login/", {"username": username, "password": "wrong"}).status_code
        for _attempt in range(9)
    ]

    # when: the tenth failure, then the right password
    tenth = client.post("/fr/accounts/login/", {"username": username, "password": "wrong"})
    afterwards = client.post("/fr/accounts/login/", {"username": username, "password": PASSWORD})

    # then
    assert statuses == [200] * 9
    assert tenth.status_code == 429
    assert afterwards.status_code == 429
    assert '<html lang="fr">' in afterwards.content.decode()
    assert b'name="password"' not in afterwards.content
    assert SESSION_KEY not in client.session


def test_a_lockout_of_one_account_leaves_another_account_alone(
    make_subscriber: Callable[..., Subscriber],
) -> None:
    # given
    locked, other = make_subscriber(), make_subscriber()
    client = Client()
    for _attempt in range(10):
        client.post("/en/accounts/login/", {"username": locked.user.username, "password": "no"})

    # when
    response = client.post(
        "/en/accounts/login/", {"username": other.user.username, "password": PASSWORD}
    )

    # then
    assert response.status_code == 302
    assert client.session[SESSION_KEY] == str(other.user.pk)


# --- headers and CSRF ----------------------------------------------------------------------------


def _directives(policy: str) -> dict[str, list[str]]:
    directives = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


@pytest.mark.parametrize("path", ["/en/", "/fr/accounts/login/", "/zh-hans/"])
def test_public_pages_send_a_policy_without_inline_scripts(client: Client, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 200
    directives = _directives(response["Content-Security-Policy"])
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_the_admin_gets_its_relaxed_policy_and_is_not_frameable(
    admin_client_verified: Client,
) -> None:
    for response in (admin_client_verified.get("/en/admin/"), Client().get("/en/admin/login/")):
        assert response.status_code == 200
        directives = _directives(response["Content-Security-Policy"])
        assert directives["script-src"] == ["'self'", "'unsafe-inline'", "'unsafe-eval'"]
        assert directives["style-src"] == ["'self'", "'unsafe-inline'"]
        assert directives["frame-ancestors"] == ["'none'"]
        assert response["X-Frame-Options"] == "DENY"


def test_the_login_form_refuses_a_post_without_the_csrf_token(subscriber: Subscriber) -> None:
    # given
    client = Client(enforce_csrf_checks=True)
    credentials = {"username": subscriber.user.username, "password": PASSWORD}

    # when
    refused = client.post("/en/accounts/login/", credentials)
    page = client.get("/en/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert token is not None
    accepted = client.post(
        "/en/accounts/login/", {**credentials, "csrfmiddlewaretoken": token.group(1)}
    )

    # then
    assert refused.status_code == 403
    assert accepted.status_code == 302
    assert client.session[SESSION_KEY] == str(subscriber.user.pk)


def test_the_admin_login_refuses_a_post_without_the_csrf_token(
    make_staff: Callable[..., User],
) -> None:
    staff = make_staff(Role.ADMIN, username="ops.lead", password=PASSWORD)
    client = Client(enforce_csrf_checks=True)

    response = client.post(
        "/en/admin/login/",
        {
            "username": "ops.lead",
            "password": PASSWORD,
            "otp_token": current_code(TOTPDevice.objects.get(user=staff)),
        },
    )

    assert response.status_code == 403
    assert SESSION_KEY not in client.session


# --- simcare totp-setup --------------------------------------------------------------------------


def _run_totp_setup(*arguments: str) -> str:
    output = io.StringIO()
    call_command("totp_setup", *arguments, stdout=output)
    return output.getvalue()


def test_totp_setup_lets_a_new_superuser_reach_the_admin() -> None:
    # given: what `simcare createsuperuser` makes
    User.objects.create_superuser("boss", "boss@example.com", PASSWORD)

    # when
    output = _run_totp_setup("boss")

    # then
    device = TOTPDevice.objects.get(user__username="boss")
    secret = re.search(r"Secret \(base32, to type in by hand\): ([A-Z2-7]+)", output)
    uri = re.search(r"otpauth URI: (otpauth://totp/\S+)", output)
    assert secret is not None
    assert uri is not None
    assert device.confirmed is True
    assert f"secret={secret.group(1)}" in uri.group(1)
    assert "issuer=simcare" in uri.group(1)
    assert "█" in output  # the QR code for the terminal
    client = Client()
    response = client.post(
        "/en/admin/login/?next=/en/admin/",
        {"username": "boss", "password": PASSWORD, "otp_token": current_code(device)},
    )
    assert response.status_code == 302
    assert client.get("/en/admin/").status_code == 200
    assert (
        AuditEvent.objects.filter(
            action="staff.totp_device_created", object_id=str(device.user_id)
        ).count()
        == 1
    )


def test_totp_setup_refuses_to_replace_a_device_without_reset(
    make_staff: Callable[..., User],
) -> None:
    staff = make_staff(Role.AGENT, username="agent.chen")
    before = list(TOTPDevice.objects.filter(user=staff).values_list("pk", "key"))

    with pytest.raises(CommandError, match="already has an authenticator"):
        _run_totp_setup("agent.chen")

    assert list(TOTPDevice.objects.filter(user=staff).values_list("pk", "key")) == before


def test_totp_setup_with_reset_replaces_the_device(make_staff: Callable[..., User]) -> None:
    # given
    staff = make_staff(Role.AGENT, username="agent.chen")
    old = TOTPDevice.objects.get(user=staff)

    # when
    output = _run_totp_setup("agent.chen", "--reset")

    # then
    new = TOTPDevice.objects.get(user=staff)
    assert new.pk != old.pk
    assert new.key != old.key
    assert base32_of(new) in output
    assert AuditEvent.objects.filter(action="staff.totp_device_reset").count() == 1


def base32_of(device: TOTPDevice) -> str:
    return base64.b32encode(device.bin_key).decode()


@pytest.mark.parametrize(
    ("username", "message"), [("nobody", "no user named 'nobody'"), ("customer", "is not staff")]
)
def test_totp_setup_refuses_unknown_and_non_staff_users(
    make_subscriber: Callable[..., Subscriber], username: str, message: str
) -> None:
    make_subscriber(username="customer")

    with pytest.raises(CommandError, match=message):
        _run_totp_setup(username)

    assert TOTPDevice.objects.count() == 0


# --- identity document numbers in the back office ------------------------------------------------


DOCUMENT = "AB1234567"


@pytest.fixture
def documented(subscriber: Subscriber) -> Subscriber:
    subscriber.id_document_type = "passport"
    subscriber.id_document_number = DOCUMENT
    subscriber.save()
    return subscriber


def test_the_document_number_is_shown_masked_in_the_list_and_the_form(
    admin_client_verified: Client, documented: Subscriber
) -> None:
    listing = admin_client_verified.get("/en/admin/accounts/subscriber/")
    form = admin_client_verified.get(f"/en/admin/accounts/subscriber/{documented.pk}/change/")

    for response in (listing, form):
        assert response.status_code == 200
        content = response.content.decode()
        assert DOCUMENT not in content
        assert "••••••567" in content
    assert 'name="new_id_document_number"' in form.content.decode()


def _change_form_data(subscriber: Subscriber, **overrides: str) -> dict[str, str]:
    data = {
        "province": subscriber.province,
        "vip_reason": "",
        "email_notifications_enabled": "on",
        "sms_notifications_enabled": "on",
        "id_document_type": subscriber.id_document_type,
        "date_of_birth": "",
        "new_id_document_number": "",
    }
    data.update(overrides)
    return data


def test_a_new_document_number_is_stored_encrypted_and_audited_without_the_number(
    admin_client_verified: Client, documented: Subscriber
) -> None:
    # when
    response = admin_client_verified.post(
        f"/en/admin/accounts/subscriber/{documented.pk}/change/",
        _change_form_data(
            documented, id_document_type="study_permit", new_id_document_number=" s 765-4321 "
        ),
    )

    # then
    assert response.status_code == 302
    documented.refresh_from_db()
    assert documented.id_document_number == "S765-4321"
    assert documented.id_document_type == "study_permit"
    event = AuditEvent.objects.get(action="subscriber.id_document_replaced")
    assert event.object_id == str(documented.pk)
    assert event.data == {"document_type": "study_permit"}
    assert "765" not in str(event.data)


def test_a_refused_change_does_not_echo_the_new_number(
    admin_client_verified: Client, documented: Subscriber
) -> None:
    # when: a new number with an invalid province
    response = admin_client_verified.post(
        f"/en/admin/accounts/subscriber/{documented.pk}/change/",
        _change_form_data(documented, province="Ontario", new_id_document_number="ZX9876543"),
    )

    # then
    assert response.status_code == 200
    assert "ZX9876543" not in response.content.decode()
    documented.refresh_from_db()
    assert documented.id_document_number == DOCUMENT
    assert documented.province == "ON"
    assert not AuditEvent.objects.filter(action__startswith="subscriber.id_document").exists()


def test_revealing_the_number_asks_first_then_shows_it_once_and_audits_it(
    make_staff: Callable[..., User], documented: Subscriber
) -> None:
    # given
    staff = make_staff(Role.ADMIN)
    client = signed_in_client(staff)
    url = f"/en/admin/accounts/subscriber/{documented.pk}/reveal-id-document/"

    # when
    confirmation = client.get(url)
    revealed = client.post(url)

    # then
    assert confirmation.status_code == 200
    assert DOCUMENT not in confirmation.content.decode()
    assert revealed.status_code == 200
    assert DOCUMENT in revealed.content.decode()
    assert "no-store" in revealed["Cache-Control"]
    event = AuditEvent.objects.get(action="subscriber.id_document_revealed")
    assert (event.actor, event.object_type, event.object_id) == (
        staff,
        "subscriber",
        str(documented.pk),
    )
    assert event.data == {"document_type": "passport", "via": "admin"}


def test_staff_without_the_permission_cannot_reveal_the_number(
    make_staff: Callable[..., User], documented: Subscriber
) -> None:
    client = signed_in_client(make_staff(Role.AGENT))

    response = client.post(f"/en/admin/accounts/subscriber/{documented.pk}/reveal-id-document/")

    assert response.status_code == 403
    assert DOCUMENT not in response.content.decode()
    assert not AuditEvent.objects.filter(action="subscriber.id_document_revealed").exists()
