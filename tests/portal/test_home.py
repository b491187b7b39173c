from __future__ import annotations

import pytest
from django.test import Client

from simcare.catalog.models import Plan

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("language", "name", "heading"),
    [
        ("en", "Canada 30 days", "Our plans"),
        ("fr", "Canada 30 jours", "Nos forfaits"),
        ("zh-hans", "加拿大30天", "我们的套餐"),
    ],
)
def test_home_lists_plans_in_each_language(
    client: Client, plan: Plan, language: str, name: str, heading: str
) -> None:
    response = client.get(f"/{language}/")

    assert response.status_code == 200
    content = response.content.decode()
    assert name in content
    assert heading in content
    assert f'<html lang="{language}">' in content


def test_bare_root_redirects_to_a_language(client: Client) -> None:
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="fr-CA,fr;q=0.9")

    assert response.status_code == 302
    assert response["Location"] == "/fr/"


def test_language_switch_is_remembered_in_a_cookie(client: Client) -> None:
    response = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/en/"})

    assert response.status_code == 302
    assert response["Location"] == "/zh-hans/"
    assert client.get("/").headers["Location"] == "/zh-hans/"


def test_unknown_page_is_a_translated_404(client: Client) -> None:
    response = client.get("/fr/nowhere/")

    assert response.status_code == 404
    assert "Page introuvable" in response.content.decode()
