"""SESSION_ENGINE without Redis: Django's database sessions (see the package)."""

from __future__ import annotations

from django.contrib.sessions.backends import db

from simcare.accounts.sessions import PreparedSessionRead


class SessionStore(PreparedSessionRead, db.SessionStore):
    pass
