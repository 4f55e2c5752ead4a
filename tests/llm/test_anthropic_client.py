"""``LLMClient(provider="anthropic")`` end to end against the Anthropic stand-in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from standins.anthropic_checks import validate_all_sent, validate_request
from standins.anthropic_server import API_KEY, AnthropicStandIn, Reply, ToolUse, fail

from krystal.llm._client import LLMClient
from krystal.llm._config import LLMConfig
from krystal.llm._errors import AuthError
from krystal.llm.providers.anthropic import STRUCTURED_TOOL

MODEL = "claude-opus-4-6"


@pytest.fixture
def server() -> Iterator[AnthropicStandIn]:
    with AnthropicStandIn() as server:
        yield server
        validate_all_sent(server.sent)
        for request in server.requests:
            validate_request(request.body)


@pytest.fixture
def client(server: AnthropicStandIn) -> LLMClient:
    config = LLMConfig(
        provider="anthropic",
        model=MODEL,
        api_key=API_KEY,
        base_url=server.base_url,
        retry_delay=0.01,
    )
    return LLMClient(config)


def test_complete_stream_and_chat(server, client) -> None:
    server.script(Reply("Bonjour."), Reply("one two three"), Reply("Oui."))
    response = client.complete([{"role": "user", "content": "Hello"}])
    assert (response.content, response.provider, response.finish_reason) == (
        "Bonjour.",
        "anthropic",
        "stop",
    )
    assert response.tokens_total > 0 and not response.is_local
    assert "".join(client.stream("Count")) == "one two three"
    assert client.chat("Parlez-vous?", system="Answer in French.") == "Oui."
    assert server.requests[-1].body["system"] == "Answer in French."


def test_structured_output_comes_back_parsed(server, client) -> None:
    server.script(ToolUse(STRUCTURED_TOOL, {"answer": 42}))
    schema = {"type": "object", "properties": {"answer": {"type": "integer"}}}
    assert client.complete("6 x 7?", schema=schema).parsed == {"answer": 42}


def test_rate_limit_then_success_and_auth_failure(server, client) -> None:
    server.script(fail(429, retry_after=0.05), Reply("ok"), fail(401))
    assert client.complete("x").content == "ok" and len(server.requests) == 2
    with pytest.raises(AuthError) as caught:
        client.complete("x")
    assert "invalid x-api-key" in str(caught.value) and API_KEY not in repr(caught.value)
