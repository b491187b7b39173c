"""Every URL of the project for every role: who gets in, who is sent to sign in, who is refused.

The harness walks django.urls.get_resolver() recursively, so a new URL is
checked the moment it exists. Each request is a GET by one of seven clients
(anonymous, subscriber, reseller, agent, clerk, admin with a verified TOTP
session, and an administrator signed in *without* TOTP); redirects inside the
site are followed, and the end is classified:

- ALLOWED: 2xx, or a redirect that leaves the URLconf (a static file);
- LOGIN: sent to /<lang>/accounts/login/ or /<lang>/admin/login/;
- DENIED: 401, 403 or 404;
- NOT_GET: 405, the URL only takes POST;
- UNAVAILABLE: 503 (readyz without a worker).

Anything else, a 500 above all, is a failure for every role.

Language prefixes: public i18n pages are requested in all three languages;
the admin's ~150 URLs take the three prefixes in turn (URL n in language
n mod 3), which keeps the run near a thousand requests.

LATER ISSUES, when you add URLs:
1. A URL with parameters needs sample values: add an entry to SAMPLES, keyed by
   the URL name ("portal:line_detail") or, for an unnamed pattern, by its
   route with "<lang>/" for the language prefix. Admin object URLs
   (<path:object_id>/change/ etc.) take their object from SAMPLE_OBJECTS, keyed
   by model label: register a sample object for every model you add to the
   admin. A pattern with parameters and no sample FAILS the test.
2. A URL outside /<lang>/admin/ needs its expected outcome per role in
   EXPECTED. Admin URLs follow ADMIN_DEFAULT (see docs/security.md) with the
   exceptions in ADMIN_EXPECTED and ADMIN_REFUSED_VIEWS (read-only admins).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.options import BaseModelAdmin
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db.models import Model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404
from django.urls.resolvers import LocalePrefixPattern, RegexPattern, RoutePattern
from django.utils import timezone, translation
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from simcare.accounts import services as account_services
from simcare.accounts.models import ApiToken, AuditEvent, Role, Subscriber, User
from simcare.catalog.models import AddOn, Plan, UsageKind
from simcare.ivr.models import Voicemail
from simcare.kit.iccid import make_iccid
from simcare.ledger import services as ledger_services
from simcare.ledger.models import LedgerEntry, LedgerTransaction
from simcare.lines import services as line_services
from simcare.lines.models import Bucket, Line, LineEvent, Number, SimCard, SimKind
from simcare.notify.models import Channel, Notification, NotificationStatus
from simcare.ops.models import JobRun, WorkerHeartbeat
from simcare.orders.models import (
    AttemptStatus,
    AutoRenewAttempt,
    AutoRenewSetting,
    Coupon,
    DiscountKind,
    ItemKind,
    Order,
    OrderItem,
    OrderKind,
    OrderState,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Promotion,
    PromotionKind,
    Receipt,
    SalesChannel,
    SavedPaymentMethod,
    Voucher,
    VoucherBatch,
)
from simcare.orders.services import ordering
from simcare.orders.services import vouchers as voucher_services
from simcare.partners import services as partner_services
from simcare.partners.models import Reseller, ResellerApiKey, WebhookEvent
from simcare.stores.models import Store
from simcare.usage.models import CdrImport

pytestmark = pytest.mark.django_db

ALLOWED = "allowed"
LOGIN = "login"
DENIED = "denied"
NOT_GET = "not-get"
UNAVAILABLE = "unavailable"

ROLES = ("anonymous", "subscriber", "reseller", "agent", "clerk", "admin", "staff_without_otp")
LANGUAGES = tuple(code for code, _name in settings.LANGUAGES)
PASSWORD = "correct horse battery staple"


# --- the world the requests see: one user per role, one object of each kind ------------------


@dataclass
class World:
    users: dict[str, User]
    subscriber: Subscriber
    plan: Plan
    addon: AddOn
    store: Store
    line: Line
    notification: Notification
    objects: dict[str, Model] = field(default_factory=dict)


def _first(model: type[Model]) -> Callable[[World], Model | None]:
    return lambda world: model._default_manager.order_by("pk").first()


# Admin object URLs (change, history, delete, the object redirect, and any
# custom <object_id>/<pk>/<id> view of a ModelAdmin) use this object of the model.
SAMPLE_OBJECTS: dict[str, Callable[[World], Model | None]] = {
    "accounts.user": lambda world: world.subscriber.user,
    "accounts.subscriber": lambda world: world.subscriber,
    "accounts.auditevent": _first(AuditEvent),
    "auth.group": lambda world: Group.objects.get(name=Role.AGENT),
    "otp_totp.totpdevice": lambda world: TOTPDevice.objects.get(user=world.users["agent"]),
    "catalog.plan": lambda world: world.plan,
    "catalog.addon": lambda world: world.addon,
    "stores.store": lambda world: world.store,
    # Stock still on the shelf, which the admin may delete (one imported by mistake).
    "lines.number": lambda world: Number.objects.filter(lines__isnull=True).first(),
    "lines.simcard": lambda world: SimCard.objects.filter(lines__isnull=True).first(),
    "lines.line": lambda world: world.line,
    "lines.lineevent": lambda world: LineEvent.objects.filter(line=world.line).first(),
    "lines.bucket": lambda world: Bucket.objects.filter(line=world.line).first(),
    "ledger.ledgeraccount": lambda world: ledger_services.wallet_for(world.subscriber),
    "ledger.ledgertransaction": _first(LedgerTransaction),
    "ledger.ledgerentry": _first(LedgerEntry),
    "notify.notification": lambda world: world.notification,
    "ops.workerheartbeat": _first(WorkerHeartbeat),
    "ops.jobrun": _first(JobRun),
    "axes.accessattempt": lambda world: world.objects["axes.accessattempt"],
    "axes.accesslog": lambda world: world.objects["axes.accesslog"],
    "axes.accessfailurelog": lambda world: world.objects["axes.accessfailurelog"],
    "orders.voucherbatch": _first(VoucherBatch),
    "orders.voucher": _first(Voucher),
    "orders.order": lambda world: world.objects["orders.order"],
    "orders.payment": _first(Payment),
    "orders.receipt": _first(Receipt),
    "orders.coupon": _first(Coupon),
    "orders.promotion": _first(Promotion),
    "orders.savedpaymentmethod": _first(SavedPaymentMethod),
    "orders.autorenewattempt": _first(AutoRenewAttempt),
    "orders.autorenewsetting": _first(AutoRenewSetting),
    "accounts.apitoken": lambda world: (
        ApiToken.objects.order_by("pk").first()
        or account_services.issue_api_token(world.subscriber.user)[0]
    ),
    "care.article": lambda world: _kb_article(),
    "care.articlefeedback": lambda world: _kb_feedback(),
    "aftersales.returnrequest": lambda world: _aftersales(world)["return"],
    "aftersales.review": lambda world: _aftersales(world)["review"],
    "usage.cdrimport": lambda world: world.objects["usage.cdrimport"],
    "ivr.voicemail": lambda world: world.objects["ivr.voicemail"],
    "partners.reseller": lambda world: _sample_reseller(),
    "partners.resellerapikey": lambda world: (
        ResellerApiKey.objects.order_by("pk").first()
        or partner_services.issue_api_key(_sample_reseller(), acting_user=None)[0]
    ),
    "partners.webhookevent": lambda world: (
        WebhookEvent.objects.order_by("pk").first()
        or WebhookEvent.objects.create(
            reseller=_sample_reseller(), event="order.fulfilled", body="{}"
        )
    ),
}


def _sample_reseller() -> Reseller:
    return Reseller.objects.order_by("pk").first() or partner_services.create_reseller(
        name="Matrix Shop", slug="matrix", acting_user=None
    )


@dataclass(frozen=True)
class Sample:
    kwargs: dict[str, str]
    query: str = ""


def _care_object(label: str) -> Callable[[World], Model | None]:
    """The care admin's sample rows, made on first use (a team with hours, its agent…)."""

    def make(world: World) -> Model | None:
        from simcare.care import models as care

        if "care.team" not in world.objects:
            team = care.Team.objects.create(name="Matrix team", is_default=True)
            world.objects["care.team"] = team
            world.objects["care.openinghours"] = care.OpeningHours.objects.create(
                team=team, weekday=0, opens_at=dt.time(9), closes_at=dt.time(17)
            )
            world.objects["care.closure"] = care.Closure.objects.create(
                team=team, date=dt.date(2026, 12, 24), reason="party"
            )
            world.objects["care.agentprofile"] = care.AgentProfile.objects.create(
                user=world.users["agent"], team=team, languages=["en"]
            )
            world.objects["care.cannedresponse"] = care.CannedResponse.objects.create(
                language="en", title="Hello", body="Hello {first_name}"
            )
            _care_chat(world)
            world.objects["care.ticket"] = care.Ticket.objects.create(
                number=1, source="chat", conversation=world.objects["care.conversation"]
            )
        return world.objects[label]

    return make


