"""Notification templates of the chat (files under templates/notify/<name>/)."""

from __future__ import annotations

from simcare.notify.rendering import register

register("care.transcript", description="A chat transcript the customer asked to have emailed.")
