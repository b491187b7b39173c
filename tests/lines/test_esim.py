"""eSIM activation codes (GSMA SGP.22) and their QR codes, decoded back with zxing-cpp."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Callable

import pytest
import segno
import zxingcpp
from PIL import Image

from simcare.accounts.models import Subscriber
from simcare.catalog.models import Plan
from simcare.lines import esim
from simcare.lines.errors import NotAnEsim
from simcare.lines.models import Line, SimCard, SimKind
from tests.lines.stock_support import iccid

CODE = "LPA:1$smdp.example.com$JQ-209U6H-6I82J9"


def decode(png: bytes) -> list[zxingcpp.Result]:
    return list(zxingcpp.read_barcodes(Image.open(io.BytesIO(png))))


def test_the_activation_code_of_an_esim_is_the_sgp22_string() -> None:
    sim = SimCard(
        iccid=iccid(1),
        kind=SimKind.ESIM,
        smdp_address="smdp.example.com",
        matching_id="JQ-209U6H-6I82J9",
    )

    assert esim.activation_code(sim) == CODE


@pytest.mark.django_db
def test_the_activation_code_of_an_assigned_line(
    make_line: Callable[..., Line], subscriber: Subscriber, plan: Plan
) -> None:
    line = make_line(subscriber, plan, kind=SimKind.ESIM)

    assert esim.activation_code(line.sim) == f"LPA:1$smdp.example.com${line.sim.matching_id}"


def test_a_physical_sim_has_no_activation_code() -> None:
    sim = SimCard(iccid=iccid(2), kind=SimKind.PHYSICAL, location="WAREHOUSE")

    with pytest.raises(NotAnEsim) as refusal:
        esim.activation_code(sim)

    assert (refusal.value.code, refusal.value.message) == (
        "not_an_esim",
        "Only an eSIM has an activation code.",
    )


def test_the_png_decodes_to_exactly_the_activation_code() -> None:
    results = decode(esim.qr_png(CODE))

    assert [(result.text, result.format) for result in results] == [
        (CODE, zxingcpp.BarcodeFormat.QRCode)
    ]
    assert results[0].ec_level in {"M", "Q", "H"}


@pytest.mark.parametrize("scale", [3, 8])
def test_the_png_has_a_quiet_zone_of_four_modules(scale: int) -> None:
    # given
    image = Image.open(io.BytesIO(esim.qr_png(CODE, scale=scale))).convert("L")
    modules = segno.make_qr(CODE, error="m").symbol_size(scale=1, border=0)[0]
    margin = 4 * scale

    # then: the image is the symbol plus 4 white modules on each side
    assert image.size == ((modules + 8) * scale, (modules + 8) * scale)
    width, height = image.size
    border = [
        image.getpixel((x, y))
        for x in range(width)
        for y in range(height)
        if x < margin or y < margin or x >= width - margin or y >= height - margin
    ]
    assert set(border) == {255}
    assert image.getpixel((margin, margin)) == 0  # the finder pattern starts right after it


def test_a_long_code_with_a_twenty_character_matching_id_decodes_too() -> None:
    code = "LPA:1$rsp.prod.carrier-example.com$ABCD-EFGH-IJKL-MNOP-QRST"

    assert [result.text for result in decode(esim.qr_png(code, scale=4))] == [code]


def test_the_svg_is_an_inline_element_of_the_same_symbol() -> None:
    svg = esim.qr_svg(CODE, scale=4)
    modules = segno.make_qr(CODE, error="m").symbol_size(scale=1, border=0)[0]

    assert svg.startswith('<svg width="')
    assert "<?xml" not in svg
    assert 'class="esim-qr"' in svg
    size = (modules + 8) * 4
    assert re.match(rf'<svg width="{size}" height="{size}"', svg)


def test_the_data_uri_carries_the_same_png() -> None:
    uri = esim.qr_png_data_uri(CODE, scale=4)

    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix)
    png = base64.b64decode(uri.removeprefix(prefix))
    assert png == esim.qr_png(CODE, scale=4)
    assert [result.text for result in decode(png)] == [CODE]
