"""Resellers: keys, wholesale orders on the float, float top-ups, statements, signed webhooks.

Orders go through simcare.orders.services.ordering.place_order with
payment_method reseller_float: the float (ledger account "float:<slug>") is
debited at the wholesale price in the transaction that fulfils the order, and
a float that cannot cover it refuses with insufficient_float and writes
nothing. A ResellerOrder row, inserted first, makes external_order_no
idempotent (see its docstring); the order's own idempotency key
"reseller:<id>:<external_order_no>" is a second guard.

Webhooks: ordering calls queue_order_event in the transaction that fulfils,
fails or refunds a reseller's order, so the outbox row exists exactly when the
change does. deliver_due_webhooks (the `webhooks` job) POSTs each event with
`Simcare-Signature: t=<unix>,v1=<hex HMAC-SHA256("<t>.<body>", secret)>`,
retrying non-2xx answers after RETRY_DELAYS until 24 hours have passed.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import json
import secrets
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from simcare.accounts.models import Subscriber, User
from simcare.accounts.services import create_subscriber, record_audit
from simcare.catalog.models import AddOn, Plan
from simcare.kit import egress
from simcare.kit.money import CURRENCY
from simcare.kit.phone import InvalidPhoneNumber, normalize_msisdn
from simcare.kit.problems import TooManyRequests
from simcare.ledger import services as ledger
from simcare.ledger.models import LedgerEntry, LedgerTransaction, TransactionKind
from simcare.lines import esim
from simcare.lines.models import Line, LineState, SimKind
from simcare.orders import errors as order_errors
from simcare.orders.models import Order, OrderKind, PaymentMethod, SalesChannel
from simcare.orders.services import ordering
from simcare.partners import errors
from simcare.partners.models import (
    DeliveryStatus,
    Reseller,
    ResellerApiKey,
    ResellerOrder,
    WebhookAttempt,
    WebhookEvent,
    WholesalePrice,
)
from simcare.stores.models import Store

API_KEY_PREFIX = "rsk_"
_PREFIX_LENGTH = len(API_KEY_PREFIX) + 8
_LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
# A key's row (with its reseller) is kept this long in the shared cache, so a request does
# not read it again; revoking a key or changing its reseller through the services or the
# admin drops the entry at once, a change made any other way counts within this time.
KEY_CACHE_SECONDS = 5

# The API's order kinds and the orders app's.
KIND_TO_ORDER = {"renewal": OrderKind.RENEWAL, "addon": OrderKind.ADDON, "new_esim": "new_line"}
ORDER_TO_KIND = {value: key for key, value in KIND_TO_ORDER.items()}

WEBHOOK_EVENTS = ("order.fulfilled", "order.failed", "order.refunded")
# After the first try: 1 min, 5 min, 30 min, 2 h, 6 h, 12 h; given up 24 h after the event.
RETRY_DELAYS = tuple(
    dt.timedelta(seconds=seconds) for seconds in (60, 300, 1800, 7200, 21600, 43200)
)
RETRY_WINDOW = dt.timedelta(hours=24)
WEBHOOK_TIMEOUT_SECONDS = 10.0
# A claimed delivery is retried by a later run if the claiming run died mid-send.
_CLAIM_LEASE = dt.timedelta(seconds=WEBHOOK_TIMEOUT_SECONDS * 3)
SIGNATURE_HEADER = "Simcare-Signature"


# --- resellers and their keys ----------------------------------------------------------------


def new_webhook_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


@transaction.atomic
def create_reseller(
    *,
    name: str,
    slug: str,
    acting_user: User | None,
    user: User | None = None,
    webhook_url: str = "",
    rate_limit_per_second: int | None = None,
) -> Reseller:
    """A reseller with a fresh webhook secret and its float account opened."""
    reseller = Reseller(
        name=name,
        slug=slug,
        user=user,
        webhook_url=webhook_url,
        webhook_secret=new_webhook_secret(),
    )
    if rate_limit_per_second is not None:
        reseller.rate_limit_per_second = rate_limit_per_second
    reseller.full_clean()
    reseller.save()
    ledger.reseller_float(reseller.owner_ref)
    record_audit("reseller.created", actor=acting_user, target=reseller, slug=slug)
    return reseller


@transaction.atomic
def rotate_webhook_secret(reseller: Reseller, *, acting_user: User | None) -> str:
    reseller.webhook_secret = new_webhook_secret()
    reseller.save(update_fields=["webhook_secret"])
    record_audit("reseller.webhook_secret_rotated", actor=acting_user, target=reseller)
    return reseller.webhook_secret


def _key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def issue_api_key(
    reseller: Reseller, *, label: str = "", acting_user: User | None, now: dt.datetime | None = None
) -> tuple[ResellerApiKey, str]:
    """A new key (≥ 32 random bytes); returns the row and the key, shown this once."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    row = ResellerApiKey.objects.create(
        reseller=reseller,
        label=label[:80],
        prefix=key[:_PREFIX_LENGTH],
        key_hash=_key_digest(key),
        created_at=now or timezone.now(),
    )
    record_audit("reseller.api_key_issued", actor=acting_user, target=reseller, prefix=row.prefix)
    return row, key


