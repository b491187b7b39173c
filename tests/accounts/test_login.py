"""The public sign-in page: email, mobile number or username, and a clear refusal."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client

from simcare.accounts.models import Subscriber

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


@pytest.fixture
def lin(make_subscriber: Callable[..., Subscriber]) -> Subscriber:
    return make_subscriber(
        username="lin.wei", email="Lin.Wei@example.com", phone="+14165550142", language="zh-hans"
    )


@pytest.mark.parametrize(
    "identifier",
    [
        "lin.wei",
        "Lin.Wei@example.com",
        "lin.wei@EXAMPLE.com",
        "+14165550142",
        "(416) 555-0142",
        "416 555 0142",
        "  lin.wei  ",
    ],
)
def test_signing_in_with_username_email_or_mobile_number(
    client: Client, lin: Subscriber, identifier: str
) -> None:
    # when
    response = client.post("/en/accounts/login/", {"username": identifier, "password": PASSWORD})

    # then
    assert response.status_code == 302
    assert response["Location"] == "/en/"
    assert client.session[SESSION_KEY] == str(lin.user.pk)


def test_signing_in_goes_to_the_next_page_when_it_is_on_this_site(
    client: Client, lin: Subscriber
) -> None:
    response = client.post(
        "/fr/accounts/login/", {"username": "lin.wei", "password": PASSWORD, "next": "/fr/"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/fr/"


def test_signing_in_never_redirects_to_another_site(client: Client, lin: Subscriber) -> None:
    response = client.post(
        "/en/accounts/login/",
        {"username": "lin.wei", "password": PASSWORD, "next": "https://evil.example/"},
    )

    assert response.status_code == 302
    assert response["Location"] == "/en/"


@pytest.mark.parametrize("identifier", ["Lin.Wei@example.com", "(416) 555-0142", "lin.wei"])
def test_a_wrong_password_shows_the_error_and_keeps_the_identifier(
    client: Client, lin: Subscriber, identifier: str
) -> None:
    # when
    response = client.post("/en/accounts/login/", {"username": identifier, "password": "nope"})

    # then
    assert response.status_code == 200
    form = response.context["form"]
    assert form.non_field_errors().as_data()[0].code == "invalid_login"
    content = response.content.decode()
    assert 'class="form-errors" role="alert"' in content
    assert f'value="{identifier}"' in content.replace("&#x27;", "'")
    assert 'name="password"' in content
    assert 'value="nope"' not in content
    assert SESSION_KEY not in client.session


def test_an_unknown_identifier_gets_the_same_error_as_a_wrong_password(client: Client) -> None:
    response = client.post(
        "/en/accounts/login/", {"username": "nobody@example.com", "password": "whatever"}
    )

    assert response.status_code == 200
    assert response.context["form"].non_field_errors().as_data()[0].code == "invalid_login"
    assert 'value="nobody@example.com"' in response.content.decode()


def test_an_empty_form_marks_both_fields_as_required(client: Client) -> None:
    response = client.post("/en/accounts/login/", {"username": "", "password": ""})

    assert response.status_code == 200
    errors = response.context["form"].errors.as_data()
    assert sorted(errors) == ["password", "username"]
    assert [error.code for error in errors["username"]] == ["required"]


def test_a_closed_account_cannot_sign_in(client: Client, lin: Subscriber) -> None:
    lin.user.is_active = False
    lin.user.save()

    response = client.post("/en/accounts/login/", {"username": "lin.wei", "password": PASSWORD})

    assert response.status_code == 200
    assert SESSION_KEY not in client.session


@pytest.mark.parametrize("language", ["en", "fr", "zh-hans"])
def test_the_login_page_is_served_in_each_language(client: Client, language: str) -> None:
    response = client.get(f"/{language}/accounts/login/")

    assert response.status_code == 200
    content = response.content.decode()
    assert f'<html lang="{language}">' in content
    assert 'name="username"' in content
    assert 'autocomplete="username"' in content
