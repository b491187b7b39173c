"""The hotline's Twilio webhooks: POST only, no language prefix, signed (see views.py)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from simcare.ivr import views

app_name = "ivr"

urlpatterns: list[URLPattern | URLResolver] = [
    path("voice/", views.voice, name="voice"),
    path("language/", views.language, name="language"),
    path("main/", views.main, name="main"),
    path("menu/", views.menu, name="menu"),
    path("pin/", views.pin, name="pin"),
    path("renew/", views.renew, name="renew"),
    path("voucher/", views.voucher, name="voucher"),
    path("dialed/", views.dialed, name="dialed"),
    path("recorded/", views.recorded, name="recorded"),
    path("voicemail/", views.voicemail, name="voicemail"),
]