@transaction.atomic
def revoke_api_key(
    key: ResellerApiKey, *, acting_user: User | None, now: dt.datetime | None = None
) -> bool:
    """Revoke the key; False when it already was."""
    revoked = ResellerApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
        revoked_at=now or timezone.now()
    )
    if revoked:
        key.refresh_from_db(fields=["revoked_at"])
        forget_keys(key.reseller)
        record_audit(
            "reseller.api_key_revoked", actor=acting_user, target=key.reseller, prefix=key.prefix
        )
    return bool(revoked)


def _key_cache_key(digest: str) -> str:
    return f"partners:key:{digest}"


def forget_keys(reseller: Reseller) -> None:
    """Drop the reseller's keys from the lookup cache (after a revocation or a change)."""
    digests = ResellerApiKey.objects.filter(reseller=reseller).values_list("key_hash", flat=True)
    cache.delete_many([_key_cache_key(digest) for digest in digests])


def key_for_token(
    token: str, *, now: dt.datetime | None = None, cached: bool = False
) -> ResellerApiKey | None:
    """The live key of an active reseller this bearer token is, else None; notes its use.

    cached=True (the API's authentication): the row found is kept KEY_CACHE_SECONDS in the
    shared cache under the token's SHA-256 (never the token itself), so the next requests
    do not read it; revoke_api_key and forget_keys drop it."""
    if not token.startswith(API_KEY_PREFIX) or len(token) > 200:
        return None
    digest = _key_digest(token)
    row: ResellerApiKey | None = cache.get(_key_cache_key(digest)) if cached else None
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        row = _live_key(token, digest)
        if row is None:
            return None
        if cached:
            cache.set(_key_cache_key(digest), row, KEY_CACHE_SECONDS)
    now = now or timezone.now()
    if row.last_used_at is None or row.last_used_at < now - _LAST_USED_RESOLUTION:
        ResellerApiKey.objects.filter(pk=row.pk).update(last_used_at=now)
        row.last_used_at = now
        if cached:
            cache.set(_key_cache_key(digest), row, KEY_CACHE_SECONDS)
    return row


def _live_key(token: str, digest: str) -> ResellerApiKey | None:
    candidates = ResellerApiKey.objects.select_related("reseller").filter(
        prefix=token[:_PREFIX_LENGTH], revoked_at__isnull=True, reseller__is_active=True
    )
    for row in candidates:
        if hmac.compare_digest(row.key_hash, digest):
            return row
    return None


def check_rate_limit(key: ResellerApiKey, *, now: float | None = None) -> None:
    """A fixed one-second window per key in the shared cache (Redis when REDIS_URL is set);
    over the reseller's limit → TooManyRequests with the seconds to the next window."""
    moment = time.time() if now is None else now
    window = int(moment)
    cache_key = f"partners:rate:{key.pk}:{window}"
    if cache.add(cache_key, 1, timeout=5):
        count = 1
    else:
        try:
            count = cache.incr(cache_key)
        except ValueError:  # expired between add and incr
            cache.add(cache_key, 1, timeout=5)
            count = 1
    if count > key.reseller.rate_limit_per_second:
        raise TooManyRequests(retry_after=max(1, int(window + 1 - moment + 0.999)))


