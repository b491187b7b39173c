"""Identity document numbers are encrypted at rest, shown masked, and their keys rotate."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import CommandError, call_command
from django.db import connection
from pytest_django.fixtures import Settings

from simcare.accounts.models import Subscriber
from simcare.kit import crypto

pytestmark = pytest.mark.django_db

DOCUMENT = "AB1234567"
ROTATION_LINE = (
    "accounts.Subscriber.id_document_number: {rotated} re-encrypted, "
    "{current} already on the newest key, {unreadable} unreadable"
)


def raw_column(subscriber: Subscriber) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id_document_number FROM accounts_subscriber WHERE id = %s", [subscriber.pk]
        )
        (value,) = cursor.fetchone()
    return str(value)


def write_raw_column(subscriber: Subscriber, value: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE accounts_subscriber SET id_document_number = %s WHERE id = %s",
            [value, subscriber.pk],
        )


def store_document(subscriber: Subscriber, number: str) -> None:
    subscriber.id_document_type = "study_permit"
    subscriber.id_document_number = number
    subscriber.save(update_fields=["id_document_type", "id_document_number"])


def rotate_field_keys(*arguments: str) -> str:
    stdout = io.StringIO()
    call_command("rotate_field_keys", *arguments, stdout=stdout)
    return stdout.getvalue()


def test_the_document_number_is_never_stored_in_clear(
    subscriber: Subscriber, settings: Settings
) -> None:
    # when
    store_document(subscriber, DOCUMENT)

    # then
    raw = raw_column(subscriber)
    assert raw != DOCUMENT
    assert DOCUMENT not in raw
    assert Fernet(settings.FIELD_ENCRYPTION_KEYS[0].encode()).decrypt(raw.encode()) == b"AB1234567"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM accounts_subscriber WHERE id_document_number LIKE %s",
            ["%1234567%"],
        )
        assert cursor.fetchone() == (0,)
    assert Subscriber.objects.get(pk=subscriber.pk).id_document_number == DOCUMENT


def test_the_same_number_encrypts_differently_each_time(
    make_subscriber: Callable[..., Subscriber], subscriber: Subscriber
) -> None:
    other = make_subscriber()
    store_document(subscriber, DOCUMENT)
    store_document(other, DOCUMENT)

    assert raw_column(subscriber) != raw_column(other)


def test_an_empty_document_number_stays_empty(subscriber: Subscriber) -> None:
    store_document(subscriber, "")

    assert raw_column(subscriber) == ""
    assert Subscriber.objects.get(pk=subscriber.pk).id_document_number_masked == ""


@pytest.mark.parametrize(
    ("number", "masked"),
    [(DOCUMENT, "••••••567"), ("X12", "•••"), ("AB1234", "•••234")],
)
def test_the_masked_display_shows_only_the_last_three_characters(
    subscriber: Subscriber, number: str, masked: str
) -> None:
    store_document(subscriber, number)

    assert Subscriber.objects.get(pk=subscriber.pk).id_document_number_masked == masked


def test_with_a_new_key_first_old_values_still_read_and_rotate_re_encrypts(
    subscriber: Subscriber, settings: Settings
) -> None:
    # given: a value stored under the current key, then a new key put in front
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    store_document(subscriber, DOCUMENT)
    old_token = raw_column(subscriber)
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]

    # then: the old value still reads, and rotate() moves it to the new key
    assert Subscriber.objects.get(pk=subscriber.pk).id_document_number == DOCUMENT
    rotated = crypto.rotate(old_token)
    assert Fernet(new_key.encode()).decrypt(rotated.encode()) == b"AB1234567"
    with pytest.raises(InvalidToken):
        Fernet(old_key.encode()).decrypt(rotated.encode())


def test_a_value_under_an_unknown_key_cannot_be_read(
    subscriber: Subscriber, settings: Settings
) -> None:
    store_document(subscriber, DOCUMENT)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(ValueError, match="cannot be read with the configured keys"):
        Subscriber.objects.get(pk=subscriber.pk)


def test_rotate_field_keys_re_encrypts_every_value_with_the_newest_key(
    make_subscriber: Callable[..., Subscriber], settings: Settings
) -> None:
    # given: two values under the old key, one saved after the new key came, one empty
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    first, second, recent, empty = (make_subscriber() for _ in range(4))
    store_document(first, "AB1234567")
    store_document(second, "CD7654321")
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    store_document(recent, "EF1112223")
    recent_token = raw_column(recent)

    # when: one row per batch, to cross batch boundaries
    output = rotate_field_keys("--batch-size", "1")

    # then
    assert ROTATION_LINE.format(rotated=2, current=1, unreadable=0) in output.splitlines()
    newest = Fernet(new_key.encode())
    assert newest.decrypt(raw_column(first).encode()) == b"AB1234567"
    assert newest.decrypt(raw_column(second).encode()) == b"CD7654321"
    assert raw_column(recent) == recent_token
    assert raw_column(empty) == ""
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    assert [
        subscriber.id_document_number
        for subscriber in Subscriber.objects.filter(
            pk__in=[first.pk, second.pk, recent.pk, empty.pk]
        ).order_by("pk")
    ] == ["AB1234567", "CD7654321", "EF1112223", ""]


def test_rotate_field_keys_twice_changes_nothing_the_second_time(
    subscriber: Subscriber, settings: Settings
) -> None:
    # given
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    store_document(subscriber, DOCUMENT)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old_key]
    rotate_field_keys()
    after_first_run = raw_column(subscriber)

    # when
    output = rotate_field_keys()

    # then
    assert ROTATION_LINE.format(rotated=0, current=1, unreadable=0) in output.splitlines()
    assert raw_column(subscriber) == after_first_run


def test_rotate_field_keys_lists_unreadable_values_and_leaves_them_alone(
    make_subscriber: Callable[..., Subscriber], settings: Settings
) -> None:
    # given: one value encrypted with a key nobody configured
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    readable, stray = make_subscriber(), make_subscriber()
    store_document(readable, DOCUMENT)
    stray_token = Fernet(Fernet.generate_key()).encrypt(b"ZZ9999999").decode()
    write_raw_column(stray, stray_token)
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]

    # when
    with pytest.raises(CommandError) as failure:
        rotate_field_keys()

    # then
    assert str(failure.value) == (
        "1 values cannot be read with any configured key and were left unchanged: "
        f"accounts.Subscriber.id_document_number row {stray.pk}"
    )
    assert raw_column(stray) == stray_token
    assert Fernet(new_key.encode()).decrypt(raw_column(readable).encode()) == b"AB1234567"


def test_rotate_field_keys_refuses_a_batch_size_below_one() -> None:
    with pytest.raises(CommandError, match="--batch-size must be at least 1"):
        rotate_field_keys("--batch-size", "0")
