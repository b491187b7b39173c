"""Payment providers' webhooks: no language prefix, no session, no CSRF (signatures instead)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

app_name = "payment_webhooks"

urlpatterns: list[URLPattern | URLResolver] = []