for _label in (
    "care.team",
    "care.closure",
    "care.agentprofile",
    "care.cannedresponse",
    "care.conversation",
    "care.ticket",
):
    SAMPLE_OBJECTS[_label] = _care_object(_label)

# Sample parameters of the other URLs with parameters, keyed by URL name (or the
# route of an unnamed pattern, "<lang>/" standing for the language prefix).
SAMPLES: dict[str, Callable[[World], list[Sample]]] = {
    "admin:app_list": lambda world: [
        Sample({"app_label": "accounts"}),
        Sample({"app_label": "catalog"}),
    ],
    "admin:view_on_site": lambda world: [
        Sample(
            {
                "content_type_id": str(ContentType.objects.get_for_model(Plan).pk),
                "object_id": str(world.plan.pk),
            }
        )
    ],
    "<lang>/admin/(?P<url>.*)$": lambda world: [Sample({"url": "no-such-page/"})],
    "orders:receipt": lambda world: [Sample({"order_id": str(world.objects["orders.order"].pk)})],
    "orders:receipt_pdf": lambda world: [
        Sample({"order_id": str(world.objects["orders.order"].pk)})
    ],
    "api:unknown_endpoint": lambda world: [Sample({"unmatched": "no-such-endpoint"})],
    "api:renew_my_line": lambda world: [Sample({"msisdn": world.line.msisdn})],
    "api:my_line_usage": lambda world: [Sample({"msisdn": world.line.msisdn}, "days=7")],
    "orders:payment_return": lambda world: [Sample({"order_id": str(world.objects["order"].pk)})],
    "orders:paypal_return": lambda world: [
        Sample({"order_id": str(world.objects["order"].pk)}),
        Sample({"order_id": str(world.objects["order"].pk)}, query="token=5O0000&PayerID=P1"),
    ],
    "orders:payment_cancelled": lambda world: [
        Sample({"order_id": str(world.objects["order"].pk)})
    ],
    "orders:pay": lambda world: [Sample({"order_id": str(world.objects["order"].pk)})],
    "aftersales:return_detail": lambda world: [
        Sample({"pk": str(_aftersales(world)["return"].pk)})
    ],
    "aftersales:return_photo": lambda world: [
        Sample(
            {
                "pk": str(_aftersales(world)["return"].pk),
                "photo_id": str(_aftersales(world)["photo"].pk),
            }
        )
    ],
    "aftersales:review_new": lambda world: [
        Sample({"order_id": str(_aftersales(world)["order"].pk)})
    ],
    "aftersales:staff_return_detail": lambda world: [
        Sample({"pk": str(_aftersales(world)["return"].pk)})
    ],
    "api:evaluate_my_return": lambda world: [
        Sample({"order_id": str(_aftersales(world)["order"].pk)}, "kind=quality")
    ],
    "api:get_my_return": lambda world: [
        Sample({"return_id": str(_aftersales(world)["return"].pk)})
    ],
    **{
        f"store_console:{name}": (lambda world: [Sample({"code": world.store.code})])
        for name in ("store", "sell", "renew", "vouchers", "day", "day_csv")
    },
    "store_console:sale": lambda world: [
        Sample({"code": world.store.code, "order_id": str(world.objects["store_console.sale"].pk)})
    ],
    "api:reseller_get_order": lambda world: [
        Sample({"order_id": str(world.objects["orders.order"].pk)})
    ],
    "api:reseller_get_esim_qr": lambda world: [
        Sample({"order_id": str(world.objects["orders.order"].pk)})
    ],
    "api:reseller_line_renewable": lambda world: [Sample({"msisdn": world.line.msisdn})],
    "api:reseller_get_statement": lambda world: [Sample({"month": "2026-11"})],
}


def _care_chat(world: World) -> list[Sample]:
    """A chat the matrix agent accepted (care console and transcripts)."""
    from simcare.care.models import Conversation, ConversationStatus

    conversation = world.objects.get("care.conversation")
    if conversation is None:
        conversation = Conversation.objects.create(
            visitor_key="v_matrix",
            status=ConversationStatus.ACTIVE,
            agent=world.users["agent"],
            language="en",
        )
        world.objects["care.conversation"] = conversation
    return [Sample({"public_id": str(conversation.public_id)})]  # type: ignore[attr-defined]


