"""Vouchers: PINs, generating a batch, the one-time export, redeeming with lockout, voiding."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from simcare.accounts.models import AuditEvent, Subscriber, User
from simcare.ledger import queries as ledger_queries
from simcare.ledger.models import LedgerAccount, LedgerTransaction
from simcare.notify import rendering
from simcare.notify.models import Notification
from simcare.orders import pins
from simcare.orders.errors import (
    VoucherBatchRefused,
    VoucherInvalid,
    VoucherLocked,
    VoucherPinsUnavailable,
)
from simcare.orders.models import Voucher, VoucherBatch, VoucherFailure, VoucherStatus
from simcare.orders.services import vouchers

from .vouchers_support import Batch, batch, make_batch, voucher_admin

__all__ = ["batch", "make_batch", "voucher_admin"]  # fixtures

IP = "203.0.113.7"
OTHER_IP = "198.51.100.20"


# --- pins.py -------------------------------------------------------------------------------


def test_new_pins_are_sixteen_digits_and_do_not_repeat() -> None:
    drawn = {pins.new_pin() for _ in range(2000)}

    assert len(drawn) == 2000
    assert all(len(pin) == 16 and pin.isdigit() for pin in drawn)


def _full_width(digits: str) -> str:
    return digits.translate({ord(digit): ord(digit) + 0xFEE0 for digit in "0123456789"})


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("0392817465019283", "0392817465019283"),
        ("0392 8174 6501 9283", "0392817465019283"),
        ("0392-8174-6501-9283", "0392817465019283"),
        ("  0392 8174-6501 9283\n", "0392817465019283"),
        (_full_width("0392817465019283"), "0392817465019283"),
        ("039281746501928", None),
        ("03928174650192830", None),
        ("0392 8174 6501 928x", None),
        ("", None),
        ("1" * 100, None),
    ],
)
def test_normalize_pin_accepts_spaces_and_dashes_only(typed: str, expected: str | None) -> None:
    assert pins.normalize_pin(typed) == expected


def test_pin_hash_is_keyed_and_a_dedicated_key_replaces_the_derived_one() -> None:
    derived = pins.voucher_key(secret_key="one")
    other = pins.voucher_key(secret_key="two")
    dedicated = pins.voucher_key(secret_key="one", dedicated_key="voucher key")

    digest = pins.hash_pin("0392817465019283", key=derived)

    assert len(digest) == 64
    assert digest == pins.hash_pin("0392817465019283", key=derived)
    assert digest != pins.hash_pin("0392817465019283", key=other)
    assert digest != pins.hash_pin("0392817465019283", key=dedicated)
    assert derived != b"one"


def test_serials_carry_batch_index_and_a_check_digit() -> None:
    serial = pins.make_serial(42, 1)

    assert serial == "V0000420000010"
    assert pins.normalize_serial("v 000042-000001 0") == serial
    assert pins.normalize_serial("V0000420000013") is None
    with pytest.raises(ValueError, match="6 digits"):
        pins.make_serial(1_000_000, 1)


# --- generating ------------------------------------------------------------------------------


def _all_database_text() -> str:
    """Every value of every row of every table, as text."""
    chunks: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            for row in cursor.fetchall():
                chunks.extend(
                    value.hex() if isinstance(value, bytes | memoryview) else str(value)
                    for value in row
                )
    return "\n".join(chunks)


def test_generate_batch_stores_only_keyed_hashes_of_unique_pins(voucher_admin: User) -> None:
    # when
    batch, issued = vouchers.generate_batch(
        name="Dec 2026 $25 cards",
        value_cents=2500,
        count=200,
        expires_at=timezone.now() + dt.timedelta(days=365),
        acting_user=voucher_admin,
    )
    vouchers.stash_pins(batch, issued)

    # then
    assert batch.count == 200
    assert len(issued) == 200
    assert len({pin for _serial, pin in issued}) == 200
    assert [serial for serial, _pin in issued] == [
        pins.make_serial(batch.pk, index) for index in range(1, 201)
    ]
    stored = dict(Voucher.objects.filter(batch=batch).values_list("serial", "pin_hash"))
    key = vouchers.current_voucher_key()
    assert stored == {serial: pins.hash_pin(pin, key=key) for serial, pin in issued}
    assert set(Voucher.objects.values_list("status", flat=True)) == {VoucherStatus.ACTIVE}
    assert LedgerTransaction.objects.count() == 0  # a printed card is not a sale
    everything = _all_database_text()
    leaked = [
        pin for _serial, pin in issued if pin in everything or pins.format_pin(pin) in everything
    ]
    assert leaked == []
    event = AuditEvent.objects.get(action="voucher_batch.generated")
    assert event.actor == voucher_admin
    assert event.data["count"] == 200
    assert event.data["first_serial"] == issued[0][0]


def test_generate_batch_of_ten_thousand_in_one_go(voucher_admin: User) -> None:
    batch, issued = vouchers.generate_batch(
        name="Big run",
        value_cents=1000,
        count=10_000,
        expires_at=timezone.now() + dt.timedelta(days=90),
        acting_user=voucher_admin,
    )

    assert Voucher.objects.filter(batch=batch).count() == 10_000
    assert len({pin for _serial, pin in issued}) == 10_000
    assert Voucher.objects.values("pin_hash").distinct().count() == 10_000


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("count", 0),
        ("count", 10_001),
        ("value_cents", 0),
        ("value_cents", 100_001),
        ("name", "   "),
        ("expires_at", "past"),
        ("expires_at", "naive"),
    ],
)
def test_generate_batch_refuses_out_of_range_fields(
    make_batch: Callable[..., Batch], field: str, value: Any
) -> None:
    if value == "past":
        value = timezone.now() - dt.timedelta(minutes=1)
    elif value == "naive":
        value = dt.datetime(2030, 1, 1)  # noqa: DTZ001  # the refusal under test

    with pytest.raises(VoucherBatchRefused) as refusal:
        make_batch(**{field: value})

    assert refusal.value.code == "voucher_batch_refused"
    assert VoucherBatch.objects.count() == 0
    assert Voucher.objects.count() == 0


# --- the one-time export -------------------------------------------------------------------


def test_stashed_pins_are_taken_once_as_csv(batch: Batch, voucher_admin: User) -> None:
    # given
    voucher_batch, issued = batch
    token = vouchers.stash_pins(voucher_batch, issued)
    assert vouchers.pins_available(voucher_batch, token)

    # when
    content = vouchers.take_pins_csv(voucher_batch, token, acting_user=voucher_admin)

    # then
    expires_on = voucher_batch.expires_at.astimezone(dt.UTC).date()
    lines = content.decode().splitlines()
    assert lines[0] == "serial,pin,value_cents,expires_on"
    assert [line.split(",")[:3] for line in lines[1:]] == [
        [serial, pin, "2500"] for serial, pin in issued
    ]
    assert abs((dt.date.fromisoformat(lines[1].split(",")[3]) - expires_on).days) <= 1
    voucher_batch.refresh_from_db()
    assert voucher_batch.pins_exported_at is not None
    assert AuditEvent.objects.filter(action="voucher_batch.pins_exported").count() == 1
    with pytest.raises(VoucherPinsUnavailable):
        vouchers.take_pins_csv(voucher_batch, token, acting_user=voucher_admin)
    assert not vouchers.pins_available(voucher_batch, token)


def test_pins_need_the_right_token_and_an_unvoided_batch(batch: Batch, voucher_admin: User) -> None:
    voucher_batch, issued = batch
    token = vouchers.stash_pins(voucher_batch, issued)

    for wrong in ("", None, "x" * 43):
        with pytest.raises(VoucherPinsUnavailable):
            vouchers.take_pins_csv(voucher_batch, wrong, acting_user=voucher_admin)
    vouchers.void_batch(voucher_batch, acting_user=voucher_admin)
    voucher_batch.refresh_from_db()
    with pytest.raises(VoucherPinsUnavailable):
        vouchers.take_pins_csv(voucher_batch, token, acting_user=voucher_admin)
    assert VoucherBatch.objects.get(pk=voucher_batch.pk).pins_exported_at is None


@pytest.mark.skipif(
    "RedisCache" in settings.CACHES["default"]["BACKEND"],
    reason="Redis expires keys by its own clock, which time-machine cannot move",
)
def test_stashed_pins_expire_after_thirty_minutes(batch: Batch, voucher_admin: User) -> None:
    voucher_batch, issued = batch
    token = vouchers.stash_pins(voucher_batch, issued)

    with (
        time_machine.travel(timezone.now() + dt.timedelta(minutes=31)),
        pytest.raises(VoucherPinsUnavailable),
    ):
        vouchers.take_pins_csv(voucher_batch, token, acting_user=voucher_admin)


# --- redeeming -------------------------------------------------------------------------------


def _state(subscriber: Subscriber) -> dict[str, Any]:
    """What a refused redemption must leave as it was."""
    return {
        "balance": ledger_queries.wallet_balance_cents(subscriber),
        "transactions": LedgerTransaction.objects.count(),
        "vouchers": list(
            Voucher.objects.order_by("pk").values_list(
                "status", "redeemed_by", "redeemed_at", "ledger_transaction"
            )
        ),
        "outbox": Notification.objects.count(),
    }


def _verify_ledger() -> str:
    out = io.StringIO()
    call_command("ledger", "verify", stdout=out)
    return out.getvalue()


def test_redeeming_credits_the_wallet_once(batch: Batch, subscriber: Subscriber) -> None:
    # given
    _voucher_batch, issued = batch
    serial, pin = issued[0]

    # when
    voucher = vouchers.redeem_voucher(
        subscriber, pins.format_pin(pin), ip_address=IP, acting_user=subscriber.user
    )

    # then
    assert voucher.serial == serial
    assert voucher.status == VoucherStatus.REDEEMED
    assert voucher.redeemed_by == subscriber
    assert voucher.redeemed_at is not None
    assert ledger_queries.wallet_balance_cents(subscriber) == 2500
    txn = voucher.ledger_transaction
    assert txn is not None
    assert txn.kind == "voucher_redemption"
    assert txn.idempotency_key == f"voucher:{voucher.pk}"
    assert sorted(txn.entries.values_list("account__code", "amount_cents")) == [
        ("liability:vouchers", -2500),
        (f"wallet:{subscriber.pk}", 2500),
    ]
    assert "clean" in _verify_ledger()
    notifications = Notification.objects.filter(template="voucher.redeemed")
    assert sorted(notifications.values_list("channel", flat=True)) == ["email", "sms"]
    assert notifications.first().context == {  # type: ignore[union-attr]
        "serial": serial,
        "amount_cents": 2500,
        "balance_cents": 2500,
    }
    event = AuditEvent.objects.get(action="voucher.redeemed")
    assert event.object_id == str(voucher.pk)
    assert event.data["ip_address"] == IP
    assert pin not in str(event.data)

    # when: the same PIN again
    before = _state(subscriber)
    with pytest.raises(VoucherInvalid) as refusal:
        vouchers.redeem_voucher(subscriber, pin, ip_address=IP, acting_user=subscriber.user)

    # then
    assert refusal.value.code == "voucher_invalid"
    assert refusal.value.status == 422
    assert refusal.value.details["reason"] == "redeemed"
    assert _state(subscriber) == before
    assert (
        ledger_queries.balance_cents(LedgerAccount.objects.get(code="liability:vouchers")) == -2500
    )


@pytest.mark.parametrize("language", ["en", "fr", "zh-hans"])
def test_redeemed_notification_reads_in_the_subscribers_language(
    batch: Batch, make_subscriber: Callable[..., Subscriber], language: str
) -> None:
    subscriber = make_subscriber(language=language, first_name="Mei")
    _voucher_batch, issued = batch
    vouchers.redeem_voucher(subscriber, issued[0][1], ip_address=None, acting_user=None)

    message = rendering.render(
        Notification.objects.get(template="voucher.redeemed", channel="email")
    )

    expected = {
        "en": ("$25.00 added to your wallet", "Your wallet balance is now $25.00."),
        "fr": (
            "25,00 $ ajoutés à votre portefeuille",  # a subject is one line of plain spaces
            "Votre solde est maintenant de 25,00\u00a0$.",
        ),
        "zh-hans": ("25.00 加元已存入您的钱包", "您的钱包余额现为 25.00 加元。"),
    }[language]
    assert message.subject == expected[0]
    assert expected[1] in message.body
    assert issued[0][0] in message.sms
    assert issued[0][1] not in message.body + message.sms


@pytest.mark.parametrize("case", ["unknown", "malformed", "redeemed", "expired", "void"])
def test_a_pin_that_redeems_nothing_is_refused_and_changes_nothing(
    make_batch: Callable[..., Batch],
    subscriber: Subscriber,
    make_subscriber: Callable[..., Subscriber],
    voucher_admin: User,
    case: str,
) -> None:
    # given
    voucher_batch, issued = make_batch(count=2)
    pin = issued[0][1]
    if case == "unknown":
        pin = next(p for p in iter(pins.new_pin, None) if p not in {i[1] for i in issued})
    elif case == "malformed":
        pin = pin[:15]
    elif case == "redeemed":
        vouchers.redeem_voucher(make_subscriber(), pin, ip_address=OTHER_IP, acting_user=None)
    elif case == "void":
        vouchers.void_batch(voucher_batch, acting_user=voucher_admin)
    before = _state(subscriber)
    moment = timezone.now() + (dt.timedelta(days=366) if case == "expired" else dt.timedelta())

    # when
    with pytest.raises(VoucherInvalid) as refusal:
        vouchers.redeem_voucher(
            subscriber, pin, ip_address=IP, acting_user=subscriber.user, now=moment
        )

    # then
    assert refusal.value.code == "voucher_invalid"
    assert refusal.value.details["reason"] == case
    assert _state(subscriber) == before
    assert VoucherFailure.objects.filter(subscriber=subscriber, ip_address=IP).count() == 1
    assert AuditEvent.objects.filter(action="voucher.redemption_failed").count() == 1


def _fail(subscriber: Subscriber, *, ip_address: str | None = IP) -> None:
    with pytest.raises(VoucherInvalid):
        vouchers.redeem_voucher(
            subscriber, "0000 0000 0000 0000", ip_address=ip_address, acting_user=None
        )


def test_five_wrong_pins_lock_the_account_for_an_hour(batch: Batch, subscriber: Subscriber) -> None:
    # given: five wrong PINs, each from another IP
    _voucher_batch, issued = batch
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for index in range(5):
            _fail(subscriber, ip_address=f"192.0.2.{index + 1}")
    before = _state(subscriber)

    # when: the right PIN 59 minutes later
    with (
        time_machine.travel(start + dt.timedelta(minutes=59), tick=False),
        pytest.raises(VoucherLocked) as refusal,
    ):
        vouchers.redeem_voucher(subscriber, issued[0][1], ip_address=OTHER_IP, acting_user=None)

    # then: refused before the PIN was looked at
    assert refusal.value.code == "voucher_locked"
    assert refusal.value.status == 429
    assert refusal.value.details["retry_after_seconds"] == 60
    assert _state(subscriber) == before
    assert VoucherFailure.objects.count() == 5
    assert AuditEvent.objects.filter(action="voucher.redemption_locked").count() == 1

    # when: an hour after the fifth failure
    with time_machine.travel(start + dt.timedelta(hours=1, seconds=1), tick=False):
        voucher = vouchers.redeem_voucher(
            subscriber, issued[0][1], ip_address=OTHER_IP, acting_user=None
        )

    # then
    assert voucher.status == VoucherStatus.REDEEMED
    assert ledger_queries.wallet_balance_cents(subscriber) == 2500


def test_five_wrong_pins_lock_the_ip_for_every_account(
    batch: Batch, make_subscriber: Callable[..., Subscriber]
) -> None:
    # given: five accounts, one wrong PIN each, all from one IP
    _voucher_batch, issued = batch
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for _ in range(5):
            _fail(make_subscriber(), ip_address=IP)
    newcomer = make_subscriber()

    with time_machine.travel(start + dt.timedelta(minutes=30), tick=False):
        # when / then: a sixth account on that IP is locked out
        with pytest.raises(VoucherLocked):
            vouchers.redeem_voucher(newcomer, issued[0][1], ip_address=IP, acting_user=None)
        # when / then: the same account from another IP is not
        voucher = vouchers.redeem_voucher(
            newcomer, issued[0][1], ip_address=OTHER_IP, acting_user=None
        )
    assert voucher.redeemed_by == newcomer

    # when / then: after the hour, that IP redeems again
    with time_machine.travel(start + dt.timedelta(minutes=61), tick=False):
        second = vouchers.redeem_voucher(newcomer, issued[1][1], ip_address=IP, acting_user=None)
    assert second.status == VoucherStatus.REDEEMED


def test_the_lock_lasts_an_hour_from_the_fifth_failure(
    batch: Batch, subscriber: Subscriber
) -> None:
    # given: failures at 0, 10, 20, 30 and 40 minutes
    _voucher_batch, issued = batch
    start = timezone.now()
    for minutes in (0, 10, 20, 30, 40):
        with time_machine.travel(start + dt.timedelta(minutes=minutes), tick=False):
            _fail(subscriber)

    # then: still locked at 1 h 39 min, free at 1 h 41 min
    with (
        time_machine.travel(start + dt.timedelta(minutes=99), tick=False),
        pytest.raises(VoucherLocked),
    ):
        vouchers.redeem_voucher(subscriber, issued[0][1], ip_address=IP, acting_user=None)
    with time_machine.travel(start + dt.timedelta(minutes=101), tick=False):
        assert vouchers.redeem_voucher(subscriber, issued[0][1], ip_address=IP, acting_user=None)


def test_five_failures_spread_over_more_than_an_hour_do_not_lock(
    batch: Batch, subscriber: Subscriber
) -> None:
    _voucher_batch, issued = batch
    start = timezone.now()
    for minutes in (0, 20, 40, 61, 70):
        with time_machine.travel(start + dt.timedelta(minutes=minutes), tick=False):
            _fail(subscriber)

    with time_machine.travel(start + dt.timedelta(minutes=75), tick=False):
        voucher = vouchers.redeem_voucher(subscriber, issued[0][1], ip_address=IP, acting_user=None)

    assert voucher.status == VoucherStatus.REDEEMED


# --- voiding ---------------------------------------------------------------------------------


def test_void_batch_voids_the_unredeemed_and_keeps_the_redeemed(
    make_batch: Callable[..., Batch], subscriber: Subscriber, voucher_admin: User
) -> None:
    # given
    voucher_batch, issued = make_batch(count=3)
    vouchers.redeem_voucher(subscriber, issued[0][1], ip_address=IP, acting_user=None)

    # when
    voided = vouchers.void_batch(voucher_batch, acting_user=voucher_admin)

    # then
    assert voided.voided_at is not None
    assert voided.voided_by == voucher_admin
    assert dict(Voucher.objects.values_list("serial", "status")) == {
        issued[0][0]: VoucherStatus.REDEEMED,
        issued[1][0]: VoucherStatus.VOID,
        issued[2][0]: VoucherStatus.VOID,
    }
    event = AuditEvent.objects.get(action="voucher_batch.voided")
    assert event.data == {"vouchers_voided": 2, "vouchers_redeemed": 1}
    assert ledger_queries.wallet_balance_cents(subscriber) == 2500

    # when: voided again
    again = vouchers.void_batch(voucher_batch, acting_user=voucher_admin)

    # then: nothing more happens
    assert again.voided_at == voided.voided_at
    assert AuditEvent.objects.filter(action="voucher_batch.voided").count() == 1
