"""Prepaid vouchers: generating a batch, the one-time PIN export, selling at a store,
redeeming, voiding.

Secrets. A plain PIN exists in three places only, each for as short as it can:
the return value of `generate_batch`, the one-time CSV download, and what the
customer types. The database keeps the keyed hash (orders/pins.py); logs, audit
events, error details and notifications never see a PIN. Between generating a
batch and downloading its CSV, the CSV is held in the cache encrypted (Fernet)
under a key derived from the voucher key and a random token that only the
generating admin's session holds; taking the download deletes it and stamps
`pins_exported_at`, and after EXPORT_TTL it is gone anyway. A lost download
means voiding the batch and generating a new one.

Money. Generating a batch posts nothing: a printed card is worth something once
sold. A card sold over a store's counter (`sell_voucher`) posts its value from
the store's cash drawer to liability:vouchers (cash:<store> -value,
liability:vouchers +value), once per voucher (idempotency key
"voucher-sale:<id>"), stamping sold_at / sold_store / sold_by in the same
transaction. Redeeming moves the card's value from liability:vouchers to the
wallet, with the idempotency key "voucher:<id>", in the same transaction as the
voucher's change to "redeemed".

Sold or not, an active card redeems: cards distributed through third-party
retailers are never "sold" in simcare (the retailer settles with the business
outside it), so their redemptions draw liability:vouchers below what the
counters credited; the difference is the retailers' receivable.

Exactly once. The voucher row is locked (SELECT ... FOR UPDATE on PostgreSQL;
SQLite's IMMEDIATE transactions serialise writers) and then changed with a
conditional UPDATE ... WHERE status = 'active', so of any number of concurrent
redemptions one credits the wallet and the others see "already redeemed".

Lockout. Every refused PIN is a VoucherFailure row for the account and the IP.
Five of them within an hour lock the account, and the IP, out of redeeming for
an hour after the fifth; while locked, an attempt is refused with VoucherLocked
before its PIN is even looked at (so it is not a new failure either). Attempts
of one account are serialised by a lock on its subscriber row, so concurrent
wrong PINs of one account cannot slip past the count.

`redeem_voucher` commits the failure row itself and raises VoucherInvalid after
the commit: call it in autocommit (a view, a job), not inside a transaction of
yours that would roll the failure back on the exception.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import hmac
import io
import ipaddress
import secrets
from collections.abc import Iterable

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from simcare.accounts.models import Subscriber, User
from simcare.accounts.services import record_audit
from simcare.kit.time import local
from simcare.ledger import services as ledger
from simcare.ledger.models import LedgerTransaction, TransactionKind
from simcare.notify import services as notify
from simcare.ops.logs import get_logger
from simcare.orders import pins
from simcare.orders.errors import (
    VoucherBatchRefused,
    VoucherInvalid,
    VoucherLocked,
    VoucherNotSellable,
    VoucherPinsUnavailable,
)
from simcare.orders.models import Voucher, VoucherBatch, VoucherFailure, VoucherStatus
from simcare.stores.models import Store

logger = get_logger(__name__)

MAX_BATCH_COUNT = 10_000
MAX_VALUE_CENTS = 100_000
LIABILITY_ACCOUNT = "liability:vouchers"
FAILURES_BEFORE_LOCK = 5
FAILURE_WINDOW = dt.timedelta(hours=1)
LOCK_DURATION = dt.timedelta(hours=1)
EXPORT_TTL = dt.timedelta(minutes=30)
CSV_HEADER = ("serial", "pin", "value_cents", "expires_on")
_LOOKUP_CHUNK = 1_000
_INSERT_CHUNK = 1_000

Pin = tuple[str, str]  # (serial, plain PIN)


def current_voucher_key() -> bytes:
    return pins.voucher_key(
        secret_key=settings.SECRET_KEY, dedicated_key=settings.SIMCARE_VOUCHER_KEY
    )


def _actor_label(acting_user: User | None) -> str:
    return acting_user.get_username() if acting_user is not None else "system"


# --- generating a batch -----------------------------------------------------------------


def _check_batch(
    *, name: str, value_cents: int, count: int, expires_at: dt.datetime, now: dt.datetime
) -> str:
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise VoucherBatchRefused(_("Give the batch a name of at most 120 characters."))
    if isinstance(value_cents, bool) or not isinstance(value_cents, int):
        raise VoucherBatchRefused(_("The value must be a whole number of cents."))
    if not 1 <= value_cents <= MAX_VALUE_CENTS:
        raise VoucherBatchRefused(
            _("The value of a voucher is between 1 and %(max)d cents.") % {"max": MAX_VALUE_CENTS}
        )
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_BATCH_COUNT:
        raise VoucherBatchRefused(
            _("A batch holds between 1 and %(max)d vouchers.") % {"max": MAX_BATCH_COUNT}
        )
    if timezone.is_naive(expires_at) or expires_at <= now:
        raise VoucherBatchRefused(_("The expiry must be in the future."))
    return name


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _fresh_pins(count: int, key: bytes) -> dict[str, str]:
    """`count` new PINs by their hash, unique among themselves and against the database."""
    by_hash: dict[str, str] = {}
    while len(by_hash) < count:
        wanted = count - len(by_hash)
        candidates: dict[str, str] = {}
        while len(candidates) < wanted:
            pin = pins.new_pin()
            digest = pins.hash_pin(pin, key=key)
            if digest not in by_hash:
                candidates[digest] = pin
        taken: set[str] = set()
        for chunk in _chunks(list(candidates), _LOOKUP_CHUNK):
            taken.update(
                Voucher.objects.filter(pin_hash__in=chunk).values_list("pin_hash", flat=True)
            )
        by_hash.update((digest, pin) for digest, pin in candidates.items() if digest not in taken)
    return by_hash


@sensitive_variables("by_hash", "issued")
@transaction.atomic
def generate_batch(
    *,
    name: str,
    value_cents: int,
    count: int,
    expires_at: dt.datetime,
    acting_user: User | None,
    now: dt.datetime | None = None,
) -> tuple[VoucherBatch, list[Pin]]:
    """Create a batch of `count` vouchers; returns it and its (serial, PIN) pairs, in serial order.

    Only the PIN hashes are stored. The pairs are the caller's to hand on once
    (`stash_pins` for the admin's download, the demo's credentials file) and to forget.
    Refuses with VoucherBatchRefused (nothing written) when a field is out of range.
    """
    now = now or timezone.now()
    name = _check_batch(
        name=name, value_cents=value_cents, count=count, expires_at=expires_at, now=now
    )
    batch = VoucherBatch.objects.create(
        name=name,
        value_cents=value_cents,
        count=count,
        expires_at=expires_at,
        created_by=acting_user,
        created_at=now,
    )
    key = current_voucher_key()
    for attempt in range(3):
        by_hash = _fresh_pins(count, key)
        issued = [
            (pins.make_serial(batch.pk, index), digest, pin)
            for index, (digest, pin) in enumerate(by_hash.items(), start=1)
        ]
        try:
            # A savepoint: a concurrent batch that took one of these hashes between the
            # lookup and the insert costs one more draw, not the batch.
            with transaction.atomic():
                Voucher.objects.bulk_create(
                    (
                        Voucher(
                            batch=batch,
                            serial=serial,
                            pin_hash=digest,
                            value_cents=value_cents,
                            expires_at=expires_at,
                        )
                        for serial, digest, _pin in issued
                    ),
                    batch_size=_INSERT_CHUNK,
                )
            break
        except IntegrityError:
            if attempt == 2:
                raise
    record_audit(
        "voucher_batch.generated",
        actor=acting_user,
        target=batch,
        name=name,
        count=count,
        value_cents=value_cents,
        expires_at=expires_at.isoformat(),
        first_serial=issued[0][0],
        last_serial=issued[-1][0],
    )
    logger.info(
        "voucher batch generated",
        batch=batch.pk,
        vouchers=count,
        value_cents=value_cents,
        actor=_actor_label(acting_user),
    )
    return batch, [(serial, pin) for serial, _digest, pin in issued]


# --- the one-time PIN export -------------------------------------------------------------


@sensitive_variables("issued")
def pins_csv(batch: VoucherBatch, issued: list[Pin]) -> bytes:
    """The printing file: serial, PIN (16 digits), value in cents, expiry date (Toronto)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    expires_on = local(batch.expires_at).date().isoformat()
    for serial, pin in issued:
        writer.writerow((serial, pin, batch.value_cents, expires_on))
    return buffer.getvalue().encode("utf-8")


