"""Refusals of ticket and rating actions, each with a stable code and a translated message."""

from __future__ import annotations

from django.utils.translation import gettext as _

from simcare.kit.problems import DomainError


class TicketRefused(DomainError):
    code = "ticket_refused"
    status = 422

    def default_message(self) -> str:
        return _("Write a subject and a message (at most 10,000 characters).")


class TicketClosed(DomainError):
    code = "ticket_closed"
    status = 409

    def default_message(self) -> str:
        return _("This ticket is closed.")


class TicketChangeRefused(DomainError):
    code = "ticket_change_refused"
    status = 422

    def default_message(self) -> str:
        return _("This change is not possible for this ticket.")


class AlreadyEscalated(DomainError):
    code = "chat_already_ticket"
    status = 409

    def default_message(self) -> str:
        return _("This chat is already a ticket.")


class RatingRefused(DomainError):
    code = "rating_refused"
    status = 422

    def default_message(self) -> str:
        return _("Choose a rating from 1 to 5 (a comment is at most 2,000 characters).")


class NotYetClosed(DomainError):
    code = "rating_not_closed"
    status = 409

    def default_message(self) -> str:
        return _("You can rate it once it is closed.")


class AlreadyRated(DomainError):
    code = "rating_already_given"
    status = 409

    def default_message(self) -> str:
        return _("You have already rated this. Thank you!")
