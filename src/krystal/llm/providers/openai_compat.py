"""OpenAI chat completions (``POST /chat/completions``), also spoken by LM Studio and vLLM.

The neutral format is already OpenAI's, so translation is short:

- image parts become ``image_url`` parts (base64 data as a ``data:`` URL);
- tool calls carry their arguments as a JSON *string* on the wire;
- structured output is ``response_format: {"type": "json_schema", ...}``; a server that
  refuses that form (llama-cpp-python's knows only ``{"type": "json_object", "schema":
  ...}``) gets the request again in its form, and keeps getting that form;
- streams are SSE ``data:`` chunks ending in ``data: [DONE]``; with
  ``stream_options: {"include_usage": true}`` a last chunk with no choices carries the
  usage, and tool-call arguments arrive as fragments keyed by ``index``;
- errors are ``{"error": {"message", "type", "param", "code"}}`` (vLLM also sends
  ``{"object": "error", "message", ...}``).

LM Studio and vLLM differ only in where they listen, that they run locally and need no
key: each is a three-line subclass.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from dataclasses import replace
from typing import Any

from krystal.llm._errors import BadRequestError, LLMError, ServerError
from krystal.llm._types import Message, ProviderType, Response, StreamEvent, ToolCall, Usage
from krystal.llm.providers.base import Options, Provider, Request, ServerEvent

FINISH_REASONS = {"function_call": "tool_calls"}


class OpenAICompatible(Provider):
    """OpenAI's chat-completions wire format (the API itself: ``name = "openai"``)."""

    name = "openai"
    provider_type = ProviderType.API
    default_base_url = "https://api.openai.com/v1"
    stream_format = "sse"
    probe_path = "/models"
    requires_api_key = True
    #: OpenAI deprecated ``max_tokens`` for ``max_completion_tokens``; servers that copy
    #: the API lag behind, so they keep the old name.
    max_tokens_field = "max_completion_tokens"

    def __init__(self, api_key: str = "") -> None:
        super().__init__(api_key)
        #: ``"json_schema"`` (OpenAI's form) until the server refuses it
        self.schema_form = "json_schema"

    def auth_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    # -- requests -------------------------------------------------------------------------

    def build_request(self, messages: Sequence[Message], options: Options) -> Request:
        body: dict[str, Any] = {
            "model": options.model,
            "messages": [_message(message) for message in messages],
            self.max_tokens_field: options.max_tokens,
        }
        if options.temperature is not None:
            body["temperature"] = options.temperature
        if options.stop:
            body["stop"] = list(options.stop)
        if options.tools:
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
        if options.tool_choice is not None:
            body["tool_choice"] = (
                options.tool_choice
                if options.tool_choice in ("auto", "none", "required")
                else {"type": "function", "function": {"name": options.tool_choice}}
            )
        if options.json_schema is not None:
            body["response_format"] = self._response_format(
                options.schema_name, options.json_schema
            )
        if options.stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        body.update(options.extra)
        headers = {"content-type": "application/json", **self.auth_headers()}
        return Request("POST", "/chat/completions", body, headers)

    def _response_format(self, name: str, schema: dict[str, Any]) -> dict[str, Any]:
        if self.schema_form == "json_object":
            return {"type": "json_object", "schema": schema}
        return {"type": "json_schema", "json_schema": {"name": name, "schema": schema}}

    def instead(self, request: Request, error: LLMError) -> Request | None:
        wanted = (request.json or {}).get("response_format") or {}
        # llama-cpp-python answers its validation errors with a 500, others with 400/422
        refused = isinstance(error, BadRequestError | ServerError)
        refused = refused and "response_format" in str(error)
        if not refused or wanted.get("type") != "json_schema":
            return None
        self.schema_form = "json_object"
        form = self._response_format("", wanted["json_schema"]["schema"])
        return replace(request, json={**(request.json or {}), "response_format": form})

    # -- answers --------------------------------------------------------------------------

    def parse_response(self, status: int, body: Any) -> Response:
        try:
            choice = body["choices"][0]
            message = choice["message"]
        except (KeyError, IndexError, TypeError) as error:
            raise self.broken(f"no choices[0].message in the answer: {str(body)[:80]}") from error
        usage = body.get("usage") or {}
        calls = [self._tool_call(call) for call in message.get("tool_calls") or []]
        finish = choice.get("finish_reason") or "stop"
        return self.response(
            message.get("content") or "",
            model=body.get("model", ""),
            raw=body,
            tokens_input=int(usage.get("prompt_tokens") or 0),
            tokens_output=int(usage.get("completion_tokens") or 0),
            finish_reason=FINISH_REASONS.get(finish, finish),
            tool_calls=calls,
        )

    def parse_stream(self, events: Iterator[ServerEvent]) -> Generator[StreamEvent, None, None]:
        finish = "stop"
        usage = None
        model = ""
        calls: dict[int, dict[str, Any]] = {}
        for event in events:
            if event.data.strip() == "[DONE]":
                yield StreamEvent(
                    done=True,
                    finish_reason=FINISH_REASONS.get(finish, finish),
                    usage=usage,
                    model=model,
                    tool_calls=[self._tool_call(call) for _, call in sorted(calls.items())],
                )
                return
            chunk = self.load_json(event.data)
            if not isinstance(chunk, dict):
                raise self.broken(f"a stream chunk is not an object: {event.data[:80]!r}")
            if "error" in chunk:
                raise self.map_error(500, chunk, {})
            model = chunk.get("model") or model
            if chunk.get("usage"):
                usage = Usage(
                    int(chunk["usage"].get("prompt_tokens") or 0),
                    int(chunk["usage"].get("completion_tokens") or 0),
                )
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                for fragment in delta.get("tool_calls") or []:
                    call = calls.setdefault(
                        fragment.get("index", len(calls)),
                        {"id": "", "function": {"name": "", "arguments": ""}},
                    )
                    call["id"] = fragment.get("id") or call["id"]
                    function = fragment.get("function") or {}
                    call["function"]["name"] += function.get("name") or ""
                    call["function"]["arguments"] += function.get("arguments") or ""
                finish = choice.get("finish_reason") or finish
                if delta.get("content"):
                    yield StreamEvent(text=delta["content"], model=model)
        raise self.broken("the stream ended before data: [DONE]")

    def parse_models(self, body: Any) -> list[str]:
        return [str(entry.get("id")) for entry in (body or {}).get("data") or []]

    def _tool_call(self, call: dict[str, Any]) -> ToolCall:
        function = call.get("function") or {}
        raw = function.get("arguments") or "{}"
        arguments = self.load_json(raw) if isinstance(raw, str) else raw
        if not isinstance(arguments, dict):
            raise self.broken(f"tool call arguments are not an object: {raw!r:.80}")
        return ToolCall(str(call.get("id") or ""), str(function.get("name") or ""), arguments)