def _export_fernet(batch_id: int, token: str) -> Fernet:
    material = hmac.new(
        current_voucher_key(),
        b"pin-export\x00" + str(batch_id).encode() + b"\x00" + token.encode(),
        hashlib.sha256,
    ).digest()
    return Fernet(base64.urlsafe_b64encode(material))


def _export_cache_key(batch_id: int, token: str) -> str:
    tag = hashlib.sha256(token.encode()).hexdigest()[:24]
    return f"orders:voucher-pins:{batch_id}:{tag}"


@sensitive_variables("issued")
def stash_pins(batch: VoucherBatch, issued: list[Pin]) -> str:
    """Hold the batch's CSV, encrypted, for one download within EXPORT_TTL; returns its token.

    The token is the only way back to the file: keep it in the generating admin's session.
    """
    token = secrets.token_urlsafe(32)
    ciphertext = _export_fernet(batch.pk, token).encrypt(pins_csv(batch, issued))
    cache.set(
        _export_cache_key(batch.pk, token), ciphertext, timeout=int(EXPORT_TTL.total_seconds())
    )
    return token


def pins_available(batch: VoucherBatch, token: str | None) -> bool:
    """Whether `take_pins_csv(batch, token)` would hand out the file now."""
    return bool(
        token
        and batch.pins_exported_at is None
        and batch.voided_at is None
        and cache.get(_export_cache_key(batch.pk, token)) is not None
    )


