from django.urls import URLPattern, URLResolver, path

from simcare.portal import (
    autorenew_views,
    buy_views,
    esim_views,
    notifications_views,
    orders_views,
    privacy_views,
    profile_views,
    renew_views,
    usage_views,
    views,
    wallet_views,
)

app_name = "portal"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.home, name="home"),
    # The subscriber portal (signed-in subscribers only; see portal/access.py).
    path("portal/", views.dashboard, name="dashboard"),
    path("portal/wallet/", wallet_views.wallet, name="wallet"),
    path("portal/wallet/top-up/", wallet_views.wallet_topup, name="wallet_topup"),
    path("portal/orders/", orders_views.order_history, name="orders"),
    path("portal/orders/<int:order_id>/", renew_views.order_done, name="order_done"),
    path("portal/lines/<str:msisdn>/renew/", renew_views.renew, name="renew"),
    path("portal/lines/<str:msisdn>/renew/quote/", renew_views.renew_quote, name="renew_quote"),
    path("portal/lines/<str:msisdn>/auto-renew/", autorenew_views.auto_renew, name="auto_renew"),
    path("portal/lines/<str:msisdn>/esim/", esim_views.esim_page, name="esim"),
    path("portal/buy/<slug:plan_code>/", buy_views.buy_esim, name="buy_esim"),
    path("portal/cards/save/", autorenew_views.save_card, name="save_card"),
    path("portal/cards/<int:card_id>/remove/", autorenew_views.remove_card, name="remove_card"),
    path("portal/lines/<str:msisdn>/usage/", usage_views.line_usage, name="usage"),
    path("portal/notifications/", notifications_views.notifications, name="notifications"),
    path("portal/profile/", profile_views.profile, name="profile"),
    path("portal/profile/pin/", profile_views.change_pin, name="change_pin"),
    path("portal/profile/my-data/", privacy_views.export, name="export"),
    path("portal/profile/close/", privacy_views.close_account, name="close_account"),
]
