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
register("care.sla_breach", description="To a team lead: a ticket missed its SLA target.")
register("care.ticket_reply", description="An agent answered the customer's ticket.")
register(
    "care.ticket_rating", description="The customer's ticket is closed: rate our help (a link)."
)
