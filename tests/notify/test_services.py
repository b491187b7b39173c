"""Putting notifications in the outbox: rows per channel, dedupe keys, cancelling."""

from __future__ import annotations

import datetime as dt

import pytest

from simcare.accounts.models import Subscriber
from simcare.notify import rendering, services
from simcare.notify.models import Notification

UTC = dt.UTC
NOW = dt.datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_enqueue_stores_one_queued_row_per_channel(subscriber: Subscriber) -> None:
    # given
    subscriber.user.language = "fr"
    subscriber.user.save()

    # when
    created = services.enqueue(
        "line.renewed",
        recipient=subscriber.user,
        context={"renewed_at": NOW, "order": "A-17"},
        reference_at=NOW,
        now=NOW,
    )

    # then
    assert sorted(
        Notification.objects.values_list(
            "channel", "template", "language", "status", "send_after", "created_at", "dedupe_key"
        )
    ) == [(channel, "line.renewed", "fr", "queued", NOW, NOW, None) for channel in ("email", "sms")]
    assert [row.pk for row in created] == sorted(Notification.objects.values_list("pk", flat=True))
    assert created[0].context == {"renewed_at": "2026-05-01T12:00:00Z", "order": "A-17"}


def test_enqueue_with_a_dedupe_key_stores_once(subscriber: Subscriber) -> None:
    first = services.enqueue("line.renewed", recipient=subscriber.user, dedupe_key="order:A-17")

    again = services.enqueue("line.renewed", recipient=subscriber.user, dedupe_key="order:A-17")

    assert [row.pk for row in again] == [row.pk for row in first]
    assert sorted(Notification.objects.values_list("dedupe_key", flat=True)) == [
        "order:A-17:email",
        "order:A-17:sms",
    ]


def test_enqueue_on_chosen_channels(subscriber: Subscriber) -> None:
    services.enqueue("line.renewed", recipient=subscriber.user, channels=("email",))

    assert list(Notification.objects.values_list("channel", flat=True)) == ["email"]


@pytest.mark.parametrize(
    ("template", "channels", "error"),
    [
        ("line.exploded", ("email",), rendering.UnknownTemplate),
        ("line.renewed", ("pigeon",), ValueError),
    ],
)
def test_enqueue_refuses_unknown_templates_and_channels(
    subscriber: Subscriber, template: str, channels: tuple[str, ...], error: type[Exception]
) -> None:
    with pytest.raises(error):
        services.enqueue(template, recipient=subscriber.user, channels=channels)

    assert not Notification.objects.exists()


def test_retry_delays_grow() -> None:
    assert [services.retry_delay(attempt) for attempt in range(1, 6)] == [
        dt.timedelta(minutes=1),
        dt.timedelta(minutes=5),
        dt.timedelta(minutes=30),
        dt.timedelta(hours=2),
        dt.timedelta(hours=2),
    ]
