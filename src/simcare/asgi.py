"""ASGI entry point: HTTP through Django (on a bounded pool of request threads,
simcare.kit.web_handler), WebSocket through Channels."""

from __future__ import annotations

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "simcare.settings")
django.setup(set_prefix=False)

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import OriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from simcare.kit.web_handler import PooledSyncASGIHandler, tune_garbage_collector  # noqa: E402
from simcare.routing import websocket_urlpatterns  # noqa: E402

django_asgi_app = PooledSyncASGIHandler(threads=settings.SIMCARE_WEB_THREADS)

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # The site's hosts, plus the outside sites allowed to embed the chat widget
        # (SIMCARE_CHAT_ALLOWED_ORIGINS); routes of our own pages narrow this to the
        # site's hosts in routing.py.
        "websocket": OriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
            [*settings.ALLOWED_HOSTS, *settings.SIMCARE_CHAT_ALLOWED_ORIGINS],
        ),
    }
)

tune_garbage_collector()