# --- prices and orders -----------------------------------------------------------------------


def wholesale_price_cents(reseller: Reseller, plan: Plan) -> int:
    """The reseller's price for one period of the plan; the retail price where none is set."""
    price = WholesalePrice.objects.filter(reseller=reseller, plan=plan).first()
    return price.price_cents if price is not None else plan.price_cents


def wholesale_prices(reseller: Reseller) -> dict[int, int]:
    return dict(
        WholesalePrice.objects.filter(reseller=reseller).values_list("plan_id", "price_cents")
    )


@dataclass(frozen=True)
class Customer:
    email: str = ""
    phone: str = ""
    language: str = ""


def _fingerprint(**request: Any) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()


def _normalized_msisdn(msisdn: str) -> str:
    try:
        return normalize_msisdn(msisdn)
    except InvalidPhoneNumber:
        raise errors.ResellerLineNotRenewable() from None


def renewable_line(msisdn: str) -> Line | None:
    """The live line with this number, if it can be renewed (active, grace or suspended)."""
    try:
        number = normalize_msisdn(msisdn)
    except InvalidPhoneNumber:
        return None
    return (
        Line.objects.select_related("plan", "subscriber__user")
        .filter(msisdn=number)
        .exclude(state=LineState.RECYCLED)
        .order_by("-activated_at", "-id")
        .first()
    )


def _new_customer(reseller: Reseller, customer: Customer) -> Subscriber:
    """The eSIM's owner: a subscriber without a password, reached at the contact given when it
    is free (an address another account uses is not attached to this one)."""
    language = customer.language if customer.language in dict(settings.LANGUAGES) else "en"
    email = customer.email.strip() or None
    if email and User.objects.filter(email__iexact=email).exists():
        email = None
    phone: str | None = None
    if customer.phone:
        try:
            phone = normalize_msisdn(customer.phone)
        except InvalidPhoneNumber:
            phone = None
        if phone and User.objects.filter(phone=phone).exists():
            phone = None
    return create_subscriber(
        username=f"{reseller.slug}-{uuid.uuid4().hex[:12]}",
        password=None,
        email=email,
        phone=phone,
        language=language,
    )


@transaction.atomic
def place_reseller_order(
    reseller: Reseller,
    *,
    external_order_no: str,
    kind: str,
    plan_code: str,
    msisdn: str | None = None,
    customer: Customer | None = None,
    now: dt.datetime | None = None,
) -> tuple[Order, bool]:
    """Place and fulfil the order on the float; (order, created).

    The same external_order_no with the same request → (the first order, False);
    with another → IdempotencyConflict. Refusals: UnknownPlan, MsisdnRequired,
    ResellerLineNotRenewable, LineNotActive, InsufficientFloat, NoSimAvailable; each
    writes nothing.
    """
    now = now or timezone.now()
    customer = customer or Customer()
    number = _normalized_msisdn(msisdn) if msisdn else None
    fingerprint = _fingerprint(
        kind=kind,
        plan_code=plan_code,
        msisdn=number,
        customer=[customer.email, customer.phone, customer.language]
        if kind == "new_esim"
        else None,
    )
    try:
        with transaction.atomic():
            claim = ResellerOrder.objects.create(
                reseller=reseller,
                external_order_no=external_order_no,
                request_fingerprint=fingerprint,
                kind=kind,
                created_at=now,
            )
    except IntegrityError:
        winner = ResellerOrder.objects.select_related("order").get(
            reseller=reseller, external_order_no=external_order_no
        )
        if winner.request_fingerprint != fingerprint or winner.order is None:
            raise order_errors.IdempotencyConflict(order=winner.order_id) from None
        return winner.order, False

    order = _place(
        reseller,
        external_order_no=external_order_no,
        kind=kind,
        plan_code=plan_code,
        number=number,
        customer=customer,
        now=now,
    )
    order.external_reference = external_order_no
    Order.objects.filter(pk=order.pk).update(external_reference=external_order_no)
    claim.order = order
    claim.save(update_fields=["order"])
    order.reseller_order = claim  # its document needs no read back
    return order, True


