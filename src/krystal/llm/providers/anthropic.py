"""Anthropic's Messages API (``POST /v1/messages``): messages in, events out.

What differs from the neutral (OpenAI-style) format:

- the system prompt is a top-level ``system`` field, not a message, and ``max_tokens``
  is required;
- a turn's content is a list of blocks: ``text``, ``image`` (a base64 or URL source),
  ``tool_use`` (the assistant calling a tool; ``input`` is an object) and
  ``tool_result`` (sent back in a *user* turn); consecutive turns of one role are merged,
  since the API wants user and assistant to alternate;
- structured output is one forced tool (``tool_choice: {"type": "tool"}``) whose
  ``input`` is the answer. It works on every model, where the native ``output_config``
  JSON format needs a recent one. The tool's reserved name, :data:`STRUCTURED_TOOL`,
  tells the answer apart from an ordinary tool call, since the adapter keeps no state;
- streaming is SSE with typed events; a tool's arguments arrive as ``input_json_delta``
  pieces that parse only once the block stops, and the stream may end with an ``error``
  event instead of ``message_stop``;
- errors are ``{"type": "error", "error": {"type", "message"}}``; 529 is
  ``overloaded_error``.

>>> provider = Anthropic(api_key="test")
>>> request = provider.build_request(
...     [Message("system", "Be brief."), Message("user", "Hi")],
...     Options(model="claude-opus-4-6", max_tokens=64),
... )
>>> request.path, request.json["system"], request.json["messages"]
('/v1/messages', 'Be brief.', [{'role': 'user', 'content': 'Hi'}])
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator, Mapping, Sequence
from typing import Any, ClassVar

from krystal.llm._types import Usage
from krystal.llm.providers.base import (
    Message,
    Options,
    Provider,
    Request,
    Response,
    ServerEvent,
    StreamEvent,
    Tool,
    ToolCall,
)

API_VERSION = "2023-06-01"
STRUCTURED_TOOL = "structured_answer"

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

# The HTTP status an error type comes with, for errors that arrive inside a stream.
ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


class Anthropic(Provider):
    """The Messages API of Anthropic."""

    name: ClassVar[str] = "anthropic"
    default_base_url: ClassVar[str] = "https://api.anthropic.com"
    stream_format: ClassVar[str] = "sse"
    probe_path: ClassVar[str | None] = "/v1/models"
    requires_api_key: ClassVar[bool] = True

    def auth_headers(self) -> dict[str, str]:
        return {"x-api-key": self.api_key, "anthropic-version": API_VERSION}

    # -- requests -------------------------------------------------------------------------

    def build_request(self, messages: Sequence[Message], options: Options) -> Request:
        system, turns = translate_messages(messages)
        body: dict[str, Any] = {
            "model": options.model,
            "max_tokens": options.max_tokens,
            "messages": turns,
        }
        if system:
            body["system"] = system
        if options.temperature is not None:
            body["temperature"] = min(max(options.temperature, 0.0), 1.0)
        if options.stop:
            body["stop_sequences"] = list(options.stop)
        tools = [_tool(tool) for tool in options.tools]
        choice = options.tool_choice
        if options.json_schema is not None:
            tools.append(
                {
                    "name": STRUCTURED_TOOL,
                    "description": f"Give the answer ({options.schema_name}) as this object.",
                    "input_schema": options.json_schema,
                }
            )
            choice = STRUCTURED_TOOL
        if tools:
            body["tools"] = tools
            if choice is not None:
                body["tool_choice"] = _tool_choice(choice)
        if options.stream:
            body["stream"] = True
        body.update(options.extra)
        return Request("POST", "/v1/messages", json=body, headers=self.auth_headers())

    def parse_models(self, body: Any) -> list[str]:
        data = body.get("data") if isinstance(body, Mapping) else None
        return [str(model["id"]) for model in data or [] if isinstance(model, Mapping)]

    # -- answers --------------------------------------------------------------------------

    def parse_response(self, status: int, body: Any) -> Response:
        if not isinstance(body, Mapping) or body.get("type") != "message":
            raise self.broken(f"expected a message object, got {str(body)[:80]!r}")
        text, calls = [], []
        for block in body.get("content") or []:
            if block.get("type") == "text":
                text.append(block["text"])
            elif block.get("type") == "tool_use":
                calls.append(ToolCall(block["id"], block["name"], dict(block["input"] or {})))
        content, calls, structured = _split_structured("".join(text), calls)
        usage = body.get("usage") or {}
        return self.response(
            content,
            model=str(body.get("model", "")),
            raw=body,
            tokens_input=int(usage.get("input_tokens") or 0),
            tokens_output=int(usage.get("output_tokens") or 0),
            finish_reason=_finish(body.get("stop_reason"), structured),
            tool_calls=calls,
        )

    def parse_stream(self, events: Iterator[ServerEvent]) -> Generator[StreamEvent, None, None]:
        blocks: dict[int, dict[str, Any]] = {}
        calls: list[ToolCall] = []
        tokens_input = tokens_output = 0
        stop_reason: str | None = None
        model = ""
        structured = False
        for item in events:
            if item.event == "ping" or not item.data:
                continue
            document = self.load_json(item.data)
            kind = document.get("type", item.event)
            if kind == "error":
                # No HTTP status inside a stream: use the one the error type comes with.
                error_type, _ = self.error_detail(document)
                raise self.map_error(ERROR_STATUS.get(error_type, 500), document, {})
            if kind == "message_start":
                message = document["message"]
                model = str(message.get("model", ""))
                usage = message.get("usage") or {}
                tokens_input = int(usage.get("input_tokens") or 0)
                tokens_output = int(usage.get("output_tokens") or 0)
            elif kind == "content_block_start":
                block = dict(document["content_block"], parts=[])
                blocks[document["index"]] = block
                if block["type"] == "text" and block.get("text"):
                    yield StreamEvent(text=block["text"], model=model)
            elif kind == "content_block_delta":
                delta = document["delta"]
                if delta["type"] == "text_delta":
                    yield StreamEvent(text=delta["text"], model=model)
                elif delta["type"] == "input_json_delta":
                    blocks[document["index"]]["parts"].append(delta["partial_json"])
            elif kind == "content_block_stop":
                block = blocks.pop(document["index"], {})
                if block.get("type") != "tool_use":
                    continue
                raw = "".join(block["parts"])
                if block["name"] == STRUCTURED_TOOL:
                    structured = True
                    yield StreamEvent(text=raw, model=model)
                    continue
                arguments = self.load_json(raw) if raw else {}
                calls.append(ToolCall(block["id"], block["name"], arguments))
            elif kind == "message_delta":
                stop_reason = (document.get("delta") or {}).get("stop_reason") or stop_reason
                usage = document.get("usage") or {}
                tokens_output = int(usage.get("output_tokens") or tokens_output)
                tokens_input = int(usage.get("input_tokens") or tokens_input)
            elif kind == "message_stop":
                yield StreamEvent(
                    done=True,
                    finish_reason=_finish(stop_reason, structured),
                    usage=Usage(tokens_input, tokens_output),
                    tool_calls=calls,
                    model=model,
                )
                return
        raise self.broken("the stream ended before message_stop")


def _finish(stop_reason: str | None, structured: bool) -> str:
    finish = FINISH_REASONS.get(stop_reason or "", "stop")
    return "stop" if structured and finish == "tool_calls" else finish


def _split_structured(text: str, calls: list[ToolCall]) -> tuple[str, list[ToolCall], bool]:
    """The forced structured-output tool's input becomes the content, as JSON."""
    for call in calls:
        if call.name == STRUCTURED_TOOL:
            rest = [other for other in calls if other is not call]
            return json.dumps(call.arguments), rest, True
    return text, calls, False


