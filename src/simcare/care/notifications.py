"""Notification templates of the chat (files under templates/notify/<name>/)."""

from __future__ import annotations

from simcare.notify.rendering import register

register("care.transcript", description="A chat transcript the customer asked to have emailed.")


def _identity_code(notification: object) -> dict[str, str]:
    from simcare.care import verification

    return verification.code_for_notification(notification)  # type: ignore[arg-type]


register(
    "care.identity_code",
    description="A one-time code proving the customer's identity to an agent in a chat.",
    on_request=True,
    secret_context=_identity_code,
)
