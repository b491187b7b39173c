"""Twilio-signed requests to the hotline, and a caller with a line, a PIN and money."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from twilio.request_validator import RequestValidator

from simcare.accounts import services as account_services
from simcare.accounts.models import Subscriber
from simcare.catalog.models import Plan
from simcare.lines.models import Line
from tests.lines.conftest import make_line, store
from tests.orders.conftest import fund

__all__ = ["fund", "make_line", "store"]

AUTH_TOKEN = "twilio-test-auth-token"  # the stand-in account's, not a secret
PUBLIC_BASE = "https://hotline.example.com"
ACCOUNT_PIN = "4321"


@dataclass
class TwiML:
    """A parsed answer: the root <Response> and its verbs."""

    root: ET.Element
    status: int

    def verbs(self) -> list[str]:
        return [child.tag for child in self.root]

    def all(self, tag: str) -> list[ET.Element]:
        return list(self.root.iter(tag))

    def one(self, tag: str) -> ET.Element:
        found = self.all(tag)
        assert len(found) == 1, (tag, ET.tostring(self.root, encoding="unicode"))
        return found[0]

    def says(self) -> list[tuple[str, str]]:
        return [(say.get("language", ""), say.text or "") for say in self.root.iter("Say")]


def sign(path: str, params: dict[str, str], token: str = AUTH_TOKEN) -> str:
    """X-Twilio-Signature exactly as Twilio computes it for the public URL."""
    return str(RequestValidator(token).compute_signature(PUBLIC_BASE + path, params))


@dataclass
class Phone:
    """A caller: posts Twilio's form fields for one CallSid, signed like Twilio."""

    client: Client
    caller: str
    call_sid: str

    def post(self, path: str, **fields: str) -> TwiML:
        params = {
            "CallSid": self.call_sid,
            "AccountSid": "AC00000000000000000000000000000000",
            "From": self.caller,
            "To": "+18005550199",
            "CallStatus": "in-progress",
            **fields,
        }
        response = self.client.post(path, params, HTTP_X_TWILIO_SIGNATURE=sign(path, params))
        assert response.status_code == 200, response.content
        assert response["Content-Type"].startswith("text/xml")
        root = ET.fromstring(response.content)  # noqa: S314  # our own server's TwiML
        assert root.tag == "Response"
        return TwiML(root, response.status_code)


@pytest.fixture(autouse=True)
def _twilio_settings(settings: Any) -> None:
    settings.SIMCARE_TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.SIMCARE_PUBLIC_BASE_URL = PUBLIC_BASE
    settings.SIMCARE_HOTLINE_AGENT_NUMBER = "+14165550100"


@pytest.fixture
def call(db: Any) -> Callable[..., Phone]:
    counter = iter(range(1, 10_000))

    def make(caller: str) -> Phone:
        return Phone(Client(), caller, f"CA{next(counter):032d}")

    return make


@pytest.fixture
def make_caller(
    make_subscriber: Callable[..., Subscriber],
    make_line: Callable[..., Line],
    plan: Plan,
) -> Callable[..., tuple[Subscriber, Line]]:
    def make(language: str = "en") -> tuple[Subscriber, Line]:
        subscriber = make_subscriber(language=language)
        account_services.set_account_pin(subscriber, ACCOUNT_PIN)
        return subscriber, make_line(subscriber, plan)

    return make
