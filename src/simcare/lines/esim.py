"""eSIM activation codes (GSMA SGP.22) and their QR codes.

The activation code of a profile is `LPA:1$<SM-DP+ address>$<matching ID>`; a
phone scanning the QR code of exactly that string downloads the profile. Only
the line's owner may see either (10-lines.md): callers check access first.
"""

from __future__ import annotations

import base64
import io

import segno

from simcare.lines.errors import NotAnEsim
from simcare.lines.models import SimCard, SimKind

# At least M (15 % of the symbol may be damaged); segno raises it for free when
# the data fits in the same size. Four modules of quiet zone, as ISO/IEC 18004 asks.
ERROR_CORRECTION = "m"
QUIET_ZONE = 4


def activation_code(sim: SimCard) -> str:
    """`LPA:1$smdp.example.com$AB12-CD34` for an eSIM; raises NotAnEsim otherwise."""
    if sim.kind != SimKind.ESIM or not sim.smdp_address or not sim.matching_id:
        raise NotAnEsim
    return f"LPA:1${sim.smdp_address}${sim.matching_id}"


def _qr(code: str) -> segno.QRCode:
    return segno.make_qr(code, error=ERROR_CORRECTION, boost_error=True)


def qr_svg(code: str, *, scale: int = 4) -> str:
    """An inline <svg> element (no XML declaration) for embedding in a page."""
    return _qr(code).svg_inline(
        scale=scale, border=QUIET_ZONE, svgclass="esim-qr", lineclass=None, dark="#000"
    )


def qr_png(code: str, *, scale: int = 8) -> bytes:
    """A PNG, e.g. to attach to an email; scale is the size of one module in pixels."""
    buffer = io.BytesIO()
    _qr(code).save(buffer, kind="png", scale=scale, border=QUIET_ZONE)
    return buffer.getvalue()


def qr_png_data_uri(code: str, *, scale: int = 8) -> str:
    """`data:image/png;base64,…` for an <img> (the CSP allows data: images)."""
    return "data:image/png;base64," + base64.b64encode(qr_png(code, scale=scale)).decode("ascii")
