"""What a clerk does at the counter: sell and activate a SIM, renew a line, sell a voucher card.

Each action runs through the money services (orders.services.ordering,
orders.services.vouchers) with channel "store" and the store on the order, so
cash lands in the store's drawer account (cash:<store>) in the same database
transaction as the order, its fulfilment and its receipt.

Idempotency: every console form carries a random token made when the form was
shown; the key is "store:<clerk id>:<token>", so a double submit (two clicks,
a reload of the POST) gives one sale, also when both arrive at once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from simcare.accounts import services as account_services
from simcare.accounts.models import Subscriber, User
from simcare.catalog.models import Plan
from simcare.lines.models import Line, SimCard, SimKind, SimStatus
from simcare.orders import errors as order_errors
from simcare.orders.models import Order, OrderKind, PaymentMethod, SalesChannel, Voucher
from simcare.orders.services import ordering, vouchers
from simcare.stores.errors import CustomerConflict, ServiceNotOffered, SimNotInStore
from simcare.stores.models import Store, StoreService
from simcare.stores.queries import sale_key


@dataclass(frozen=True)
class NewCustomer:
    """A walk-in customer to register: at least an email or a mobile number (E.164)."""

    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    language: str
    province: str


def _require(store: Store, service: str) -> None:
    if service not in (store.services or []):
        raise ServiceNotOffered(service=service, store=store.code)


def _same_customer(order: Order, customer: NewCustomer) -> bool:
    if order.subscriber is None:
        return False
    user = order.subscriber.user
    return bool(
        (customer.email and (user.email or "").lower() == customer.email.lower())
        or (customer.phone and user.phone == customer.phone)
    )


def _earlier_sale(key: str, store: Store, customer: NewCustomer) -> Order | None:
    existing = Order.objects.select_related("subscriber__user").filter(idempotency_key=key).first()
    if existing is None:
        return None
    if existing.store_id != store.pk or not _same_customer(existing, customer):
        raise order_errors.IdempotencyConflict(order=existing.pk)
    return existing


def _register(customer: NewCustomer, *, store: Store, clerk: User) -> Subscriber:
    username = customer.email or customer.phone or ""
    try:
        subscriber = account_services.create_subscriber(
            username=username[:150],
            password=None,
            email=customer.email,
            phone=customer.phone,
            language=customer.language,
            first_name=customer.first_name,
            last_name=customer.last_name,
            province=customer.province,
        )
    except (ValidationError, IntegrityError):
        raise CustomerConflict() from None
    account_services.record_audit(
        "subscriber.registered_at_store", actor=clerk, target=subscriber, store=store.code
    )
    return subscriber


@transaction.atomic
def sell_new_line(
    *,
    store: Store,
    clerk: User,
    plan: Plan,
    sim_kind: str,
    form_token: str,
    subscriber: Subscriber | None = None,
    new_customer: NewCustomer | None = None,
    sim: SimCard | None = None,
    now: dt.datetime | None = None,
) -> Order:
    """Sell a new line for cash and activate it: a physical SIM from this store's shelf
    (`sim`) or an eSIM from the pool; for a known `subscriber` or a `new_customer`
    registered here. Returns the fulfilled order (its line, its receipt).

    Refuses ServiceNotOffered, SimNotInStore, CustomerConflict, and whatever
    ordering.place_order refuses (PlanUnavailable, NoNumberAvailable, …): nothing written.
    """
    key = sale_key(clerk, form_token)
    if new_customer is not None:
        earlier = _earlier_sale(key, store, new_customer)
        if earlier is not None:
            return earlier
    elif Order.objects.filter(idempotency_key=key).exists():
        # The same form again: place_order returns its order (or refuses a changed one).
        return _place_new_line(store, clerk, plan, sim_kind, key, subscriber, sim, now)
    _require(store, StoreService.ESIM if sim_kind == SimKind.ESIM else StoreService.SIM_SALES)
    if sim_kind == SimKind.PHYSICAL:
        if (
            sim is None
            or sim.kind != SimKind.PHYSICAL
            or not SimCard.objects.filter(
                pk=sim.pk, store=store, status=SimStatus.IN_STOCK
            ).exists()
        ):
            raise SimNotInStore(iccid=sim.iccid if sim is not None else "")
    else:
        sim = None
    if new_customer is not None:
        try:
            with transaction.atomic():
                subscriber = _register(new_customer, store=store, clerk=clerk)
        except CustomerConflict:
            # A double submit racing this one may have registered the customer and sold.
            earlier = _earlier_sale(key, store, new_customer)
            if earlier is not None:
                return earlier
            raise
    return _place_new_line(store, clerk, plan, sim_kind, key, subscriber, sim, now)


def _place_new_line(  # noqa: PLR0917  (a private helper of sell_new_line)
    store: Store,
    clerk: User,
    plan: Plan,
    sim_kind: str,
    key: str,
    subscriber: Subscriber | None,
    sim: SimCard | None,
    now: dt.datetime | None,
) -> Order:
    return ordering.place_order(
        kind=OrderKind.NEW_LINE,
        channel=SalesChannel.STORE,
        subscriber=subscriber,
        payment_method=PaymentMethod.CASH,
        idempotency_key=key,
        acting_user=clerk,
        plan=plan,
        sim_kind=sim_kind,
        sim=sim if sim_kind == SimKind.PHYSICAL else None,
        store=store,
        now=now,
    )


@transaction.atomic
def renew_at_store(
    *,
    store: Store,
    clerk: User,
    line: Line,
    payment_method: str,
    form_token: str,
    plan: Plan | None = None,
    periods: int = 1,
    now: dt.datetime | None = None,
) -> Order:
    """Renew a line at the counter, paid in cash (into the drawer) or from the customer's wallet.

    The order carries the store (tax of the store's province, the day's report).
    Refuses ServiceNotOffered, PaymentMethodUnavailable, WalletShort, LineNotRenewable, …
    """
    key = sale_key(clerk, form_token)
    if not Order.objects.filter(idempotency_key=key).exists():
        _require(store, StoreService.RENEWALS)
    if payment_method not in (PaymentMethod.CASH, PaymentMethod.WALLET):
        raise order_errors.PaymentMethodUnavailable(method=payment_method, channel="store")
    return ordering.place_order(
        kind=OrderKind.RENEWAL,
        channel=SalesChannel.STORE,
        subscriber=line.subscriber,
        payment_method=payment_method,
        idempotency_key=key,
        acting_user=clerk,
        plan=plan or line.plan,
        line=line,
        periods=periods,
        store=store,
        now=now,
    )


def sell_voucher_card(
    *, store: Store, clerk: User, serial: str, form_token: str, now: dt.datetime | None = None
) -> Voucher:
    """Sell a voucher card for cash into the drawer (orders.services.vouchers.sell_voucher)."""
    _require(store, StoreService.VOUCHERS)
    return vouchers.sell_voucher(
        serial,
        store=store,
        acting_user=clerk,
        idempotency_key=sale_key(clerk, form_token),
        now=now,
    )
