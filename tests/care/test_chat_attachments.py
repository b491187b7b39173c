"""Attachments: images re-encoded without metadata, PDFs by signature, everything else and
oversized files refused; downloads only for those who may see the chat."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest
import time_machine
from asgiref.sync import async_to_sync
from django.test import Client
from PIL import Image

from simcare.care import attachments
from simcare.care.models import ChatAttachment, Message
from tests.care.conftest import IN_HOURS, visitor

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def jpeg_with_exif() -> bytes:
    image = Image.new("RGB", (40, 30), "red")
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x010E] = "Home, 12 Queen St"  # ImageDescription
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    return buffer.getvalue()


def test_a_jpeg_is_re_encoded_without_its_metadata() -> None:
    original = jpeg_with_exif()
    assert Image.open(io.BytesIO(original)).getexif()

    checked = attachments.check("../../etc/photo <script>.JPG", original)

    assert checked.content_type == "image/jpeg"
    assert checked.name == "photo script.jpg"
    cleaned = Image.open(io.BytesIO(checked.content))
    assert cleaned.size == (40, 30)
    assert not cleaned.getexif()


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("page.html", b"<html><script>alert(1)</script></html>"),
        ("fake.png", b"\x89PNG\r\n\x1a\n" + b"not really"),
        ("cut.pdf", b"%PDF-1.4\n1 0 obj"),
        ("empty.png", b""),
    ],
)
def test_anything_but_a_real_image_or_pdf_is_refused(name: str, data: bytes) -> None:
    with pytest.raises(attachments.NotAllowed):
        attachments.check(name, data)


def test_a_file_over_the_limit_is_refused() -> None:
    with pytest.raises(attachments.NotAllowed):
        attachments.check("big.pdf", PDF, max_bytes=len(PDF) - 1)


def test_a_pdf_is_kept_as_sent() -> None:
    assert attachments.check("bill.pdf", PDF) == attachments.CheckedFile(
        "bill.pdf", PDF, "application/pdf"
    )


@pytest.mark.django_db(transaction=True)
def test_a_visitor_sends_an_image_and_downloads_it_with_the_chats_link(team: Any) -> None:
    async def scenario() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        communicator = visitor()
        await communicator.connect()
        session = json.loads(await communicator.receive_from(timeout=20))
        await communicator.send_json_to(
            {
                "type": "attachment",
                "name": "sim.jpg",
                "data": base64.b64encode(jpeg_with_exif()).decode(),
                "client_id": "a1",
            }
        )
        stored = json.loads(await communicator.receive_from(timeout=20))
        await communicator.send_json_to(
            {"type": "attachment", "name": "x.html", "data": base64.b64encode(b"<p>").decode()}
        )
        refused = json.loads(await communicator.receive_from(timeout=20))
        await communicator.disconnect()
        return session, stored, refused

    with time_machine.travel(IN_HOURS, tick=False):
        session, stored, refused = async_to_sync(scenario)()

    assert stored["attachment"]["name"] == "sim.jpg"
    assert stored["attachment"]["content_type"] == "image/jpeg"
    assert refused["code"] == "chat_attachment_refused"
    assert Message.objects.count() == 1
    row = ChatAttachment.objects.get()
    url = f"/chat/attachments/{row.message_id}/"

    allowed = Client().get(url, {"t": session["transcript_token"]})
    denied = Client().get(url)

    assert allowed.status_code == 200
    assert allowed["Content-Type"] == "image/jpeg"
    assert allowed["Content-Disposition"].startswith("attachment;")
    assert not Image.open(io.BytesIO(b"".join(allowed.streaming_content))).getexif()  # type: ignore[attr-defined]
    assert denied.status_code == 404
