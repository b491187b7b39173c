from django.urls import path

from simcare.care import console_views, report_views, ticket_console_views, verify_views

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
    path("chats/<uuid:public_id>/verify/code/", verify_views.send_code, name="verify_code"),
    path("chats/<uuid:public_id>/verify/pin/", verify_views.check_pin, name="verify_pin"),
    path("chats/<uuid:public_id>/renew/", verify_views.renew, name="renew"),
    path("chats/<uuid:public_id>/document/", verify_views.reveal_document, name="document"),
    path("chats/<uuid:public_id>/sim-swap/", verify_views.swap_sim, name="sim_swap"),
    path("chats/<uuid:public_id>/esim-reissue/", verify_views.reissue_esim, name="esim_reissue"),
    path("chats/<uuid:public_id>/customer/", verify_views.link_customer, name="link_customer"),
]

# Tickets, escalation and reports (care/ticket_console_views.py, care/report_views.py).
urlpatterns += [
    path("tickets/", ticket_console_views.tickets, name="tickets"),
    path("tickets/<int:number>/", ticket_console_views.ticket, name="ticket"),
    path("tickets/<int:number>/reply/", ticket_console_views.ticket_reply, name="ticket_reply"),
    path("tickets/<int:number>/update/", ticket_console_views.ticket_update, name="ticket_update"),
    path("tickets/<int:number>/close/", ticket_console_views.ticket_close, name="ticket_close"),
    path(
        "tickets/<int:number>/files/<int:message_id>/",
        ticket_console_views.ticket_attachment,
        name="ticket_attachment",
    ),
    path("chats/<uuid:public_id>/escalate/", ticket_console_views.escalate, name="escalate"),
]
urlpatterns += [path("reports/", report_views.reports, name="reports")]
