"""Who is acting and from where, for the audit log.

The middleware sets it for each request (the user is read from the request when an audit row is
written, so session and token authentication both count); tasks and commands use ``acting_as``.
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RequestContext:
    request_id: str = ""
    ip: str | None = None
    request: Any = None
    actor: Any = None

    @property
    def user(self):
        if self.actor is not None:
            return self.actor
        user = getattr(self.request, "user", None) if self.request is not None else None
        if user is not None and user.is_authenticated:
            return user
        return None


_current: contextvars.ContextVar[RequestContext] = contextvars.ContextVar(
    "civicgrid_request_context",
    default=RequestContext(),  # noqa: B039 (frozen)
)


def current() -> RequestContext:
    return _current.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


@contextmanager
def running(ctx: RequestContext) -> Iterator[RequestContext]:
    """Run a block in ``ctx`` (from ``current()``): a request's, a task's, or the caller's in a
    thread of its own, where the context starts empty."""
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)


def acting_as(
    user=None, *, request_id: str | None = None, ip: str | None = None
) -> AbstractContextManager[RequestContext]:
    """Run a block on behalf of ``user`` (None: the system), e.g. in a task or a command."""
    return running(RequestContext(request_id=request_id or new_request_id(), ip=ip, actor=user))


def for_request(request, request_id: str, ip: str | None) -> AbstractContextManager[RequestContext]:
    return running(RequestContext(request_id=request_id, ip=ip, request=request))
