"""A stand-in for Ollama's native API: ``POST /api/chat`` and ``GET /api/tags``.

A whole answer is one JSON document with ``done: true`` and the counters; a stream is
NDJSON (``application/x-ndjson``), one document per line, the last with ``done: true``;
tool calls come whole in one line with object arguments; errors are ``{"error": "..."}``.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import Any

from standins.common import Fail, Handler, Hang, Malformed, Reply, StandIn, ToolUse

MODEL = "llama3.2:latest"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def _pieces(text: str, count: int) -> list[str]:
    size = max(1, -(-len(text) // max(1, count)))
    return [text[i : i + size] for i in range(0, len(text), size)]


class _OllamaHandler(Handler):
    def do_GET(self) -> None:
        self.read_request()
        if self.path == "/api/tags":
            document = {
                "models": [
                    {
                        "name": MODEL,
                        "model": MODEL,
                        "modified_at": _now(),
                        "size": 2019393189,
                        "digest": "a80c4f17acd55265feec403c7aef86be"
                        "0c25983ab279d83f3bcd3abbcb5b8b72",
                        "details": {
                            "parent_model": "",
                            "format": "gguf",
                            "family": "llama",
                            "families": ["llama"],
                            "parameter_size": "3.2B",
                            "quantization_level": "Q4_K_M",
                        },
                    }
                ]
            }
            self.send_json(200, document, "tags")
        else:
            self.send_json(404, {"error": "404 page not found"}, "error")

    def do_POST(self) -> None:
        try:
            body = self.read_request()
        except ValueError:
            self.send_json(400, {"error": "invalid character in JSON body"}, "error")
            return
        if self.path != "/api/chat":
            self.send_json(404, {"error": "404 page not found"}, "error")
            return
        if not body.get("model"):
            self.send_json(400, {"error": "model is required"}, "error")
            return
        behaviour = self.next_behaviour()
        if isinstance(behaviour, Fail):
            headers = {}
            if behaviour.retry_after is not None:
                headers["retry_after"] = f"{behaviour.retry_after:g}"
            self.send_json(behaviour.status, {"error": behaviour.message}, "error", **headers)
        elif isinstance(behaviour, Hang) and behaviour.after_events is None:
            self.hang(behaviour.seconds)
        elif body.get("stream", True):
            self._stream(body, behaviour)
        elif isinstance(behaviour, Malformed):
            self.send_bytes(200, b'{"model": "llama3.2", "message": {', "application/json")
        elif isinstance(behaviour, Reply | ToolUse):
            self.send_json(200, self._final(body, behaviour, whole=True), "chat")
        else:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", "400")
            self.end_headers()
            self.wfile.write(b'{"model": "llama3.2", ')
            self.reset()

    def _final(self, body: dict[str, Any], reply: Reply | ToolUse, whole: bool) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text if whole else ""}
        if whole and isinstance(reply, ToolUse):
            message["tool_calls"] = [
                {"function": {"name": reply.name, "arguments": reply.arguments}}
            ]
        reason = reply.finish_reason if isinstance(reply, Reply) else "stop"
        return {
            "model": body.get("model", MODEL),
            "created_at": _now(),
            "message": message,
            "done": True,
            "done_reason": reason,
            "total_duration": 4_883_583_458,
            "load_duration": 1_334_875,
            "prompt_eval_count": max(1, len(json.dumps(body.get("messages")).split())),
            "prompt_eval_duration": 342_546_000,
            "eval_count": max(1, len(reply.text.split())),
            "eval_duration": 4_535_599_000,
        }

    def _stream(self, body: dict[str, Any], behaviour: Any) -> None:
        reply = behaviour if isinstance(behaviour, Reply | ToolUse) else Reply()
        documents = []
        for piece in _pieces(reply.text, reply.chunks if isinstance(reply, Reply) else 2):
            documents.append(
                {
                    "model": body.get("model", MODEL),
                    "created_at": _now(),
                    "message": {"role": "assistant", "content": piece},
                    "done": False,
                }
            )
        if isinstance(reply, ToolUse):
            documents.append(
                {
                    "model": body.get("model", MODEL),
                    "created_at": _now(),
                    "message": {
                        "role": "assistant",
                        "content": "",
                        "tool_calls": [
                            {"function": {"name": reply.name, "arguments": reply.arguments}}
                        ],
                    },
                    "done": False,
                }
            )
        documents.append(self._final(body, reply, whole=False))
        events = []
        for document in documents:
            self.record("chat", document)
            events.append(json.dumps(document).encode() + b"\n")
        if isinstance(behaviour, Malformed):
            events.insert(1, b'{"model": "llama3.2", "message": {\n')
        self.start_stream("application/x-ndjson")
        time.sleep(0)
        self.stream_events(behaviour, events)


class OllamaStandIn(StandIn):
    """Ollama on 127.0.0.1; ``base_url`` is the host root."""

    handler = _OllamaHandler
