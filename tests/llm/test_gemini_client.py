"""``LLMClient(provider="gemini")`` end to end against the Gemini stand-in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from standins.gemini_checks import validate_all_sent, validate_request
from standins.gemini_server import API_KEY, Fail, GeminiStandIn, Reply

from krystal.llm._client import LLMClient
from krystal.llm._config import LLMConfig
from krystal.llm._errors import AuthError

MODEL = "gemini-2.5-flash"


@pytest.fixture
def server() -> Iterator[GeminiStandIn]:
    with GeminiStandIn() as server:
        yield server
        validate_all_sent(server.sent)
        for request in server.requests:
            validate_request(request.body)


@pytest.fixture
def client(server: GeminiStandIn) -> LLMClient:
    config = LLMConfig(
        provider="gemini", model=MODEL, api_key=API_KEY, base_url=server.base_url, retry_delay=0.01
    )
    return LLMClient(config)


def test_complete_stream_and_chat(server, client) -> None:
    server.script(Reply("Bonjour."), Reply("one two three"), Reply("Oui."))
    response = client.complete([{"role": "user", "content": "Hello"}])
    assert (response.content, response.provider, response.finish_reason) == (
        "Bonjour.",
        "gemini",
        "stop",
    )
    assert response.tokens_total > 0 and not response.is_local
    assert "".join(client.stream("Count")) == "one two three"
    assert client.chat("Parlez-vous?", system="Answer in French.") == "Oui."
    instruction = server.requests[-1].body["systemInstruction"]
    assert instruction == {"parts": [{"text": "Answer in French."}]}


def test_structured_output_comes_back_parsed(server, client) -> None:
    server.script(Reply('{"answer": 42}'))
    schema = {"type": "object", "properties": {"answer": {"type": "integer"}}}
    assert client.complete("6 x 7?", schema=schema).parsed == {"answer": 42}
    assert server.requests[-1].body["generationConfig"]["responseMimeType"] == "application/json"


def test_rate_limit_then_success_and_auth_failure(server, client) -> None:
    server.script(
        Fail(429, retry_delay="0.05s"),
        Reply("ok"),
        Fail(400, "API key not valid.", reason="API_KEY_INVALID"),
    )
    assert client.complete("x").content == "ok" and len(server.requests) == 2
    with pytest.raises(AuthError) as caught:
        client.complete("x")
    assert "API key not valid" in str(caught.value) and API_KEY not in repr(caught.value)
