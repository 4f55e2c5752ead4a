"""One client for local model servers (Ollama, LM Studio, vLLM) and API providers.

Everything here is imported on first use: ``import krystal.llm`` is instant and needs
nothing installed; the client needs httpx (``pip install "krystal-sdk[llm]"``) and says so
when it is missing.

>>> from krystal.llm import LLMClient, LLMConfig, Message
>>> client = LLMClient(LLMConfig(provider="mock"))
>>> reply = client.complete([Message("system", "Be brief."), Message("user", "Hi")])
>>> reply.content, reply.provider, reply.is_local
('[mock provider, not a real model] You said: Hi', 'mock', True)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# public name -> private module that defines it
_EXPORTS = {
    "LLMClient": "_client",
    "detect": "_client",
    "Candidate": "_client",
    "LLMConfig": "_config",
    "Message": "_types",
    "Response": "_types",
    "ProviderType": "_types",
    "StreamEvent": "_types",
    "Tool": "_types",
    "ToolCall": "_types",
    "Usage": "_types",
    "MemoryCache": "_cache",
    "SQLiteCache": "_cache",
    "ResponseCache": "_cache",
    "RateLimiter": "_ratelimit",
    "Price": "_pricing",
    "PriceTable": "_pricing",
    "DEFAULT_PRICES": "_pricing",
    "Fallback": "_fallback",
    "LLMError": "_errors",
    "AuthError": "_errors",
    "RateLimitError": "_errors",
    "TimeoutError": "_errors",
    "ConnectionError": "_errors",
    "BadRequestError": "_errors",
    "ContextLengthError": "_errors",
    "ContentFilterError": "_errors",
    "ServerError": "_errors",
    "ProviderError": "_errors",
    "UnavailableError": "_errors",
}

if TYPE_CHECKING:
    from krystal.llm._cache import MemoryCache, ResponseCache, SQLiteCache
    from krystal.llm._client import Candidate, LLMClient, detect
    from krystal.llm._config import LLMConfig
    from krystal.llm._errors import (
        AuthError,
        BadRequestError,
        ConnectionError,
        ContentFilterError,
        ContextLengthError,
        LLMError,
        ProviderError,
        RateLimitError,
        ServerError,
        TimeoutError,
        UnavailableError,
    )
    from krystal.llm._fallback import Fallback
    from krystal.llm._pricing import DEFAULT_PRICES, Price, PriceTable
    from krystal.llm._ratelimit import RateLimiter
    from krystal.llm._types import (
        Message,
        ProviderType,
        Response,
        StreamEvent,
        Tool,
        ToolCall,
        Usage,
    )


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'krystal.llm' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"krystal.llm.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


__all__ = [
    "DEFAULT_PRICES",
    "AuthError",
    "BadRequestError",
    "Candidate",
    "ConnectionError",
    "ContentFilterError",
    "ContextLengthError",
    "Fallback",
    "LLMClient",
    "LLMConfig",
    "LLMError",
    "MemoryCache",
    "Message",
    "Price",
    "PriceTable",
    "ProviderError",
    "ProviderType",
    "RateLimitError",
    "RateLimiter",
    "Response",
    "ResponseCache",
    "SQLiteCache",
    "ServerError",
    "StreamEvent",
    "TimeoutError",
    "Tool",
    "ToolCall",
    "UnavailableError",
    "Usage",
    "detect",
]
