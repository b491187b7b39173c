"""The public store locator, under the language prefix (/<lang>/stores/)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from simcare.stores import views

app_name = "stores"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.locator, name="locator"),
]