def take_pins_csv(
    batch: VoucherBatch,
    token: str | None,
    *,
    acting_user: User | None,
    now: dt.datetime | None = None,
) -> bytes:
    """The batch's CSV, once: the second call, a wrong token, a voided batch or a late one
    raise VoucherPinsUnavailable. Stamps pins_exported_at and audits who took it."""
    now = now or timezone.now()
    if not token:
        raise VoucherPinsUnavailable()
    cache_key = _export_cache_key(batch.pk, token)
    ciphertext = cache.get(cache_key)
    if ciphertext is None:
        raise VoucherPinsUnavailable()
    try:
        content = _export_fernet(batch.pk, token).decrypt(ciphertext)
    except InvalidToken:
        raise VoucherPinsUnavailable() from None
    with transaction.atomic():
        # The conditional UPDATE makes "once" hold for two downloads at the same moment.
        taken = VoucherBatch.objects.filter(
            pk=batch.pk, pins_exported_at__isnull=True, voided_at__isnull=True
        ).update(pins_exported_at=now)
        if not taken:
            raise VoucherPinsUnavailable()
        record_audit(
            "voucher_batch.pins_exported", actor=acting_user, target=batch, count=batch.count
        )
    cache.delete(cache_key)
    batch.pins_exported_at = now
    logger.info("voucher PINs exported", batch=batch.pk, actor=_actor_label(acting_user))
    return content


# --- selling at a store -------------------------------------------------------------------


@transaction.atomic
def sell_voucher(
    voucher_serial: str,
    *,
    store: Store,
    acting_user: User | None,
    idempotency_key: str,
    now: dt.datetime | None = None,
) -> Voucher:
    """Sell the card with this serial over `store`'s counter for cash, once.

    Posts cash:<store> -value, liability:vouchers +value (idempotency key
    "voucher-sale:<id>") and stamps sold_at / sold_store / sold_by. The same
    idempotency_key again (a double submit) returns the voucher and posts nothing.
    The serial may carry spaces, dashes and lower case (orders.pins.normalize_serial).
    Refuses VoucherNotSellable (nothing written) for an unknown serial, a void,
    redeemed or expired card, or one already sold by another request.
    """
    now = now or timezone.now()
    key = (idempotency_key or "").strip()
    if not key or len(key) > 200:
        raise ValueError("sell_voucher needs an idempotency key of at most 200 characters")
    serial = pins.normalize_serial(voucher_serial)
    voucher = Voucher.objects.select_for_update().filter(serial=serial).first() if serial else None
    if voucher is None:
        raise VoucherNotSellable.because("unknown")
    if voucher.sold_at is not None:
        if voucher.sale_key == key and voucher.sold_store_id == store.pk:
            return voucher
        raise VoucherNotSellable.because("sold", serial=voucher.serial)
    if voucher.status == VoucherStatus.VOID:
        raise VoucherNotSellable.because("void", serial=voucher.serial)
    if voucher.status == VoucherStatus.REDEEMED:
        raise VoucherNotSellable.because("redeemed", serial=voucher.serial)
    if voucher.expires_at <= now:
        raise VoucherNotSellable.because("expired", serial=voucher.serial)
    # Conditional, so two sales of one card at the same moment sell it once.
    claimed = Voucher.objects.filter(pk=voucher.pk, sold_at__isnull=True).update(
        sold_at=now, sold_store=store, sold_by=acting_user, sale_key=key
    )
    if not claimed:
        raise VoucherNotSellable.because("sold", serial=voucher.serial)
    txn = ledger.transfer(
        kind=TransactionKind.VOUCHER_SALE,
        source=ledger.store_drawer(store),
        destination=ledger.system_account(LIABILITY_ACCOUNT),
        amount_cents=voucher.value_cents,
        memo=f"voucher {voucher.serial} sold at {store.code}",
        idempotency_key=f"voucher-sale:{voucher.pk}",
        reference=f"voucher:{voucher.serial}",
    )
    voucher.refresh_from_db()
    record_audit(
        "voucher.sold",
        actor=acting_user,
        target=voucher,
        serial=voucher.serial,
        store=store.code,
        value_cents=voucher.value_cents,
        ledger_transaction=txn.pk,
    )
    logger.info(
        "voucher sold",
        voucher=voucher.serial,
        store=store.code,
        value_cents=voucher.value_cents,
        actor=_actor_label(acting_user),
    )
    return voucher


