from __future__ import annotations

from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.templatetags.static import static
from django.urls import URLPattern, URLResolver, include, path
from django.views.generic import RedirectView

from simcare.accounts import views as account_views
from simcare.api import api
from simcare.ops import views as ops_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("favicon.ico", RedirectView.as_view(url=static("simcare/favicon.svg"), permanent=True)),
    path("healthz", ops_views.healthz, name="healthz"),
    path("readyz", ops_views.readyz, name="readyz"),
    path("metrics", ops_views.metrics_view, name="metrics"),
    path("i18n/setlang/", account_views.set_language, name="set_language"),
    path("payments/", include("simcare.orders.webhook_urls")),
    path("api/v1/", api.urls),
    path("chat/", include("simcare.care.widget_urls")),
    path("ivr/", include("simcare.ivr.urls")),
    path("sms/", include("simcare.notify.gateway_urls")),
]

urlpatterns += i18n_patterns(
    path("admin/", admin.site.urls),
    path("accounts/", include("simcare.accounts.urls")),
    path("orders/", include("simcare.orders.urls")),
    path("help/", include("simcare.care.urls")),
    path("", include("simcare.aftersales.urls")),
    path("console/", include("simcare.care.console_urls")),
    path("stores/", include("simcare.stores.urls")),
    path("store-console/", include("simcare.stores.console_urls")),
    path("", include("simcare.portal.urls")),
    prefix_default_language=True,
)

handler404 = "simcare.portal.views.not_found"
handler500 = "simcare.portal.views.server_error"
handler403 = "simcare.portal.views.forbidden"
handler400 = "simcare.portal.views.bad_request"
