"""Fixtures for the care tests: the demo's knowledge base, imported through the real command."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from django.core.management import call_command
from django.test import Client

from simcare.accounts.models import Role, User
from simcare.asgi import application
from simcare.care.models import AgentProfile, OpeningHours, Team
from tests.conftest import signed_in_client

DEMO_KB = Path(str(resources.files("simcare.demo").joinpath("kb.json")))


@pytest.fixture
def demo_kb(db: Any) -> Path:
    call_command("kb", "import", str(DEMO_KB), stdout=io.StringIO())
    return DEMO_KB


ORIGIN = (b"origin", b"http://testserver")
# Tuesday 1 December 2026, 10:00 in Toronto: the team is open.
IN_HOURS = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def team(db: Any) -> Team:
    team = Team.objects.create(name="Front line", is_default=True, province="ON")
    for weekday in range(5):
        OpeningHours.objects.create(
            team=team, weekday=weekday, opens_at=dt.time(9), closes_at=dt.time(17)
        )
    return team


@pytest.fixture
def make_agent(make_staff: Callable[..., User], team: Team) -> Callable[..., User]:
    def make(
        *,
        languages: tuple[str, ...] = ("en",),
        max_chats: int = 3,
        available: bool = True,
        role: Role = Role.AGENT,
        **fields: Any,
    ) -> User:
        first_name = fields.pop("first_name", "")
        user = make_staff(role, **fields)
        if first_name:
            user.first_name = first_name
            user.save(update_fields=["first_name"])
        AgentProfile.objects.create(
            user=user,
            team=team,
            languages=list(languages),
            max_concurrent_chats=max_chats,
            is_available=available,
        )
        return user

    return make


def session_cookie(client: Client) -> tuple[bytes, bytes]:
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


def visitor(query: str = "language=en", *, client: Client | None = None) -> WebsocketCommunicator:
    headers = [ORIGIN]
    if client is not None:
        headers.append(session_cookie(client))
    return WebsocketCommunicator(application, f"/ws/care/chat/?{query}", headers=headers)


def console(user: User, *, verified: bool = True) -> WebsocketCommunicator:
    client = signed_in_client(user, verified=verified)
    return WebsocketCommunicator(
        application, "/ws/care/console/", headers=[ORIGIN, session_cookie(client)]
    )


async def receive_until(
    communicator: WebsocketCommunicator, predicate: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    """Frames up to and including the first that matches (fails on a 20 s silence)."""
    frames = []
    while True:
        frame = json.loads(await communicator.receive_from(timeout=20))
        frames.append(frame)
        if predicate(frame):
            return frames


def is_message(sender: str) -> Callable[[dict[str, Any]], bool]:
    return lambda frame: frame["type"] == "message" and frame["sender"] == sender


# The notify tests' real SMTP server (aiosmtpd), for the emailed transcript.
from tests.notify.conftest import smtp_server  # noqa: E402, F401


async def receive_messages(communicator: WebsocketCommunicator, count: int) -> list[dict[str, Any]]:
    """The next `count` message frames, in id order: the Redis layer orders frames published
    within one frozen clock tick arbitrarily, and clients order by id."""
    frames: list[dict[str, Any]] = []
    while len(frames) < count:
        frame = json.loads(await communicator.receive_from(timeout=20))
        if frame["type"] == "message":
            frames.append(frame)
    return sorted(frames, key=lambda frame: frame["id"])
