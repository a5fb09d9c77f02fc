"""Renderers shared by the API's file downloads."""

from __future__ import annotations

import json

from rest_framework.renderers import BaseRenderer


class PassthroughRenderer(BaseRenderer):
    """Lets a file (a photo, a picture) be asked for with any ``Accept``: the view returns the file
    itself; errors still render as JSON."""

    media_type = "*/*"
    format = "file"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        return json.dumps(data, default=str).encode()
