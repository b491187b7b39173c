"""simcare.accounts.sessions: the session engines read a session row from SQL compiled once;
a live session signs its visitor in, an expired or unknown one reads as none."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from simcare.accounts.models import Subscriber
from simcare.accounts.sessions import cached_db, db
from tests.conftest import signed_in_client

pytestmark = pytest.mark.django_db


def test_the_configured_engine_is_ours() -> None:
    assert (
        "simcare.accounts.sessions.cached_db"
        if settings.REDIS_URL
        else "simcare.accounts.sessions.db"
    ) == settings.SESSION_ENGINE


def test_a_live_session_signs_its_visitor_in_and_an_expired_one_does_not(
    make_subscriber: Callable[..., Subscriber],
) -> None:
    # given
    client = signed_in_client(make_subscriber().user)
    key = client.cookies["sessionid"].value

    # then: signed in
    assert client.get("/en/portal/").status_code == 200

    # when: the session expires (the row says so; a cached copy is dropped as expiry would)
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - dt.timedelta(1))
    if settings.REDIS_URL:
        cached_db.SessionStore(key)._cache.delete(cached_db.SessionStore(key).cache_key)

    # then: sent to sign in
    response = client.get("/en/portal/")
    assert response.status_code == 302
    assert response["Location"].startswith("/en/accounts/login/")


def test_an_unknown_session_key_reads_as_no_session(client: Client) -> None:
    client.cookies["sessionid"] = "0" * 32
    response = client.get("/en/portal/")
    assert response.status_code == 302
    assert response["Location"].startswith("/en/accounts/login/")


@pytest.mark.parametrize("engine", [db, cached_db])
def test_both_engines_load_save_and_forget_a_session(engine: object) -> None:
    store = engine.SessionStore()  # type: ignore[attr-defined]
    store["answer"] = 42
    store.save()
    again = engine.SessionStore(store.session_key)  # type: ignore[attr-defined]
    assert again["answer"] == 42
    again.delete()
    assert engine.SessionStore(store.session_key).load() == {}  # type: ignore[attr-defined]
    assert engine.SessionStore("no-such-key-00000000000000000000").load() == {}  # type: ignore[attr-defined]