for _name in (
    "console:conversation",
    "console:accept",
    "console:decline",
    "console:send",
    "console:transfer",
    "console:close",
    "chat:transcript_text",
    "chat:transcript_pdf",
):
    SAMPLES[_name] = _care_chat
# Identity checks and account actions of the console (POST only).
_VERIFY_ACTIONS = (
    "verify_code",
    "verify_pin",
    "renew",
    "document",
    "sim_swap",
    "esim_reissue",
    "link_customer",
)
for _name in _VERIFY_ACTIONS:
    SAMPLES[f"console:{_name}"] = _care_chat


def _care_attachment(world: World) -> list[Sample]:
    from django.core.files.base import ContentFile

    from simcare.care.models import ChatAttachment, Message

    _care_chat(world)
    message = Message.objects.create(
        conversation=world.objects["care.conversation"],
        sender="visitor",
        body="bill.pdf",
        has_attachment=True,
    )
    attachment = ChatAttachment(
        message=message, name="bill.pdf", content_type="application/pdf", size=9
    )
    attachment.file.save("bill.pdf", ContentFile(b"%PDF-1.4\n%%EOF\n"), save=True)
    return [Sample({"message_id": str(message.pk)})]


SAMPLES["chat:attachment"] = _care_attachment


SAMPLES.update(
    {
        "portal:order_done": lambda world: [
            Sample({"order_id": str(world.objects["orders.order"].pk)})
        ],
        "portal:renew": lambda world: [Sample({"msisdn": world.line.msisdn})],
        "portal:renew_quote": lambda world: [
            Sample({"msisdn": world.line.msisdn}),
            Sample({"msisdn": world.line.msisdn}, query="plan=nope&coupon=NOPE"),
        ],
        "portal:auto_renew": lambda world: [Sample({"msisdn": world.line.msisdn})],
        "portal:esim": lambda world: [Sample({"msisdn": _esim_line(world).msisdn})],
        "portal:buy_esim": lambda world: [Sample({"plan_code": world.plan.code})],
        "portal:remove_card": lambda world: [
            Sample(
                {"card_id": str(SavedPaymentMethod.objects.order_by("pk").values("pk")[0]["pk"])}
            )
        ],
        "portal:usage": lambda world: [Sample({"msisdn": world.line.msisdn})],
    }
)


def _esim_line(world: World) -> Line:
    """The subscriber's eSIM line (made on first use), for the eSIM page."""
    existing = Line.objects.filter(subscriber=world.subscriber, kind=SimKind.ESIM).first()
    if existing is not None:
        return existing
    number = Number.objects.create(msisdn="+16475550188")
    sim = SimCard.objects.create(
        iccid=make_iccid("891230000099999988"),
        kind=SimKind.ESIM,
        smdp_address="smdp.example.com",
        matching_id="MATRIX-ESIM-1",
    )
    return line_services.activate_line(
        world.subscriber,
        world.plan,
        kind=SimKind.ESIM,
        acting_user=None,
        sim=sim,
        msisdn=number.msisdn,
    )


# Queries for parameterless URLs that need one to do their job.
QUERIES: dict[str, str] = {
    "admin:autocomplete": "app_label=accounts&model_name=subscriber&field_name=user&term=sub",
}


def everyone(outcome: str | frozenset[str]) -> dict[str, str | frozenset[str]]:
    return dict.fromkeys(ROLES, outcome)


_RECEIPT: dict[str, str | frozenset[str]] = {
    "anonymous": LOGIN,
    "subscriber": ALLOWED,
    "reseller": DENIED,
    "agent": ALLOWED,
    "clerk": DENIED,
    "admin": ALLOWED,
    "staff_without_otp": LOGIN,
}

_CONSOLE: dict[str, str | frozenset[str]] = {
    "anonymous": LOGIN,
    "subscriber": DENIED,
    "reseller": DENIED,
    "agent": DENIED,
    "clerk": ALLOWED,
    "admin": ALLOWED,
    "staff_without_otp": LOGIN,
}

_PORTAL: dict[str, str | frozenset[str]] = {
    **everyone(DENIED),
    "anonymous": LOGIN,
    "subscriber": ALLOWED,
}

