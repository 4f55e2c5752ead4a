"""Gemini's ``generateContent`` / ``streamGenerateContent`` (v1beta): messages in, events out.

What differs from the neutral (OpenAI-style) format:

- roles are ``user`` and ``model``; the system prompt is ``systemInstruction``;
- a turn is ``{"role", "parts"}`` with ``text``, ``inlineData`` (base64 images),
  ``fileData`` (image URLs), ``functionCall`` and ``functionResponse`` parts. A tool
  result goes back as a ``functionResponse`` in a user turn, matched by the *name* of
  the call (and its ``id`` when Gemini gave one). Gemini often gives calls no id, so
  the adapter numbers them ``gemini_call_<n>`` and does not send those numbers back;
- sampling lives in ``generationConfig``; structured output is native:
  ``responseMimeType: application/json`` with ``responseSchema``, Gemini's subset of
  OpenAPI schema, so a JSON Schema is narrowed to the keys it knows (types upper-case,
  ``$ref`` inlined, ``["x", "null"]`` as ``nullable``);
- streaming is SSE (``?alt=sse``) where every ``data:`` line is a whole
  ``GenerateContentResponse``; the last carries ``finishReason`` and the full usage;
- the key travels in the ``x-goog-api-key`` header, never in the URL, so it cannot
  leak into logs of URLs;
- errors are ``{"error": {"code", "message", "status", "details"}}``: a bad key is a
  400 whose ``ErrorInfo.reason`` is ``API_KEY_INVALID``, a 429 says when to retry in
  ``RetryInfo.retryDelay``, and a prompt over the context window is a 400 whose
  message says the token count exceeds the maximum.

>>> provider = Gemini(api_key="test")
>>> request = provider.build_request(
...     [Message("system", "Be brief."), Message("user", "Hi")],
...     Options(model="gemini-2.5-flash", max_tokens=64, stream=True),
... )
>>> request.path, request.params
('/v1beta/models/gemini-2.5-flash:streamGenerateContent', {'alt': 'sse'})
>>> request.json["systemInstruction"], request.json["contents"]
({'parts': [{'text': 'Be brief.'}]}, [{'role': 'user', 'parts': [{'text': 'Hi'}]}])
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator, Mapping, Sequence
from typing import Any, ClassVar

from krystal._errors import InputError
from krystal.llm._errors import (
    AuthError,
    ContentFilterError,
    ContextLengthError,
    LLMError,
    RateLimitError,
)
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
    retry_after_seconds,
)

API_VERSION = "v1beta"
_CALL_PREFIX = "gemini_call_"

FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
}

# The keys of Gemini's ``Schema`` that a JSON Schema may carry over unchanged.
_SCHEMA_KEYS = {
    "description", "enum", "nullable", "maxItems", "minItems", "required",
    "minProperties", "maxProperties", "minimum", "maximum", "minLength", "maxLength",
    "pattern", "example", "propertyOrdering", "default", "title",
}  # fmt: skip
# The formats Gemini accepts; others (``email``, ``uri``…) are refused, so they are dropped.
_FORMATS = {"enum", "date-time", "int32", "int64", "float", "double"}


def to_gemini_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema narrowed to Gemini's ``Schema`` (upper-case types, known keys).

    >>> to_gemini_schema({"type": "object", "additionalProperties": False,
    ...                   "properties": {"n": {"type": ["integer", "null"]}}})
    {'type': 'OBJECT', 'properties': {'n': {'nullable': True, 'type': 'INTEGER'}}}
    """
    definitions = schema.get("$defs") or schema.get("definitions") or {}

    def convert(node: dict[str, Any]) -> dict[str, Any]:
        if "$ref" in node:
            node = definitions[node["$ref"].rsplit("/", 1)[-1]]
        out: dict[str, Any] = {}
        kind = node.get("type")
        if isinstance(kind, list):
            rest = [k for k in kind if k != "null"]
            if len(rest) < len(kind):
                out["nullable"] = True
            kind = rest[0] if rest else None
        if kind:
            out["type"] = str(kind).upper()
        for key in _SCHEMA_KEYS & node.keys():
            out[key] = node[key]
        if node.get("format") in _FORMATS:
            out["format"] = node["format"]
        if "properties" in node:
            out["properties"] = {k: convert(v) for k, v in node["properties"].items()}
        if "items" in node and isinstance(node["items"], dict):
            out["items"] = convert(node["items"])
        if "anyOf" in node:
            options = [o for o in node["anyOf"] if o.get("type") != "null"]
            if len(options) < len(node["anyOf"]):
                out["nullable"] = True
            if len(options) == 1:
                out.update({k: v for k, v in convert(options[0]).items() if k not in out})
            else:
                out["anyOf"] = [convert(o) for o in options]
        if "const" in node:
            out.setdefault("type", "STRING")
            out["enum"] = [node["const"]]
        return out

    return convert(schema)


