"""WebSocket routes; each domain adds its consumers here (chat: care/consumers.py)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

websocket_urlpatterns: list[URLPattern | URLResolver] = []
