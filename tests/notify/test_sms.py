"""The SMS backends."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from simcare.notify import sms


def test_file_backend_appends_one_json_line_per_message(tmp_path: Path) -> None:
    backend = sms.FileSmsBackend(tmp_path / "out" / "sms.log")

    backend.send("+14165550100", "simcare: 你好, ça marche")
    backend.send("+14165550101", "second")

    lines = (tmp_path / "out" / "sms.log").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert [(record["to"], record["body"]) for record in records] == [
        ("+14165550100", "simcare: 你好, ça marche"),
        ("+14165550101", "second"),
    ]
    assert all(record["sent_at"] for record in records)


def test_file_backend_failure_is_retryable(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")

    with pytest.raises(sms.SmsDeliveryError, match="cannot write"):
        sms.FileSmsBackend(blocker / "sms.log").send("+14165550100", "hello")


def test_console_backend_prints(tmp_path: Path) -> None:
    stream = io.StringIO()

    sms.ConsoleSmsBackend(stream).send("+14165550100", "hello")

    assert stream.getvalue() == "SMS to +14165550100: hello\n"


def test_the_backend_comes_from_settings(settings: Any, tmp_path: Path) -> None:
    settings.SIMCARE_SMS_BACKEND = "simcare.notify.sms.FileSmsBackend"
    settings.SIMCARE_SMS_FILE = tmp_path / "configured.log"

    backend = sms.get_backend()

    assert isinstance(backend, sms.FileSmsBackend)
    assert backend.path == tmp_path / "configured.log"
