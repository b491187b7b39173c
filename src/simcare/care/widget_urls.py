from django.urls import path

from simcare.care import widget_views

app_name = "chat"

urlpatterns = [
    path("transcripts/<uuid:public_id>.txt", widget_views.transcript_text, name="transcript_text"),
    path("transcripts/<uuid:public_id>.pdf", widget_views.transcript_pdf, name="transcript_pdf"),
    path("attachments/<int:message_id>/", widget_views.attachment, name="attachment"),
]
