"""SMS gateways' delivery receipts (mounted at /sms/, no language prefix)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from simcare.notify import gateway_views

app_name = "sms_gateways"

urlpatterns: list[URLPattern | URLResolver] = [
    path("twilio/status/", gateway_views.twilio_status, name="twilio_status"),
    path("kannel/dlr/", gateway_views.kannel_dlr, name="kannel_dlr"),
]