def voucher_sale_transaction(voucher: Voucher) -> LedgerTransaction | None:
    """The ledger posting of the card's sale at a store, if it was sold there."""
    return LedgerTransaction.objects.filter(idempotency_key=f"voucher-sale:{voucher.pk}").first()


# --- redeeming ------------------------------------------------------------------------------


def _clean_ip(ip_address: str | None) -> str | None:
    if not ip_address:
        return None
    try:
        return str(ipaddress.ip_address(ip_address.strip()))
    except ValueError:
        return None


def _locked_until(
    subscriber: Subscriber, ip_address: str | None, now: dt.datetime
) -> dt.datetime | None:
    """The end of the lock on the account or the IP at `now`, or None when neither is locked.

    A lock starts at a failure that is the fifth within an hour and lasts an hour.
    """
    since = now - FAILURE_WINDOW - LOCK_DURATION
    scopes = [VoucherFailure.objects.filter(subscriber=subscriber)]
    if ip_address is not None:
        scopes.append(VoucherFailure.objects.filter(ip_address=ip_address))
    until: dt.datetime | None = None
    for failures in scopes:
        times = list(
            # No upper bound: a concurrent attempt that took the account's lock first
            # may have recorded its failure a moment after this attempt's `now`.
            failures.filter(created_at__gt=since)
            .order_by("created_at")
            .values_list("created_at", flat=True)
        )
        for index in range(FAILURES_BEFORE_LOCK - 1, len(times)):
            fifth = times[index]
            if fifth - times[index - FAILURES_BEFORE_LOCK + 1] <= FAILURE_WINDOW:
                ends = fifth + LOCK_DURATION
                if ends > now and (until is None or ends > until):
                    until = ends
    return until


@sensitive_variables("pin", "normalized", "digest")
def _redeem(
    subscriber: Subscriber,
    pin: str,
    *,
    ip_address: str | None,
    acting_user: User | None,
    now: dt.datetime,
) -> Voucher:
    normalized = pins.normalize_pin(pin)
    if normalized is None:
        raise VoucherInvalid.because("malformed")
    digest = pins.hash_pin(normalized, key=current_voucher_key())
    voucher = Voucher.objects.select_for_update().filter(pin_hash=digest).first()
    if voucher is None:
        raise VoucherInvalid.because("unknown")
    if voucher.status == VoucherStatus.REDEEMED:
        raise VoucherInvalid.because("redeemed", serial=voucher.serial)
    if voucher.status == VoucherStatus.VOID:
        raise VoucherInvalid.because("void", serial=voucher.serial)
    if voucher.expires_at <= now:
        raise VoucherInvalid.because("expired", serial=voucher.serial)
    claimed = Voucher.objects.filter(pk=voucher.pk, status=VoucherStatus.ACTIVE).update(
        status=VoucherStatus.REDEEMED, redeemed_by=subscriber, redeemed_at=now
    )
    if not claimed:
        raise VoucherInvalid.because("redeemed", serial=voucher.serial)
    wallet = ledger.wallet_for(subscriber)
    txn = ledger.transfer(
        kind=TransactionKind.VOUCHER_REDEMPTION,
        source=ledger.system_account(LIABILITY_ACCOUNT),
        destination=wallet,
        amount_cents=voucher.value_cents,
        memo=f"voucher {voucher.serial}",
        idempotency_key=f"voucher:{voucher.pk}",
        reference=f"voucher:{voucher.serial}",
    )
    Voucher.objects.filter(pk=voucher.pk).update(ledger_transaction=txn)
    voucher.refresh_from_db()
    record_audit(
        "voucher.redeemed",
        actor=acting_user,
        target=voucher,
        serial=voucher.serial,
        subscriber=subscriber.pk,
        value_cents=voucher.value_cents,
        ledger_transaction=txn.pk,
        ip_address=ip_address,
    )
    notify.enqueue(
        "voucher.redeemed",
        recipient=subscriber.user,
        context={
            "serial": voucher.serial,
            "amount_cents": voucher.value_cents,
            "balance_cents": wallet.cached_balance_cents,
        },
        dedupe_key=f"voucher.redeemed:{voucher.pk}",
        now=now,
    )
    logger.info(
        "voucher redeemed",
        voucher=voucher.serial,
        subscriber=subscriber.pk,
        value_cents=voucher.value_cents,
        actor=_actor_label(acting_user),
    )
    return voucher


