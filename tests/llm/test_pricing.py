"""Cost per request: the default table, user overrides, and the totals in get_metrics()."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from standins.common import Reply
from standins.openai_server import API_KEY, OpenAIStandIn

from krystal.llm import DEFAULT_PRICES, LLMClient, LLMConfig, PriceTable
from krystal.llm._pricing import PRICES_WRITTEN


@pytest.fixture(scope="module")
def _server() -> Iterator[OpenAIStandIn]:
    with OpenAIStandIn() as server:  # one per module: each takes ~0.5 s to shut down
        yield server


@pytest.fixture
def openai_server(_server: OpenAIStandIn) -> OpenAIStandIn:
    _server.reset()
    return _server


def _client(server: OpenAIStandIn, **kw: object) -> LLMClient:
    config = LLMConfig(
        provider="openai", model="gpt-standin", api_key=API_KEY, base_url=server.base_url
    )
    return LLMClient(config, **kw)  # type: ignore[arg-type]


def test_the_table_is_dated_and_prefixes_pick_the_most_specific_model() -> None:
    assert PRICES_WRITTEN[:2] == "20"
    table = PriceTable()
    assert table.price("gpt-4o-mini-2024-07-18") == DEFAULT_PRICES["gpt-4o-mini"]
    assert table.price("gpt-4o-2024-08-06") == DEFAULT_PRICES["gpt-4o"]
    assert table.price("models/gemini-2.5-flash") == DEFAULT_PRICES["gemini-2.5-flash"]
    assert table.price("claude-sonnet-4-5-20250929") == DEFAULT_PRICES["claude-sonnet-4"]
    assert table.cost("api", "no-such-model", 10, 10) is None
    assert table.cost("local", "no-such-model", 10, 10) == 0.0


def test_overrides_replace_the_defaults() -> None:
    table = PriceTable({"gpt-4o": (1.0, 1.0)})
    assert table.cost("api", "gpt-4o", 500_000, 500_000) == pytest.approx(1.0)


def test_cost_per_response_and_summed_per_provider(openai_server) -> None:
    client = _client(openai_server, prices={"gpt-standin": (2.0, 8.0)})
    openai_server.script(Reply("one"), Reply("two"))
    first, second = client.complete("Hi"), client.complete("Hello there")
    for response in (first, second):
        assert response.tokens_total > 0
        expected = (response.tokens_input * 2.0 + response.tokens_output * 8.0) / 1e6
        assert response.cost_usd == pytest.approx(expected)
    metrics = client.get_metrics()["openai"]
    assert metrics["cost_usd"] == pytest.approx(first.cost_usd + second.cost_usd)
    assert metrics["cost_unknown"] == 0


def test_streams_are_priced_too(openai_server) -> None:
    client = _client(openai_server, prices={"gpt-standin": (2.0, 8.0)})
    final = list(client.stream_events("Hi"))[-1]
    assert final.done and final.usage is not None
    assert final.cost_usd and final.cost_usd > 0
    assert client.get_metrics()["openai"]["cost_usd"] == pytest.approx(final.cost_usd)


def test_an_unknown_api_model_has_an_unknown_cost_not_zero(openai_server) -> None:
    client = _client(openai_server)
    assert client.complete("Hi").cost_usd is None
    assert client.get_metrics()["openai"]["cost_unknown"] == 1


def test_local_servers_cost_nothing() -> None:
    client = LLMClient(LLMConfig(provider="mock"))
    assert client.complete("Hi").cost_usd == 0.0
    assert client.get_metrics()["mock"]["cost_usd"] == 0.0
