"""SESSION_ENGINE with Redis: Django's cached database sessions (see the package)."""

from __future__ import annotations

from django.contrib.sessions.backends import cached_db

from simcare.accounts.sessions import PreparedSessionRead


class SessionStore(PreparedSessionRead, cached_db.SessionStore):
    pass