def _record_failure(
    subscriber: Subscriber,
    refusal: VoucherInvalid,
    *,
    ip_address: str | None,
    acting_user: User | None,
    now: dt.datetime,
) -> None:
    VoucherFailure.objects.create(subscriber=subscriber, ip_address=ip_address, created_at=now)
    reason = str(refusal.details.get("reason", "unknown"))
    record_audit(
        "voucher.redemption_failed",
        actor=acting_user,
        target=subscriber,
        reason=reason,
        ip_address=ip_address,
    )
    logger.info("voucher redemption refused", subscriber=subscriber.pk, reason=reason)
    until = _locked_until(subscriber, ip_address, now)
    if until is not None:
        record_audit(
            "voucher.redemption_locked",
            actor=acting_user,
            target=subscriber,
            ip_address=ip_address,
            locked_until=until.isoformat(),
        )
        logger.warning(
            "voucher redemption locked", subscriber=subscriber.pk, until=until.isoformat()
        )


@sensitive_variables("pin")
def redeem_voucher(
    subscriber: Subscriber,
    pin: str,
    *,
    ip_address: str | None,
    acting_user: User | None,
    now: dt.datetime | None = None,
) -> Voucher:
    """Credit the voucher with this PIN to the subscriber's wallet, exactly once.

    Refuses with VoucherLocked (429; nothing looked at, nothing written) while the
    account or the IP is locked, and with VoucherInvalid (422) when the PIN is not
    one of an active, unexpired voucher; the refusal is recorded for the lockout and
    nothing else changes (balance, voucher, outbox). Spaces and dashes in the PIN
    are fine. Returns the redeemed voucher (its ledger_transaction is the credit).
    """
    now = now or timezone.now()
    ip = _clean_ip(ip_address)
    refused: VoucherInvalid | None = None
    with transaction.atomic():
        # One attempt of an account at a time: the lockout count cannot be raced.
        Subscriber.objects.select_for_update().filter(pk=subscriber.pk).first()
        until = _locked_until(subscriber, ip, now)
        if until is not None:
            logger.info("voucher redemption attempted while locked", subscriber=subscriber.pk)
            raise VoucherLocked(
                retry_after_seconds=max(1, int((until - now).total_seconds() + 0.999))
            )
        try:
            with transaction.atomic():
                voucher = _redeem(subscriber, pin, ip_address=ip, acting_user=acting_user, now=now)
        except VoucherInvalid as refusal:
            _record_failure(subscriber, refusal, ip_address=ip, acting_user=acting_user, now=now)
            refused = refusal
    if refused is not None:
        # Raised after the commit, so the failure counts however the caller handles it.
        raise refused
    return voucher


# --- voiding a batch -----------------------------------------------------------------------


@transaction.atomic
def void_batch(
    batch: VoucherBatch, *, acting_user: User | None, now: dt.datetime | None = None
) -> VoucherBatch:
    """Make every unredeemed voucher of the batch void; redeemed ones stay redeemed.

    Voiding a voided batch changes nothing. Returns the batch, refreshed.
    """
    now = now or timezone.now()
    locked = VoucherBatch.objects.select_for_update().get(pk=batch.pk)
    if locked.voided_at is not None:
        return locked
    voided = Voucher.objects.filter(batch=locked, status=VoucherStatus.ACTIVE).update(
        status=VoucherStatus.VOID
    )
    VoucherBatch.objects.filter(pk=locked.pk).update(voided_at=now, voided_by=acting_user)
    locked.refresh_from_db()
    record_audit(
        "voucher_batch.voided",
        actor=acting_user,
        target=locked,
        vouchers_voided=voided,
        vouchers_redeemed=locked.vouchers.filter(status=VoucherStatus.REDEEMED).count(),
    )
    logger.info(
        "voucher batch voided", batch=locked.pk, vouchers=voided, actor=_actor_label(acting_user)
    )
    return locked
