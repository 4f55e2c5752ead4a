"""A stand-in for the Gemini API (``generativelanguage``, v1beta) on 127.0.0.1.

It speaks ``POST /v1beta/models/{model}:generateContent`` and
``:streamGenerateContent?alt=sse`` (a JSON array without ``alt=sse``), takes the key
from the ``x-goog-api-key`` header or the ``key`` query parameter, answers with
``candidates[].content.parts``, ``finishReason`` and ``usageMetadata``, and fails with
Google's error body ``{"error": {"code", "message", "status", "details"}}`` (a wrong
key is a 400 ``API_KEY_INVALID``, a 429 carries a ``RetryInfo.retryDelay``).

A test queues behaviours (:class:`Reply`, :class:`FunctionCall`, :class:`Fail`,
:class:`Hang`, :class:`Drop`, :class:`Truncate`, :class:`Malformed`) with
:meth:`GeminiStandIn.script`; every request is kept in ``requests`` and every JSON
document sent in ``sent``, so ``gemini_checks`` can hold both to the official SDK
models and the published discovery document. The server itself is
:class:`standins.common.StandIn`.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from standins import common as shared
from standins.common import Handler, StandIn

API_KEY = "test-gemini-key"
_ROUTE = re.compile(
    r"^/v1(?:beta)?/models/(?P<model>[^/:]+):(?P<method>generateContent|streamGenerateContent)$"
)
_FIELDS = {
    "model", "contents", "systemInstruction", "tools", "toolConfig", "safetySettings",
    "generationConfig", "cachedContent", "store", "serviceTier",
}  # fmt: skip


@dataclass
class Reply:
    """A normal answer: text split into ``chunks`` streamed chunks."""

    text: str = "Hello from the Gemini stand-in."
    finish_reason: str = "STOP"
    chunks: int = 3


@dataclass
class FunctionCall:
    """The model calls one function, optionally after some text."""

    name: str
    args: dict[str, Any]
    text: str = ""


@dataclass
class Fail:
    """A Google error body with HTTP ``status``; ``retry_delay`` adds a RetryInfo detail."""

    status: int
    message: str = ""
    retry_delay: str | None = None
    reason: str | None = None


@dataclass
class Hang:
    """Say nothing for ``seconds`` (before the headers, or after ``after_chunks`` chunks)."""

    seconds: float = 30.0
    after_chunks: int | None = None


@dataclass
class Drop:
    """Reset the connection mid-body (after ``after_chunks`` SSE chunks when streaming)."""

    after_chunks: int = 1


@dataclass
class Truncate:
    """End the stream cleanly after ``after_chunks`` chunks, before the one with finishReason."""

    after_chunks: int = 1


@dataclass
class Malformed:
    """A 200 whose JSON body (or one SSE ``data:`` line) does not parse."""


Behaviour = Reply | FunctionCall | Fail | Hang | Drop | Truncate | Malformed

_FINISH = {"stop": "STOP", "length": "MAX_TOKENS"}

STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_MESSAGES = {
    400: "Request contains an invalid argument.",
    403: "Method doesn't allow unregistered callers. Please use API Key or other auth.",
    429: "You exceeded your current quota, please check your plan and billing details.",
    500: "An internal error has occurred. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting",
    503: "The model is overloaded. Please try again later.",
}


@dataclass
class Recorded:
    """One request as the stand-in received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class Sent:
    """One JSON document the stand-in sent: a ``response`` (or stream chunk) or an ``error``."""

    kind: str
    document: dict[str, Any]


def error_body(failure: Fail) -> dict[str, Any]:
    """Google's error document for ``failure``."""
    error: dict[str, Any] = {
        "code": failure.status,
        "message": failure.message or _MESSAGES.get(failure.status, "Error"),
        "status": STATUS.get(failure.status, "UNKNOWN"),
    }
    details: list[dict[str, Any]] = []
    if failure.reason:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": failure.reason,
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }
        )
    if failure.retry_delay:
        details.append(
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": failure.retry_delay}
        )
    if details:
        error["details"] = details
    return {"error": error}


def _tokens(value: Any) -> int:
    return max(1, len(json.dumps(value).split()))


