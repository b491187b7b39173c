"""Fixtures of the identity-check tests: lines made by the real service, funded wallets,
the file SMS backend (the fixtures of the lines, orders and notify tests)."""

from __future__ import annotations

from tests.lines.conftest import make_line
from tests.notify.conftest import sms_file
from tests.orders.conftest import fund

__all__ = ["fund", "make_line", "sms_file"]
