"""Leaving the site for a payment provider's page after a form's POST."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def to_provider(request: HttpRequest, url: str) -> HttpResponse:
    """Send the buyer on to the provider's page (Stripe Checkout, PayPal).

    Not a redirect: the page's CSP has `form-action 'self'`, and browsers apply it to the
    redirects that follow a form's POST, so a 303 to checkout.stripe.com is blocked. A page
    that navigates by itself (meta refresh), with a link as a fallback, is not a form
    submission.
    """
    response = render(request, "to_provider.html", {"url": url})
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response
