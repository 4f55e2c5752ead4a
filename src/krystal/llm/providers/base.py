"""The adapter contract: what one wire format has to say, and nothing else.

A provider adapter translates; it never does I/O. The shared transport
(``krystal.llm._transport``) sends the :class:`Request` an adapter builds, with pooling,
retries, deadlines and the circuit breaker, and hands the answer back to the adapter:

- a whole JSON body goes to :meth:`Provider.parse_response` (status 2xx) or to
  :meth:`Provider.map_error` (any other status);
- a stream is cut into :class:`ServerEvent` items (one per SSE event, or one per NDJSON
  line, as :attr:`Provider.stream_format` says) and fed to :meth:`Provider.parse_stream`,
  a generator that keeps whatever state the format needs (tool-call fragments, usage
  that arrives early) in its own locals.

Messages arrive normalised (:class:`~krystal.llm._types.Message`, see ``_types`` for the
neutral content parts) and options as one :class:`Options`. A new wire format is one
module with one subclass; ``openai_compat.py`` and ``ollama.py`` are the examples.

>>> class Echo(Provider):
...     name = "echo"
...     def build_request(self, messages, options):
...         return Request("POST", "/echo", {"text": messages[-1].text})
...     def parse_response(self, status, body):
...         return self.response(body["text"], model="echo", raw=body)
>>> echo = Echo()
>>> echo.build_request([Message("user", "hi")], Options(model="echo")).json
{'text': 'hi'}
>>> echo.parse_response(200, {"text": "hi"}).content
'hi'
>>> type(echo.map_error(401, {"error": {"message": "bad key"}}, {})).__name__
'AuthError'
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from krystal.llm._errors import (
    LLMError,
    ProviderError,
    RateLimitError,
    error_for_status,
    register_secret,
)
from krystal.llm._types import Message, ProviderType, Response, StreamEvent, Tool, ToolCall

__all__ = [
    "Message",
    "Options",
    "Provider",
    "Request",
    "Response",
    "ServerEvent",
    "StreamEvent",
    "Tool",
    "ToolCall",
    "retry_after_seconds",
]


@dataclass
class Options:
    """Everything about a request that is not the messages.

    ``tool_choice`` is ``"auto"``, ``"none"``, ``"required"`` or the name of one tool.
    ``json_schema`` asks for structured output: the adapter turns it into the provider's
    native JSON mode (``response_format``, ``format``, a forced tool…). ``extra`` is
    merged into the request body as is, for provider-specific fields.
    """

    model: str
    max_tokens: int = 1024
    temperature: float | None = None
    tools: list[Tool] = field(default_factory=list)
    tool_choice: str | None = None
    json_schema: dict[str, Any] | None = None
    schema_name: str = "answer"
    stop: list[str] = field(default_factory=list)
    stream: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Request:
    """One HTTP request, relative to the provider's base URL."""

    method: str
    path: str
    json: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ServerEvent:
    """One item of a stream: an SSE event (``event`` may be empty) or one NDJSON line."""

    data: str
    event: str = ""