def _tool(tool: Tool) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": tool.name, "input_schema": tool.parameters}
    if tool.description:
        entry["description"] = tool.description
    return entry


def _tool_choice(choice: str) -> dict[str, Any]:
    named = {"auto": {"type": "auto"}, "required": {"type": "any"}, "none": {"type": "none"}}
    return named.get(choice) or {"type": "tool", "name": choice}


def _block(part: Mapping[str, Any]) -> dict[str, Any]:
    if part["type"] == "text":
        return {"type": "text", "text": part["text"]}
    if part.get("data"):
        source = {"type": "base64", "media_type": part["mime_type"], "data": part["data"]}
    else:
        source = {"type": "url", "url": part["url"]}
    return {"type": "image", "source": source}


def _blocks(message: Message) -> list[dict[str, Any]]:
    if isinstance(message.content, str):
        return [{"type": "text", "text": message.content}] if message.content else []
    return [_block(part) for part in message.content]


def translate_messages(
    messages: Sequence[Message],
) -> tuple[str | None, list[dict[str, Any]]]:
    """Neutral messages as ``(system, messages)`` in Anthropic's shape.

    >>> translate_messages([Message("user", "a"), Message("user", "b")])[1]
    [{'role': 'user', 'content': [{'type': 'text', 'text': 'a'}, {'type': 'text', 'text': 'b'}]}]
    """
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for message in messages:
        role = message.role
        if role == "system":
            system.append(message.text)
            continue
        if role == "tool":
            role = "user"
            content: Any = message.text if isinstance(message.content, str) else _blocks(message)
            blocks = [
                {"type": "tool_result", "tool_use_id": message.tool_call_id, "content": content}
            ]
        else:
            blocks = _blocks(message)
            for call in message.tool_calls:
                blocks.append(
                    {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
                )
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += blocks
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:
        only = turn["content"]
        if len(only) == 1 and only[0]["type"] == "text":
            turn["content"] = only[0]["text"]
    return ("\n\n".join(system) if system else None), turns
