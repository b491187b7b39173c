"""What a chat attachment may be (pure, no I/O): an image or a PDF, checked by content.

An image must open and verify with Pillow as JPEG, PNG, GIF or WebP, within a pixel
limit; it is then re-encoded (JPEG stays JPEG, anything else becomes PNG), which drops
EXIF/GPS and any other metadata and anything appended after the image data. A PDF must
start with the PDF signature and end with its end-of-file marker; it is kept as sent
(served as a download, never inline). The name a visitor gave is reduced to a safe
file name.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000
IMAGE_FORMATS = {"JPEG", "PNG", "GIF", "WEBP"}


class NotAllowed(ValueError):
    """The file is not an allowed image or PDF, or too large."""


@dataclass(frozen=True)
class CheckedFile:
    name: str
    content: bytes
    content_type: str


def safe_name(name: str, extension: str) -> str:
    base = re.split(r"[\\/]", name)[-1]  # no folders: "../../x.jpg" is "x.jpg"
    stem = re.sub(r"[^\w.\- ]+", "", base.rsplit(".", 1)[0], flags=re.UNICODE).strip(" .")
    return f"{(stem or 'attachment')[:80]}.{extension}"


def check(name: str, data: bytes, *, max_bytes: int = MAX_BYTES) -> CheckedFile:
    if not data or len(data) > max_bytes:
        raise NotAllowed("size")
    if data.startswith(b"%PDF-"):
        if b"%%EOF" not in data[-1024:]:
            raise NotAllowed("pdf")
        return CheckedFile(safe_name(name, "pdf"), data, "application/pdf")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                image_format = probe.format
                if image_format not in IMAGE_FORMATS:
                    raise NotAllowed("format")
                if probe.width * probe.height > MAX_PIXELS:
                    raise NotAllowed("pixels")
                probe.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                upright = ImageOps.exif_transpose(image)
                clean = io.BytesIO()
                if image_format == "JPEG":
                    upright.convert("RGB").save(clean, format="JPEG", quality=90)
                    return CheckedFile(safe_name(name, "jpg"), clean.getvalue(), "image/jpeg")
                if upright.mode not in ("RGB", "RGBA", "L", "LA", "P"):
                    upright = upright.convert("RGBA")
                upright.save(clean, format="PNG")
                return CheckedFile(safe_name(name, "png"), clean.getvalue(), "image/png")
    except NotAllowed:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as error:
        raise NotAllowed("image") from error
