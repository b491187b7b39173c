"""One Content Security Policy everywhere; the admin theme gets the two
allowances it cannot work without (inline styles, Alpine's evaluator)."""

from __future__ import annotations

from csp.middleware import CSPMiddleware, PolicyParts
from django.http import HttpRequest, HttpResponseBase

ADMIN_REPLACE = {
    "script-src": ["'self'", "'unsafe-inline'", "'unsafe-eval'"],
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:", "blob:"],
}


def is_admin_path(path: str) -> bool:
    parts = path.split("/", 3)
    return len(parts) > 2 and parts[2] == "admin"


class SimcareCSPMiddleware(CSPMiddleware):
    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if is_admin_path(request.path):
            parts.replace = {**(parts.replace or {}), **ADMIN_REPLACE}
        return parts
