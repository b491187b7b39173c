"""The clerk console, under the language prefix (/<lang>/store-console/)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from simcare.stores import views

app_name = "store_console"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.console_home, name="home"),
    path("<slug:code>/", views.console_store, name="store"),
    path("<slug:code>/sell/", views.console_sell, name="sell"),
    path("<slug:code>/sales/<int:order_id>/", views.console_sale, name="sale"),
    path("<slug:code>/renew/", views.console_renew, name="renew"),
    path("<slug:code>/vouchers/", views.console_vouchers, name="vouchers"),
    path("<slug:code>/day/", views.console_day, name="day"),
    path("<slug:code>/day.csv", views.console_day_csv, name="day_csv"),
]