class LMStudio(OpenAICompatible):
    """LM Studio's local server, OpenAI-compatible at ``/v1``."""

    name = "lmstudio"
    provider_type = ProviderType.LOCAL
    default_base_url = "http://localhost:1234/v1"
    requires_api_key = False
    max_tokens_field = "max_tokens"


class VLLM(OpenAICompatible):
    """vLLM's OpenAI-compatible server."""

    name = "vllm"
    provider_type = ProviderType.LOCAL
    default_base_url = "http://localhost:8000/v1"
    requires_api_key = False
    max_tokens_field = "max_tokens"


def _message(message: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role}
    if isinstance(message.content, str) or message.role in ("assistant", "tool"):
        # "" rather than null beside tool calls: OpenAI takes both, but servers that copy
        # the API (llama-cpp-python's) insist on a string
        out["content"] = message.text
    else:
        out["content"] = [_part(part) for part in message.content]
    if message.tool_calls:
        out["tool_calls"] = [call.to_dict() for call in message.tool_calls]
    if message.role == "tool":
        out["tool_call_id"] = message.tool_call_id or ""
    elif message.name:
        out["name"] = message.name
    return out


def _part(part: dict[str, Any]) -> dict[str, Any]:
    if part["type"] == "text":
        return {"type": "text", "text": part["text"]}
    url = part.get("url") or f"data:{part['mime_type']};base64,{part['data']}"
    return {"type": "image_url", "image_url": {"url": url}}
