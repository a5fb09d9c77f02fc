"""Request-scoped context for audit rows: request id, client IP and the authenticated user."""

from __future__ import annotations

from . import context


def client_ip(request) -> str | None:
    """The peer address. Deployments behind a proxy have the proxy set REMOTE_ADDR (e.g. gunicorn's
    --forwarded-allow-ips); X-Forwarded-For from clients is never trusted directly."""
    return request.META.get("REMOTE_ADDR") or None


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        supplied = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = supplied[:64] if supplied.replace("-", "").isalnum() else context.new_request_id()
        request.request_id = request_id
        with context.for_request(request, request_id, client_ip(request)):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response
