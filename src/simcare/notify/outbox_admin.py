"""The back office's one change to the outbox: putting failed notifications back in the queue.

A failed row has given up (five attempts, a rejected number, a broken
template). Once staff have fixed the cause, requeueing sends it again through
the normal outbox job with a fresh retry budget. Only failed rows move: a
sent, skipped, cancelled or still-queued row is left as it is.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from simcare.accounts.models import User
from simcare.accounts.services import record_audit
from simcare.notify.models import Notification, NotificationStatus


@transaction.atomic
def requeue(ids: Iterable[int], *, acting_user: User) -> int:
    """Queue the failed notifications among `ids` for sending now; returns how many moved."""
    failed = list(
        Notification.objects.select_for_update()
        .filter(pk__in=list(ids), status=NotificationStatus.FAILED)
        .order_by("pk")
    )
    if not failed:
        return 0
    Notification.objects.filter(
        pk__in=[notification.pk for notification in failed], status=NotificationStatus.FAILED
    ).update(status=NotificationStatus.QUEUED, attempts=0, send_after=timezone.now())
    for notification in failed:
        record_audit(
            "notification.requeued",
            actor=acting_user,
            target=notification,
            template=notification.template,
            channel=notification.channel,
            last_error=notification.last_error,
        )
    return len(failed)