# Expected outcome per role of every URL outside the admin.
EXPECTED: dict[str, dict[str, str | frozenset[str]]] = {
    "favicon.ico": everyone(ALLOWED),
    "healthz": everyone(ALLOWED),
    "readyz": everyone(frozenset({ALLOWED, UNAVAILABLE})),
    "metrics": everyone(ALLOWED),
    "set_language": everyone(NOT_GET),
    "accounts:login": everyone(ALLOWED),
    "accounts:logout": everyone(NOT_GET),
    "portal:home": everyone(ALLOWED),
    # The subscriber's own receipt; agents and admins see every order; the clerk's store
    # did not sell it; staff must have passed TOTP (sent to the admin's sign-in).
    "orders:receipt": _RECEIPT,
    "orders:receipt_pdf": _RECEIPT,
    # The API: its document and docs are public; /me takes a bearer token, never the
    # session, so every browser role is refused (401); unknown API paths are 404 problems.
    "api:openapi-json": everyone(ALLOWED),
    "api:openapi-view": everyone(ALLOWED),
    "api:api-root": everyone(DENIED),
    "api:unknown_endpoint": everyone(DENIED),
    "api:issue_token": everyone(NOT_GET),
    "api:list_my_lines": everyone(DENIED),
    "api:get_my_wallet": everyone(DENIED),
    "api:list_my_orders": everyone(DENIED),
    "api:redeem_voucher": everyone(NOT_GET),
    "api:renew_my_line": everyone(NOT_GET),
    # Token auth only: a browser session, whoever holds it, gets a 401.
    "api:my_line_usage": everyone(DENIED),
    # Provider webhooks: POST only, signed by the provider (tests/orders/test_cards.py, …).
    "payment_webhooks:stripe": everyone(NOT_GET),
    "payment_webhooks:paypal": everyone(NOT_GET),
    # A buyer's own payment return pages: the order's owner only, everyone else 404.
    "orders:payment_return": {**everyone(DENIED), "anonymous": LOGIN, "subscriber": ALLOWED},
    "orders:paypal_return": {**everyone(DENIED), "anonymous": LOGIN, "subscriber": ALLOWED},
    "orders:payment_cancelled": {**everyone(DENIED), "anonymous": LOGIN, "subscriber": ALLOWED},
    "orders:pay": everyone(NOT_GET),  # a form's POST (tests/orders/test_cards.py)
    "care:help": everyone(ALLOWED),
    "care:feedback": everyone(NOT_GET),
    # After-sales: the subscriber's own returns and reviews; agents and admins decide returns.
    **{
        key: {**everyone(DENIED), "anonymous": LOGIN, "subscriber": ALLOWED}
        for key in (
            "aftersales:returns",
            "aftersales:return_new",
            "aftersales:return_detail",
            "aftersales:portal_reviews",
            "aftersales:review_new",
        )
    },
    # the evidence photos: the owner, and the agents and admins deciding the request
    "aftersales:return_photo": {
        **everyone(DENIED),
        "anonymous": LOGIN,
        "subscriber": ALLOWED,
        "agent": ALLOWED,
        "admin": ALLOWED,
    },
    "aftersales:reviews": everyone(ALLOWED),
    # the returns API takes a bearer token, never the session
    "api:evaluate_my_return": everyone(DENIED),
    "api:file_my_return": everyone(DENIED),
    "api:list_my_returns": everyone(DENIED),
    "api:get_my_return": everyone(DENIED),
    **{
        key: {
            **everyone(DENIED),
            "anonymous": LOGIN,
            "staff_without_otp": LOGIN,
            "agent": ALLOWED,
            "admin": ALLOWED,
        }
        for key in ("aftersales:staff_returns", "aftersales:staff_return_detail")
    },
    "stores:locator": everyone(ALLOWED),
    # The clerk console: clerks of the store (the matrix clerk works TOR-99) and admins,
    # after TOTP; other people signed in are refused. Another store's pages: tests/stores.
    **{
        f"store_console:{name}": _CONSOLE
        for name in ("home", "store", "sell", "sale", "renew", "vouchers", "day", "day_csv")
    },
    # The hotline's Twilio webhooks and the SMS gateways' delivery reports: POST only and
    # signed (tests/ivr/, tests/notify/test_gateways.py); Kannel calls its dlr-url by GET
    # with a MAC in the query, which a bare GET lacks (403).
    **{
        f"ivr:{name}": everyone(NOT_GET)
        for name in (
            "voice",
            "language",
            "main",
            "menu",
            "pin",
            "renew",
            "voucher",
            "dialed",
            "recorded",
            "voicemail",
        )
    },
    "sms_gateways:twilio_status": everyone(NOT_GET),
    "sms_gateways:kannel_dlr": everyone(DENIED),
    # The reseller API takes a reseller's bearer key, never a session: 401 for every
    # browser role, the reseller's user included.
    "api:reseller_list_plans": everyone(DENIED),
    "api:reseller_place_order": everyone(DENIED),  # /orders: GET lists, POST places
    "api:reseller_list_orders": everyone(DENIED),
    "api:reseller_get_order": everyone(DENIED),
    "api:reseller_get_esim_qr": everyone(DENIED),
    "api:reseller_line_renewable": everyone(DENIED),
    "api:reseller_get_float": everyone(DENIED),
    "api:reseller_get_statement": everyone(DENIED),
    "api:reseller_list_deliveries": everyone(DENIED),
    # Registration is public (a signed-in person is sent on to where they were going).
    "accounts:register": everyone(ALLOWED),
    # The subscriber portal: subscribers only (their own lines and orders); anyone else
    # signed in gets the polite "use the console" page (403); POST-only forms are 405.
    "portal:dashboard": _PORTAL,
    "portal:wallet": _PORTAL,
    "portal:wallet_topup": everyone(NOT_GET),
    "portal:orders": _PORTAL,
    "portal:order_done": _PORTAL,
    "portal:renew": _PORTAL,
    "portal:renew_quote": _PORTAL,
    "portal:auto_renew": _PORTAL,
    "portal:esim": _PORTAL,
    "portal:buy_esim": _PORTAL,
    "portal:save_card": everyone(NOT_GET),
    "portal:remove_card": everyone(NOT_GET),
    "portal:usage": _PORTAL,
    "portal:notifications": _PORTAL,
    "portal:profile": _PORTAL,
    "portal:change_pin": everyone(NOT_GET),
    "portal:export": everyone(NOT_GET),
    "portal:close_account": _PORTAL,
    # Bearer-token endpoints: no session reaches them (401 for every client here).
    "api:get_my_profile": everyone(DENIED),
    "api:update_my_profile": everyone(DENIED),
    "api:export_my_data": everyone(DENIED),
}

# The agent console: agents and admins with TOTP; staff without it are sent to sign in.
_CONSOLE_PAGE: dict[str, str | frozenset[str]] = {
    "anonymous": LOGIN,
    "subscriber": DENIED,
    "reseller": DENIED,
    "agent": ALLOWED,
    "clerk": DENIED,
    "admin": ALLOWED,
    "staff_without_otp": LOGIN,
}
EXPECTED.update(
    {
        "console:home": _CONSOLE_PAGE,
        "console:queue": _CONSOLE_PAGE,
        "console:conversation": _CONSOLE_PAGE,
        **{
            f"console:{action}": everyone(NOT_GET)
            for action in ("availability", "accept", "decline", "send", "transfer", "close")
        },
        # Without the link's token: the agent of the chat and admins only.
        "chat:transcript_text": {**everyone(DENIED), "agent": ALLOWED, "admin": ALLOWED},
        "chat:transcript_pdf": {**everyone(DENIED), "agent": ALLOWED, "admin": ALLOWED},
        "chat:attachment": {**everyone(DENIED), "agent": ALLOWED, "admin": ALLOWED},
    }
)
EXPECTED.update({f"console:{action}": everyone(NOT_GET) for action in _VERIFY_ACTIONS})

# The admin: only verified staff get past the site's gate; the admin role (superuser)
# sees everything; agents and clerks are staff without model permissions, so they
# reach the index and their own password page and are refused every model page.
ADMIN_DEFAULT: dict[str, str | frozenset[str]] = {
    "anonymous": LOGIN,
    "subscriber": LOGIN,
    "reseller": LOGIN,
    "staff_without_otp": LOGIN,
    "agent": DENIED,
    "clerk": DENIED,
    "admin": ALLOWED,
}
_STAFF_PAGE = {"agent": ALLOWED, "clerk": ALLOWED}
ADMIN_EXPECTED: dict[str, dict[str, str | frozenset[str]]] = {
    "admin:login": everyone(ALLOWED),
    "admin:index": _STAFF_PAGE,
    "admin:password_change": _STAFF_PAGE,
    "admin:password_change_done": _STAFF_PAGE,
    "admin:jsi18n": _STAFF_PAGE,
    "admin:search": _STAFF_PAGE,
    # Signing out of the admin is a POST; a GET by someone not signed in goes to the index.
    "admin:logout": {"agent": NOT_GET, "clerk": NOT_GET, "admin": NOT_GET},
    # No model here has a public page to view on site.
    "admin:view_on_site": {"admin": DENIED},
    "<lang>/admin/(?P<url>.*)$": {"admin": DENIED},
}

