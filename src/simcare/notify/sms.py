"""SMS backends: where the outbox hands text messages.

`settings.SIMCARE_SMS_BACKEND` names the class (like Django's EMAIL_BACKEND).
The embedded default appends each message as one JSON line to
`settings.SIMCARE_SMS_FILE`; the console backend prints them. A real gateway
(Twilio, a carrier's SMPP bridge) subclasses `SmsBackend`, implements `send`
with a timeout, and raises `SmsDeliveryError` for failures worth retrying and
`SmsRejected` for final ones (an invalid number), so the outbox can tell them
apart.
"""

from __future__ import annotations

import abc
import json
import sys
import threading
from pathlib import Path
from typing import TextIO

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string


class SmsDeliveryError(Exception):
    """Sending failed for a reason that may pass (network, gateway busy): retry later."""


class SmsRejected(Exception):
    """The gateway refused this message for good (invalid or blocked number): do not retry."""


class SmsBackend(abc.ABC):
    """Sends one text message; returns the gateway's message id, or "" when it has none.

    `name` is recorded on the notification with that id, so a delivery receipt
    (notify.services.record_delivery_status) finds its message.
    """

    name: str = ""

    @abc.abstractmethod
    def send(self, to: str, body: str) -> str: ...

    def close(self) -> None:  # noqa: B027  # most backends hold no connection
        """Release a connection kept across messages (the outbox calls it after each run)."""


class FileSmsBackend(SmsBackend):
    """Appends {"to", "body", "sent_at"} as one JSON line per message to a file."""

    _lock = threading.Lock()

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path if path is not None else settings.SIMCARE_SMS_FILE)

    def send(self, to: str, body: str) -> str:
        record = {"to": to, "body": body, "sent_at": timezone.now().isoformat()}
        line = json.dumps(record, ensure_ascii=False) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # One write of one line in append mode: lines from several
            # processes do not interleave.
            with self._lock, self.path.open("a", encoding="utf-8") as handle:
                handle.write(line)
        except OSError as error:
            raise SmsDeliveryError(f"cannot write {self.path.name}: {error.strerror}") from error
        return ""


class ConsoleSmsBackend(SmsBackend):
    """Prints each message to standard output (development)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def send(self, to: str, body: str) -> str:
        self.stream.write(f"SMS to {to}: {body}\n")
        self.stream.flush()
        return ""


def get_backend() -> SmsBackend:
    backend_class = import_string(settings.SIMCARE_SMS_BACKEND)
    backend: SmsBackend = backend_class()
    return backend