def _place(
    reseller: Reseller,
    *,
    external_order_no: str,
    kind: str,
    plan_code: str,
    number: str | None,
    customer: Customer,
    now: dt.datetime,
) -> Order:
    common: dict[str, Any] = {
        "channel": SalesChannel.RESELLER,
        "payment_method": PaymentMethod.RESELLER_FLOAT,
        "idempotency_key": "",
        "acting_user": reseller.user,
        "reseller_ref": reseller.owner_ref,
        "now": now,
    }
    try:
        if kind == "addon":
            addon = AddOn.objects.filter(code=plan_code, is_active=True).first()
            if addon is None:
                raise errors.UnknownPlan(plan=plan_code)
            line = _line_for_order(number)
            return _order(
                reseller,
                kind=OrderKind.ADDON,
                addon=addon,
                line=line,
                common=common,
                external_order_no=external_order_no,
            )
        # The plan and this reseller's price for it in one query.
        plan = (
            Plan.objects.filter(code=plan_code)
            .annotate(
                wholesale_cents=Subquery(
                    WholesalePrice.objects.filter(reseller=reseller, plan=OuterRef("pk")).values(
                        "price_cents"
                    )[:1]
                )
            )
            .first()
        )
        if plan is None or (kind == "new_esim" and not plan.is_active):
            raise errors.UnknownPlan(plan=plan_code)
        wholesale = getattr(plan, "wholesale_cents", None)
        price = wholesale if wholesale is not None else plan.price_cents
        if kind == "renewal":
            line = _line_for_order(number)
            return _order(
                reseller,
                kind=OrderKind.RENEWAL,
                plan=plan,
                line=line,
                common=common,
                unit_price_cents=price,
                external_order_no=external_order_no,
            )
        subscriber = _new_customer(reseller, customer)
        return _order(
            reseller,
            kind=OrderKind.NEW_LINE,
            plan=plan,
            subscriber=subscriber,
            sim_kind=SimKind.ESIM,
            common=common,
            unit_price_cents=price,
            external_order_no=external_order_no,
        )
    except order_errors.WalletShort as short:
        raise errors.InsufficientFloat(
            balance_cents=short.details.get("balance_cents"),
            total_cents=short.details.get("total_cents"),
        ) from None


def _line_for_order(number: str | None) -> Line:
    if number is None:
        raise errors.MsisdnRequired()
    line = renewable_line(number)
    if line is None:
        raise errors.ResellerLineNotRenewable()
    return line


def _order(
    reseller: Reseller,
    *,
    kind: str,
    common: dict[str, Any],
    external_order_no: str,
    plan: Plan | None = None,
    addon: AddOn | None = None,
    line: Line | None = None,
    subscriber: Subscriber | None = None,
    sim_kind: str = "",
    unit_price_cents: int | None = None,
) -> Order:
    return ordering.place_order(
        **{**common, "idempotency_key": f"reseller:{reseller.pk}:{external_order_no}"},
        kind=kind,
        subscriber=subscriber if subscriber is not None else (line.subscriber if line else None),
        plan=plan,
        addon=addon,
        line=line,
        sim_kind=sim_kind,
        unit_price_cents=unit_price_cents,
    )


def orders_of(reseller: Reseller) -> QuerySet[Order]:
    """Only this reseller's orders: another's is simply not there (404)."""
    return Order.objects.filter(reseller_ref=reseller.owner_ref, channel=SalesChannel.RESELLER)


def order_of(reseller: Reseller, order_id: int) -> Order:
    """This reseller's order, else Order.DoesNotExist."""
    return (
        orders_of(reseller)
        .select_related("plan", "addon", "line__sim", "reseller_order")
        .get(pk=order_id)
    )


