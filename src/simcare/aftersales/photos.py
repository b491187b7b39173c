"""Evidence photos: verified as images, re-encoded so nothing but the pixels is kept.

Pillow opens the bytes (never trusting the file name or the browser's type),
`verify()` checks the structure, and the pixels are copied into a fresh image
that is encoded again in the same format: EXIF (camera, GPS position, time),
XMP, ICC profiles and text chunks are all left behind. JPEG orientation is
applied first, so the stripped photo is not shown sideways.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from simcare.aftersales.errors import PhotoRefused

FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}
# 40 megapixels is more than any phone takes; beyond that it is a decompression bomb.
MAX_PIXELS = 40_000_000


@dataclass(frozen=True)
class CleanPhoto:
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int


def clean_photo(data: bytes, *, max_bytes: int) -> CleanPhoto:
    """The photo re-encoded without metadata; raises PhotoRefused with the reason."""
    if len(data) > max_bytes:
        raise PhotoRefused(reason="too_large", limit_mb=max_bytes // (1024 * 1024))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                image_format = probe.format or ""
                if image_format not in FORMATS:
                    raise PhotoRefused(reason="format")
                if probe.width * probe.height > MAX_PIXELS:
                    raise PhotoRefused(reason="too_big_pixels")
                probe.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                upright = ImageOps.exif_transpose(image) or image
                mode = upright.mode
                if image_format == "JPEG" and mode not in ("RGB", "L"):
                    upright, mode = upright.convert("RGB"), "RGB"
                elif mode not in ("RGB", "RGBA", "L", "LA", "P"):
                    upright, mode = upright.convert("RGBA"), "RGBA"
                fresh = Image.new(mode, upright.size)
                if mode == "P":
                    fresh.putpalette(upright.getpalette() or [])
                fresh.paste(upright)
    except PhotoRefused:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoRefused(reason="not_an_image") from None
    except (OSError, SyntaxError, ValueError):
        raise PhotoRefused(reason="not_an_image") from None
    output = io.BytesIO()
    options: dict[str, object] = {"quality": 90} if image_format in ("JPEG", "WEBP") else {}
    fresh.save(output, format=image_format, **options)
    content_type, extension = FORMATS[image_format]
    return CleanPhoto(
        data=output.getvalue(),
        content_type=content_type,
        extension=extension,
        width=fresh.width,
        height=fresh.height,
    )
