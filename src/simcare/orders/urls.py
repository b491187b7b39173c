"""Money pages under the language prefix (receipts, payment returns)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from simcare.orders import payment_views, views

app_name = "orders"

urlpatterns: list[URLPattern | URLResolver] = [
    path("<int:order_id>/receipt/", views.receipt_page, name="receipt"),
    path("<int:order_id>/receipt.pdf", views.receipt_pdf, name="receipt_pdf"),
    path("<int:order_id>/paid/", payment_views.payment_return, name="payment_return"),
    path("<int:order_id>/paypal/return/", payment_views.paypal_return, name="paypal_return"),
    path("<int:order_id>/cancelled/", payment_views.payment_cancelled, name="payment_cancelled"),
    path("<int:order_id>/pay/", payment_views.pay, name="pay"),
]
