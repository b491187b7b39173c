"""Back office of money: one module per concept, registered on import."""

from __future__ import annotations

from simcare.orders import (
    admin_orders,  # noqa: F401  (orders, payments, receipts, coupons, …)
    admin_vouchers,  # noqa: F401  (registers the voucher admins)
)
