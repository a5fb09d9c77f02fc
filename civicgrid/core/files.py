"""Serving stored files that are not public: a photo or picture is streamed through a view that
has checked the reader may see its record, never through a public media URL."""

from __future__ import annotations

import mimetypes

from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404


def private_file_response(field: FieldFile, *, default_type: str = "image/jpeg") -> FileResponse:
    """Stream ``field`` to a reader already allowed to see it: cached privately for an hour (a
    withdrawn record soon stops showing), never sniffed as another type, and sandboxed should a
    browser open it as a document. A file gone from storage is a 404."""
    if not field:
        raise Http404
    try:
        handle = field.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404
    response = FileResponse(handle, content_type=mimetypes.guess_type(field.name)[0] or default_type)
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