def public_base_url() -> str:
    return str(settings.SIMCARE_PUBLIC_BASE_URL).rstrip("/")


def esim_details(order: Order) -> dict[str, str] | None:
    """The activation code and QR image URL of a fulfilled new_esim order, else None."""
    if order.kind != OrderKind.NEW_LINE or order.fulfilled_at is None or order.line is None:
        return None
    sim = order.line.sim
    if sim is None or sim.kind != SimKind.ESIM:
        return None
    return {
        "activation_code": esim.activation_code(sim),
        "qr_url": f"{public_base_url()}/api/v1/orders/{order.pk}/esim-qr.png",
    }


def order_document(order: Order, *, external_order_no: str | None = None) -> dict[str, Any]:
    """The order as the API and the webhooks show it to its reseller."""
    if external_order_no is not None:
        external = external_order_no
    else:
        try:
            external = order.reseller_order.external_order_no
        except ResellerOrder.DoesNotExist:
            external = _external_order_no(order)
    return {
        "id": order.pk,
        "number": order.number,
        "external_order_no": external,
        "kind": ORDER_TO_KIND.get(order.kind, order.kind),
        "state": order.state,
        "plan_code": order.plan.code if order.plan is not None else None,
        "addon_code": order.addon.code if order.addon is not None else None,
        "msisdn": order.line.msisdn if order.line is not None else None,
        "currency": CURRENCY,
        "subtotal_cents": order.subtotal_cents,
        "tax_cents": order.tax_cents,
        "total_cents": order.total_cents,
        "refunded_cents": order.refunded_cents,
        "created_at": order.created_at.isoformat(),
        "fulfilled_at": order.fulfilled_at.isoformat() if order.fulfilled_at else None,
        "esim": esim_details(order),
    }


# --- the float -------------------------------------------------------------------------------


def float_balance_cents(reseller: Reseller) -> int:
    return int(ledger.reseller_float(reseller.owner_ref).cached_balance_cents)


def float_movements(reseller: Reseller, *, limit: int = 50) -> list[dict[str, Any]]:
    account = ledger.reseller_float(reseller.owner_ref)
    entries = (
        LedgerEntry.objects.filter(account=account)
        .select_related("transaction")
        .order_by("-created_at", "-id")[:limit]
    )
    return [
        {
            "at": entry.created_at,
            "amount_cents": entry.amount_cents,
            "kind": entry.transaction.kind,
            "reference": entry.transaction.reference,
        }
        for entry in entries
    ]


def _top_up_source(source: str) -> Any:
    if source.startswith("cash:"):
        store = Store.objects.filter(code=source.removeprefix("cash:")).first()
        if store is None:
            raise errors.InvalidTopUp(source=source)
        return ledger.store_drawer(store)
    if not source.startswith("clearing:"):
        raise errors.InvalidTopUp(source=source)
    return ledger.system_account(source)


@transaction.atomic
def top_up_float(
    reseller: Reseller,
    *,
    amount_cents: int,
    source: str,
    reference: str,
    idempotency_key: str,
    acting_user: User | None,
) -> LedgerTransaction:
    """Money the reseller paid us (a bank transfer in clearing:bank, cash at a store's drawer
    "cash:<store code>") into its float; idempotent on idempotency_key; audited."""
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int) or amount_cents <= 0:
        raise errors.InvalidTopUp(amount_cents=amount_cents)
    txn = ledger.transfer(
        kind=TransactionKind.FLOAT_TOPUP,
        source=_top_up_source(source),
        destination=ledger.reseller_float(reseller.owner_ref),
        amount_cents=amount_cents,
        idempotency_key=f"float-topup:{reseller.pk}:{idempotency_key}",
        memo=f"float top-up {reseller.slug}"[:200],
        reference=reference[:100],
    )
    record_audit(
        "reseller.float_topped_up",
        actor=acting_user,
        target=reseller,
        amount_cents=amount_cents,
        source=source,
        transaction=txn.pk,
    )
    return txn


