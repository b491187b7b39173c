"""Refusals of the usage import, each with a stable code and a translated message."""

from __future__ import annotations

from django.utils.translation import gettext as _

from simcare.kit.problems import DomainError


class UsageError(DomainError):
    """Base of the usage app's refusals."""

    status = 422


class CdrFileRefused(UsageError):
    """A CDR file refused (not CSV, wrong header, not UTF-8): nothing more of it is imported."""

    code = "cdr_file_refused"

    def default_message(self) -> str:
        return _("This file cannot be imported.")
