"""Pictures of work-dynamics posts: checked by the case photo rules (``civicgrid.cases.photos``: a
real image, within the size and pixel limits, of an accepted format; the GPS block removed), then,
because a post is public, re-encoded without any metadata (the EXIF block is not copied; the
camera's orientation is applied first and the colour profile kept), made smaller for phones, and
given a small JPEG thumbnail for lists."""

from __future__ import annotations

import io
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps

from civicgrid.cases.photos import FORMATS, validate_photo

#: A stored picture's shorter side is at most this many pixels, its longer side at most LONG_EDGE.
SHORT_EDGE = 1600
LONG_EDGE = 4096
#: Thumbnails fit in a square of this side.
THUMB_EDGE = 720
JPEG_QUALITY = 82
THUMB_QUALITY = 78


@dataclass
class PreparedPicture:
    """A picture ready to store: the display image, its thumbnail and the image's size."""

    image: ContentFile
    thumbnail: ContentFile
    width: int
    height: int
    size: int
    original_name: str = ""


def _fit(image: Image.Image, *, short: int, long: int) -> Image.Image:
    w, h = image.size
    scale = min(1.0, short / min(w, h), long / max(w, h))
    if scale >= 1.0:
        return image
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def _flatten(image: Image.Image) -> Image.Image:
    """RGB for JPEG: transparency on white, palettes and greyscale expanded."""
    if image.mode in ("RGBA", "LA", "P", "PA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode != "RGB":
        return image.convert("RGB")
    return image


def _encode(image: Image.Image, fmt: str, *, icc: bytes | None, quality: int = JPEG_QUALITY) -> bytes:
    out = io.BytesIO()
    params: dict = {}
    if icc:
        params["icc_profile"] = icc
    if fmt == "JPEG":
        image = _flatten(image)
        params.update(quality=quality, optimize=True, progressive=True)
    elif fmt == "WEBP":
        params.update(quality=quality, method=4)
    elif fmt == "PNG":
        params.update(optimize=True)
    # A fresh info dict: nothing of the original's metadata (EXIF, XMP, comments) is written.
    image.info = {}
    image.save(out, format=fmt, **params)
    return out.getvalue()


def prepare_picture(upload, *, field: str) -> PreparedPicture:
    """The upload as a picture to store, or a ValidationError naming ``field`` (and the file)."""
    name = getattr(upload, "name", "") or ""
    try:
        content, _size = validate_photo(upload, keep_location=False, field=field)
    except ValidationError as exc:
        messages = exc.message_dict.get(field, exc.messages) if hasattr(exc, "error_dict") else exc.messages
        if name:
            messages = [_("%(name)s: %(error)s") % {"name": name, "error": m} for m in messages]
        raise ValidationError({field: messages})
    data = content.read()
    with Image.open(io.BytesIO(data)) as original:
        fmt = original.format
        icc = original.info.get("icc_profile")
        animated = getattr(original, "is_animated", False)
        original.load()
        upright = ImageOps.exif_transpose(original) or original
        if fmt == "GIF" and animated:
            # Animations are kept as they are (GIF carries no EXIF); their thumbnail is the first frame.
            display_bytes = data
            width, height = original.size
        else:
            display = _fit(upright, short=SHORT_EDGE, long=LONG_EDGE)
            if display is upright:
                display = upright.copy()
            display_bytes = _encode(display, fmt, icc=icc)
            width, height = display.size
        thumb = _fit(upright, short=THUMB_EDGE, long=THUMB_EDGE)
        thumb = upright.copy() if thumb is upright else thumb
        thumb_bytes = _encode(thumb, "JPEG", icc=icc, quality=THUMB_QUALITY)
    return PreparedPicture(
        image=ContentFile(display_bytes, name=f"picture.{FORMATS[fmt]}"),
        thumbnail=ContentFile(thumb_bytes, name="thumb.jpg"),
        width=width,
        height=height,
        size=len(display_bytes),
        original_name=name,
    )
