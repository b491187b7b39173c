"""Refusals of returns and reviews, each with a stable code and a translated message."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from simcare.kit.problems import DomainError


class AftersalesError(DomainError):
    status = 422


class ReturnInvalid(AftersalesError):
    """A request that cannot be filed as asked; details["field"] names the culprit."""

    code = "return_invalid"

    def default_message(self) -> str:
        messages = {
            "kind": _("Choose what you are asking for."),
            "resolution": _("This request cannot be resolved that way."),
            "fault": _("Tell us what is wrong with the card."),
            "description": _("Tell us why you ask for an exception to the policy."),
        }
        return str(messages.get(str(self.details.get("field")), _("This request is not valid.")))


class ReturnAlreadyOpen(AftersalesError):
    code = "return_open"
    status = 409

    def default_message(self) -> str:
        return _("A request for this order is already being handled.")


class ReturnStateError(AftersalesError):
    """An action the request's current state does not allow (approving a closed request)."""

    code = "return_state"
    status = 409

    def default_message(self) -> str:
        return _("This step is not possible in the request's current state.")


class JustificationRequired(AftersalesError):
    code = "justification_required"

    def default_message(self) -> str:
        return _("A decision against the policy needs a written justification.")


class IdempotencyConflict(AftersalesError):
    code = "idempotency_conflict"
    status = 409

    def default_message(self) -> str:
        return _("This request key was already used for a different request.")


class PhotoRefused(AftersalesError):
    """details["reason"]: too_large, not_an_image, format, too_many, too_big_pixels."""

    code = "photo_refused"

    def default_message(self) -> str:
        reason = self.details.get("reason")
        if reason == "too_large":
            megabytes = int(str(self.details.get("limit_mb", 10)))
            return ngettext(
                "A photo may be at most %(limit)d MB.",
                "A photo may be at most %(limit)d MB.",
                megabytes,
            ) % {"limit": megabytes}
        if reason == "too_many":
            count = int(str(self.details.get("limit", 5)))
            return ngettext(
                "A request may have at most %(limit)d photo.",
                "A request may have at most %(limit)d photos.",
                count,
            ) % {"limit": count}
        if reason == "format":
            return _("Photos must be JPEG, PNG or WebP images.")
        if reason == "too_big_pixels":
            return _("This image is too large in pixels.")
        return _("This file is not an image we can read.")


class ReviewRefused(AftersalesError):
    """details["reason"]: not_verified, already_reviewed, rating, text, language, about."""

    code = "review_refused"

    def default_message(self) -> str:
        messages = {
            "not_verified": _("Only customers with a completed order can write a review."),
            "already_reviewed": _("You have already reviewed this order."),
            "rating": _("Choose a rating from 1 to 5 stars."),
            "text": _("Write your review (at most 10,000 characters)."),
            "language": _("Choose the language of your review."),
            "about": _("Choose what your review is about."),
        }
        return str(messages.get(str(self.details.get("reason")), _("This review is not valid.")))
