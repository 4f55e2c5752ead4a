"""The hot path: decide, reward and step without FastAPI's per-request machinery.

These three requests are nearly all of a busy service's traffic, and FastAPI spends more
CPU on each (its middleware, matching the route among all the app's routes, solving the
key dependency, validating the body and the response with pydantic) than the agent spends
learning. In ``benchmarks/service_load.py`` a request the hot path answers costs the
server 0.09 ms, a bare request to the cheapest FastAPI route (no body, no models) 0.16 ms
(``breakdown_ms`` in its results). :class:`HotPath`
sits in front of the app (ASGI middleware) and answers the common request itself:
a JSON body of exactly the documented shape, with plain numbers and strings, and (with
authentication on) a key of operator or above, looked up as the routes look it up
(:meth:`Service.authenticate`, cached for a second).

Everything else goes on to the FastAPI route, body included, so an unusual but valid
request (a number sent as a string, a ``true`` for a reward) and every malformed one get
the route's own answer: the same 422 naming the field, the same 401/403. Both ways call
:mod:`krystal.server._calls`, so the answers agree; the OpenAPI document describes the
routes, which stay the only definition of the API.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from krystal.server import _calls
from krystal.server._errors import KNOWN_ERRORS, retry_headers, status_of
from krystal.server._metrics import ServiceMetrics
from krystal.server._schemas import json_safe
from krystal.server._service import Service
from krystal.storage import role_rank

_ROUTE = re.compile(r"/v1/agents/([^/]+)/(decide|rewards|step)")
_JSON = b"application/json"
_JSON_HEADERS = [(b"content-type", _JSON)]
_HEADERS = (b"content-type", b"authorization", b"x-api-key")
_OPERATOR = role_rank("operator")
# One encoder for every answer: json.dumps with options builds a new one per call.
_ENCODE = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


class _Unusual(Exception):
    """The request is not the plain common case: the FastAPI route answers it."""


class HotPath:
    """ASGI middleware answering well-formed decide/reward/step requests directly.

    ``app`` is the ASGI app behind it (``create_app`` puts it in front of the FastAPI
    app's middleware); what it answers itself is decided by :func:`parse_call`.
    """

    def __init__(self, app: ASGIApp, service: Service, metrics: ServiceMetrics) -> None:
        self.app = app
        self.service = service
        self.metrics = metrics
        self._calls: dict[str, Callable[..., Awaitable[dict[str, Any]]]] = {
            "decide": self._decide,
            "rewards": self._reward,
            "step": self._step,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = (
            _ROUTE.fullmatch(scope["path"])
            if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path")
            else None
        )
        if found is None or not self._admits(scope["headers"]):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:  # the client went away before sending its request
            return
        name, kind = found.groups()
        args = parse_call(kind, body)
        if args is None:
            await self.app(scope, _replay(body, receive), send)
            return
        try:
            answer = await self._calls[kind](name, *args)
        except KNOWN_ERRORS as exc:
            status = status_of(exc)
            self.metrics.errors.labels(str(status)).inc()
            await _send_json(send, status, {"detail": str(exc)})
            return
        await _send_json(send, 200, answer)

    def _admits(self, headers: Iterable[tuple[bytes, bytes]]) -> bool:
        # A JSON body (or none declared, which FastAPI reads as JSON too) and, with
        # authentication on, a key of operator or above, checked as the routes check it.
        found: dict[bytes, bytes] = {}
        for name, value in headers:
            if name in _HEADERS and name not in found:  # the first one counts, as in Starlette
                found[name] = value
        content_type = found.get(b"content-type")
        if content_type is not None and content_type.split(b";")[0].strip().lower() != _JSON:
            return False
        if not self.service.settings.auth:
            return True
        if b"authorization" in found:
            scheme, _, token = found[b"authorization"].decode("latin-1").partition(" ")
            if scheme.lower() != "bearer":
                return False
        else:
            token = found.get(b"x-api-key", b"").decode("latin-1")
        key = self.service.authenticate(token) if token else None
        return key is not None and role_rank(key.role) >= _OPERATOR

    async def _decide(self, name: str, *args: Any) -> dict[str, Any]:
        return await _calls.decide(self.service, self.metrics, name, *args)

    async def _reward(self, name: str, *args: Any) -> dict[str, Any]:
        return await _calls.reward(self.service, name, *args)

    async def _step(self, name: str, *args: Any) -> dict[str, Any]:
        return await _calls.step(self.service, self.metrics, name, *args)


def parse_call(kind: str, body: bytes) -> tuple[Any, ...] | None:
    """The arguments of a ``decide``, ``rewards`` or ``step`` call from a plain JSON body,
    or None when the body is anything else (the FastAPI route then answers it).

    >>> parse_call("rewards", b'{"decision_id": "d-0000001", "reward": 1}')
    ('d-0000001', 1.0)
    >>> parse_call("rewards", b'{"decision_id": "d-0000001", "reward": "1"}') is None
    True
    """
    try:
        data = json.loads(body)
        if not isinstance(data, dict):
            raise _Unusual
        if kind == "decide":
            _only(data, ("observation", "decision_id"))
            return _observation(data.get("observation")), _text(data.get("decision_id"))
        if kind == "rewards":
            _only(data, ("decision_id", "reward"))
            if "decision_id" not in data or "reward" not in data:
                raise _Unusual
            return _text(data["decision_id"], required=True), _number(data["reward"])
        _only(data, ("decision_id", "reward", "observation", "next_decision_id"))
        observation = _observation(data.get("observation"))
        if observation is None:
            raise _Unusual
        return (
            _text(data.get("decision_id")),
            None if data.get("reward") is None else _number(data["reward"]),
            observation,
            _text(data.get("next_decision_id")),
        )
    except (_Unusual, ValueError, OverflowError):  # JSON errors are ValueErrors
        return None


def _only(data: dict[str, Any], fields: tuple[str, ...]) -> None:
    for key in data:
        if key not in fields:
            raise _Unusual


def _text(value: Any, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise _Unusual
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Unusual
    number = float(value)
    if not math.isfinite(number):
        raise _Unusual
    return number


def _observation(value: Any) -> dict[str, float] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _Unusual
    return {key: _number(item) for key, item in value.items()}


async def _read_body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the body read already, then whatever comes after it."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again


async def _send_json(send: Send, status: int, document: Any) -> None:
    try:
        body = _ENCODE(document).encode()
    except ValueError:  # a non-finite number: null, as the routes' response models give
        body = json.dumps(json_safe(document), separators=(",", ":")).encode()
    headers = [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())]
    if status == 503:
        headers.extend((k.encode(), v.encode()) for k, v in retry_headers(status).items())
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
