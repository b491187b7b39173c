"""A conversation's transcript as plain text and as PDF (internal notes never included)."""

from __future__ import annotations

from django.template.loader import render_to_string
from django.utils import formats, translation
from django.utils.translation import gettext as _

from simcare.care.models import Conversation, Message, Sender
from simcare.kit.time import local


def _speaker(message: Message, conversation: Conversation) -> str:
    if message.sender == Sender.VISITOR:
        return conversation.display_name
    if message.sender == Sender.AGENT and message.author is not None:
        return message.author.first_name or message.author.username
    return str(Sender(message.sender).label)


def transcript_rows(conversation: Conversation, *, language: str) -> list[tuple[str, str, str]]:
    """(local time, speaker, text) for every message the visitor saw."""
    rows = []
    with translation.override(language):
        for message in (
            conversation.messages.select_related("author")
            .exclude(sender=Sender.NOTE)
            .order_by("id")
        ):
            when = formats.date_format(local(message.created_at), "Y-m-d H:i")
            rows.append((when, _speaker(message, conversation), message.body))
    return rows


def transcript_text(conversation: Conversation, *, language: str) -> str:
    with translation.override(language):
        header = _("Chat transcript %(id)s") % {"id": conversation.public_id}
    lines = [header, ""]
    for when, speaker, body in transcript_rows(conversation, language=language):
        lines.append(f"[{when}] {speaker}:")
        lines.extend(f"    {line}" for line in body.splitlines() or [""])
    return "\n".join(lines) + "\n"


def transcript_pdf(conversation: Conversation, *, language: str) -> bytes:
    from weasyprint import HTML  # heavy: loaded only when a PDF is asked for

    with translation.override(language):
        html = render_to_string(
            "care/transcript.html",
            {
                "conversation": conversation,
                "rows": transcript_rows(conversation, language=language),
                "language": language,
            },
        )
    pdf: bytes = HTML(string=html).write_pdf()
    return pdf
