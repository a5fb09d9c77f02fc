"""Photo uploads of cases: only real images within the size limit; the location in a photo's EXIF
data is removed unless the sender agreed to share it."""

from __future__ import annotations

import io

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

#: Formats accepted, and the extension each is stored with.
FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}
GPS_TAG = 0x8825
#: Largest accepted image, in pixels (a decompression bomb is refused before it is decoded).
MAX_PIXELS = 50_000_000


def max_bytes() -> int:
    return int(getattr(settings, "CASE_PHOTO_MAX_BYTES", 10 * 1024 * 1024))


def validate_photo(upload, *, keep_location: bool = False, field: str = "photos") -> tuple[ContentFile, int]:
    """The upload as a file to store, and its size; a ValidationError naming ``field`` when it is
    not an image, too large, or of a format not accepted."""
    size = getattr(upload, "size", None)
    limit = max_bytes()
    if size is not None and size > limit:
        raise ValidationError(
            {field: _("A photo may be at most %(mb)d MB.") % {"mb": limit // (1024 * 1024)}}
        )
    upload.seek(0)
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise ValidationError(
            {field: _("A photo may be at most %(mb)d MB.") % {"mb": limit // (1024 * 1024)}}
        )
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt = image.format
            if image.width * image.height > MAX_PIXELS:
                raise ValidationError({field: _("The photo has too many pixels.")})
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ValidationError({field: _("This file is not an image.")})
    if fmt not in FORMATS:
        raise ValidationError({field: _("Send a JPEG, PNG, WebP or GIF image.")})
    if not keep_location:
        data = _without_location(data, fmt)
    return ContentFile(data, name=f"photo.{FORMATS[fmt]}"), len(data)


def _without_location(data: bytes, fmt: str) -> bytes:
    """The image without the GPS block of its EXIF data (re-encoded only when it has one)."""
    with Image.open(io.BytesIO(data)) as image:
        exif = image.getexif()
        if GPS_TAG not in exif:
            return data
        del exif[GPS_TAG]
        out = io.BytesIO()
        params = {"exif": exif.tobytes()}
        if fmt == "JPEG":
            params.update(quality="keep" if image.format == "JPEG" else 90)
        image.save(out, format=fmt, **params)
        return out.getvalue()
