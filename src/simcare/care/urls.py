"""The public help center, under the language prefix: /<lang>/help/."""

from __future__ import annotations

from django.urls import path

from simcare.care import views

app_name = "care"

urlpatterns = [
    path("", views.help_center, name="help"),
    path("feedback/", views.feedback, name="feedback"),
]
