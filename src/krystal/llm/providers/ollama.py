"""Ollama's native chat API (``POST /api/chat``), not its OpenAI-compatible shim.

The native API is the one every Ollama version has, and the only one that reports load
and eval durations. What differs from the neutral format:

- generation settings go in ``options`` (``num_predict`` is ``max_tokens``);
- images are a list of base64 strings on the message (``images``), no URLs;
- tool calls have no ids and their ``arguments`` are an object; a tool result is a
  ``tool`` message naming the tool (``tool_name``);
- structured output is ``format: <JSON schema>``;
- streams are NDJSON: one JSON document per line, the last with ``done: true`` and the
  token counts (``prompt_eval_count``, ``eval_count``); an error mid-stream is a line
  ``{"error": "..."}``;
- errors are ``{"error": "message"}``; ``GET /api/tags`` lists the models (the probe).
"""

from __future__ import annotations

import uuid
from collections.abc import Generator, Iterator, Sequence
from typing import Any

from krystal._errors import InputError
from krystal.llm._types import Message, ProviderType, Response, StreamEvent, ToolCall, Usage
from krystal.llm.providers.base import Options, Provider, Request, ServerEvent


class Ollama(Provider):
    """Ollama's ``/api/chat`` wire format."""

    name = "ollama"
    provider_type = ProviderType.LOCAL
    default_base_url = "http://localhost:11434"
    stream_format = "ndjson"
    probe_path = "/api/tags"

    def build_request(self, messages: Sequence[Message], options: Options) -> Request:
        names = {call.id: call.name for m in messages for call in m.tool_calls}
        settings: dict[str, Any] = {"num_predict": options.max_tokens}
        if options.temperature is not None:
            settings["temperature"] = options.temperature
        if options.stop:
            settings["stop"] = list(options.stop)
        body: dict[str, Any] = {
            "model": options.model,
            "messages": [_message(message, names) for message in messages],
            "stream": options.stream,
            "options": settings,
        }
        if options.tools and options.tool_choice != "none":
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": tool.parameters,
                    },
                }
                for tool in options.tools
            ]
        if options.json_schema is not None:
            body["format"] = options.json_schema
        body.update(options.extra)
        return Request("POST", "/api/chat", body, {"content-type": "application/json"})

    def parse_response(self, status: int, body: Any) -> Response:
        if not isinstance(body, dict) or not isinstance(body.get("message"), dict):
            raise self.broken(f"no message in the answer: {str(body)[:80]}")
        message = body["message"]
        calls = self._tool_calls(message)
        return self.response(
            message.get("content") or "",
            model=body.get("model", ""),
            raw=body,
            tokens_input=int(body.get("prompt_eval_count") or 0),
            tokens_output=int(body.get("eval_count") or 0),
            finish_reason=_finish(body, calls),
            tool_calls=calls,
        )

    def parse_stream(self, events: Iterator[ServerEvent]) -> Generator[StreamEvent, None, None]:
        calls: list[ToolCall] = []
        for event in events:
            chunk = self.load_json(event.data)
            if not isinstance(chunk, dict):
                raise self.broken(f"a stream line is not an object: {event.data[:80]!r}")
            if "error" in chunk:
                raise self.map_error(500, chunk, {})
            message = chunk.get("message") or {}
            calls += self._tool_calls(message)
            if message.get("content"):
                yield StreamEvent(text=message["content"], model=chunk.get("model", ""))
            if chunk.get("done"):
                yield StreamEvent(
                    done=True,
                    finish_reason=_finish(chunk, calls),
                    usage=Usage(
                        int(chunk.get("prompt_eval_count") or 0), int(chunk.get("eval_count") or 0)
                    ),
                    tool_calls=calls,
                    model=chunk.get("model", ""),
                )
                return
        raise self.broken("the stream ended before a line with done: true")

    def parse_models(self, body: Any) -> list[str]:
        models = (body or {}).get("models") or []
        return [str(entry.get("model") or entry.get("name")) for entry in models]

    def _tool_calls(self, message: dict[str, Any]) -> list[ToolCall]:
        calls = []
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            arguments = function.get("arguments") or {}
            if isinstance(arguments, str):
                arguments = self.load_json(arguments)
            calls.append(
                ToolCall(f"call_{uuid.uuid4().hex[:12]}", str(function.get("name", "")), arguments)
            )
        return calls


def _finish(body: dict[str, Any], calls: list[ToolCall]) -> str:
    if calls:
        return "tool_calls"
    return "length" if body.get("done_reason") == "length" else "stop"


def _message(message: Message, tool_names: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role, "content": message.text}
    if message.images:
        if any("data" not in image for image in message.images):
            raise InputError(
                "image part with a URL: Ollama takes images as base64 data "
                "({'type': 'image', 'data': ..., 'mime_type': ...})"
            )
        out["images"] = [image["data"] for image in message.images]
    if message.tool_calls:
        # Ollama's calls have no ids; the tool turn names the tool instead
        out["tool_calls"] = [
            {"function": {"name": call.name, "arguments": call.arguments}}
            for call in message.tool_calls
        ]
    if message.role == "tool":
        name = message.name or tool_names.get(message.tool_call_id or "")
        if name:
            out["tool_name"] = name
    return out
