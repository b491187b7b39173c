"""Notification templates of money events (files under templates/notify/<name>/)."""

from __future__ import annotations

from simcare.notify.rendering import register

register("order.fulfilled", description="An order is paid and done; the email links its receipt.")
register("order.failed", description="A payment failed for good; the order was not completed.")
register("order.refunded", description="Money of an order was refunded.")
register(
    "voucher.redeemed",
    description="A voucher PIN was redeemed into the wallet (amount, serial, new balance).",
)
register(
    "autorenew.failed",
    description="An auto-renew attempt failed; it says when the next one is.",
    reference_at="the period end",
    expires_with_period=True,
)
register(
    "autorenew.stopped",
    description="The last auto-renew attempt of a period failed; renew by hand.",
    reference_at="the period end",
    expires_with_period=True,
)
