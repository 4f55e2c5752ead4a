"""The provider-neutral values of the LLM layer: messages, tools, responses, stream events.

The neutral format follows OpenAI's chat messages, since that is what most users already
write; every adapter translates from it. Content is a string, or a list of parts:

- ``{"type": "text", "text": ...}``
- ``{"type": "image", "data": <base64>, "mime_type": "image/png"}``
- ``{"type": "image", "url": "https://..."}``

OpenAI-style ``{"type": "image_url", "image_url": {"url": ...}}`` parts (``data:`` URLs
included) are accepted and normalised to the image parts above by :func:`to_messages`.

Finish reasons use OpenAI's words: ``stop``, ``length``, ``tool_calls``,
``content_filter``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from krystal._errors import InputError

ROLES = ("system", "user", "assistant", "tool")


class ProviderType(str, Enum):
    """Where a model runs: on the user's machine or behind a paid API.

    >>> ProviderType.LOCAL.value
    'local'
    """

    LOCAL = "local"
    API = "api"


@dataclass(frozen=True)
class ToolCall:
    """The model asking for a tool: ``arguments`` is already a parsed object.

    >>> ToolCall("call_1", "get_weather", {"city": "Paris"}).arguments["city"]
    'Paris'
    """

    id: str
    name: str
    arguments: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The OpenAI-style form (``arguments`` as a JSON string)."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": json.dumps(self.arguments)},
        }


@dataclass(frozen=True)
class Tool:
    """A function the model may call; ``parameters`` is a JSON schema of its arguments.

    >>> Tool("get_weather", "Current weather.", {"type": "object"}).name
    'get_weather'
    """

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})

    @classmethod
    def coerce(cls, value: Tool | Mapping[str, Any]) -> Tool:
        """A :class:`Tool` from itself or an OpenAI-style ``{"type": "function", ...}`` dict."""
        if isinstance(value, Tool):
            return value
        function = value.get("function", value)
        if not isinstance(function, Mapping) or not function.get("name"):
            raise InputError(f"tool {value!r}: expected a Tool or a dict with a 'name'")
        return cls(
            name=str(function["name"]),
            description=str(function.get("description") or ""),
            parameters=dict(function.get("parameters") or {"type": "object", "properties": {}}),
        )


@dataclass
class Message:
    """One chat turn.

    ``tool_calls`` is set on an assistant turn that called tools; ``tool_call_id`` on a
    ``tool`` turn that carries a tool's result back.

    >>> Message("user", "Hello").to_dict()
    {'role': 'user', 'content': 'Hello'}
    """

    role: str
    content: str | list[dict[str, Any]] = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise InputError(f"message role {self.role!r}: expected one of {', '.join(ROLES)}")
        self.content = _content(self.content)

    @property
    def text(self) -> str:
        """The text of the message, image parts left out."""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.get("text", "") for part in self.content if part["type"] == "text")

    @property
    def images(self) -> list[dict[str, Any]]:
        """The image parts of the message."""
        if isinstance(self.content, str):
            return []
        return [part for part in self.content if part["type"] == "image"]

    @classmethod
    def coerce(cls, value: Message | Mapping[str, Any]) -> Message:
        """A :class:`Message` from itself or an OpenAI-style dict."""
        if isinstance(value, Message):
            return value
        if not isinstance(value, Mapping) or "role" not in value:
            raise InputError(f"message {value!r}: expected a Message or a dict with a 'role'")
        calls = [_tool_call(call) for call in value.get("tool_calls") or []]
        return cls(
            role=str(value["role"]),
            content=value.get("content") or "",
            tool_calls=calls,
            tool_call_id=value.get("tool_call_id"),
            name=value.get("name"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The OpenAI-style dict of this message."""
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            out["tool_calls"] = [call.to_dict() for call in self.tool_calls]
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            out["name"] = self.name
        return out


def to_messages(messages: str | Iterable[Message | Mapping[str, Any]]) -> list[Message]:
    """Normalise what a caller passed (a prompt, Messages or OpenAI-style dicts).

    >>> [m.role for m in to_messages([{"role": "system", "content": "Be brief."}, "Hi"])]
    ['system', 'user']
    """
    if isinstance(messages, str):
        return [Message("user", messages)]
    out = [
        Message("user", item) if isinstance(item, str) else Message.coerce(item)
        for item in messages
    ]
    if not out:
        raise InputError("messages: expected at least one message, got an empty list")
    return out


