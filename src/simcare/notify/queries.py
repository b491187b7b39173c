"""Reads on the outbox, with the access check built in."""

from __future__ import annotations

from django.db.models import QuerySet

from simcare.accounts.models import User
from simcare.notify.models import Notification


def notifications_for(user: User) -> QuerySet[Notification]:
    """The messages addressed to `user` (never anyone else's), newest first."""
    return Notification.objects.filter(recipient=user).order_by("-created_at", "-id")
