"""Every error of the API is application/problem+json, in the caller's language, never an
HTML page or a bare 500; the OpenAPI document and the docs page are served offline."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from ninja import NinjaAPI
from ninja.testing import TestClient

from simcare.accounts.models import Subscriber
from simcare.api import install_problem_handlers
from tests.api.conftest import ApiClient, issue_token

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


def _problem(response: object, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.content  # type: ignore[attr-defined]
    assert response["Content-Type"] == PROBLEM  # type: ignore[index]
    body: dict[str, object] = response.json()  # type: ignore[attr-defined]
    assert set(body) >= PROBLEM_KEYS
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:simcare:problem:{code}"
    return body


@pytest.mark.parametrize("path", ["/api/v1/", "/api/v1/nothing", "/api/v1/me/lines/x/y/z"])
def test_an_unknown_address_is_a_404_problem(db: object, path: str) -> None:
    _problem(Client().get(path), 404, "not_found")


def test_a_method_the_path_lacks_is_a_405_problem_with_allow(api: ApiClient) -> None:
    response = api.client.delete("/api/v1/me/lines", headers=api.headers)

    _problem(response, 405, "method_not_allowed")
    assert response["Allow"] == "GET"


@pytest.mark.parametrize("raw", ["{bad", '{"username": ', "\x00", "not json at all"])
def test_a_malformed_json_body_is_a_400_problem(db: object, raw: str) -> None:
    body = _problem(ApiClient().post("/api/v1/auth/token", raw=raw), 400, "bad_request")

    assert body["detail"] == "The request body could not be read: send a JSON object."


def test_a_form_encoded_body_is_a_400_problem(db: object) -> None:
    response = Client().post("/api/v1/auth/token", {"username": "a", "password": "b"})

    _problem(response, 400, "bad_request")


@pytest.mark.parametrize(
    ("raw", "errors"),
    [
        (
            "[]",
            [
                {"field": "username", "code": "missing", "message": "This field is required."},
                {"field": "password", "code": "missing", "message": "This field is required."},
            ],
        ),
        (
            '{"username": 12, "password": ""}',
            [
                {"field": "username", "code": "string_type", "message": "Enter text."},
                {
                    "field": "password",
                    "code": "string_too_short",
                    "message": "Use at least 1 character.",
                },
            ],
        ),
        (
            '"a string"',
            [
                {"field": "username", "code": "missing", "message": "This field is required."},
                {"field": "password", "code": "missing", "message": "This field is required."},
            ],
        ),
    ],
)
def test_wrong_types_are_a_422_problem_with_field_errors(
    db: object, raw: str, errors: list[dict[str, str]]
) -> None:
    body = _problem(ApiClient().post("/api/v1/auth/token", raw=raw), 422, "validation_error")

    assert body["title"] == "Refused"
    assert body["detail"] == "Some fields are missing or not valid."
    assert body["errors"] == errors


def test_problems_speak_the_accept_language(db: object) -> None:
    french = ApiClient(language="fr").post("/api/v1/auth/token", raw="[]")
    chinese = ApiClient(language="zh-hans").get("/api/v1/me/lines")

    assert french.json()["detail"] == "Certains champs sont manquants ou invalides."
    assert french.json()["errors"][0]["message"] == "Ce champ est obligatoire."
    assert chinese.json()["title"] == "未登录"


def test_without_accept_language_a_subscriber_gets_their_preferred_language(
    make_subscriber: Callable[..., Subscriber],
) -> None:
    subscriber = make_subscriber(language="fr")
    api = ApiClient(issue_token(subscriber.user.username))

    response = api.get("/api/v1/me/orders?page=0")

    assert response.json()["errors"][0]["message"] == "Saisissez un nombre d\u2019au moins 1."


def test_an_unexpected_exception_is_logged_and_answered_as_a_500_problem(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given: an API with the project's handlers and an operation that breaks
    broken = NinjaAPI(urls_namespace="broken_test_api")
    install_problem_handlers(broken)

    @broken.get("/boom")
    def boom(request: object) -> None:
        raise RuntimeError("the database went away")

    # when
    with caplog.at_level(logging.ERROR, logger="simcare.api"):
        response = TestClient(broken).get("/boom")

    # then
    assert response.status_code == 500
    assert response["Content-Type"] == PROBLEM
    assert response.json() == {
        "type": "urn:simcare:problem:server_error",
        "title": "Server error",
        "status": 500,
        "detail": "Something went wrong on our side. Please try again later.",
        "code": "server_error",
    }
    assert [record.exc_info[0] for record in caplog.records if record.exc_info] == [RuntimeError]


def test_the_openapi_document_is_served_and_documents_problems(db: object) -> None:
    response = Client().get("/api/v1/openapi.json")

    assert response.status_code == 200
    document = response.json()
    assert document["info"] == {
        "title": "simcare API",
        "version": "1",
        "description": document["info"]["description"],
    }
    assert {
        "/api/v1/auth/token",
        "/api/v1/me/lines",
        "/api/v1/me/wallet",
        "/api/v1/me/orders",
        "/api/v1/me/vouchers/redeem",
    } <= set(document["paths"])
    unauthorized = document["paths"]["/api/v1/me/lines"]["get"]["responses"]["401"]
    assert list(unauthorized["content"]) == [PROBLEM]
    assert document["components"]["securitySchemes"]["SubscriberTokenAuth"] == {
        "type": "http",
        "scheme": "bearer",
    }


def test_the_openapi_document_has_no_key_twice(db: object) -> None:
    # json.loads keeps the last of two equal keys; Swagger UI's YAML parser refuses the
    # document ("duplicated mapping key"), e.g. a status code given as 200 and as "200".
    def refuse_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
        keys = [key for key, _value in pairs]
        assert len(keys) == len(set(keys)), sorted(key for key in keys if keys.count(key) > 1)
        return dict(pairs)

    response = Client().get("/api/v1/openapi.json")

    json.loads(response.content, object_pairs_hook=refuse_duplicates)


def test_the_docs_page_works_offline_within_the_content_security_policy(db: object) -> None:
    response = Client().get("/api/v1/docs")

    # then: 200, the strict policy, and every script and stylesheet served by us
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "script-src 'self';" in policy + ";"
    assert "unsafe-inline" not in policy
    html = response.content.decode()
    assert "cdn" not in html.lower()
    scripts = re.findall(r"<script([^>]*)>", html)
    assert scripts
    for attributes in scripts:
        # An executable script comes from a file; the settings block is inert JSON.
        assert "src=" in attributes or 'type="application/json"' in attributes
    assets = re.findall(r'(?:src|href)="/static/([^"]+)"', html)
    assert "ninja/swagger-ui-bundle.js" in assets
    assert "ninja/swagger-ui.css" in assets
    for asset in assets:
        assert finders.find(asset), asset