class _Handler(Handler):
    def record(self, kind: str, document: dict[str, Any]) -> None:
        with self.state.lock:
            self.state.sent.append(Sent(kind, document))

    def _fail(self, failure: Fail) -> None:
        document = error_body(failure)
        self.record("error", document)
        body = json.dumps(document).encode()
        self.send_bytes(failure.status, body, "application/json; charset=UTF-8")

    def native(self, behaviour: Any) -> Behaviour:
        """The shared behaviours of the contract suite in this stand-in's terms (stream
        faults count chunks)."""
        if isinstance(behaviour, shared.Reply):
            finish = _FINISH.get(behaviour.finish_reason, behaviour.finish_reason)
            return Reply(behaviour.text, finish, behaviour.chunks)
        if isinstance(behaviour, shared.ToolUse):
            return FunctionCall(behaviour.name, behaviour.arguments, behaviour.text)
        if isinstance(behaviour, shared.Fail):
            wait = behaviour.retry_after
            return Fail(behaviour.status, behaviour.message, None if wait is None else f"{wait:g}s")
        if isinstance(behaviour, shared.Hang):
            return Hang(behaviour.seconds, behaviour.after_events)
        if isinstance(behaviour, shared.Drop):
            return Drop(behaviour.after_events)
        if isinstance(behaviour, shared.Truncate):
            return Truncate(behaviour.after_events)
        if isinstance(behaviour, shared.Malformed):
            return Malformed()
        return behaviour

    def do_GET(self) -> None:
        self.read_body()
        self._fail(Fail(404, f"Not found: {urlsplit(self.path).path}"))

    def do_POST(self) -> None:
        raw = self.read_body()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        url = urlsplit(self.path)
        query = {name: values[-1] for name, values in parse_qs(url.query).items()}
        state = self.state
        with state.lock:
            state.requests.append(
                Recorded(
                    "POST",
                    url.path,
                    query,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
            )
        route = _ROUTE.match(url.path)
        if route is None:
            self._fail(Fail(404, f"Not found: {url.path}"))
            return
        key = self.headers.get("x-goog-api-key") or query.get("key")
        if not key:
            self._fail(Fail(403))
            return
        if key != state.api_key:
            message = "API key not valid. Please pass a valid API key."
            self._fail(Fail(400, message, reason="API_KEY_INVALID"))
            return
        problem = _problem(body)
        if problem:
            self._fail(Fail(400, problem))
            return
        behaviour = self.next_behaviour()
        model = route["model"]
        if route["method"] == "generateContent":
            self._answer_json(model, body, behaviour)
        else:
            self._answer_stream(model, body, behaviour, sse=query.get("alt") == "sse")

    def _answer_json(self, model: str, body: dict[str, Any], behaviour: Behaviour) -> None:
        if isinstance(behaviour, Fail):
            self._fail(behaviour)
            return
        if isinstance(behaviour, Hang) and behaviour.after_chunks is None:
            self.state.closing.wait(behaviour.seconds)
            self.reset()
            return
        response = _response(model, body, behaviour)
        if isinstance(behaviour, Malformed):
            data = b'{"candidates": [{"content": {"parts": [{"te'
        else:
            self.record("response", response)
            data = json.dumps(response).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json; charset=UTF-8")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        if isinstance(behaviour, Drop | Hang):
            self.wfile.write(data[: len(data) // 2])
            if isinstance(behaviour, Hang):
                self.wfile.flush()
                self.state.closing.wait(behaviour.seconds)
            self.reset()
            return
        self.wfile.write(data)

    def _answer_stream(
        self, model: str, body: dict[str, Any], behaviour: Behaviour, *, sse: bool
    ) -> None:
        if isinstance(behaviour, Fail):
            self._fail(behaviour)
            return
        if isinstance(behaviour, Hang) and behaviour.after_chunks is None:
            self.state.closing.wait(behaviour.seconds)
            self.reset()
            return
        self.start_stream("text/event-stream" if sse else "application/json; charset=UTF-8")
        limit = getattr(behaviour, "after_chunks", None)
        chunks = _chunks(model, body, behaviour)
        for count, chunk in enumerate(chunks):
            if limit is not None and count == limit:
                if isinstance(behaviour, Hang):
                    self.state.closing.wait(behaviour.seconds)
                if isinstance(behaviour, Hang | Drop):
                    self.reset()
                    return
                break
            if isinstance(behaviour, Malformed) and count == 1:
                self.chunk(b'data: {"candidates": [{"content": \r\n\r\n')
                continue
            self.record("response", chunk)
            data = json.dumps(chunk)
            if sse:
                self.chunk(f"data: {data}\r\n\r\n".encode())
            else:
                prefix = "[" if count == 0 else ",\r\n"
                self.chunk((prefix + data).encode())
        if not sse:
            self.chunk(b"]")
        self.chunk(b"")


def _camel(name: str) -> str:
    """Proto3 JSON accepts a field's snake_case name as well as its lowerCamel one."""
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


def _problem(body: Any) -> str:
    """The INVALID_ARGUMENT message Google gives for a malformed request, or ``""``."""
    if not isinstance(body, dict):
        return "Invalid JSON payload received. Expected an object."
    for name in body:
        if _camel(name) not in _FIELDS:
            return f'Invalid JSON payload received. Unknown name "{name}": Cannot find field.'
    body = {_camel(name): value for name, value in body.items()}
    if not body.get("contents"):
        return "* GenerateContentRequest.contents: contents is not specified\n"
    for index, content in enumerate(body["contents"]):
        if content.get("role", "user") not in ("user", "model"):
            return (
                f"* GenerateContentRequest.contents[{index}].role: "
                "Please use a valid role: user, model.\n"
            )
        if not content.get("parts"):
            return f"* GenerateContentRequest.contents[{index}].parts: must not be empty.\n"
    return ""


def _parts(behaviour: Behaviour) -> tuple[list[dict[str, Any]], str]:
    if isinstance(behaviour, FunctionCall):
        parts: list[dict[str, Any]] = [{"text": behaviour.text}] if behaviour.text else []
        parts.append({"functionCall": {"name": behaviour.name, "args": behaviour.args}})
        return parts, "STOP"
    reply = behaviour if isinstance(behaviour, Reply) else Reply()
    return [{"text": reply.text}], reply.finish_reason


def _usage(body: dict[str, Any], parts: list[dict[str, Any]]) -> dict[str, int]:
    prompt = _tokens(body.get("contents")) + _tokens(body.get("systemInstruction", ""))
    output = _tokens(parts)
    return {
        "promptTokenCount": prompt,
        "candidatesTokenCount": output,
        "totalTokenCount": prompt + output,
    }


def _envelope(
    model: str, parts: list[dict[str, Any]], usage: dict[str, int], finish: str | None, rid: str
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": model,
        "responseId": rid,
    }


def _response(model: str, body: dict[str, Any], behaviour: Behaviour) -> dict[str, Any]:
    parts, finish = _parts(behaviour)
    return _envelope(model, parts, _usage(body, parts), finish, uuid.uuid4().hex[:22])


def _chunks(model: str, body: dict[str, Any], behaviour: Behaviour) -> list[dict[str, Any]]:
    """The chunks ``streamGenerateContent`` sends: text pieces, the last with finishReason."""
    parts, finish = _parts(behaviour)
    usage = _usage(body, parts)
    rid = uuid.uuid4().hex[:22]
    pieces: list[list[dict[str, Any]]] = []
    for part in parts:
        if "text" in part:
            text = part["text"]
            count = behaviour.chunks if isinstance(behaviour, Reply) else 3
            size = max(1, -(-len(text) // max(1, count)))
            pieces += [[{"text": text[i : i + size]}] for i in range(0, len(text), size)]
        else:
            pieces.append([part])
    if len(pieces) < 2:
        pieces.insert(0, [{"text": ""}])
    chunks = []
    for index, piece in enumerate(pieces):
        last = index == len(pieces) - 1
        partial = {"promptTokenCount": usage["promptTokenCount"]}
        chunks.append(
            _envelope(model, piece, usage if last else partial, finish if last else None, rid)
        )
    return chunks


class GeminiStandIn(StandIn):
    """The stand-in server: ``with GeminiStandIn() as server: server.base_url ...``."""

    handler = _Handler
    poll_interval = 0.05

    def __init__(self, api_key: str = API_KEY) -> None:
        super().__init__()
        self.api_key = api_key
        self._server.state.api_key = api_key
