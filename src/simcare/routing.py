"""WebSocket routes; each domain adds its consumers here (chat: care/consumers.py)."""

from __future__ import annotations

from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import URLPattern, URLResolver, path

from simcare.care import consumers as care_consumers

websocket_urlpatterns: list[URLPattern | URLResolver] = [
    # The widget may run on the provider's own site: asgi.py lets the chat origins in.
    path("ws/care/chat/", care_consumers.VisitorChatConsumer.as_asgi()),
    # The console is ours only: the site's own hosts.
    path(
        "ws/care/console/",
        AllowedHostsOriginValidator(care_consumers.AgentConsoleConsumer.as_asgi()),
    ),
]