class Gemini(Provider):
    """The Gemini API (Google AI Studio keys)."""

    name: ClassVar[str] = "gemini"
    default_base_url: ClassVar[str] = "https://generativelanguage.googleapis.com"
    stream_format: ClassVar[str] = "sse"
    probe_path: ClassVar[str | None] = f"/{API_VERSION}/models"
    requires_api_key: ClassVar[bool] = True

    def auth_headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self.api_key}

    # -- requests -------------------------------------------------------------------------

    def build_request(self, messages: Sequence[Message], options: Options) -> Request:
        instruction, contents = translate_messages(messages)
        body: dict[str, Any] = {"contents": contents}
        if instruction:
            body["systemInstruction"] = instruction
        generation: dict[str, Any] = {"maxOutputTokens": options.max_tokens}
        if options.temperature is not None:
            generation["temperature"] = options.temperature
        if options.stop:
            generation["stopSequences"] = list(options.stop)
        if options.json_schema is not None:
            generation["responseMimeType"] = "application/json"
            generation["responseSchema"] = to_gemini_schema(options.json_schema)
        body["generationConfig"] = generation
        if options.tools:
            body["tools"] = [{"functionDeclarations": [_declaration(t) for t in options.tools]}]
            if options.tool_choice is not None:
                body["toolConfig"] = _tool_config(options.tool_choice)
        body.update(options.extra)
        model = options.model.removeprefix("models/")
        if options.stream:
            path = f"/{API_VERSION}/models/{model}:streamGenerateContent"
            return Request("POST", path, body, self.auth_headers(), {"alt": "sse"})
        path = f"/{API_VERSION}/models/{model}:generateContent"
        return Request("POST", path, body, self.auth_headers())

    def parse_models(self, body: Any) -> list[str]:
        models = body.get("models") if isinstance(body, Mapping) else None
        return [
            str(model["name"]).removeprefix("models/")
            for model in models or []
            if isinstance(model, Mapping) and "name" in model
        ]

    # -- answers --------------------------------------------------------------------------

    def parse_response(self, status: int, body: Any) -> Response:
        if not isinstance(body, Mapping):
            raise self.broken(f"expected a GenerateContentResponse, got {str(body)[:80]!r}")
        text, calls, finish, usage = self._read(body, 0)
        return self.response(
            text,
            model=str(body.get("modelVersion", "")),
            raw=body,
            tokens_input=usage.input_tokens,
            tokens_output=usage.output_tokens,
            finish_reason=finish or "stop",
            tool_calls=calls,
        )

    def parse_stream(self, events: Iterator[ServerEvent]) -> Generator[StreamEvent, None, None]:
        calls: list[ToolCall] = []
        usage = Usage()
        model = ""
        for item in events:
            if not item.data:
                continue
            document = self.load_json(item.data)
            if not isinstance(document, Mapping):
                raise self.broken(f"expected a response chunk, got {item.data[:80]!r}")
            if "error" in document:
                error = document["error"]
                raise self.map_error(int(error.get("code") or 500), document, {})
            model = str(document.get("modelVersion", model))
            text, new_calls, finish, chunk_usage = self._read(document, len(calls))
            calls += new_calls
            if chunk_usage != Usage():
                usage = chunk_usage
            if text:
                yield StreamEvent(text=text, model=model)
            if finish:
                yield StreamEvent(
                    done=True,
                    finish_reason=finish,
                    usage=usage,
                    tool_calls=calls,
                    model=model,
                )
                return
        raise self.broken("the stream ended before a chunk with finishReason")

    def _read(
        self, body: Mapping[str, Any], numbered: int
    ) -> tuple[str, list[ToolCall], str | None, Usage]:
        """Text, tool calls, finish reason and usage of one response (or chunk)."""
        candidates = body.get("candidates") or []
        if not candidates:
            reason = (body.get("promptFeedback") or {}).get("blockReason")
            if reason:
                raise ContentFilterError(
                    f"gemini blocked the prompt: {reason}",
                    provider=self.name,
                    status_code=200,
                    provider_message=str(reason),
                )
        candidate = candidates[0] if candidates else {}
        text: list[str] = []
        calls: list[ToolCall] = []
        for part in (candidate.get("content") or {}).get("parts") or []:
            if part.get("thought"):
                continue
            if "text" in part:
                text.append(part["text"])
            elif "functionCall" in part:
                call = part["functionCall"]
                ident = call.get("id") or f"{_CALL_PREFIX}{numbered + len(calls)}"
                calls.append(ToolCall(ident, call["name"], dict(call.get("args") or {})))
        raw_finish = candidate.get("finishReason")
        finish = FINISH_REASONS.get(raw_finish, "stop") if raw_finish else None
        if finish == "stop" and (calls or numbered):
            finish = "tool_calls"
        meta = body.get("usageMetadata") or {}
        output = int(meta.get("candidatesTokenCount") or 0)
        usage = Usage(
            int(meta.get("promptTokenCount") or 0),
            output + int(meta.get("thoughtsTokenCount") or 0),
        )
        return "".join(text), calls, finish, usage

    # -- errors ---------------------------------------------------------------------------

    def error_detail(self, body: Any) -> tuple[str, str]:
        if isinstance(body, list) and body:
            body = body[0]  # a streamed (JSON array) answer wraps the error in a list
        if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
            error = body["error"]
            return str(error.get("status", "")), str(error.get("message", ""))
        return super().error_detail(body)

    def map_error(self, status: int, body: Any, headers: Mapping[str, str]) -> LLMError:
        kind, message = self.error_detail(body)
        details = _details(body)
        reasons = {str(detail.get("reason", "")) for detail in details}
        text = f"{self.name} answered HTTP {status}: {message or kind or 'no message'}"
        common: dict[str, Any] = {
            "provider": self.name,
            "status_code": status,
            "provider_message": message,
        }
        lowered = message.lower()
        if "API_KEY_INVALID" in reasons or kind in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
            return AuthError(text, **common)
        if kind == "RESOURCE_EXHAUSTED" or status == 429:
            wait = retry_after_seconds(headers)
            return RateLimitError(text, retry_after=_retry_delay(details, wait), **common)
        if status == 400 and "token" in lowered and "exceed" in lowered:
            return ContextLengthError(text, **common)
        return super().map_error(status, body, headers)


