"""Structured output: a JSON schema or a pydantic model in, a validated object out.

The schema goes to the provider's native JSON mode; the answer is then checked here,
because not every server enforces the schema. With ``jsonschema`` installed a dict schema
is fully validated; without it only the JSON and the required top-level keys are checked.
"""

from __future__ import annotations

import importlib.util
import json
from typing import Any


class Schema:
    """What the caller passed as ``schema=``, ready to send and to validate with.

    >>> s = Schema({"type": "object", "properties": {"x": {"type": "integer"}},
    ...             "required": ["x"]})
    >>> s.validate('{"x": 3}')
    {'x': 3}
    """

    def __init__(self, schema: Any) -> None:
        self.model = None
        if isinstance(schema, dict):
            self.json_schema = schema
            self.name = str(schema.get("title") or "answer")
        elif hasattr(schema, "model_json_schema") and hasattr(schema, "model_validate_json"):
            self.model = schema
            self.json_schema = schema.model_json_schema()
            self.name = schema.__name__
        else:
            raise TypeError(f"schema={schema!r}: expected a JSON schema dict or a pydantic model")
        self.name = "".join(c if c.isalnum() or c in "_-" else "_" for c in self.name)[:64]

    def validate(self, text: str) -> Any:
        """The object ``text`` holds; ``ValueError`` saying what is wrong otherwise."""
        text = _strip_fences(text)
        if self.model is not None:
            return self.model.model_validate_json(text)  # pydantic's error is a ValueError
        value = json.loads(text)
        if importlib.util.find_spec("jsonschema") is not None:
            import jsonschema

            try:
                jsonschema.validate(value, self.json_schema)
            except jsonschema.ValidationError as error:
                raise ValueError(error.message) from error
        elif self.json_schema.get("type") == "object":
            if not isinstance(value, dict):
                raise ValueError(f"expected a JSON object, got {type(value).__name__}")
            missing = [key for key in self.json_schema.get("required", []) if key not in value]
            if missing:
                raise ValueError(f"missing required keys {missing}")
        return value


def _strip_fences(text: str) -> str:
    """Small models wrap JSON in Markdown fences even in JSON mode; drop them."""
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        stripped = stripped.rsplit("```", 1)[0]
    return stripped.strip()


def reask(error: Exception) -> str:
    """The user turn that asks once more after an invalid answer."""
    return (
        f"That answer was not valid: {str(error)[:300]}. Reply again with only the JSON "
        "value that matches the schema, nothing else."
    )
