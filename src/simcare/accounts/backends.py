"""Sign in with a username, an email address or a mobile number."""

from __future__ import annotations

import contextlib
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from simcare.accounts.models import User
from simcare.kit.phone import InvalidPhoneNumber, normalize_msisdn
from simcare.kit.prepared import Prepared


class EmailOrPhoneBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if not username or password is None:
            return None
        identifier = username.strip()
        match = Q(username=identifier) | Q(email__iexact=identifier)
        with contextlib.suppress(InvalidPhoneNumber):
            match |= Q(phone=normalize_msisdn(identifier))
        user = User.objects.filter(match).order_by("id").first()
        if user is None:
            # Same cost as a real check, so timing does not tell who exists.
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None

    def get_user(self, user_id: Any) -> User | None:
        """The signed-in user of a session, with their subscriber account in the same query
        (every portal page reads it; staff have none, which is cached as well), from SQL
        compiled once."""
        try:
            users = _USER_WITH_SUBSCRIBER(user_id=int(user_id))
        except (TypeError, ValueError):
            return None
        if not users:
            return None
        user = users[0]
        return user if self.user_can_authenticate(user) else None


def _user_with_subscriber(user_id: int) -> QuerySet[User]:
    return User._default_manager.select_related("subscriber").filter(pk=user_id)


_USER_WITH_SUBSCRIBER: Prepared[User] = Prepared(_user_with_subscriber, user_id=int)
