"""A stand-in for Stripe's REST API on 127.0.0.1, speaking just what simcare calls.

It runs in a thread of the test process; the stripe library talks to it over real
HTTP (SIMCARE_STRIPE_API_BASE). It keeps Checkout Sessions, Customers,
PaymentIntents and Refunds in memory, replays the first answer for a repeated
Idempotency-Key as Stripe does, and can be told to fail the next calls (a 5xx,
a rate limit) to exercise retryable errors.

Test card payment methods (Stripe's own test ids):
- pm_card_visa: succeeds
- pm_card_chargeDeclined / pm_card_chargeDeclinedInsufficientFunds: declined (402)
- pm_card_authenticationRequired: off-session charge needs the customer (402
  authentication_required), like Stripe
- pm_card_threeDSecureRequired: the PaymentIntent comes back "requires_action"

Webhooks are signed like Stripe signs them: header t=<unix time>,v1=<hex HMAC-SHA256 of
"<t>.<payload>" keyed by the endpoint's secret>.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

Json = dict[str, Any]

CARDS: dict[str, Json] = {
    "pm_card_visa": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030},
    "pm_card_mastercard": {
        "brand": "mastercard",
        "last4": "4444",
        "exp_month": 8,
        "exp_year": 2031,
    },
    "pm_card_chargeDeclined": {"brand": "visa", "last4": "0002", "exp_month": 1, "exp_year": 2030},
    "pm_card_chargeDeclinedInsufficientFunds": {
        "brand": "visa",
        "last4": "9995",
        "exp_month": 2,
        "exp_year": 2030,
    },
    "pm_card_authenticationRequired": {
        "brand": "visa",
        "last4": "3184",
        "exp_month": 3,
        "exp_year": 2030,
    },
    "pm_card_threeDSecureRequired": {
        "brand": "visa",
        "last4": "3063",
        "exp_month": 4,
        "exp_year": 2030,
    },
}
_DECLINES = {
    "pm_card_chargeDeclined": "generic_decline",
    "pm_card_chargeDeclinedInsufficientFunds": "insufficient_funds",
}


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]


@dataclass
class StripeStandIn:
    secret_key: str = "sk_test_standin"
    sessions: dict[str, Json] = field(default_factory=dict)
    customers: dict[str, Json] = field(default_factory=dict)
    intents: dict[str, Json] = field(default_factory=dict)
    setup_intents: dict[str, Json] = field(default_factory=dict)
    refunds: dict[str, Json] = field(default_factory=dict)
    detached: set[str] = field(default_factory=set)
    requests: list[Recorded] = field(default_factory=list)
    # Statuses to answer the next calls with, first first (503, 429, 500 …).
    failures: list[int] = field(default_factory=list)
    _replies: dict[str, tuple[int, Json]] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    # --- what a test does on Stripe's side ---------------------------------------------------

    def pay_session(self, session_id: str) -> Json:
        """The customer paid on the hosted page: the session as the completed event has it."""
        with self._lock:
            session = self.sessions[session_id]
            intent = self._new_intent(
                amount=session["amount_total"],
                status="succeeded",
                metadata=session["payment_intent_metadata"],
            )
            session.update(status="complete", payment_status="paid", payment_intent=intent["id"])
            return public_session(session)

    def expire_session(self, session_id: str) -> Json:
        with self._lock:
            session = self.sessions[session_id]
            session.update(status="expired")
            return public_session(session)

    def complete_setup(self, session_id: str, payment_method: str = "pm_card_visa") -> Json:
        """The customer saved a card on the setup page: the SetupIntent its event carries."""
        with self._lock:
            session = self.sessions[session_id]
            setup_intent = {
                "id": f"seti_{next(self._ids):06d}",
                "object": "setup_intent",
                "status": "succeeded",
                "customer": session["customer"],
                "payment_method": payment_method,
                "usage": "off_session",
                "metadata": session["setup_intent_metadata"],
            }
            self.setup_intents[setup_intent["id"]] = setup_intent
            session.update(status="complete", setup_intent=setup_intent["id"])
            return setup_intent

    def calls(self, method: str, path_prefix: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    # --- the HTTP side ---------------------------------------------------------------------

    def handle(
        self, method: str, path: str, params: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, Json]:
        with self._lock:
            self.requests.append(Recorded(method, path, params, headers))
            if headers.get("authorization") != f"Bearer {self.secret_key}":
                return 401, _error("invalid_request_error", "api_key_invalid", "Invalid API Key")
            if self.failures:
                status = self.failures.pop(0)
                kind = "rate_limit_error" if status == 429 else "api_error"
                return status, _error(kind, "", "Stand-in failure")
            key = headers.get("idempotency-key", "")
            if method == "POST" and key and f"{path}|{key}" in self._replies:
                return self._replies[f"{path}|{key}"]
            reply = self._route(method, path, params)
            if method == "POST" and key:
                self._replies[f"{path}|{key}"] = reply
            return reply

    def _route(  # noqa: PLR0911 (one return per route)
        self, method: str, path: str, params: dict[str, str]
    ) -> tuple[int, Json]:
        parts = path.strip("/").split("/")
        if method == "POST" and path == "/v1/checkout/sessions":
            return 200, self._create_session(params)
        if method == "GET" and parts[:3] == ["v1", "checkout", "sessions"] and len(parts) == 4:
            session = self.sessions.get(parts[3])
            return (200, public_session(session)) if session else _missing(parts[3])
        if method == "POST" and path == "/v1/customers":
            customer = {
                "id": f"cus_{next(self._ids):06d}",
                "object": "customer",
                "metadata": _nested(params, "metadata"),
            }
            self.customers[customer["id"]] = customer
            return 200, customer
        if method == "GET" and parts[:2] == ["v1", "payment_methods"] and len(parts) == 3:
            card = CARDS.get(parts[2])
            if card is None:
                return _missing(parts[2])
            return 200, {"id": parts[2], "object": "payment_method", "type": "card", "card": card}
        if method == "POST" and parts[:2] == ["v1", "payment_methods"] and parts[3:] == ["detach"]:
            card = CARDS.get(parts[2])
            if card is None or parts[2] in self.detached:
                return _missing(parts[2])
            self.detached.add(parts[2])
            return 200, {"id": parts[2], "object": "payment_method", "customer": None, "card": card}
        if method == "POST" and path == "/v1/payment_intents":
            return self._create_intent(params)
        if method == "POST" and path == "/v1/refunds":
            return self._create_refund(params)
        return 404, _error("invalid_request_error", "resource_missing", f"No route {path}")

    def _create_session(self, params: dict[str, str]) -> Json:
        number = next(self._ids)
        session_id = f"cs_test_{number:06d}"
        mode = params.get("mode", "payment")
        session: Json = {
            "id": session_id,
            "object": "checkout.session",
            "mode": mode,
            "status": "open",
            "payment_status": "unpaid" if mode == "payment" else "no_payment_required",
            "currency": params.get("currency", ""),
            "customer": params.get("customer"),
            "client_reference_id": params.get("client_reference_id"),
            "metadata": _nested(params, "metadata"),
            "payment_intent": None,
            "setup_intent": None,
            "success_url": params.get("success_url"),
            "cancel_url": params.get("cancel_url"),
            "url": f"https://checkout.stripe.test/c/pay/{session_id}",
            "amount_total": None,
            "payment_intent_metadata": _nested(params, "payment_intent_data[metadata]"),
            "setup_intent_metadata": _nested(params, "setup_intent_data[metadata]"),
            "locale": params.get("locale"),
        }
        if mode == "payment":
            quantity = int(params.get("line_items[0][quantity]", "1"))
            unit = int(params["line_items[0][price_data][unit_amount]"])
            session["amount_total"] = quantity * unit
        self.sessions[session_id] = session
        return public_session(session)

    def _new_intent(self, *, amount: int, status: str, metadata: Json, **extra: Any) -> Json:
        intent: Json = {
            "id": f"pi_{next(self._ids):06d}",
            "object": "payment_intent",
            "amount": amount,
            "amount_received": amount if status == "succeeded" else 0,
            "currency": "cad",
            "status": status,
            "metadata": metadata,
            "last_payment_error": None,
            **extra,
        }
        self.intents[intent["id"]] = intent
        return intent

    def _create_intent(self, params: dict[str, str]) -> tuple[int, Json]:
        payment_method = params.get("payment_method", "")
        amount = int(params["amount"])
        metadata = _nested(params, "metadata")
        extra = {"customer": params.get("customer"), "payment_method": payment_method}
        if payment_method not in CARDS:
            return 400, _error("invalid_request_error", "resource_missing", "No such method")
        decline = _DECLINES.get(payment_method)
        if decline is not None or payment_method == "pm_card_authenticationRequired":
            code = "card_declined" if decline else "authentication_required"
            failure = {"type": "card_error", "code": code, "decline_code": decline or code}
            intent = self._new_intent(
                amount=amount,
                status="requires_payment_method",
                metadata=metadata,
                last_payment_error=failure,
                **{k: v for k, v in extra.items() if k != "last_payment_error"},
            )
            body = _error("card_error", code, "Your card was declined.")
            body["error"]["decline_code"] = decline or code
            body["error"]["payment_intent"] = intent
            return 402, body
        status = (
            "requires_action" if payment_method == "pm_card_threeDSecureRequired" else ("succeeded")
        )
        return 200, self._new_intent(amount=amount, status=status, metadata=metadata, **extra)

    def _create_refund(self, params: dict[str, str]) -> tuple[int, Json]:
        intent = self.intents.get(params.get("payment_intent", ""))
        if intent is None or intent["status"] != "succeeded":
            return 400, _error("invalid_request_error", "resource_missing", "No such intent")
        amount = int(params.get("amount", intent["amount"]))
        refunded = sum(
            r["amount"] for r in self.refunds.values() if r["payment_intent"] == intent["id"]
        )
        if refunded + amount > intent["amount"]:
            return 400, _error(
                "invalid_request_error", "charge_already_refunded", "Refund exceeds the charge"
            )
        refund = {
            "id": f"re_{next(self._ids):06d}",
            "object": "refund",
            "amount": amount,
            "payment_intent": intent["id"],
            "status": "succeeded",
            "metadata": _nested(params, "metadata"),
        }
        self.refunds[refund["id"]] = refund
        return 200, refund

    # --- running -----------------------------------------------------------------------------

    def start(self) -> None:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else split.query
                params = dict(parse_qsl(body, keep_blank_values=True))
                headers = {key.lower(): value for key, value in self.headers.items()}
                status, payload = standin.handle(self.command, split.path, params, headers)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", f"req_{len(standin.requests)}")
                self.end_headers()
                self.wfile.write(data)

            do_GET = _reply
            do_POST = _reply
            do_DELETE = _reply

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


def public_session(session: Json) -> Json:
    return {k: v for k, v in session.items() if not k.endswith("_intent_metadata")}


def _nested(params: dict[str, str], prefix: str) -> dict[str, str]:
    """metadata[order_id]=5 (form encoding of nested params) → {"order_id": "5"}."""
    start = f"{prefix}["
    return {
        key[len(start) : -1]: value
        for key, value in params.items()
        if key.startswith(start) and key.endswith("]") and "[" not in key[len(start) : -1]
    }


def _error(kind: str, code: str, message: str) -> Json:
    return {"error": {"type": kind, "code": code, "message": message}}


def _missing(identifier: str) -> tuple[int, Json]:
    return 404, _error("invalid_request_error", "resource_missing", f"No such object {identifier}")


# --- webhooks as Stripe sends them --------------------------------------------------------------

_events = itertools.count(1)


def event_payload(event_type: str, obj: Json, *, event_id: str | None = None) -> bytes:
    event = {
        "id": event_id or f"evt_{next(_events):06d}",
        "object": "event",
        "api_version": "2025-01-27.acacia",
        "created": int(time.time()),
        "type": event_type,
        "livemode": False,
        "pending_webhooks": 1,
        "data": {"object": obj},
    }
    return json.dumps(event).encode()


def sign(payload: bytes, secret: str, *, timestamp: int | None = None) -> str:
    """The Stripe-Signature header for payload, computed the way Stripe does."""
    moment = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{moment}.".encode() + payload, hashlib.sha256)
    return f"t={moment},v1={digest.hexdigest()}"
