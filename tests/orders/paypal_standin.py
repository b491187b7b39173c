"""A stand-in for PayPal's REST API on 127.0.0.1: OAuth, Orders v2, refunds, webhook verification.

paypal-server-sdk talks to it over real HTTP (SIMCARE_PAYPAL_API_BASE). Orders live in
memory; approve() plays the buyer approving on PayPal's page; decline_next_capture
makes the next capture fail as INSTRUMENT_DECLINED. PayPal-Request-Id replays the
first answer, as PayPal does.

Webhooks: PayPal signs with its certificate and merchants ask PayPal to verify
(POST /v1/notifications/verify-webhook-signature). The stand-in signs with its own key
an HMAC of "<transmission id>|<time>|<webhook id>|<CRC32 of the event>" and answers
SUCCESS only for a signature it made for that webhook id and that event.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

Json = dict[str, Any]


@dataclass
class Recorded:
    method: str
    path: str
    body: Any
    headers: dict[str, str]


@dataclass
class PayPalStandIn:
    client_id: str = "paypal-client-standin"
    client_secret: str = "paypal-secret-standin"
    webhook_id: str = "WH-STANDIN-0001"
    orders: dict[str, Json] = field(default_factory=dict)
    refunds: dict[str, Json] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)
    decline_next_capture: bool = False
    _signing_key: bytes = b"standin-paypal-signing-key"
    _tokens: set[str] = field(default_factory=set)
    _replies: dict[str, tuple[int, Json]] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    # --- the buyer and PayPal's side ---------------------------------------------------------

    def approve(self, order_id: str) -> None:
        with self._lock:
            self.orders[order_id]["status"] = "APPROVED"

    def capture_of(self, order_id: str) -> Json:
        return self.orders[order_id]["purchase_units"][0]["payments"]["captures"][0]

    def completed_capture_event(self, order_id: str) -> Json:
        """The PAYMENT.CAPTURE.COMPLETED event PayPal sends after a capture."""
        return {
            "id": f"WH-EVT-{next(self._ids):06d}",
            "event_version": "1.0",
            "resource_type": "capture",
            "event_type": "PAYMENT.CAPTURE.COMPLETED",
            "summary": "Payment completed",
            "resource": self.capture_of(order_id),
        }

    def webhook(
        self, event: Json, *, webhook_id: str | None = None
    ) -> tuple[dict[str, str], bytes]:
        """The headers and body of event as PayPal would deliver it to our webhook."""
        transmission_id = f"tx-{next(self._ids):06d}"
        transmission_time = "2026-12-01T17:00:00Z"
        signature = self._signature(
            transmission_id, transmission_time, webhook_id or self.webhook_id, event
        )
        headers = {
            "PAYPAL-AUTH-ALGO": "SHA256withRSA",
            "PAYPAL-CERT-URL": "https://api.paypal.test/v1/notifications/certs/CERT-STANDIN",
            "PAYPAL-TRANSMISSION-ID": transmission_id,
            "PAYPAL-TRANSMISSION-SIG": signature,
            "PAYPAL-TRANSMISSION-TIME": transmission_time,
        }
        return headers, json.dumps(event).encode()

    def _signature(self, transmission_id: str, moment: str, webhook_id: str, event: Json) -> str:
        crc = zlib.crc32(json.dumps(event, sort_keys=True).encode())
        message = f"{transmission_id}|{moment}|{webhook_id}|{crc}".encode()
        return base64.b64encode(
            hmac.new(self._signing_key, message, hashlib.sha256).digest()
        ).decode()

    def calls(self, method: str, path_prefix: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    # --- the HTTP side ---------------------------------------------------------------------

    def handle(
        self, method: str, path: str, raw: bytes, headers: dict[str, str]
    ) -> tuple[int, Json]:
        with self._lock:
            try:
                body = (
                    json.loads(raw)
                    if raw and "json" in headers.get("content-type", "")
                    else raw.decode()
                )
            except ValueError:
                return 400, _issue("INVALID_REQUEST", "MALFORMED_REQUEST_JSON")
            self.requests.append(Recorded(method, path, body, headers))
            if self.failures:
                status = self.failures.pop(0)
                return status, _issue("INTERNAL_SERVER_ERROR", "INTERNAL_SERVICE_ERROR")
            if path == "/v1/oauth2/token":
                return self._token(headers)
            if headers.get("authorization", "").removeprefix("Bearer ") not in self._tokens:
                return 401, {
                    "error": "invalid_token",
                    "error_description": "Token signature verification failed",
                }
            key = headers.get("paypal-request-id", "")
            if method == "POST" and key and f"{path}|{key}" in self._replies:
                return self._replies[f"{path}|{key}"]
            reply = self._route(method, path, body)
            if method == "POST" and key and reply[0] < 500:
                self._replies[f"{path}|{key}"] = reply
            return reply

    def _token(self, headers: dict[str, str]) -> tuple[int, Json]:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if headers.get("authorization") != f"Basic {expected}":
            return 401, {
                "error": "invalid_client",
                "error_description": "Client Authentication failed",
            }
        token = f"A21AA{next(self._ids):08d}"
        self._tokens.add(token)
        return 200, {
            "scope": "https://uri.paypal.com/services/payments/payment",
            "access_token": token,
            "token_type": "Bearer",
            "app_id": "APP-STANDIN",
            "expires_in": 32400,
            "nonce": "standin",
        }

    def _route(  # noqa: PLR0911 (one return per route)
        self, method: str, path: str, body: Any
    ) -> tuple[int, Json]:
        parts = path.strip("/").split("/")
        if method == "POST" and path == "/v2/checkout/orders":
            return self._create_order(body)
        if parts[:3] == ["v2", "checkout", "orders"] and len(parts) >= 4:
            order = self.orders.get(parts[3])
            if order is None:
                return 404, _issue("RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
            if method == "GET" and len(parts) == 4:
                return 200, order
            if method == "POST" and parts[4:] == ["capture"]:
                return self._capture(order)
        if (
            method == "POST"
            and parts[:3] == ["v2", "payments", "captures"]
            and parts[4:] == ["refund"]
        ):
            return self._refund(parts[3], body)
        if method == "POST" and path == "/v1/notifications/verify-webhook-signature":
            return 200, {"verification_status": self._verify(body)}
        return 404, _issue("RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")

    def _create_order(self, body: Json) -> tuple[int, Json]:
        unit = body["purchase_units"][0]
        order_id = f"5O{next(self._ids):014d}"
        context = body.get("payment_source", {}).get("paypal", {}).get("experience_context", {})
        order = {
            "id": order_id,
            "intent": body.get("intent"),
            "status": "PAYER_ACTION_REQUIRED",
            "purchase_units": [
                {
                    "reference_id": unit.get("reference_id"),
                    "custom_id": unit.get("custom_id"),
                    "invoice_id": unit.get("invoice_id"),
                    "amount": unit["amount"],
                }
            ],
            "return_url": context.get("return_url"),
            "cancel_url": context.get("cancel_url"),
            "links": [
                {
                    "href": f"{self.url}/v2/checkout/orders/{order_id}",
                    "rel": "self",
                    "method": "GET",
                },
                {
                    "href": f"https://www.paypal.test/checkoutnow?token={order_id}",
                    "rel": "payer-action",
                    "method": "GET",
                },
            ],
        }
        self.orders[order_id] = order
        return 200, order

    def _capture(self, order: Json) -> tuple[int, Json]:
        if order["status"] == "COMPLETED":
            return 422, _issue("UNPROCESSABLE_ENTITY", "ORDER_ALREADY_CAPTURED")
        if order["status"] != "APPROVED":
            return 422, _issue("UNPROCESSABLE_ENTITY", "ORDER_NOT_APPROVED")
        if self.decline_next_capture:
            self.decline_next_capture = False
            return 422, _issue("UNPROCESSABLE_ENTITY", "INSTRUMENT_DECLINED")
        unit = order["purchase_units"][0]
        capture = {
            "id": f"3C{next(self._ids):014d}",
            "status": "COMPLETED",
            "amount": unit["amount"],
            "final_capture": True,
            "custom_id": unit.get("custom_id"),
            "invoice_id": unit.get("invoice_id"),
            "supplementary_data": {"related_ids": {"order_id": order["id"]}},
        }
        unit["payments"] = {"captures": [capture]}
        order["status"] = "COMPLETED"
        return 201, order

    def _refund(self, capture_id: str, body: Json) -> tuple[int, Json]:
        capture = next(
            (
                c
                for o in self.orders.values()
                for c in o["purchase_units"][0].get("payments", {}).get("captures", [])
                if c["id"] == capture_id
            ),
            None,
        )
        if capture is None:
            return 404, _issue("RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
        amount = (body or {}).get("amount") or capture["amount"]
        refund = {
            "id": f"1R{next(self._ids):014d}",
            "status": "COMPLETED",
            "amount": amount,
            "capture_id": capture_id,
        }
        self.refunds[refund["id"]] = refund
        return 201, refund

    def _verify(self, body: Json) -> str:
        try:
            expected = self._signature(
                body["transmission_id"],
                body["transmission_time"],
                body["webhook_id"],
                body["webhook_event"],
            )
        except (KeyError, TypeError):
            return "FAILURE"
        valid = (
            body["webhook_id"] == self.webhook_id
            and str(body.get("cert_url", "")).startswith("https://api.paypal.test/")
            and hmac.compare_digest(expected, str(body.get("transmission_sig", "")))
        )
        return "SUCCESS" if valid else "FAILURE"

    # --- running -----------------------------------------------------------------------------

    def start(self) -> None:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                headers = {key.lower(): value for key, value in self.headers.items()}
                status, payload = standin.handle(self.command, split.path, raw, headers)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = _reply
            do_POST = _reply

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        host, port = self._server.server_address[:2]
        self.url = f"http://{host!s}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def _issue(name: str, issue: str) -> Json:
    return {
        "name": name,
        "message": issue,
        "debug_id": "standin",
        "details": [{"issue": issue, "description": issue}],
    }
