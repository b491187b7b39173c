"""Local HTTP servers for the gateway tests: Twilio's Messages API, and a recorder of the
delivery-report calls Kannel's smsbox makes (our public URL points at it)."""

from __future__ import annotations

import base64
import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class HttpStandIn:
    """A threaded HTTP server on 127.0.0.1 that hands every request to `answer`."""

    requests: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers.items()),
                    "body": body,
                }
                stand_in.requests.append(request)
                status, payload = stand_in.answer(request)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = _handle
            do_POST = _handle

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, request: dict[str, Any]) -> tuple[int, Any]:
        return 200, b"OK"

    def start(self) -> HttpStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class TwilioStandIn(HttpStandIn):
    """POST /2010-04-01/Accounts/{AccountSid}/Messages.json as Twilio answers it.

    "+15005550001" is refused as an invalid number (400, error 21211, like Twilio's
    magic test number); `fail_next` answers that many calls with a 503."""

    account_sid: str = "AC00000000000000000000000000000001"
    auth_token: str = "twilio-test-auth-token"
    fail_next: int = 0
    messages: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._sids = itertools.count(1)

    def answer(self, request: dict[str, Any]) -> tuple[int, Any]:
        expected = (
            "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        )
        if request["headers"].get("Authorization") != expected:
            return 401, {"code": 20003, "message": "Authenticate", "status": 401}
        path = urlsplit(request["path"]).path
        if request["method"] != "POST" or path != (
            f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        ):
            return 404, {"code": 20404, "message": "Not found", "status": 404}
        if self.fail_next:
            self.fail_next -= 1
            return 503, {"code": 20500, "message": "Service unavailable", "status": 503}
        form = dict(parse_qsl(request["body"].decode()))
        if form.get("To") == "+15005550001":
            return 400, {
                "code": 21211,
                "message": f"The 'To' number {form['To']} is not a valid phone number.",
                "status": 400,
            }
        sid = f"SM{next(self._sids):032d}"
        self.messages.append({**form, "sid": sid})
        return 201, {
            "sid": sid,
            "account_sid": self.account_sid,
            "to": form.get("To"),
            "from": form.get("From"),
            "body": form.get("Body"),
            "status": "queued",
            "num_segments": "1",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }
