"""What the `krystal llm` CLI tests share: the stand-ins, and the environment names.

The stand-ins live with the LLM tests (tests/llm/standins); pytest puts tests/llm on
sys.path only once it imports a module from there, so they are made importable here for
when this folder runs alone.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "llm"))

from standins.common import Fail, Reply
from standins.openai_server import API_KEY, MODEL, OpenAIStandIn

__all__ = [
    "API_KEY",
    "MODEL",
    "PROVIDER_ENV",
    "Fail",
    "OpenAIStandIn",
    "Reply",
    "chat_bodies",
    "closed_port",
]

PROVIDER_ENV = [
    "OLLAMA_HOST", "OLLAMA_MODEL", "LMSTUDIO_HOST", "LMSTUDIO_MODEL", "VLLM_HOST",
    "VLLM_MODEL", "OPENAI_API_KEY", "OPENAI_MODEL", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY",
    "ANTHROPIC_MODEL", "ANTHROPIC_BASE_URL", "GEMINI_API_KEY", "GEMINI_MODEL",
    "GEMINI_BASE_URL",
]  # fmt: skip


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def chat_bodies(server: OpenAIStandIn) -> list[dict[str, Any]]:
    return [r.body for r in server.requests if r.path.endswith("/chat/completions")]