# Views the admin role itself is refused: the read-only back office pages.
_READ_ONLY = frozenset({"add", "delete"})
ADMIN_REFUSED_VIEWS: dict[str, frozenset[str]] = {
    "accounts.subscriber": _READ_ONLY,  # created by registration, closed by the privacy service
    "accounts.auditevent": _READ_ONLY,
    "lines.number": frozenset({"add"}),  # stock comes in by CSV import
    "lines.simcard": frozenset({"add"}),
    "lines.line": _READ_ONLY,
    "lines.lineevent": _READ_ONLY,
    "lines.bucket": _READ_ONLY,
    "ledger.ledgeraccount": _READ_ONLY,
    "ledger.ledgertransaction": _READ_ONLY,
    "ledger.ledgerentry": _READ_ONLY,
    "notify.notification": _READ_ONLY,
    "ops.workerheartbeat": _READ_ONLY,
    "ops.jobrun": _READ_ONLY,
    "axes.accessattempt": frozenset({"add"}),
    "axes.accesslog": _READ_ONLY,
    "axes.accessfailurelog": _READ_ONLY,
    "orders.voucherbatch": _READ_ONLY,  # made by "Generate batch", never deleted (void it)
    "orders.voucher": _READ_ONLY,
    "orders.order": _READ_ONLY,  # written by the ordering service
    "orders.payment": _READ_ONLY,
    "orders.receipt": _READ_ONLY,
    "orders.savedpaymentmethod": _READ_ONLY,
    "orders.autorenewattempt": _READ_ONLY,
    "orders.autorenewsetting": _READ_ONLY,  # chosen by the customer on the portal
    "accounts.apitoken": _READ_ONLY,  # issued through the API only; revoked by an action
    "care.articlefeedback": _READ_ONLY,  # written by readers of the help center and the chat
    "aftersales.returnrequest": _READ_ONLY,  # every step is a service call on the agents' page
    "aftersales.review": _READ_ONLY,  # moderated by actions; written by customers only
    "care.conversation": _READ_ONLY,
    "care.ticket": _READ_ONLY,
    "usage.cdrimport": _READ_ONLY,
    "ivr.voicemail": _READ_ONLY,  # left by callers; staff only mark them handled
    "partners.reseller": frozenset({"delete"}),  # money history: deactivated, never deleted
    "partners.resellerapikey": _READ_ONLY,  # created on the reseller's page, shown once
    "partners.webhookevent": _READ_ONLY,  # the outbox and its delivery log
}


def _aftersales(world: World) -> dict[str, Model]:
    """A fulfilled SIM order of the world's subscriber, a return request with a photo, a review."""
    if "aftersales:return" not in world.objects:
        import io

        from PIL import Image

        from simcare.aftersales import services as aftersales_services
        from simcare.orders.models import Order, OrderKind, OrderState

        now = timezone.now()
        order = Order.objects.create(
            kind=OrderKind.NEW_LINE,
            channel="web",
            state=OrderState.FULFILLED,
            subscriber=world.subscriber,
            line=world.line,
            plan=world.plan,
            sim_kind=SimKind.PHYSICAL,
            payment_method="wallet",
            idempotency_key="matrix:sim-order",
            paid_at=now,
            fulfilled_at=now,
        )
        photo = io.BytesIO()
        Image.new("RGB", (8, 8)).save(photo, format="PNG")
        rma = aftersales_services.submit_return(
            world.subscriber,
            order,
            kind="quality",
            fault="damaged",
            idempotency_key="matrix:return",
            acting_user=None,
            photo_files=[photo.getvalue()],
        )
        review = aftersales_services.submit_review(
            world.subscriber,
            order,
            rating=4,
            text="Matrix review",
            language="en",
            about="plan",
            acting_user=None,
        )
        world.objects["aftersales:order"] = order
        world.objects["aftersales:return"] = rma
        world.objects["aftersales:photo"] = rma.photos.get()
        world.objects["aftersales:review"] = review
    return {
        key.removeprefix("aftersales:"): value
        for key, value in world.objects.items()
        if key.startswith("aftersales:")
    }


# --- walking the URLconf ---------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """One URL pattern with the chain of patterns leading to it."""

    chain: tuple[Any, ...]
    name: str | None
    namespaces: tuple[str, ...]
    pattern: URLPattern

    @property
    def is_i18n(self) -> bool:
        return any(isinstance(part, LocalePrefixPattern) for part in self.chain)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.namespaces

    @property
    def key(self) -> str:
        """The URL name, or the route of an unnamed pattern with "<lang>/" for the prefix."""
        if self.name:
            return ":".join((*self.namespaces, self.name))
        return "".join(
            "<lang>/" if isinstance(part, LocalePrefixPattern) else _pattern_text(part)
            for part in self.chain
        )

    @property
    def parameters(self) -> set[str]:
        names: set[str] = set()
        for part in self.chain:
            if isinstance(part, RoutePattern):
                names |= set(part.converters)
            elif isinstance(part, RegexPattern):
                names |= set(part.regex.groupindex)
        return names

    def model_admin(self) -> BaseModelAdmin | None:
        callback = self.pattern.callback
        owner = getattr(callback, "model_admin", None) or self.pattern.default_args.get(
            "model_admin"
        )
        # A custom view wrapped by admin_view(self.some_view): the first bound method
        # in the __wrapped__ chain belongs to the ModelAdmin.
        layer = callback
        while owner is None and layer is not None:
            owner = getattr(layer, "__self__", None)
            layer = getattr(layer, "__wrapped__", None)
        return owner if isinstance(owner, BaseModelAdmin) else None

    def path(self, language: str, kwargs: dict[str, str]) -> str:
        text = ""
        for part in self.chain:
            if isinstance(part, LocalePrefixPattern):
                text += f"{language}/"
            elif isinstance(part, RoutePattern):
                text += re.sub(r"<(?:\w+:)?(\w+)>", lambda match: kwargs[match.group(1)], str(part))
            else:
                regex = part.regex.pattern.removeprefix("^").removesuffix("$")
                text += re.sub(r"\(\?P<(\w+)>[^()]*\)", lambda match: kwargs[match.group(1)], regex)
        return "/" + text


