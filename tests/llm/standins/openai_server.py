"""A stand-in for OpenAI's chat completions (also what LM Studio and vLLM serve).

``POST /v1/chat/completions`` with ``authorization: Bearer``; a ``chat.completion``
body, or SSE ``chat.completion.chunk`` events ending in ``data: [DONE]`` (with a
usage-only chunk when ``stream_options.include_usage`` is set); tool-call arguments
streamed in fragments; error bodies ``{"error": {"message", "type", "param", "code"}}``;
``GET /v1/models``.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from standins.common import Fail, Handler, Hang, Malformed, Reply, StandIn, ToolUse

API_KEY = "sk-test-standin-0123456789"
MODEL = "gpt-standin"

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    429: "rate_limit_exceeded",
    500: "server_error",
    503: "server_error",
}


def _pieces(text: str, count: int) -> list[str]:
    size = max(1, -(-len(text) // max(1, count)))
    return [text[i : i + size] for i in range(0, len(text), size)]


def _tokens(value: Any) -> int:
    return max(1, len(json.dumps(value).split()))


class _OpenAIHandler(Handler):
    def do_GET(self) -> None:
        self.read_request()
        if self.path.rstrip("/") == "/v1/models":
            document = {
                "object": "list",
                "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "standin"}],
            }
            self.send_json(200, document, "models")
        else:
            self._error(Fail(404, f"Unknown path {self.path}"))

    def do_POST(self) -> None:
        try:
            body = self.read_request()
        except ValueError:
            self._error(Fail(400, "We could not parse the JSON body of your request."))
            return
        if self.path != "/v1/chat/completions":
            self._error(Fail(404, f"Unknown path {self.path}"))
            return
        key = self.server.state.api_key
        if key and self.headers.get("authorization") != f"Bearer {key}":
            given = self.headers.get("authorization", "").removeprefix("Bearer ")
            message = f"Incorrect API key provided: {given}."
            self._error(Fail(401, message, code="invalid_api_key"))
            return
        behaviour = self.next_behaviour()
        if isinstance(behaviour, Fail):
            self._error(behaviour)
        elif isinstance(behaviour, Hang) and behaviour.after_events is None:
            self.hang(behaviour.seconds)
        elif body.get("stream"):
            self._stream(body, behaviour)
        elif isinstance(behaviour, Malformed):
            self.send_bytes(200, b'{"id": "chatcmpl-1", "choices": [', "application/json")
        elif isinstance(behaviour, Reply | ToolUse):
            self.send_json(200, self._completion(body, behaviour), "completion")
        else:  # Drop / Truncate on a plain answer: a body cut short
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", "500")
            self.end_headers()
            self.wfile.write(b'{"id": "chatcmpl-1", "object": "chat.')
            self.reset()

    def _error(self, fail: Fail) -> None:
        document = {
            "error": {
                "message": fail.message,
                "type": fail.kind or _ERROR_TYPES.get(fail.status, "server_error"),
                "param": None,
                "code": fail.code,
            }
        }
        headers = {}
        if fail.retry_after is not None:
            headers["retry_after"] = f"{fail.retry_after:g}"
        self.send_json(fail.status, document, "error", **headers)

    def _completion(self, body: dict[str, Any], behaviour: Reply | ToolUse) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
        if isinstance(behaviour, ToolUse):
            message["content"] = behaviour.text or None
            message["tool_calls"] = [
                {
                    "id": "call_" + uuid.uuid4().hex[:24],
                    "type": "function",
                    "function": {
                        "name": behaviour.name,
                        "arguments": json.dumps(behaviour.arguments),
                    },
                }
            ]
            finish = "tool_calls"
        else:
            message["content"] = behaviour.text
            finish = behaviour.finish_reason
        prompt = _tokens(body.get("messages"))
        completion = _tokens(message)
        return {
            "id": "chatcmpl-" + uuid.uuid4().hex[:24],
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", MODEL),
            "choices": [
                {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
            "system_fingerprint": "fp_standin",
        }

    def _stream(self, body: dict[str, Any], behaviour: Any) -> None:
        identity = {
            "id": "chatcmpl-" + uuid.uuid4().hex[:24],
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model", MODEL),
            "system_fingerprint": "fp_standin",
        }
        documents: list[dict[str, Any]] = []

        def chunk(delta: dict[str, Any], finish: str | None = None) -> None:
            documents.append(
                {
                    **identity,
                    "choices": [
                        {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
                    ],
                }
            )

        chunk({"role": "assistant", "content": ""})
        reply = behaviour if isinstance(behaviour, Reply | ToolUse) else Reply()
        text = reply.text
        for piece in _pieces(text, reply.chunks if isinstance(reply, Reply) else 2):
            chunk({"content": piece})
        if isinstance(reply, ToolUse):
            arguments = json.dumps(reply.arguments)
            half = len(arguments) // 2
            call_id = "call_" + uuid.uuid4().hex[:24]
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": call_id,
                            "type": "function",
                            "function": {"name": reply.name, "arguments": ""},
                        }
                    ]
                }
            )
            for part in (arguments[:half], arguments[half:]):
                chunk({"tool_calls": [{"index": 0, "function": {"arguments": part}}]})
            chunk({}, "tool_calls")
        else:
            chunk({}, reply.finish_reason)
        if (body.get("stream_options") or {}).get("include_usage"):
            prompt = _tokens(body.get("messages"))
            completion = _tokens(text) + (3 if isinstance(reply, ToolUse) else 0)
            documents.append(
                {
                    **identity,
                    "choices": [],
                    "usage": {
                        "prompt_tokens": prompt,
                        "completion_tokens": completion,
                        "total_tokens": prompt + completion,
                    },
                }
            )
        events = []
        for document in documents:
            self.record("chunk", document)
            events.append(f"data: {json.dumps(document)}\n\n".encode())
        if isinstance(behaviour, Malformed):
            events.insert(2, b'data: {"id": "chatcmpl-1", "choices": [\n\n')
        events.append(b"data: [DONE]\n\n")
        self.start_stream("text/event-stream; charset=utf-8")
        self.stream_events(behaviour, events)


class OpenAIStandIn(StandIn):
    """OpenAI's chat completions on 127.0.0.1; ``base_url`` ends in ``/v1``."""

    handler = _OpenAIHandler
    base_path = "/v1"

    def __init__(self, api_key: str | None = API_KEY) -> None:
        """``api_key=None`` plays a local server (LM Studio, vLLM) that wants no key."""
        super().__init__()
        self._server.state.api_key = api_key
