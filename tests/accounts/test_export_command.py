"""`simcare export-personal-data`: the same document as the portal's download, audited."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from simcare.accounts.models import AuditEvent, Subscriber

pytestmark = pytest.mark.django_db


def test_the_command_writes_one_subscribers_records_and_audits_why(
    subscriber: Subscriber, tmp_path: Path
) -> None:
    assert subscriber.user.email is not None
    out = io.StringIO()
    call_command("export_personal_data", subscriber.user.email, reason="ticket 42", stdout=out)

    document = json.loads(out.getvalue())
    assert document["format"] == "simcare.personal-data/1"
    assert document["profile"]["username"] == subscriber.user.username
    event = AuditEvent.objects.get(action="subscriber.data_exported")
    assert (event.actor_label, event.data["reason"]) == ("cli", "ticket 42")

    target = tmp_path / "data.json"
    call_command(
        "export_personal_data",
        subscriber.user.username,
        reason="t",
        output=str(target),
        stdout=io.StringIO(),
    )
    assert json.loads(target.read_text())["profile"]["email"] == subscriber.user.email


def test_an_unknown_login_is_an_error_and_nothing_is_audited(subscriber: Subscriber) -> None:
    with pytest.raises(CommandError, match="no single subscriber"):
        call_command("export_personal_data", "nobody@example.com", reason="x", stdout=io.StringIO())
    assert not AuditEvent.objects.filter(action="subscriber.data_exported").exists()
