"""Refusals of chat actions, each with a stable code and a translated message."""

from __future__ import annotations

from django.utils.translation import gettext as _

from simcare.kit.problems import DomainError


class MessageRefused(DomainError):
    code = "chat_message_refused"
    status = 422

    def default_message(self) -> str:
        return _("This message cannot be sent: it is empty or longer than 10,000 characters.")


class ConversationClosed(DomainError):
    code = "chat_closed"
    status = 409

    def default_message(self) -> str:
        return _("This conversation is closed.")


class NotOffered(DomainError):
    code = "chat_not_offered"
    status = 409

    def default_message(self) -> str:
        return _("This chat is no longer offered to you.")


class TranscriptNotEmailed(DomainError):
    code = "chat_transcript_no_email"
    status = 422

    def default_message(self) -> str:
        return _(
            "Sign in with an account that has an email address to have the transcript emailed."
        )


class TransferRefused(DomainError):
    code = "chat_transfer_refused"
    status = 422

    def default_message(self) -> str:
        return _("Choose another agent or a team to transfer this chat to.")


class AttachmentRefused(DomainError):
    code = "chat_attachment_refused"
    status = 422

    def default_message(self) -> str:
        return _("Only images (JPEG, PNG, GIF, WebP) and PDF files up to 5 MB can be sent.")
