"""The fallback chain: down or failing providers hand over, request errors do not."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from standins.common import Fail, Reply
from standins.openai_server import API_KEY, OpenAIStandIn

from krystal.llm import AuthError, LLMClient, LLMConfig, ServerError
from krystal.llm._fallback import Fallback


def _closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/v1"


# one pair of stand-ins per module (each takes about half a second to shut down)
@pytest.fixture(scope="module")
def _local_server() -> Iterator[OpenAIStandIn]:
    with OpenAIStandIn(api_key=None) as server:
        yield server


@pytest.fixture(scope="module")
def _api_server() -> Iterator[OpenAIStandIn]:
    with OpenAIStandIn() as server:
        yield server


@pytest.fixture
def local(_local_server: OpenAIStandIn) -> OpenAIStandIn:
    _local_server.reset()
    return _local_server


@pytest.fixture
def api(_api_server: OpenAIStandIn) -> OpenAIStandIn:
    _api_server.reset()
    return _api_server


def _local(base_url: str) -> LLMConfig:
    return LLMConfig(
        provider="vllm", model="local-model", base_url=base_url, retry_count=1, retry_delay=0.01
    )


def _api(server: OpenAIStandIn) -> LLMConfig:
    return LLMConfig(provider="openai", api_key=API_KEY, base_url=server.base_url)


def test_a_local_server_that_is_down_hands_over_to_the_api(api) -> None:
    api.script(Reply("from the api"))
    client = LLMClient(_local(_closed_port()), fallbacks=[_api(api)])
    response = client.complete("Hi")
    assert (response.content, response.provider) == ("from the api", "openai")
    [switch] = response.fallbacks
    assert isinstance(switch, Fallback)
    assert (switch.from_provider, switch.to_provider) == ("vllm", "openai")
    assert switch.error_type == "ConnectionError" and "connect" in switch.reason
    [logged] = client.get_metrics()["vllm"]["fallbacks"]
    assert logged["error_type"] == "ConnectionError"
    assert client.get_metrics()["openai"]["requests"] == 1


def test_503_after_retries_hands_over_and_says_why(local, api) -> None:
    local.script(Fail(503, "overloaded"), Fail(503, "overloaded"))
    api.script(Reply("from the api"))
    client = LLMClient(_local(local.base_url), fallbacks=[_api(api)])
    response = client.complete("Hi")
    assert response.content == "from the api"
    [switch] = response.fallbacks
    assert switch.error_type == "ServerError" and "overloaded" in switch.reason
    assert len(local.requests) == 2  # the retry happened before the switch
    assert client.get_metrics()["vllm"]["retries"] == 1


def test_a_rate_limited_provider_hands_over(local, api) -> None:
    config = _local(local.base_url)
    config.retry_count = 0
    local.script(Fail(429, "slow down", retry_after=30))
    client = LLMClient(config, fallbacks=[_api(api)])
    assert client.complete("Hi").fallbacks[0].error_type == "RateLimitError"


def test_request_errors_do_not_fall_back(local, api) -> None:
    local.script(Fail(400, "bad request"))
    client = LLMClient(_local(local.base_url), fallbacks=[_api(api)])
    with pytest.raises(Exception, match="bad request"):
        client.complete("Hi")
    assert api.requests == []
    wrong_key = LLMConfig(provider="openai", api_key="sk-wrong-0123456789", base_url=api.base_url)
    with pytest.raises(AuthError):
        LLMClient(wrong_key, fallbacks=[_local(local.base_url)]).complete("Hi")
    assert len(local.requests) == 1


def test_the_last_providers_error_is_raised(local) -> None:
    local.script(*[Fail(503, "down")] * 4)
    client = LLMClient(_local(_closed_port()), fallbacks=[_local(local.base_url)])
    with pytest.raises(ServerError, match="down"):
        client.complete("Hi")
    assert len(client.get_metrics()["vllm"]["fallbacks"]) == 1


def test_streams_fall_back_before_the_first_event(api) -> None:
    api.script(Reply("streamed from the api"))
    client = LLMClient(_local(_closed_port()), fallbacks=[_api(api)])
    events = list(client.stream_events("Hi"))
    assert "".join(event.text for event in events) == "streamed from the api"
    assert events[-1].done and events[-1].fallbacks[0].from_provider == "vllm"


@pytest.mark.anyio
async def test_async_calls_fall_back_too(local, api) -> None:
    local.script(Fail(503), Fail(503), Fail(503), Fail(503))
    api.script(Reply("async answer"), Reply("async stream"))
    client = LLMClient(_local(local.base_url), fallbacks=[_api(api)])
    response = await client.acomplete("Hi")
    assert response.content == "async answer" and response.fallbacks[0].error_type == "ServerError"
    text = [chunk async for chunk in client.astream("Hi")]
    assert "".join(text) == "async stream"
    await client.aclose()


def test_an_open_circuit_hands_over_at_once(local, api) -> None:
    client = LLMClient(_local(local.base_url), fallbacks=[_api(api)])
    client.backend.transport.breaker.failure_threshold = 1
    client.backend.transport.breaker.failure()
    response = client.complete("Hi")
    assert response.fallbacks[0].error_type == "UnavailableError"
    assert "circuit open" in response.fallbacks[0].reason
    assert local.requests == []
