"""A small HTTP/1.1 client on asyncio streams, for load generation from one process.

Each client keeps one keep-alive connection (reconnecting after an error or a ``Connection: close``),
so fifty concurrent clients cost fifty sockets and one thread, and the load generator takes little
of the CPU the server needs. Only what the load tests use: a request with a body, a response with
``Content-Length`` or chunked transfer encoding. Standard library only."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from urllib.parse import urlencode


class HttpError(Exception):
    """The exchange failed before a whole response arrived (refused, reset, closed, timed out)."""


@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self):
        return json.loads(self.body.decode("utf-8"))


def form(data: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    """An ``application/x-www-form-urlencoded`` body and its content type."""
    return urlencode(data).encode(), {"Content-Type": "application/x-www-form-urlencoded"}


def json_body(data) -> tuple[bytes, dict[str, str]]:
    return json.dumps(data).encode(), {"Content-Type": "application/json"}


class Connection:
    """One client's keep-alive connection to ``host:port``."""

    def __init__(self, host: str, port: int, *, timeout: float = 30.0):
        self.host, self.port, self.timeout = host, port, timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except (OSError, asyncio.CancelledError):
                pass

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> Response:
        """Send one request and read its response within ``timeout`` seconds; HttpError otherwise
        (the connection is then closed; the next request opens a new one)."""
        try:
            return await asyncio.wait_for(self._exchange(method, path, body, headers or {}), self.timeout)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
            await self.close()
            kind = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
            raise HttpError(kind) from exc

    async def _exchange(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Response:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", "Connection: keep-alive"]
        if body or method in ("POST", "PUT", "PATCH"):
            head.append(f"Content-Length: {len(body)}")
        head += [f"{k}: {v}" for k, v in headers.items()]
        self._writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        await self._writer.drain()
        reader = self._reader
        status_line = await reader.readline()
        if not status_line:
            raise ConnectionResetError("closed before the status line")
        parts = status_line.decode("latin-1").split(" ", 2)
        status = int(parts[1])
        response_headers: dict[str, str] = {}
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n"):
                break
            if not line:
                raise ConnectionResetError("closed in the headers")
            name, _, value = line.decode("latin-1").partition(":")
            response_headers[name.strip().lower()] = value.strip()
        if response_headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await reader.readline()).split(b";")[0], 16)
                if size == 0:
                    await reader.readline()
                    break
                chunks.append(await reader.readexactly(size))
                await reader.readexactly(2)
            data = b"".join(chunks)
        elif "content-length" in response_headers:
            data = await reader.readexactly(int(response_headers["content-length"]))
        elif method == "HEAD" or status in (204, 304):
            data = b""
        else:
            data = await reader.read()
            response_headers["connection"] = "close"
        if response_headers.get("connection", "").lower() == "close":
            await self.close()
        return Response(status, response_headers, data)
