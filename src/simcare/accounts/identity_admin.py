"""Identity document numbers in the back office: replacing and revealing one, both audited.

The number is stored encrypted (kit/crypto.py) and shown masked everywhere.
Seeing it in clear is a deliberate act that leaves an AuditEvent naming who
looked and when (70-trust.md, PIPEDA); the audit data never holds the number.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from simcare.accounts.models import Subscriber, User
from simcare.accounts.services import record_audit

# Passports, study and work permits: letters, digits and the odd hyphen.
_DOCUMENT_NUMBER = re.compile(r"[A-Z0-9][A-Z0-9-]{3,29}")


def normalize_id_document_number(raw: str) -> str:
    """ " ab 123-4567 " → "AB123-4567"; raises ValidationError when it cannot be a number."""
    value = re.sub(r"\s+", "", raw).upper()
    if not _DOCUMENT_NUMBER.fullmatch(value):
        raise ValidationError(
            _("Enter 4 to 30 letters and digits (hyphens allowed), as printed on the document."),
            code="invalid_document_number",
        )
    return value


@transaction.atomic
def replace_id_document(
    subscriber: Subscriber, *, document_type: str, number: str, acting_user: User
) -> None:
    """Store a new document number (or remove it with number=""), audited without the number."""
    locked = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
    locked.id_document_type = document_type if number else ""
    locked.id_document_number = number
    locked.save(update_fields=["id_document_type", "id_document_number"])
    subscriber.id_document_type = locked.id_document_type
    subscriber.id_document_number = locked.id_document_number
    action = "subscriber.id_document_replaced" if number else "subscriber.id_document_removed"
    record_audit(action, actor=acting_user, target=locked, document_type=locked.id_document_type)


@transaction.atomic
def reveal_id_document(subscriber: Subscriber, *, acting_user: User) -> str:
    """The number in clear, after recording who saw it; "" (and no audit) when none is on file."""
    current = Subscriber.objects.get(pk=subscriber.pk)
    if not current.id_document_number:
        return ""
    record_audit(
        "subscriber.id_document_revealed",
        actor=acting_user,
        target=current,
        document_type=current.id_document_type,
        via="admin",
    )
    return current.id_document_number