def _pattern_text(part: Any) -> str:
    return part.regex.pattern.removeprefix("^") if isinstance(part, RegexPattern) else str(part)


def walk(
    resolver: URLResolver, chain: tuple[Any, ...] = (), namespaces: tuple[str, ...] = ()
) -> Iterator[Route]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            spaces = (*namespaces, entry.namespace) if entry.namespace else namespaces
            yield from walk(entry, (*chain, entry.pattern), spaces)
        else:
            yield Route((*chain, entry.pattern), entry.name, namespaces, entry)


def all_routes() -> list[Route]:
    return list(walk(get_resolver()))


_ADMIN_VIEW = re.compile(r"admin:\w+_(changelist|add|change|delete|history)$")


def admin_view_kind(route: Route) -> str:
    """changelist/add/change/delete/history, "object" for the object redirect, else ""."""
    match = _ADMIN_VIEW.match(route.key)
    if match and route.model_admin() is not None:
        return match.group(1)
    if route.name is None and route.model_admin() is not None:
        return "object"
    return ""


def expectations(route: Route) -> dict[str, str | frozenset[str]] | None:
    if not route.is_admin:
        return EXPECTED.get(route.key)
    expected = {**ADMIN_DEFAULT, **ADMIN_EXPECTED.get(route.key, {})}
    model_admin = route.model_admin()
    if model_admin is not None:
        refused = ADMIN_REFUSED_VIEWS.get(model_admin.model._meta.label_lower, frozenset())
        if admin_view_kind(route) in refused:
            expected["admin"] = DENIED
    return expected


def samples(route: Route, world: World) -> list[Sample] | None:
    """The parameter values to request route with; None when nobody registered any."""
    parameters = route.parameters
    query = QUERIES.get(route.key, "")
    if not parameters:
        return [Sample({}, query)]
    if route.key in SAMPLES:
        return SAMPLES[route.key](world)
    model_admin = route.model_admin()
    if model_admin is not None and len(parameters) == 1 and parameters <= {"object_id", "pk", "id"}:
        sample = SAMPLE_OBJECTS.get(model_admin.model._meta.label_lower)
        instance = sample(world) if sample is not None else None
        if instance is None:
            return None
        return [Sample({parameters.pop(): str(instance.pk)})]
    return None


def missing_registrations(world: World) -> list[str]:
    problems = []
    for route in all_routes():
        if samples(route, world) is None:
            problems.append(
                f"{route.key}: has parameters {sorted(route.parameters)} but no sample "
                "(add it to SAMPLES, or its model to SAMPLE_OBJECTS)"
            )
        if expectations(route) is None:
            problems.append(f"{route.key}: no expected outcome per role (add it to EXPECTED)")
    return problems


# --- requests and their outcomes -------------------------------------------------------------

_LOGIN_URL_NAMES = {"accounts:login", "admin:login"}
_OUTCOME_OF_STATUS = {401: DENIED, 403: DENIED, 404: DENIED, 405: NOT_GET, 503: UNAVAILABLE}


def _login_page(path: str) -> bool:
    try:
        match = resolve(path)
    except Resolver404:
        return False
    return match.view_name in _LOGIN_URL_NAMES


def outcome(client: Client, url: str) -> tuple[str, str]:
    """(outcome, trail of statuses and locations) of a GET that follows redirects in the site."""
    response = client.get(url)
    trail = [str(response.status_code)]
    for _hop in range(4):
        if response.status_code not in (301, 302, 303, 307, 308):
            break
        location = urlsplit(response["Location"])
        trail.append(location.path)
        if _login_page(location.path):
            return LOGIN, " ".join(trail)
        try:
            resolve(location.path)
        except Resolver404:
            return ALLOWED, " ".join(trail)  # e.g. the favicon's static file
        response = client.get(response["Location"])
        trail.append(str(response.status_code))
    status = response.status_code
    if 200 <= status < 300:
        return ALLOWED, " ".join(trail)
    return _OUTCOME_OF_STATUS.get(status, f"status {status}"), " ".join(trail)


def _client(user: User | None, *, verified: bool = False) -> Client:
    # A 500 must show up as a failed expectation, not stop the walk.
    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user, backend="simcare.accounts.backends.EmailOrPhoneBackend")
        if verified:
            session = client.session
            session[DEVICE_ID_SESSION_KEY] = TOTPDevice.objects.get(user=user).persistent_id
            session.save()
    return client


def _staff(role: Role, username: str) -> User:
    user = account_services.create_staff(username=username, password=PASSWORD, role=role)
    TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    return user


