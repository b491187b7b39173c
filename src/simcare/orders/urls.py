"""Money pages under the language prefix (receipts, payment returns)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from simcare.orders import views

app_name = "orders"

urlpatterns: list[URLPattern | URLResolver] = [
    path("<int:order_id>/receipt/", views.receipt_page, name="receipt"),
    path("<int:order_id>/receipt.pdf", views.receipt_pdf, name="receipt_pdf"),
]
