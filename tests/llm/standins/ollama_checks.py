"""Hold the Ollama stand-in to the official ``ollama`` SDK's models.

Ollama publishes no OpenAPI document, so its SDK's pydantic models are the reference:
every document the stand-in sends must parse as ``ChatResponse`` / ``ListResponse``, and a
request body must parse as ``ChatRequest`` with no field the SDK does not know.
"""

from __future__ import annotations

from typing import Any

import ollama
import ollama._types
from standins.common import unknown_fields

_MODELS: dict[str, Any] = {"chat": ollama.ChatResponse, "tags": ollama.ListResponse}


def validate_response(kind: str, document: dict[str, Any]) -> None:
    if kind == "error":
        assert set(document) == {"error"} and isinstance(document["error"], str), document
        return
    _MODELS[kind].model_validate(document)
    # /api/tags still sends the legacy "name" beside "model" (Ollama's docs/api.md shows
    # both); the SDK only models "model", so that one key is allowed.
    unknown = [p for p in unknown_fields(document, _MODELS[kind]) if not p.endswith("].name")]
    if unknown:
        raise AssertionError(f"{kind} has fields the SDK does not know: {unknown}")


def validate_all_sent(sent: list[tuple[str, dict[str, Any]]]) -> int:
    for kind, document in sent:
        validate_response(kind, document)
    return len(sent)


def validate_request(body: Any) -> None:
    """The SDK's ``ChatRequest`` must accept ``body`` and know every field in it."""
    ollama._types.ChatRequest.model_validate(body)
    unknown = unknown_fields(body, ollama._types.ChatRequest)
    if unknown:
        raise AssertionError(f"request has fields the ollama SDK does not know: {unknown}")
