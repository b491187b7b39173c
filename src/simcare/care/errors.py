"""Refusals of knowledge-base actions, each with a stable code and a translated message."""

from __future__ import annotations

from django.utils.translation import gettext as _

from simcare.kit.problems import DomainError


class KnowledgeBaseFileRefused(DomainError):
    """A knowledge-base file refused whole (unreadable, not JSON, not a list): nothing imported."""

    code = "kb_file_refused"
    status = 422

    def default_message(self) -> str:
        return _("This knowledge-base file cannot be imported.")
