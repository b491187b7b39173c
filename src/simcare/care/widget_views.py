"""The widget's HTTP side: transcript downloads (text and PDF) and attachments.

The link carries a signed transcript token the chat hands the visitor (valid
a day); a signed-in owner or an agent who may see the chat needs none. Anyone
else gets a 404.
"""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from simcare.care import chat_queries, tokens, transcripts
from simcare.care.models import ChatAttachment, Conversation


def _allowed_conversation(request: HttpRequest, public_id: object) -> Conversation:
    public_id = str(public_id)
    user: Any = request.user
    token = request.GET.get("t", "")
    try:
        if token and tokens.transcript_token_is_valid(token, public_id):
            return Conversation.objects.get(public_id=public_id)
        if user.is_authenticated:
            if chat_queries.is_care_agent(user) and user.is_verified():
                return chat_queries.conversation_for_agent(user, public_id)
            return chat_queries.conversation_for_visitor(
                visitor_key=None, user=user, public_id=public_id
            )
    except (Conversation.DoesNotExist, ValueError):
        pass
    raise Http404


@require_GET
def attachment(request: HttpRequest, message_id: int) -> FileResponse:
    try:
        row = chat_queries.attachment_for(message_id=message_id)
    except ChatAttachment.DoesNotExist:
        raise Http404 from None
    _allowed_conversation(request, row.message.conversation.public_id)
    response = FileResponse(
        row.file.open("rb"), as_attachment=True, filename=row.name, content_type=row.content_type
    )
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@require_GET
def transcript_text(request: HttpRequest, public_id: str) -> HttpResponse:
    conversation = _allowed_conversation(request, public_id)
    text = transcripts.transcript_text(conversation, language=conversation.language)
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="chat-{public_id}.txt"'
    return response


@require_GET
def transcript_pdf(request: HttpRequest, public_id: str) -> HttpResponse:
    conversation = _allowed_conversation(request, public_id)
    pdf = transcripts.transcript_pdf(conversation, language=conversation.language)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="chat-{public_id}.pdf"'
    return response
