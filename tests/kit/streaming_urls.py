"""A URL configuration for tests/kit/test_web_handler.py: a page streamed in parts."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator

from django.http import HttpRequest, StreamingHttpResponse
from django.urls import path

CLOSED_IN: list[int] = []


class Parts:
    """Three parts of a streamed page; records the thread it is closed in."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in (b"one,", b"two,", b"three"):
            yield part

    def close(self) -> None:
        CLOSED_IN.append(threading.get_ident())


def streamed(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingHttpResponse(Parts(), content_type="text/plain")


urlpatterns = [path("streamed/", streamed)]
