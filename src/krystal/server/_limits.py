"""``BodyLimit``: the largest request body the service reads.

Every way into the app reads a request's whole body before it looks at it (the hot path
to parse it, FastAPI to validate it, before the key is even checked), so without a limit
one client could make the service hold as much memory as it cares to send. A body whose
declared ``content-length`` is over the limit is answered 413 without being read; one
sent without a length (chunked) is counted as it is read and refused the moment it goes
over. Requests within the limit pass through untouched: the check is one look at the
headers.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from krystal.server._metrics import ServiceMetrics


class BodyLimit:
    """ASGI middleware answering 413 to a request body over ``limit`` bytes.

    >>> import asyncio
    >>> async def app(scope, receive, send):  # echoes the body's length
    ...     body = (await receive())["body"]
    ...     await send({"type": "http.response.start", "status": 200, "headers": []})
    ...     await send({"type": "http.response.body", "body": str(len(body)).encode()})
    >>> async def call(limit, body, declared):
    ...     sent = []
    ...     async def receive():
    ...         return {"type": "http.request", "body": body, "more_body": False}
    ...     async def send(message):
    ...         sent.append(message)
    ...     headers = [(b"content-length", str(len(body)).encode())] if declared else []
    ...     await BodyLimit(app, limit)({"type": "http", "headers": headers}, receive, send)
    ...     return sent[0]["status"], sent[1]["body"][:40]
    >>> asyncio.run(call(1024, b"x" * 100, declared=True))
    (200, b'100')
    >>> asyncio.run(call(1024, b"x" * 2000, declared=True))
    (413, b'{"detail":"request body: expected at mos')
    >>> asyncio.run(call(1024, b"x" * 2000, declared=False))[0]
    413
    """

    def __init__(self, app: ASGIApp, limit: int, metrics: ServiceMetrics | None = None) -> None:
        self.app = app
        self.limit = limit
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value
                break
        if declared is not None:
            # The server has parsed it already: a malformed length never gets here.
            size = int(declared) if declared.isdigit() else None
            if size is not None and size > self.limit:
                await self._refuse(send, f"got {size}")
                return
            await self.app(scope, receive, send)
            return
        await self._counting(scope, receive, send)

    async def _counting(self, scope: Scope, receive: Receive, send: Send) -> None:
        seen, started = 0, False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    # FastAPI's routes answer this themselves; anything else (the hot
                    # path reads before FastAPI) lets it out, and it is answered below
                    raise HTTPException(413, self._detail("got more"))
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except HTTPException as exc:
            if exc.status_code != 413 or started:
                raise
            await self._refuse(send, "got more")

    def _detail(self, got: str) -> str:
        return f"request body: expected at most {self.limit} bytes, {got}"

    async def _refuse(self, send: Send, got: str) -> None:
        if self.metrics is not None:
            self.metrics.errors.labels("413").inc()
        body = json.dumps({"detail": self._detail(got)}, separators=(",", ":")).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),  # the rest of the body is not read: start afresh
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