def _tool_call(value: ToolCall | Mapping[str, Any]) -> ToolCall:
    if isinstance(value, ToolCall):
        return value
    function = value.get("function", value)
    arguments = function.get("arguments") or {}
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments or "{}")
        except ValueError as error:
            raise InputError(f"tool call arguments {arguments!r}: expected JSON") from error
    return ToolCall(id=str(value.get("id", "")), name=str(function["name"]), arguments=arguments)


def _content(value: object) -> str | list[dict[str, Any]]:
    """Message content as text or normalised parts; ``None`` (an assistant turn that only
    calls tools, in OpenAI-style dicts) is empty text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, Iterable) and not isinstance(value, Mapping | bytes):
        return [_part(part) for part in value]
    raise InputError(f"message content {value!r}: expected a string or a list of content parts")


def _part(part: object) -> dict[str, Any]:
    if isinstance(part, str):
        return {"type": "text", "text": part}
    if not isinstance(part, Mapping):
        raise InputError(f"content part {part!r}: expected a string or a mapping")
    kind = part.get("type")
    if kind == "text":
        return {"type": "text", "text": str(part.get("text", ""))}
    if kind == "image":
        if part.get("data"):
            return {
                "type": "image",
                "data": part["data"],
                "mime_type": part.get("mime_type", "image/png"),
            }
        if part.get("url"):
            return _image_from_url(str(part["url"]))
    if kind == "image_url":
        image = part.get("image_url")
        return _image_from_url(str(image["url"] if isinstance(image, Mapping) else image))
    raise InputError(
        f"content part {dict(part)!r}: expected a text part, an image part with 'data' "
        "and 'mime_type' or 'url', or an OpenAI image_url part"
    )


def _image_from_url(url: str) -> dict[str, Any]:
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        return {"type": "image", "data": data, "mime_type": header[5:].split(";")[0]}
    return {"type": "image", "url": url}


@dataclass(frozen=True)
class Usage:
    """Tokens a request consumed."""

    input_tokens: int = 0
    output_tokens: int = 0


@dataclass
class Response:
    """A whole answer.

    ``parsed`` holds the validated object when a ``schema`` was asked for; ``raw`` is the
    provider's JSON body as received. ``cost_usd`` is the price of the tokens by the
    client's price table (0 on a local server or a cache hit, ``None`` for a model the
    table does not know); ``cached`` marks an answer served from the response cache;
    ``fallbacks`` lists the providers this call moved away from, and why.

    >>> r = Response("Hi", "m", "ollama", ProviderType.LOCAL, 5, 2, 12.0, "stop", {})
    >>> r.tokens_total, r.is_local
    (7, True)
    """

    content: str
    model: str
    provider: str
    provider_type: ProviderType
    tokens_input: int
    tokens_output: int
    latency_ms: float
    finish_reason: str
    raw: Any
    tool_calls: list[ToolCall] = field(default_factory=list)
    parsed: Any = None
    cost_usd: float | None = None
    cached: bool = False
    fallbacks: list[Any] = field(default_factory=list)

    @property
    def tokens_total(self) -> int:
        return self.tokens_input + self.tokens_output

    @property
    def is_local(self) -> bool:
        return self.provider_type is ProviderType.LOCAL

    def to_message(self) -> Message:
        """The assistant turn to append to the history (tool calls included)."""
        return Message("assistant", self.content, tool_calls=list(self.tool_calls))


@dataclass
class StreamEvent:
    """One step of a stream: a text delta, or the final event (``done``).

    The final event carries ``finish_reason``, ``usage`` (when the provider reported
    it), the complete ``tool_calls`` of the turn, its ``cost_usd`` and the ``fallbacks``
    taken before the stream started.
    """

    text: str = ""
    done: bool = False
    finish_reason: str | None = None
    usage: Usage | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    model: str = ""
    cost_usd: float | None = None
    fallbacks: list[Any] = field(default_factory=list)
