"""Session engines: Django's database (`db`) and Redis-then-database (`cached_db`) engines,
whose read of a session row runs from SQL compiled once (simcare.kit.prepared): every
signed-in page reads its session. Nothing else differs: an expired or unknown key reads as
no session, and writes, deletion and expiry are Django's."""

from __future__ import annotations

import datetime as dt

from django.contrib.sessions.models import Session
from django.db.models import QuerySet
from django.utils import timezone

from simcare.kit.prepared import Prepared


def _live_session(session_key: str, now: dt.datetime) -> QuerySet[Session]:
    return Session.objects.filter(session_key=session_key, expire_date__gt=now)


_LIVE_SESSION: Prepared[Session] = Prepared(_live_session, session_key=str, now=dt.datetime)


class PreparedSessionRead:
    """For a SessionStore of django.contrib.sessions.backends.db (or one built on it)."""

    session_key: str | None
    _session_key: str | None

    def _get_session_from_db(self) -> Session | None:
        if self.session_key is not None:
            found = _LIVE_SESSION(session_key=self.session_key, now=timezone.now())
            if found:
                return found[0]
        self._session_key = None
        return None
