"""An offline provider for demos and tests of code that uses the client.

It exists only when asked for by name (``provider="mock"``): auto-detection never picks
it and nothing falls back to it. Every answer says it comes from a mock. It speaks the
OpenAI wire format through an in-process httpx transport, so the whole client path
(transport, parsing, metrics) runs as it would against a server.
"""

from __future__ import annotations

import json
from typing import Any

from krystal._imports import require
from krystal.llm._types import ProviderType
from krystal.llm.providers.openai_compat import OpenAICompatible

PREFIX = "[mock provider, not a real model]"


class Mock(OpenAICompatible):
    """Answers ``[mock provider, not a real model] You said: <last user text>``."""

    name = "mock"
    provider_type = ProviderType.LOCAL
    default_base_url = "http://mock.invalid/v1"
    requires_api_key = False
    max_tokens_field = "max_tokens"

    def http_transport(self) -> Any:
        """The in-process httpx transport that plays the server."""
        return require("httpx", "llm").MockTransport(_answer)


def _answer(request: Any) -> Any:
    httpx = require("httpx", "llm")
    if request.url.path.endswith("/models"):
        return httpx.Response(200, json={"object": "list", "data": [{"id": "mock"}]})
    body = json.loads(request.content or b"{}")
    said = next(
        (m.get("content") for m in reversed(body.get("messages", [])) if m["role"] == "user"), ""
    )
    if not isinstance(said, str):
        said = " ".join(part.get("text", "") for part in said if part.get("type") == "text")
    text = f"{PREFIX} You said: {said}"
    if body.get("response_format"):
        text = json.dumps({"mock": True, "note": PREFIX})
    prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": len(text.split()),
        "total_tokens": prompt_tokens + len(text.split()),
    }
    if not body.get("stream"):
        return httpx.Response(
            200,
            json={
                "id": "chatcmpl-mock",
                "object": "chat.completion",
                "created": 0,
                "model": "mock",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": usage,
            },
        )
    chunks: list[dict[str, Any]] = [
        {"choices": [{"index": 0, "delta": {"content": word + " "}, "finish_reason": None}]}
        for word in text.split()
    ]
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    chunks.append({"choices": [], "usage": usage})
    lines = [
        f"data: {json.dumps({'id': 'chatcmpl-mock', 'object': 'chat.completion.chunk', 'created': 0, 'model': 'mock', **chunk})}\n\n"  # noqa: E501
        for chunk in chunks
    ]
    lines.append("data: [DONE]\n\n")
    return httpx.Response(
        200, content="".join(lines).encode(), headers={"content-type": "text/event-stream"}
    )