class Provider:
    """Base class of the wire-format adapters.

    Class attributes describe the format; ``api_key`` is the only state. Subclasses
    implement :meth:`build_request`, :meth:`parse_response` and, to stream,
    :meth:`parse_stream`; they override :meth:`error_detail` when the provider's error
    body is not OpenAI's ``{"error": {"type", "message"}}``.
    """

    #: registry name, used in responses, errors and metrics
    name: ClassVar[str] = ""
    provider_type: ClassVar[ProviderType] = ProviderType.API
    default_base_url: ClassVar[str] = ""
    #: ``"sse"`` (``data:`` events) or ``"ndjson"`` (one JSON document per line)
    stream_format: ClassVar[str] = "sse"
    #: a cheap GET that answers 200 when the server is up (used by ``provider="auto"``)
    probe_path: ClassVar[str | None] = None
    requires_api_key: ClassVar[bool] = False

    def __init__(self, api_key: str = "") -> None:
        register_secret(api_key)
        self.api_key = api_key

    def __repr__(self) -> str:
        return f"{type(self).__name__}(api_key={'***' if self.api_key else ''!r})"

    # -- requests -------------------------------------------------------------------------

    def build_request(self, messages: Sequence[Message], options: Options) -> Request:
        """The HTTP request for ``messages`` (``options.stream`` says whether to stream)."""
        raise NotImplementedError

    def probe_request(self) -> Request:
        """The request that checks the server is up and lists its models."""
        return Request("GET", self.probe_path or "/", headers=self.auth_headers())

    def instead(self, request: Request, error: LLMError) -> Request | None:
        """A request to send in place of one the server refused with ``error`` because it
        lacks a feature the request used (None: no such fallback, the error stands).

        The transport sends it once, outside the retry count; an adapter that returns one
        should also stop using the feature for later requests.
        """
        return None

    def auth_headers(self) -> dict[str, str]:
        """Headers that carry the API key (none by default)."""
        return {}

    # -- answers --------------------------------------------------------------------------

    def parse_response(self, status: int, body: Any) -> Response:
        """A 2xx JSON body as a :class:`Response` (latency is filled in by the client)."""
        raise NotImplementedError

    def parse_stream(self, events: Iterator[ServerEvent]) -> Generator[StreamEvent, None, None]:
        """Text deltas, then exactly one final event with ``done=True``.

        Raise :class:`ProviderError` when the stream ends before its end marker or an
        event does not parse, and :meth:`map_error`'s result for an in-stream error event.
        """
        raise NotImplementedError(f"{self.name} does not stream")

    def parse_models(self, body: Any) -> list[str]:
        """Model names from the :meth:`probe_request` answer (empty when unknown)."""
        return []

    # -- errors ---------------------------------------------------------------------------

    def error_detail(self, body: Any) -> tuple[str, str]:
        """``(type, message)`` from an error body; OpenAI's shape by default."""
        if isinstance(body, Mapping):
            error = body.get("error")
            if isinstance(error, Mapping):
                kind = error.get("type") or error.get("code") or error.get("status") or ""
                return str(kind), str(error.get("message", ""))
            if isinstance(error, str):
                return "", error
            if "message" in body:
                return str(body.get("type", "")), str(body["message"])
        return "", str(body)[:500] if body else ""

    def map_error(self, status: int, body: Any, headers: Mapping[str, str]) -> LLMError:
        """The :class:`LLMError` for a non-2xx answer (or an in-stream error event)."""
        kind, message = self.error_detail(body)
        cls = error_for_status(status, f"{kind} {message}")
        text = f"{self.name} answered HTTP {status}: {message or kind or 'no message'}"
        common: dict[str, Any] = {
            "provider": self.name,
            "status_code": status,
            "provider_message": message,
        }
        if cls is RateLimitError:
            return RateLimitError(text, retry_after=retry_after_seconds(headers), **common)
        return cls(text, **common)

    # -- helpers for subclasses -----------------------------------------------------------

    def response(
        self,
        content: str,
        *,
        model: str,
        raw: Any,
        tokens_input: int = 0,
        tokens_output: int = 0,
        finish_reason: str = "stop",
        tool_calls: list[ToolCall] | None = None,
    ) -> Response:
        """A :class:`Response` stamped with this provider's name and type."""
        return Response(
            content=content,
            model=model,
            provider=self.name,
            provider_type=self.provider_type,
            tokens_input=tokens_input,
            tokens_output=tokens_output,
            latency_ms=0.0,
            finish_reason=finish_reason,
            raw=raw,
            tool_calls=tool_calls or [],
        )

    def broken(self, message: str) -> ProviderError:
        """The error for an answer that is not this provider's wire format."""
        return ProviderError(f"{self.name}: {message}", provider=self.name)

    def load_json(self, data: str) -> Any:
        """``json.loads`` that raises :class:`ProviderError` naming the bad data."""
        try:
            return json.loads(data)
        except ValueError as error:
            raise self.broken(f"unparseable JSON in the answer: {data[:80]!r}") from error


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """The wait a ``Retry-After`` (seconds or HTTP date) or ``retry-after-ms`` header asks.

    >>> retry_after_seconds({"retry-after": "2"}), retry_after_seconds({})
    (2.0, None)
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    if "retry-after-ms" in lowered:
        try:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        when = email.utils.parsedate_to_datetime(value) if value else None
        return None if when is None else max(0.0, when.timestamp() - time.time())