# --- statements ------------------------------------------------------------------------------

STATEMENT_COLUMNS = (
    "order_number",
    "external_order_no",
    "created_at",
    "kind",
    "state",
    "plan_code",
    "msisdn",
    "subtotal_cents",
    "tax_cents",
    "total_cents",
    "refunded_cents",
)


def month_bounds(month: str) -> tuple[dt.datetime, dt.datetime]:
    """ "2026-11" → its first instant and the next month's, in the business time zone."""
    try:
        year, number = (int(part) for part in month.split("-"))
        zone = ZoneInfo(settings.BUSINESS_TIME_ZONE)
        start = dt.datetime(year, number, 1, tzinfo=zone)
    except ValueError:
        raise errors.InvalidStatementMonth(month=month) from None
    end = dt.datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone)
    return start, end


def statement_csv(reseller: Reseller, month: str) -> str:
    """The month's orders with their amounts, then a total row, for reconciliation."""
    start, end = month_bounds(month)
    orders = (
        orders_of(reseller)
        .filter(created_at__gte=start, created_at__lt=end)
        .select_related("plan", "addon", "line", "reseller_order")
        .order_by("created_at", "id")
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(STATEMENT_COLUMNS)
    totals = [0, 0, 0, 0]
    for order in orders:
        document = order_document(order)
        writer.writerow(
            [
                document["number"],
                _csv_safe(document["external_order_no"]),
                document["created_at"],
                document["kind"],
                document["state"],
                document["plan_code"] or document["addon_code"] or "",
                document["msisdn"] or "",
                order.subtotal_cents,
                order.tax_cents,
                order.total_cents,
                order.refunded_cents,
            ]
        )
        totals = [
            totals[0] + order.subtotal_cents,
            totals[1] + order.tax_cents,
            totals[2] + order.total_cents,
            totals[3] + order.refunded_cents,
        ]
    writer.writerow(["total", "", "", "", "", "", "", *totals])
    return buffer.getvalue()


def _csv_safe(value: str) -> str:
    """A reseller's own text cannot become a spreadsheet formula."""
    return "'" + value if value[:1] in {"=", "+", "-", "@", "\t", "\r"} else value


# --- webhooks --------------------------------------------------------------------------------


def signature(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify_signature(
    secret: str, body: bytes, header: str, *, tolerance: int | None = None, now: float | None = None
) -> bool:
    """What a receiver does: recompute v1 from t and the raw body; optionally refuse old t."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if tolerance is not None and abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = signature(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def _external_order_no(order: Order) -> str:
    # The order's key is "reseller:<id>:<external_order_no>" (place_reseller_order), so the
    # number is known inside the placing transaction, before the ResellerOrder points at it.
    return order.external_reference or order.idempotency_key.split(":", 2)[-1]


def queue_order_event(order: Order, event: str) -> WebhookEvent | None:
    """Write the event to the outbox in the caller's transaction (ordering calls this with
    the order as it just saved it)."""
    if event not in WEBHOOK_EVENTS or not order.reseller_ref:
        return None
    reseller = Reseller.objects.filter(slug=order.reseller_ref).first()
    if reseller is None:
        return None
    row = order_event_row(order, event, reseller)
    if row is not None:
        row.save(force_insert=True)
    return row


def order_event_row(order: Order, event: str, reseller: Reseller) -> WebhookEvent | None:
    """queue_order_event's outbox row for the order's reseller, not saved (a batch of orders
    inserts many at once); None when the reseller has no webhook URL."""
    if event not in WEBHOOK_EVENTS or not reseller.webhook_url:
        return None
    now = timezone.now()
    event_id = uuid.uuid4()
    body = {
        "id": str(event_id),
        "type": event,
        "created_at": now.isoformat(),
        "data": {"order": order_document(order, external_order_no=_external_order_no(order))},
    }
    return WebhookEvent(
        id=event_id,
        reseller=reseller,
        event=event,
        order=order,
        body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        created_at=now,
        next_attempt_at=now,
    )


@dataclass(frozen=True)
class SendResult:
    status_code: int | None
    error: str
    duration_ms: int


def send_webhook(url: str, body: bytes, headers: dict[str, str]) -> SendResult:
    """One POST with a timeout; never raises for the network's or the receiver's failures."""
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310
    started = time.monotonic()
    status: int | None = None
    error = ""
    try:
        # Public addresses only (kit.egress), checked where it connects, redirects included.
        with egress.opener().open(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
            status = int(response.status)
            response.read(1024)
    except urllib.error.HTTPError as failure:
        status = int(failure.code)
    except (urllib.error.URLError, OSError, ValueError) as failure:
        reason = getattr(failure, "reason", failure)
        error = f"{type(failure).__name__}: {reason}"[:300]
    duration = int((time.monotonic() - started) * 1000)
    return SendResult(status, error, duration)


def next_attempt_after(
    delivery: WebhookEvent, attempts: int, now: dt.datetime
) -> dt.datetime | None:
    """When to try again after `attempts` failed tries; None once 24 hours would be over."""
    if attempts > len(RETRY_DELAYS):
        return None
    moment = now + RETRY_DELAYS[attempts - 1]
    return moment if moment <= delivery.created_at + RETRY_WINDOW else None


def _claim(delivery_id: uuid.UUID, now: dt.datetime) -> bool:
    return bool(
        WebhookEvent.objects.filter(
            pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now
        ).update(next_attempt_at=now + _CLAIM_LEASE)
    )


def attempt_delivery(delivery: WebhookEvent, *, now: dt.datetime | None = None) -> WebhookAttempt:
    """POST the event once, log the attempt, and schedule the next or close the delivery."""
    now = now or timezone.now()
    reseller = delivery.reseller
    body = delivery.body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "simcare-webhooks/1",
        "Simcare-Event": delivery.event,
        "Simcare-Delivery": str(delivery.pk),
        SIGNATURE_HEADER: signature(reseller.webhook_secret, body, int(now.timestamp())),
    }
    if not reseller.webhook_url:
        result = SendResult(None, "no webhook URL", 0)
    else:
        result = send_webhook(reseller.webhook_url, body, headers)
    with transaction.atomic():
        attempt = WebhookAttempt.objects.create(
            delivery=delivery,
            attempted_at=now,
            status_code=result.status_code,
            duration_ms=result.duration_ms,
            error=result.error,
        )
        delivery.attempts += 1
        if result.status_code is not None and 200 <= result.status_code < 300:
            delivery.status = DeliveryStatus.DELIVERED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
        else:
            delivery.next_attempt_at = next_attempt_after(delivery, delivery.attempts, now)
            if delivery.next_attempt_at is None:
                delivery.status = DeliveryStatus.ABANDONED
        delivery.save(update_fields=["attempts", "status", "delivered_at", "next_attempt_at"])
    return attempt


def deliver_due_webhooks(*, now: dt.datetime | None = None, limit: int = 500) -> dict[str, int]:
    """Every pending delivery whose time has come, once each (the `webhooks` job)."""
    now = now or timezone.now()
    due = list(
        WebhookEvent.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "created_at")
        .values_list("pk", flat=True)[:limit]
    )
    summary = {"attempted": 0, "delivered": 0, "retrying": 0, "abandoned": 0}
    for delivery_id in due:
        if not _claim(delivery_id, now):
            continue  # another run took it
        delivery = WebhookEvent.objects.select_related("reseller").get(pk=delivery_id)
        attempt_delivery(delivery, now=now)
        summary["attempted"] += 1
        if delivery.status == DeliveryStatus.DELIVERED:
            summary["delivered"] += 1
        elif delivery.status == DeliveryStatus.ABANDONED:
            summary["abandoned"] += 1
        else:
            summary["retrying"] += 1
    return summary


def deliveries_of(reseller: Reseller) -> QuerySet[WebhookEvent]:
    return WebhookEvent.objects.filter(reseller=reseller).prefetch_related("attempt_log")
