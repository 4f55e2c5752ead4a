"""LLMClient.from_settings: the llm_* settings build the whole client, not just its config."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from standins.common import Fail, Reply
from standins.openai_server import OpenAIStandIn

from krystal import ConfigError
from krystal.config import KrystalSettings, load_settings
from krystal.llm import LLMClient, MemoryCache, SQLiteCache


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        upper = name.upper()
        if upper.startswith("KRYSTAL_") or upper.endswith(("_API_KEY", "_HOST", "_MODEL")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults_leave_the_optional_parts_off() -> None:
    client = LLMClient.from_settings(load_settings())
    assert (client.fallbacks, client.cache, client.rate_limit) == ([], None, None)
    assert client.config.provider == "auto"


def test_a_config_file_builds_fallbacks_cache_rate_limit_and_prices(tmp_path: Path) -> None:
    (tmp_path / "krystal.yaml").write_text(
        "llm_provider: vllm\nllm_fallbacks: [ollama, openai]\nllm_cache: sqlite\n"
        "llm_cache_path: answers.sqlite\nllm_rate_limit: 2\nllm_tokens_per_minute: 6000\n"
        "llm_prices: {my-model: [0.5, 1.5]}\n"
    )
    client = LLMClient.from_settings(load_settings(), temperature=0)
    assert [c.provider for c in client.fallbacks] == ["ollama", "openai"]
    assert all(c.temperature == 0.7 for c in client.fallbacks)  # flags are the first's
    assert client.config.temperature == 0
    assert isinstance(client.cache, SQLiteCache) and client.cache.path.name == "answers.sqlite"
    assert client.rate_limit is not None
    assert client.rate_limit.requests_per_second == 2
    assert client.rate_limit.tokens_per_minute == 6000
    price = client.prices.price("my-model-v2")
    assert price is not None and (price.input, price.output) == (0.5, 1.5)


def test_environment_fallbacks_and_bad_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRYSTAL_LLM_FALLBACKS", "Ollama, gemini")
    assert load_settings().llm_fallbacks == "ollama,gemini"
    monkeypatch.setenv("KRYSTAL_LLM_FALLBACKS", "mock")
    with pytest.raises(ConfigError, match=r"KRYSTAL_LLM_FALLBACKS.*unknown provider 'mock'"):
        load_settings()


def test_the_chain_from_settings_falls_back_and_caches(monkeypatch: pytest.MonkeyPatch) -> None:
    with OpenAIStandIn(api_key=None) as down, OpenAIStandIn(api_key=None) as up:
        down.script(*[Fail(503, "down")] * 4)
        up.script(Reply("from the fallback"))
        monkeypatch.setenv("LMSTUDIO_HOST", down.base_url)
        monkeypatch.setenv("VLLM_HOST", up.base_url)
        settings = KrystalSettings(
            llm_provider="lmstudio", llm_model="m", llm_fallbacks="vllm", llm_cache="memory"
        )
        with LLMClient.from_settings(settings, retry_count=0) as client:
            assert isinstance(client.cache, MemoryCache)
            first = client.complete("Hi", temperature=0)
            again = client.complete("Hi", temperature=0)
        assert first.provider == "vllm" and first.fallbacks[0].from_provider == "lmstudio"
        assert again.cached and again.content == "from the fallback"
        assert [r.method for r in up.requests].count("POST") == 1  # the second: cached