@pytest.fixture
def world(db: Any) -> World:
    subscriber = account_services.create_subscriber(
        username="matrix.subscriber",
        password=PASSWORD,
        email="matrix.subscriber@example.com",
        phone="+14165550199",
    )
    subscriber.id_document_type = "passport"
    subscriber.id_document_number = "AB1234567"
    subscriber.save()
    reseller = User.objects.create_user(username="matrix.reseller", password=PASSWORD)
    reseller.groups.add(Group.objects.get(name=Role.RESELLER))
    users = {
        "subscriber": subscriber.user,
        "reseller": reseller,
        "agent": _staff(Role.AGENT, "matrix.agent"),
        "clerk": _staff(Role.CLERK, "matrix.clerk"),
        "admin": _staff(Role.ADMIN, "matrix.admin"),
        "staff_without_otp": _staff(Role.ADMIN, "matrix.unverified"),
    }
    plan = Plan.objects.create(
        code="matrix30",
        name_en="Matrix 30",
        name_fr="Matrice 30",
        name_zh_hans="矩阵30",
        price_cents=3500,
        validity_days=30,
        data_mb=1024,
    )
    addon = AddOn.objects.create(
        code="matrixdata",
        name_en="Data 1 GB",
        name_fr="Données 1 Go",
        name_zh_hans="流量1GB",
        kind=UsageKind.DATA,
        quantity=1024,
        price_cents=1000,
        validity_days=30,
    )
    store = Store.objects.create(
        code="TOR-99",
        name="Matrix Store",
        address="1 Test St",
        city="Toronto",
        province="ON",
        postal_code="M5V 1A1",
        hours={"mon": [["10:00", "18:00"]]},
        services=["sim_sales"],
    )
    number = Number.objects.create(msisdn="+16475550123")
    sim = SimCard.objects.create(
        iccid=make_iccid("891230000099999999"), kind=SimKind.PHYSICAL, location="TOR-99"
    )
    line = line_services.activate_line(
        subscriber, plan, kind=SimKind.PHYSICAL, acting_user=None, sim=sim, msisdn=number.msisdn
    )
    Number.objects.create(msisdn="+16475550124")
    SimCard.objects.create(
        iccid=make_iccid("891230000099999998"), kind=SimKind.PHYSICAL, location="TOR-99"
    )
    ledger_services.transfer(
        kind="wallet_topup",
        source=ledger_services.system_account("clearing:stripe"),
        destination=ledger_services.wallet_for(subscriber),
        amount_cents=2000,
    )
    notification = Notification.objects.create(
        recipient=subscriber.user,
        channel=Channel.SMS,
        template="line.activated",
        status=NotificationStatus.FAILED,
        attempts=5,
        last_error="SmsRejected: unknown number",
    )
    call_command("jobs", "run", "heartbeat")  # a heartbeat and a job run
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    now = timezone.now()
    attempt_fields = {"user_agent": "pytest", "ip_address": "203.0.113.9", "path_info": "/"}
    objects: dict[str, Model] = {
        "axes.accessattempt": AccessAttempt.objects.create(
            username="someone", failures_since_start=1, attempt_time=now, **attempt_fields
        ),
        "axes.accesslog": AccessLog.objects.create(
            username="someone", attempt_time=now - dt.timedelta(minutes=1), **attempt_fields
        ),
        "axes.accessfailurelog": AccessFailureLog.objects.create(
            username="someone", attempt_time=now, **attempt_fields
        ),
        "usage.cdrimport": CdrImport.objects.create(
            file_name="cdr-2026-12-01.csv.gz",
            status="finished",
            finished_at=now,
            rows_read=10,
            applied=9,
            rejected=1,
        ),
    }
    _batch, issued = voucher_services.generate_batch(
        name="Matrix vouchers",
        value_cents=2500,
        count=2,
        expires_at=now + dt.timedelta(days=30),
        acting_user=users["admin"],
    )
    voucher_services.redeem_voucher(subscriber, issued[0][1], ip_address=None, acting_user=None)
    objects.update(_money_objects(subscriber, plan, addon, line))
    objects["ivr.voicemail"] = Voicemail.objects.create(
        call_sid="CA" + "0" * 32,
        caller=line.msisdn,
        subscriber=subscriber,
        recording_url="https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE0",
        duration_seconds=12,
        language="en",
    )
    objects["order"] = Order.objects.create(
        kind=OrderKind.WALLET_TOPUP,
        channel=SalesChannel.WEB,
        subscriber=subscriber,
        payment_method=PaymentMethod.CARD,
        idempotency_key="matrix:order:topup",
        subtotal_cents=2000,
        total_cents=2000,
    )
    objects["store_console.sale"] = _store_sale(store, users["clerk"], subscriber, plan)
    return World(users, subscriber, plan, addon, store, line, notification, objects)


def _money_objects(
    subscriber: Subscriber, plan: Plan, addon: AddOn, line: Line
) -> dict[str, Model]:
    """A fulfilled renewal paid by card with its receipt, a coupon, a promotion, a saved card
    and an auto-renew attempt."""
    now = timezone.now()
    coupon = Coupon.objects.create(code="MATRIX5", kind=DiscountKind.FIXED, amount_off_cents=500)
    order = Order.objects.create(
        kind=OrderKind.RENEWAL,
        channel=SalesChannel.WEB,
        state=OrderState.FULFILLED,
        subscriber=subscriber,
        line=line,
        plan=plan,
        subtotal_cents=3500,
        discount_cents=500,
        tax_cents=390,
        total_cents=3390,
        taxes=[{"name": "HST", "rate": "13", "amount_cents": 390}],
        province="ON",
        coupon=coupon,
        payment_method=PaymentMethod.CARD,
        idempotency_key="matrix:order:1",
        paid_at=now,
        fulfilled_at=now,
    )
    OrderItem.objects.create(
        order=order,
        kind=ItemKind.PLAN,
        code=plan.code,
        description=plan.name_en,
        unit_price_cents=3500,
        amount_cents=3500,
    )
    Payment.objects.create(
        order=order,
        method=PaymentMethod.CARD,
        provider="stripe",
        provider_reference="cs_test_matrix",
        status=PaymentStatus.SUCCEEDED,
        amount_cents=3390,
        completed_at=now,
    )
    Receipt.objects.create(order=order, language="en")
    promotion = Promotion.objects.create(
        name_en="Renew 3, get 1 GB",
        name_fr="Renouvelez 3, 1 Go offert",
        name_zh_hans="续费3期送1GB",
        kind=PromotionKind.RENEW_AHEAD_BONUS,
        bonus_addon=addon,
    )
    SavedPaymentMethod.objects.create(
        subscriber=subscriber,
        customer_reference="cus_matrix",
        method_reference="pm_matrix",
        brand="visa",
        last4="4242",
    )
    AutoRenewSetting.objects.create(line=line, data_topup_enabled=True, data_topup_addon=addon)
    AutoRenewAttempt.objects.create(
        line=line,
        period_end=now,
        attempt=1,
        due_at=now,
        status=AttemptStatus.FAILED,
        failure_code="wallet_short",
    )
    return {"orders.order": order, "orders.coupon": coupon, "orders.promotion": promotion}


def _kb_article() -> Model:
    from simcare.care.models import Article, ArticleTranslation

    article, created = Article.objects.get_or_create(slug="matrix-article", category="test")
    if created:
        ArticleTranslation.objects.create(
            article=article, language="en", question="Matrix?", alternatives=[], answer="Yes."
        )
    return article


def _kb_feedback() -> Model:
    from simcare.care.models import ArticleFeedback

    article = _kb_article()
    return ArticleFeedback.objects.filter(article=article).first() or (
        ArticleFeedback.objects.create(article=article, language="en", is_helpful=True)
    )


def _store_sale(store: Store, clerk: User, subscriber: Subscriber, plan: Plan) -> Order:
    """The matrix clerk works the matrix store and sold a SIM there for cash."""
    store.clerks.add(clerk)
    store.services = ["sim_sales", "renewals", "vouchers"]
    store.save()
    Number.objects.create(msisdn="+16475550125")
    sim = SimCard.objects.create(
        iccid=make_iccid("891230000099999997"),
        kind=SimKind.PHYSICAL,
        location="TOR-99",
        store=store,
    )
    return ordering.place_order(
        kind=OrderKind.NEW_LINE,
        channel=SalesChannel.STORE,
        subscriber=subscriber,
        payment_method=PaymentMethod.CASH,
        idempotency_key="matrix:store:1",
        acting_user=clerk,
        plan=plan,
        sim_kind=SimKind.PHYSICAL,
        sim=sim,
        store=store,
    )


