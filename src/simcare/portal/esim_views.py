"""The eSIM page of a line: its QR code and install steps for iPhone and Android.

The activation code is the owner's secret (10-lines.md): the page is the
owner's only, is never cached, and the QR code is a data: image in the page,
so no separate URL serves it.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from simcare.accounts.models import Subscriber
from simcare.lines import esim
from simcare.lines.errors import NotAnEsim
from simcare.lines.models import LineState
from simcare.portal.access import own_line, subscriber_view


@subscriber_view
@never_cache
@require_GET
def esim_page(request: HttpRequest, subscriber: Subscriber, msisdn: str) -> HttpResponse:
    line = own_line(request, msisdn)
    if line.state == LineState.RECYCLED:
        raise Http404
    try:
        code = esim.activation_code(line.sim)
    except NotAnEsim as error:
        raise Http404 from error
    return render(
        request,
        "portal/esim.html",
        {
            "line": line,
            "qr": esim.qr_png_data_uri(code, scale=6),
            "smdp_address": line.sim.smdp_address,
            "matching_id": line.sim.matching_id,
            "activation_code": code,
            "nav": "dashboard",
        },
    )
