"""Hold the Ollama stand-in to the official ``ollama`` SDK's models.

Ollama publishes no OpenAPI document, so its SDK's pydantic models are the reference:
every document the stand-in sends must parse as ``ChatResponse`` / ``ListResponse``, and a
request body must parse as ``ChatRequest`` with no field the SDK does not know.
"""

from __future__ import annotations

import collections.abc
import typing
from typing import Any

import ollama
import ollama._types
import pydantic


def unknown_keys(document: Any, annotation: Any, where: str = "") -> list[str]:
    """Keys of ``document`` (recursively) that the pydantic models in ``annotation`` lack.

    The ollama SDK's models ignore unknown fields, so drift is found by walking the keys.
    """
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        if not isinstance(document, dict):
            return []
        found = []
        for key, value in document.items():
            info = annotation.model_fields.get(key)
            if info is None:
                found.append(f"{where}.{key}")
            else:
                found += unknown_keys(value, info.annotation, f"{where}.{key}")
        return found
    if origin in (dict, collections.abc.Mapping) and isinstance(document, dict) and args:
        return [
            path
            for key, value in document.items()
            for path in unknown_keys(value, args[-1], f"{where}[{key!r}]")
        ]
    if origin in (list, collections.abc.Sequence) and isinstance(document, list) and args:
        return [
            path
            for index, item in enumerate(document)
            for path in unknown_keys(item, args[0], f"{where}[{index}]")
        ]
    if args:  # Optional / Union: the best alternative that holds a model (not a bare dict)
        results = [unknown_keys(document, arg, where) for arg in args if _has_model(arg)]
        return min(results, key=len) if results else []
    return []


def _has_model(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return True
    return any(_has_model(arg) for arg in typing.get_args(annotation))


_MODELS: dict[str, Any] = {"chat": ollama.ChatResponse, "tags": ollama.ListResponse}


def validate_response(kind: str, document: dict[str, Any]) -> None:
    if kind == "error":
        assert set(document) == {"error"} and isinstance(document["error"], str), document
        return
    _MODELS[kind].model_validate(document)
    # /api/tags still sends the legacy "name" beside "model" (Ollama's docs/api.md shows
    # both); the SDK only models "model", so that one key is allowed.
    unknown = [p for p in unknown_keys(document, _MODELS[kind]) if not p.endswith("].name")]
    if unknown:
        raise AssertionError(f"{kind} has fields the SDK does not know: {unknown}")


def validate_all_sent(sent: list[tuple[str, dict[str, Any]]]) -> int:
    for kind, document in sent:
        validate_response(kind, document)
    return len(sent)


def validate_request(body: Any) -> None:
    """The SDK's ``ChatRequest`` must accept ``body`` and know every field in it."""
    ollama._types.ChatRequest.model_validate(body)
    unknown = unknown_keys(body, ollama._types.ChatRequest)
    if unknown:
        raise AssertionError(f"request has fields the ollama SDK does not know: {unknown}")
