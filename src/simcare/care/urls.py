"""The public help center, under the language prefix: /<lang>/help/."""

from __future__ import annotations

from django.urls import path

from simcare.care import ticket_views, views

app_name = "care"

urlpatterns = [
    path("", views.help_center, name="help"),
    path("feedback/", views.feedback, name="feedback"),
]

# Tickets (care/ticket_views.py): the contact form, my tickets, the signed rating link.
urlpatterns += [
    path("contact/", ticket_views.contact, name="contact"),
    path("tickets/", ticket_views.my_tickets, name="my_tickets"),
    path("tickets/<int:number>/", ticket_views.my_ticket, name="my_ticket"),
    path(
        "tickets/<int:number>/files/<int:message_id>/",
        ticket_views.my_ticket_attachment,
        name="my_ticket_attachment",
    ),
    path("rate/<str:token>/", ticket_views.rate_ticket, name="rate_ticket"),
]
