"""The response cache: the key, the rule for what is cached, LRU and SQLite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from standins.common import Reply
from standins.openai_server import API_KEY, OpenAIStandIn

from krystal.llm import LLMClient, LLMConfig, MemoryCache, Message, SQLiteCache
from krystal.llm._cache import request_key


@pytest.fixture(scope="module")
def _server() -> Iterator[OpenAIStandIn]:
    with OpenAIStandIn() as server:  # one per module: each takes ~0.5 s to shut down
        yield server


@pytest.fixture
def openai_server(_server: OpenAIStandIn) -> OpenAIStandIn:
    _server.reset()
    return _server


def _client(server: OpenAIStandIn, cache: object, temperature: float = 0) -> LLMClient:
    config = LLMConfig(
        provider="openai", api_key=API_KEY, base_url=server.base_url, temperature=temperature
    )
    return LLMClient(config, cache=cache)  # type: ignore[arg-type]


def test_the_key_ignores_dict_order_and_sees_every_option() -> None:
    history = [Message("user", "Hi")]
    a = request_key("openai", history, {"model": "m", "temperature": 0, "extra": {"x": 1, "y": 2}})
    b = request_key("openai", history, {"extra": {"y": 2, "x": 1}, "temperature": 0, "model": "m"})
    assert a == b
    assert a != request_key("openai", history, {"model": "m", "temperature": 0.5})
    assert a != request_key("ollama", history, {"model": "m", "temperature": 0, "extra": {}})
    assert a != request_key("openai", [Message("user", "Hi!")], {"model": "m"})


def test_temperature_zero_answers_are_served_from_the_cache(openai_server) -> None:
    client = _client(openai_server, MemoryCache())
    openai_server.script(Reply("first"), Reply("second"))
    first = client.complete("Hi")
    again = client.complete("Hi")
    assert (first.content, first.cached) == ("first", False)
    assert (again.content, again.cached, again.cost_usd) == ("first", True, 0.0)
    assert again.tokens_input == first.tokens_input
    assert len(openai_server.requests) == 1
    metrics = client.get_metrics()["openai"]
    assert (metrics["cache_hits"], metrics["requests"]) == (1, 1)
    assert client.complete("Hi", cache=False).content == "second"  # forced off


def test_sampled_answers_and_streams_are_not_cached_unless_asked(openai_server) -> None:
    client = _client(openai_server, MemoryCache(), temperature=0.7)
    client.complete("Hi")
    assert not client.complete("Hi").cached
    list(client.stream("Hi", temperature=0))
    list(client.stream("Hi", temperature=0))
    assert len(openai_server.requests) == 4
    client.complete("Hi", cache=True)
    assert client.complete("Hi", cache=True).cached
    assert len(openai_server.requests) == 5


def test_memory_cache_evicts_the_least_recently_used() -> None:
    client = LLMClient(LLMConfig(provider="mock", temperature=0), cache=MemoryCache(max_size=2))
    client.complete("a"), client.complete("b")
    assert client.complete("a").cached  # "a" is now the most recent
    client.complete("c")  # evicts "b"
    assert client.complete("a").cached and not client.complete("b").cached


def test_sqlite_cache_survives_the_client_and_keeps_tool_calls(tmp_path) -> None:
    path = tmp_path / "answers.sqlite"
    first = LLMClient(LLMConfig(provider="mock", temperature=0), cache=SQLiteCache(path))
    answer = first.complete("Hi")
    first.cache.close()  # type: ignore[union-attr]
    cache = SQLiteCache(path)
    second = LLMClient(LLMConfig(provider="mock", temperature=0), cache=cache)
    hit = second.complete("Hi")
    assert hit.cached and hit.content == answer.content and hit.tool_calls == answer.tool_calls
    assert len(cache) == 1
    assert second.get_metrics()["mock"]["cache_hits"] == 1


def test_sqlite_cache_bounds_its_size(tmp_path) -> None:
    cache = SQLiteCache(tmp_path / "c.sqlite", max_size=2)
    client = LLMClient(LLMConfig(provider="mock", temperature=0), cache=cache)
    for prompt in ("a", "b", "a", "c"):
        client.complete(prompt)
    assert len(cache) == 2
    assert client.complete("a").cached and not client.complete("b").cached


@pytest.mark.anyio
async def test_async_calls_use_the_cache_too() -> None:
    client = LLMClient(LLMConfig(provider="mock", temperature=0), cache=MemoryCache())
    await client.acomplete("Hi")
    assert (await client.acomplete("Hi")).cached
