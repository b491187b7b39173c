"""Payment providers' webhooks: no language prefix, no session, no CSRF (signatures instead)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from simcare.orders import payment_views

app_name = "payment_webhooks"

urlpatterns: list[URLPattern | URLResolver] = [
    path("stripe/webhook", payment_views.stripe_webhook, name="stripe"),
    path("paypal/webhook", payment_views.paypal_webhook, name="paypal"),
]
