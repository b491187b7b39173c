"""Notification templates of returns and reviews (files under templates/notify/<name>/)."""

from __future__ import annotations

from simcare.notify.rendering import register

register("return.requested", description="A return or exchange request was received.")
register("return.approved", description="A return request was approved (and what happens next).")
register("return.rejected", description="A return request was refused, with the reason.")
register("return.received", description="The returned card arrived.")
register("return.refunded", description="A return was refunded (wallet or original method).")
register(
    "return.replacement_sent",
    description="A replacement SIM or a re-issued eSIM; the number moved to the new card.",
)
register("return.closed", description="A return request is closed.")
register("review.requested", description="A few days after an order: how did we do?")
