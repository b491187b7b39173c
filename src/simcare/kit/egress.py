"""Outbound HTTP to URLs someone else chose (a reseller's webhook): public addresses only.

A URL that resolves to a loopback, private, link-local (169.254.x.x, the cloud
metadata service), shared, multicast, reserved or unspecified address would let
whoever set it make the server talk to itself or its network (server-side request
forgery). url_refusal checks a URL when it is saved; `opener()` checks every address
it actually connects to, after DNS resolution and on every redirect, so a host that
resolves differently at delivery time (DNS rebinding) is refused too.

settings.SIMCARE_WEBHOOK_ALLOW_PRIVATE = True (environment variable of the same
name) lets private addresses through: an on-premises receiver, the tests' local
receivers. Proxies from the environment are not used for these requests.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

SCHEMES = frozenset({"http", "https"})


class PrivateAddress(OSError):
    """The host resolves to an address outside the public internet (an OSError, so HTTP
    clients report it as the connection failure it is)."""


def allow_private() -> bool:
    return bool(getattr(settings, "SIMCARE_WEBHOOK_ALLOW_PRIVATE", False))


def is_public(address: str) -> bool:
    """Whether an IP address is on the public internet, e.g. "93.184.216.34" yes,
    "10.0.0.5", "127.0.0.1", "169.254.169.254", "::1", "::ffff:10.0.0.5" no."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(ip.is_global) and not ip.is_multicast


def _addresses(host: str, port: int) -> list[tuple[Any, ...]]:
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


def _port(scheme: str, port: int | None) -> int:
    return port or (443 if scheme == "https" else 80)


def url_refusal(url: str) -> str | None:
    """Why `url` may not be called: "scheme", "host" or "private_address"; None when it may.

    A host that does not resolve now is not refused (a delivery to it fails and is
    retried; opener() checks again when it connects)."""
    target = _target(url)
    if isinstance(target, str):
        return target
    if allow_private():
        return None
    try:
        infos = _addresses(*target)
    except (socket.gaierror, UnicodeError):
        return None
    return "private_address" if any(not is_public(info[4][0]) for info in infos) else None


def _target(url: str) -> tuple[str, int] | str:
    """(host, port) of an http(s) URL, else the refusal ("scheme" or "host")."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "host"
    if parts.scheme not in SCHEMES:
        return "scheme"
    if not parts.hostname:
        return "host"
    return parts.hostname, _port(parts.scheme, port)


def _create_connection(
    address: tuple[str, int], timeout: Any = None, source_address: tuple[str, int] | None = None
) -> socket.socket:
    """socket.create_connection that refuses a host with any non-public address and then
    connects to the addresses it checked (not a second, possibly different, lookup)."""
    host, port = address
    infos = _addresses(host, port)
    if not allow_private():
        refused = [info[4][0] for info in infos if not is_public(info[4][0])]
        if refused:
            raise PrivateAddress(f"{host} resolves to a non-public address ({refused[0]})")
    failure: OSError | None = None
    for family, kind, protocol, _name, sockaddr in infos:
        sock = socket.socket(family, kind, protocol)
        try:
            if isinstance(timeout, int | float):  # not http.client's "default" sentinel
                sock.settimeout(timeout)
            if source_address is not None:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as error:
            failure = error
            sock.close()
    raise failure or OSError(f"no address for {host}")


class _HTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _create_connection


class _HTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _create_connection


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_HTTPConnection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_HTTPSConnection, req, context=getattr(self, "_context", None))


def opener() -> urllib.request.OpenerDirector:
    """A urllib opener whose every connection (redirects included) goes to public
    addresses only, unless SIMCARE_WEBHOOK_ALLOW_PRIVATE; no proxies."""
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}), _HTTPHandler(), _HTTPSHandler()
    )