# --- the tests ---------------------------------------------------------------------------------


def test_every_url_pattern_has_samples_and_expectations(world: World) -> None:
    assert missing_registrations(world) == []


def test_every_registered_admin_model_has_a_sample_object() -> None:
    registered = {model._meta.label_lower for model in admin.site._registry}

    assert sorted(registered - set(SAMPLE_OBJECTS)) == []


@pytest.fixture
def quiet_refusals() -> Iterator[None]:
    """Each refusal logs a warning with its traceback: hundreds of them cost seconds and bury
    the report. Server errors (level ERROR) are still logged."""
    logger = logging.getLogger("django.request")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


@pytest.mark.usefixtures("quiet_refusals")
def test_access_matrix(world: World) -> None:
    # given
    clients = {
        "anonymous": _client(None),
        "subscriber": _client(world.users["subscriber"]),
        "reseller": _client(world.users["reseller"]),
        "agent": _client(world.users["agent"], verified=True),
        "clerk": _client(world.users["clerk"], verified=True),
        "admin": _client(world.users["admin"], verified=True),
        "staff_without_otp": _client(world.users["staff_without_otp"], verified=False),
    }
    routes = all_routes()
    problems = missing_registrations(world)
    mismatches: list[str] = []
    requests = 0

    # when
    for index, route in enumerate(routes):
        expected = expectations(route)
        route_samples = samples(route, world)
        if expected is None or route_samples is None:
            continue  # reported by missing_registrations
        if not route.is_i18n:
            languages: tuple[str, ...] = ("",)
        elif route.is_admin:
            languages = (LANGUAGES[index % len(LANGUAGES)],)
        else:
            languages = LANGUAGES
        for language in languages:
            for sample in route_samples:
                url = route.path(language, sample.kwargs)
                if sample.query or QUERIES.get(route.key):
                    url += "?" + (sample.query or QUERIES[route.key])
                for role in ROLES:
                    with translation.override(language or settings.LANGUAGE_CODE):
                        got, trail = outcome(clients[role], url)
                    requests += 1
                    wanted = expected[role]
                    accepted = wanted if isinstance(wanted, frozenset) else {wanted}
                    if got not in accepted:
                        mismatches.append(
                            f"{role:>17} GET {url}: expected {wanted}, got {got} ({trail})"
                        )

    # then
    assert problems == []
    assert mismatches == []
    assert requests > len(routes) * len(ROLES)


# --- care tickets, ratings and reports (the tickets work) ------------------------------------


def _care_ticket(world: World) -> Model:
    """The matrix subscriber's web ticket with an agent's reply carrying a PDF."""
    from django.core.files.base import ContentFile

    from simcare.care import ticket_services

    if "care:matrix_ticket" not in world.objects:
        ticket = ticket_services.create_ticket(
            source="web",
            subject="Matrix question",
            body="Does roaming work?",
            actor=None,
            user=world.subscriber.user,
        )
        message = ticket_services.reply(
            ticket, actor=world.users["agent"], body="See the PDF", sender="agent"
        )
        message.attachment.save("answer.pdf", ContentFile(b"%PDF-1.4\n%%EOF\n"), save=False)
        message.attachment_name = "answer.pdf"
        message.attachment_content_type = "application/pdf"
        message.save()
        world.objects["care:matrix_ticket"] = ticket
        world.objects["care:matrix_ticket_message"] = message
    return world.objects["care:matrix_ticket"]


def _ticket_sample(world: World) -> list[Sample]:
    return [Sample({"number": str(_care_ticket(world).number)})]  # type: ignore[attr-defined]


def _ticket_file_sample(world: World) -> list[Sample]:
    ticket = _care_ticket(world)
    message = world.objects["care:matrix_ticket_message"]
    return [Sample({"number": str(ticket.number), "message_id": str(message.pk)})]  # type: ignore[attr-defined]


def _rating_sample(world: World) -> list[Sample]:
    from simcare.care import ticket_services

    return [Sample({"token": ticket_services.rating_token(_care_ticket(world))})]  # type: ignore[arg-type]


def _care_rating(world: World) -> Model | None:
    from simcare.care.models import SatisfactionRating

    _care_chat(world)
    rating, _created = SatisfactionRating.objects.get_or_create(
        conversation=world.objects["care.conversation"], defaults={"score": 4}
    )
    return rating


for _name in ("console:ticket", "console:ticket_reply", "console:ticket_update"):
    SAMPLES[_name] = _ticket_sample
SAMPLES["console:ticket_close"] = _ticket_sample
SAMPLES["console:ticket_attachment"] = _ticket_file_sample
SAMPLES["console:escalate"] = _care_chat
SAMPLES["care:my_ticket"] = _ticket_sample
SAMPLES["care:my_ticket_attachment"] = _ticket_file_sample
SAMPLES["care:rate_ticket"] = _rating_sample
SAMPLE_OBJECTS["care.slapolicy"] = lambda world: _first_model("care", "SlaPolicy")
SAMPLE_OBJECTS["care.satisfactionrating"] = _care_rating
ADMIN_REFUSED_VIEWS["care.satisfactionrating"] = _READ_ONLY  # given by customers only


def _first_model(app: str, name: str) -> Model | None:
    from django.apps import apps

    return apps.get_model(app, name)._default_manager.order_by("pk").first()


# The customer's own tickets: the owner; anyone else signed in gets a 404.
_OWN_TICKET: dict[str, str | frozenset[str]] = {
    **everyone(DENIED),
    "anonymous": LOGIN,
    "subscriber": ALLOWED,
}
EXPECTED.update(
    {
        "console:tickets": _CONSOLE_PAGE,
        "console:ticket": _CONSOLE_PAGE,
        "console:ticket_attachment": _CONSOLE_PAGE,
        **{
            f"console:{action}": everyone(NOT_GET)
            for action in ("ticket_reply", "ticket_update", "ticket_close", "escalate")
        },
        # Care admins and team leads (the matrix agent leads no team).
        "console:reports": {**_CONSOLE_PAGE, "agent": DENIED},
        "care:contact": everyone(ALLOWED),
        "care:my_tickets": {**everyone(ALLOWED), "anonymous": LOGIN},
        "care:my_ticket": _OWN_TICKET,
        "care:my_ticket_attachment": _OWN_TICKET,
        # The signed link is the key: no sign-in needed (an open ticket shows "not yet").
        "care:rate_ticket": everyone(ALLOWED),
    }
)
