from django.urls import path

from simcare.care import console_views

app_name = "console"

urlpatterns = [
    path("", console_views.home, name="home"),
    path("queue/", console_views.queue, name="queue"),
    path("availability/", console_views.availability, name="availability"),
    path("chats/<uuid:public_id>/", console_views.conversation, name="conversation"),
    path("chats/<uuid:public_id>/accept/", console_views.accept, name="accept"),
    path("chats/<uuid:public_id>/decline/", console_views.decline, name="decline"),
    path("chats/<uuid:public_id>/send/", console_views.send, name="send"),
    path("chats/<uuid:public_id>/transfer/", console_views.transfer, name="transfer"),
    path("chats/<uuid:public_id>/close/", console_views.close, name="close"),
]
