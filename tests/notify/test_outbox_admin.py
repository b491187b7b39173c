"""The outbox in the back office: read-only, with a retry for failed notifications."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from simcare.accounts.models import AuditEvent, Role, Subscriber, User
from simcare.notify import outbox_admin
from simcare.notify.models import Channel, Notification, NotificationStatus
from tests.conftest import signed_in_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def make_notification(subscriber: Subscriber) -> Callable[..., Notification]:
    def make(status: str, **overrides: Any) -> Notification:
        fields: dict[str, Any] = {
            "recipient": subscriber.user,
            "channel": Channel.SMS,
            "template": "line.activated",
            "status": status,
            "attempts": 5,
            "last_error": "SmsDeliveryError: gateway down" if status == "failed" else "",
            "body": "Your line +14165550142 is active.",
        }
        fields.update(overrides)
        return Notification.objects.create(**fields)

    return make


def _state(notification: Notification) -> tuple[str, int]:
    notification.refresh_from_db()
    return notification.status, notification.attempts


def test_requeue_moves_only_failed_notifications_and_audits_each(
    make_notification: Callable[..., Notification], make_staff: Callable[..., User]
) -> None:
    # given
    staff = make_staff(Role.ADMIN)
    failed = make_notification(NotificationStatus.FAILED)
    sent = make_notification(NotificationStatus.SENT)
    skipped = make_notification(NotificationStatus.SKIPPED)
    before = timezone.now()

    # when
    moved = outbox_admin.requeue([failed.pk, sent.pk, skipped.pk], acting_user=staff)

    # then
    assert moved == 1
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == (NotificationStatus.QUEUED, 0)
    assert failed.send_after >= before
    assert failed.last_error == "SmsDeliveryError: gateway down"
    assert _state(sent) == (NotificationStatus.SENT, 5)
    assert _state(skipped) == (NotificationStatus.SKIPPED, 5)
    event = AuditEvent.objects.get(action="notification.requeued")
    assert (event.actor, event.object_id) == (staff, str(failed.pk))
    assert event.data == {
        "template": "line.activated",
        "channel": "sms",
        "last_error": "SmsDeliveryError: gateway down",
    }


def test_requeue_twice_moves_the_notification_once(
    make_notification: Callable[..., Notification], make_staff: Callable[..., User]
) -> None:
    staff = make_staff(Role.ADMIN)
    failed = make_notification(NotificationStatus.FAILED)

    assert outbox_admin.requeue([failed.pk], acting_user=staff) == 1
    assert outbox_admin.requeue([failed.pk], acting_user=staff) == 0
    assert AuditEvent.objects.filter(action="notification.requeued").count() == 1


def test_the_retry_action_in_the_list_requeues_the_selected_failed_ones(
    admin_client_verified: Client, make_notification: Callable[..., Notification]
) -> None:
    # given
    failed = make_notification(NotificationStatus.FAILED)
    sent = make_notification(NotificationStatus.SENT)

    # when
    response = admin_client_verified.post(
        "/en/admin/notify/notification/",
        {"action": "retry_failed", "_selected_action": [str(failed.pk), str(sent.pk)]},
    )

    # then
    assert response.status_code == 302
    assert _state(failed) == (NotificationStatus.QUEUED, 0)
    assert _state(sent) == (NotificationStatus.SENT, 5)


def test_staff_without_the_permission_cannot_retry(
    make_notification: Callable[..., Notification], make_staff: Callable[..., User]
) -> None:
    failed = make_notification(NotificationStatus.FAILED)
    client = signed_in_client(make_staff(Role.AGENT))

    response = client.post(
        "/en/admin/notify/notification/",
        {"action": "retry_failed", "_selected_action": [str(failed.pk)]},
    )

    assert response.status_code == 403
    assert _state(failed) == (NotificationStatus.FAILED, 5)
    assert not AuditEvent.objects.filter(action="notification.requeued").exists()


def test_the_outbox_is_read_only_and_shows_the_body(
    admin_client_verified: Client, make_notification: Callable[..., Notification]
) -> None:
    # given
    notification = make_notification(NotificationStatus.SENT)

    # when
    detail = admin_client_verified.get(f"/en/admin/notify/notification/{notification.pk}/change/")
    edit = admin_client_verified.post(
        f"/en/admin/notify/notification/{notification.pk}/change/", {"status": "queued"}
    )
    delete = admin_client_verified.post(
        f"/en/admin/notify/notification/{notification.pk}/delete/", {"post": "yes"}
    )

    # then
    assert detail.status_code == 200
    assert "Your line +14165550142 is active." in detail.content.decode()
    assert edit.status_code == 403
    assert delete.status_code == 403
    assert _state(notification) == (NotificationStatus.SENT, 5)


def test_the_outbox_filters_by_status_channel_and_template(
    admin_client_verified: Client, make_notification: Callable[..., Notification]
) -> None:
    failed = make_notification(NotificationStatus.FAILED, template="lifecycle.suspended")
    make_notification(NotificationStatus.SENT, channel=Channel.EMAIL)

    def ids(query: dict[str, str]) -> list[int]:
        response = admin_client_verified.get("/en/admin/notify/notification/", query)
        assert response.status_code == 200
        return [row.pk for row in response.context["cl"].result_list]

    assert ids({"status__exact": "failed"}) == [failed.pk]
    assert ids({"channel__exact": "sms"}) == [failed.pk]
    assert ids({"template": "lifecycle.suspended"}) == [failed.pk]
