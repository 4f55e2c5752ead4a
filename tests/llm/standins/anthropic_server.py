"""A stand-in for Anthropic's Messages API on 127.0.0.1, scriptable per test.

It speaks the wire format of ``POST /v1/messages``: the ``x-api-key`` (or ``authorization:
Bearer``) and ``anthropic-version`` headers, ``max_tokens`` required, JSON ``message`` bodies,
the SSE event sequence (``message_start`` … ``message_stop`` with ``ping``), and
the real error bodies (``{"type": "error", "error": {"type": ..., "message": ...}}``,
429 with ``retry-after``, 529 ``overloaded_error``).

A test queues behaviours (:class:`Reply`, :class:`ToolUse`, :class:`Fail`,
:class:`Hang`, :class:`Drop`, :class:`Truncate`, :class:`Malformed`) with
:meth:`AnthropicStandIn.script`; a request with nothing queued gets a plain
:class:`Reply`. Every request received is kept in ``requests`` and every JSON
document sent in ``sent``, so ``anthropic_checks`` can hold both to the official
SDK models and the published OpenAPI spec. The server itself is
:class:`standins.common.StandIn`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from standins import common as shared
from standins.common import Handler, Recorded, StandIn

__all__ = [
    "API_KEY", "AnthropicStandIn", "Behaviour", "Drop", "Fail", "Hang", "Malformed",
    "Recorded", "Reply", "Sent", "ToolUse", "Truncate", "fail",
]  # fmt: skip

API_KEY = "test-anthropic-key"


@dataclass
class Reply:
    """A normal answer: text split into ``chunks`` stream deltas."""

    text: str = "Hello from the Anthropic stand-in."
    stop_reason: str = "end_turn"
    chunks: int = 3


@dataclass
class ToolUse:
    """The model calls one tool (``stop_reason: tool_use``), optionally after some text."""

    name: str
    input: dict[str, Any]
    text: str = ""


@dataclass
class Fail:
    """An error body with HTTP ``status``; with ``after_events`` it is an SSE ``error`` event."""

    status: int
    type: str
    message: str
    retry_after: float | None = None
    after_events: int | None = None


@dataclass
class Hang:
    """Say nothing for ``seconds`` (before the headers, or after ``after_events`` events)."""

    seconds: float = 30.0
    after_events: int | None = None


@dataclass
class Drop:
    """Reset the connection mid-body (after ``after_events`` SSE events when streaming)."""

    after_events: int = 2


@dataclass
class Truncate:
    """End the stream cleanly after ``after_events`` events, without ``message_stop``."""

    after_events: int = 3


@dataclass
class Malformed:
    """A 200 whose JSON body (or one SSE ``data:`` line) does not parse."""


Behaviour = Reply | ToolUse | Fail | Hang | Drop | Truncate | Malformed

_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens"}

_FAIL_DEFAULTS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def fail(status: int, message: str = "", retry_after: float | None = None) -> Fail:
    """The error Anthropic sends with ``status``, with its usual type and message."""
    kind = _FAIL_DEFAULTS.get(status, "api_error")
    text = message or {
        "authentication_error": "invalid x-api-key",
        "rate_limit_error": "Number of request tokens has exceeded your per-minute rate limit",
        "overloaded_error": "Overloaded",
        "api_error": "Internal server error",
    }.get(kind, "Invalid request")
    return Fail(status, kind, text, retry_after=retry_after)


@dataclass
class Sent:
    """One JSON document the stand-in sent: a ``message``, an SSE ``event`` or an ``error``."""

    kind: str
    document: dict[str, Any]


def _tokens(value: Any) -> int:
    return max(1, len(json.dumps(value).split()))


class _Handler(Handler):
    # -- plumbing ---------------------------------------------------------------------------

    def record(self, kind: str, document: dict[str, Any]) -> None:
        with self.state.lock:
            self.state.sent.append(Sent(kind, document))

    def _error(self, status: int, kind: str, message: str, **headers: str) -> None:
        document = {"type": "error", "error": {"type": kind, "message": message}}
        self.record("error", document)
        body = json.dumps(document).encode()
        request_id = "req_" + uuid.uuid4().hex[:24]
        self.send_bytes(status, body, "application/json", request_id=request_id, **headers)

    def _event(self, document: dict[str, Any]) -> None:
        self.record("event", document)
        self.chunk(f"event: {document['type']}\ndata: {json.dumps(document)}\n\n".encode())

    # -- the API ----------------------------------------------------------------------------

    def do_GET(self) -> None:
        self.read_body()
        self._error(404, "not_found_error", f"Not found: {self.path}")

    def do_POST(self) -> None:
        raw = self.read_body()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        state = self.state
        with state.lock:
            state.requests.append(
                Recorded("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
        if self.path.split("?")[0] != "/v1/messages":
            self._error(404, "not_found_error", f"Not found: {self.path}")
            return
        # The SDK from 2.x sends ``authorization: Bearer``; the documented header is x-api-key.
        bearer = self.headers.get("authorization", "")
        key = self.headers.get("x-api-key") or bearer.removeprefix("Bearer ")
        if not key:
            self._error(401, "authentication_error", "x-api-key header is required")
            return
        if key != state.api_key:
            self._error(401, "authentication_error", "invalid x-api-key")
            return
        if not self.headers.get("anthropic-version"):
            self._error(400, "invalid_request_error", "anthropic-version: header is required")
            return
        if not isinstance(body, dict):
            self._error(400, "invalid_request_error", "There was an error parsing the body")
            return
        for required in ("model", "messages", "max_tokens"):
            if required not in body:
                self._error(400, "invalid_request_error", f"{required}: Field required")
                return
        self._answer(body, self.next_behaviour())

    def native(self, behaviour: Any) -> Behaviour:
        """The shared behaviours of the contract suite in this stand-in's terms; stream
        faults count text deltas, after the three events every stream starts with."""
        lead = 3  # message_start, content_block_start, ping
        if isinstance(behaviour, shared.Reply):
            stop = _STOP_REASONS.get(behaviour.finish_reason, behaviour.finish_reason)
            return Reply(behaviour.text, stop, behaviour.chunks)
        if isinstance(behaviour, shared.ToolUse):
            return ToolUse(behaviour.name, behaviour.arguments, behaviour.text)
        if isinstance(behaviour, shared.Fail):
            return fail(behaviour.status, behaviour.message, behaviour.retry_after)
        if isinstance(behaviour, shared.Hang):
            after = behaviour.after_events
            return Hang(behaviour.seconds, None if after is None else after + lead)
        if isinstance(behaviour, shared.Drop):
            return Drop(behaviour.after_events + lead)
        if isinstance(behaviour, shared.Truncate):
            return Truncate(behaviour.after_events + lead)
        if isinstance(behaviour, shared.Malformed):
            return Malformed()
        return behaviour

    def _answer(self, body: dict[str, Any], behaviour: Behaviour) -> None:
        streaming = bool(body.get("stream"))
        if isinstance(behaviour, Hang) and behaviour.after_events is None:
            self.state.closing.wait(behaviour.seconds)
            self.reset()
            return
        if isinstance(behaviour, Fail) and (behaviour.after_events is None or not streaming):
            headers = {}
            if behaviour.retry_after is not None:
                headers["retry_after"] = f"{behaviour.retry_after:g}"
            self._error(behaviour.status, behaviour.type, behaviour.message, **headers)
            return
        message = _message(body, behaviour)
        if not streaming:
            self._answer_json(message, behaviour)
        else:
            self._answer_stream(message, behaviour)

    def _answer_json(self, message: dict[str, Any], behaviour: Behaviour) -> None:
        if isinstance(behaviour, Malformed):
            body = b'{"id": "msg_01", "type": "message", "content": [{"type": "te'
        else:
            self.record("message", message)
            body = json.dumps(message).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        if isinstance(behaviour, Drop | Hang):
            self.wfile.write(body[: len(body) // 2])
            if isinstance(behaviour, Hang):
                self.wfile.flush()
                self.state.closing.wait(behaviour.seconds)
            self.reset()
            return
        self.wfile.write(body)

    def _answer_stream(self, message: dict[str, Any], behaviour: Behaviour) -> None:
        self.start_stream("text/event-stream; charset=utf-8", cache_control="no-cache")
        limit = getattr(behaviour, "after_events", None)
        for count, event in enumerate(_events(message)):
            if limit is not None and count == limit:
                if isinstance(behaviour, Fail):
                    self._error_event(behaviour)
                    self.chunk(b"")
                elif isinstance(behaviour, Hang):
                    self.state.closing.wait(behaviour.seconds)
                    self.reset()
                elif isinstance(behaviour, Drop):
                    self.reset()
                else:
                    self.chunk(b"")
                return
            if isinstance(behaviour, Malformed) and event["type"] == "content_block_delta":
                self.chunk(b'event: content_block_delta\ndata: {"type": "content_block_de\n\n')
                continue
            if event["type"] == "ping":
                self.chunk(b'event: ping\ndata: {"type": "ping"}\n\n')
                self.record("ping", event)
                continue
            self._event(event)
        self.chunk(b"")

    def _error_event(self, behaviour: Fail) -> None:
        document = {
            "type": "error",
            "error": {"type": behaviour.type, "message": behaviour.message},
        }
        self.record("error", document)
        self.chunk(f"event: error\ndata: {json.dumps(document)}\n\n".encode())


def _message(request: dict[str, Any], behaviour: Behaviour) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    stop_reason = "end_turn"
    if isinstance(behaviour, ToolUse):
        if behaviour.text:
            content.append({"type": "text", "text": behaviour.text})
        content.append(
            {
                "type": "tool_use",
                "id": "toolu_" + uuid.uuid4().hex[:24],
                "name": behaviour.name,
                "input": behaviour.input,
            }
        )
        stop_reason = "tool_use"
    else:
        reply = behaviour if isinstance(behaviour, Reply) else Reply()
        content.append({"type": "text", "text": reply.text})
        stop_reason = reply.stop_reason
    return {
        "id": "msg_" + uuid.uuid4().hex[:24],
        "type": "message",
        "role": "assistant",
        "model": request["model"],
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": _tokens(request.get("messages")) + _tokens(request.get("system", "")),
            "output_tokens": _tokens(content),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "service_tier": "standard",
        },
    }


def _split(text: str, parts: int) -> list[str]:
    size = max(1, -(-len(text) // max(1, parts)))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _events(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The SSE events Anthropic sends for ``message``, in order."""
    usage = message["usage"]
    start = dict(message, content=[], stop_reason=None, stop_sequence=None)
    start["usage"] = dict(usage, output_tokens=1)
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            events.append(
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "text", "text": ""},
                }
            )
            if index == 0:
                events.append({"type": "ping"})
            for piece in _split(block["text"], 3):
                delta = {"type": "text_delta", "text": piece}
                events.append({"type": "content_block_delta", "index": index, "delta": delta})
        else:
            events.append(
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": dict(block, input={}),
                }
            )
            for piece in _split(json.dumps(block["input"]), 3):
                delta = {"type": "input_json_delta", "partial_json": piece}
                events.append({"type": "content_block_delta", "index": index, "delta": delta})
        events.append({"type": "content_block_stop", "index": index})
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
            "usage": {"output_tokens": usage["output_tokens"]},
        }
    )
    events.append({"type": "message_stop"})
    return events


class AnthropicStandIn(StandIn):
    """The stand-in server: ``with AnthropicStandIn() as server: server.base_url ...``."""

    handler = _Handler
    poll_interval = 0.05

    def __init__(self, api_key: str = API_KEY) -> None:
        super().__init__()
        self.api_key = api_key
        self._server.state.api_key = api_key
