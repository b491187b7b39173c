"""Pages of returns and reviews, under the language prefix (app_name "aftersales")."""

from __future__ import annotations

from django.urls import path

from simcare.aftersales import views

app_name = "aftersales"

urlpatterns = [
    path("portal/returns/", views.returns_list, name="returns"),
    path("portal/returns/new/", views.return_new, name="return_new"),
    path("portal/returns/<int:pk>/", views.return_detail, name="return_detail"),
    path(
        "portal/returns/<int:pk>/photos/<int:photo_id>/",
        views.return_photo,
        name="return_photo",
    ),
    path("portal/reviews/", views.portal_reviews, name="portal_reviews"),
    path("portal/reviews/new/<int:order_id>/", views.review_new, name="review_new"),
    path("reviews/", views.reviews_public, name="reviews"),
    path("console/returns/", views.staff_returns, name="staff_returns"),
    path("console/returns/<int:pk>/", views.staff_return_detail, name="staff_return_detail"),
]