def _details(body: Any) -> list[Mapping[str, Any]]:
    if isinstance(body, list) and body:
        body = body[0]
    error = body.get("error") if isinstance(body, Mapping) else None
    details = error.get("details") if isinstance(error, Mapping) else None
    return [detail for detail in details or [] if isinstance(detail, Mapping)]


def _retry_delay(details: list[Mapping[str, Any]], fallback: float | None) -> float | None:
    """Seconds from a ``google.rpc.RetryInfo`` detail (``"7s"``, ``"1.5s"``), if any."""
    for detail in details:
        if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            delay = str(detail.get("retryDelay", ""))
            try:
                return max(0.0, float(delay.removesuffix("s")))
            except ValueError:
                break
    return fallback


def _declaration(tool: Tool) -> dict[str, Any]:
    declaration: dict[str, Any] = {"name": tool.name}
    if tool.description:
        declaration["description"] = tool.description
    if tool.parameters.get("properties"):
        declaration["parameters"] = to_gemini_schema(tool.parameters)
    return declaration


def _tool_config(choice: str) -> dict[str, Any]:
    modes = {"auto": "AUTO", "required": "ANY", "none": "NONE"}
    if choice in modes:
        return {"functionCallingConfig": {"mode": modes[choice]}}
    return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [choice]}}


def _parts(message: Message) -> list[dict[str, Any]]:
    if isinstance(message.content, str):
        return [{"text": message.content}] if message.content else []
    parts: list[dict[str, Any]] = []
    for part in message.content:
        if part["type"] == "text":
            parts.append({"text": part["text"]})
        elif part.get("data"):
            parts.append({"inlineData": {"mimeType": part["mime_type"], "data": part["data"]}})
        else:
            parts.append({"fileData": {"fileUri": part["url"]}})
    return parts


def _result(message: Message, name: str) -> dict[str, Any]:
    try:
        value = json.loads(message.text)
    except ValueError:
        value = message.text
    response = value if isinstance(value, dict) else {"result": value}
    answer: dict[str, Any] = {"name": name, "response": response}
    if message.tool_call_id and not message.tool_call_id.startswith(_CALL_PREFIX):
        answer["id"] = message.tool_call_id
    return {"functionResponse": answer}


def translate_messages(
    messages: Sequence[Message],
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Neutral messages as ``(systemInstruction, contents)``.

    >>> translate_messages([Message("user", "Hi"), Message("assistant", "Hello")])[1]
    [{'role': 'user', 'parts': [{'text': 'Hi'}]}, {'role': 'model', 'parts': [{'text': 'Hello'}]}]
    """
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for message in messages:
        if message.role == "system":
            system.append({"text": message.text})
            continue
        if message.role == "tool":
            name = message.name or names.get(message.tool_call_id or "")
            if not name:
                raise InputError(
                    f"tool message tool_call_id={message.tool_call_id!r}: expected the id of "
                    "an earlier assistant tool call, or a name"
                )
            role, parts = "user", [_result(message, name)]
        elif message.role == "assistant":
            role, parts = "model", _parts(message)
            for call in message.tool_calls:
                names[call.id] = call.name
                function: dict[str, Any] = {"name": call.name, "args": call.arguments}
                if call.id and not call.id.startswith(_CALL_PREFIX):
                    function["id"] = call.id
                parts.append({"functionCall": function})
        else:
            role, parts = "user", _parts(message)
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"] += parts
        else:
            contents.append({"role": role, "parts": parts})
    return ({"parts": system} if system else None), contents
