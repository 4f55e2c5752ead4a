"""The llm_* settings: defaults, precedence of their sources, checks, LLMConfig.from_settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from krystal import ConfigError
from krystal.config import KrystalSettings, explain_settings, load_settings, validate_config_file
from krystal.llm import LLMConfig
from krystal.llm._config import PROVIDERS

LLM_KEYS = (
    "llm_provider",
    "llm_model",
    "llm_base_url",
    "llm_max_tokens",
    "llm_temperature",
    "llm_timeout",
)


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty directory, no KRYSTAL_* variables, no provider keys or hosts."""
    for name in list(os.environ):
        upper = name.upper()
        if upper.startswith("KRYSTAL_") or upper.endswith(("_API_KEY", "_HOST", "_MODEL")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def llm_sources(config_path: Path | None = None) -> dict[str, tuple[object, str]]:
    return {key: (value, source) for key, value, source in explain_settings(config_path)}


def test_defaults_match_the_client_config() -> None:
    settings, client = load_settings(), LLMConfig()
    for key in LLM_KEYS:
        assert getattr(settings, key) == getattr(client, key.removeprefix("llm_")), key
    assert LLMConfig.from_settings(settings) == client
    assert {llm_sources()[key][1] for key in LLM_KEYS} == {"default"}


def test_settings_know_every_provider_the_client_knows() -> None:
    for name in ("auto", *PROVIDERS):
        assert KrystalSettings(llm_provider=name.upper()).llm_provider == name


def test_precedence_file_then_dotenv_then_environment_then_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "krystal.yaml").write_text(
        "llm_provider: ollama\nllm_model: from-file\nllm_max_tokens: 100\n"
        "llm_temperature: 0.1\nllm_timeout: 10\n"
    )
    (tmp_path / ".env").write_text(
        "KRYSTAL_LLM_MODEL=from-dotenv\nKRYSTAL_LLM_MAX_TOKENS=200\nKRYSTAL_LLM_TEMPERATURE=0.2\n"
        "OPENAI_API_KEY=sk-not-read-from-dotenv-0123\n"
    )
    monkeypatch.setenv("KRYSTAL_LLM_MAX_TOKENS", "300")
    monkeypatch.setenv("KRYSTAL_LLM_TEMPERATURE", "0.3")
    rows = llm_sources()
    assert rows["llm_provider"] == ("ollama", "krystal.yaml")
    assert rows["llm_timeout"] == (10.0, "krystal.yaml")
    assert rows["llm_model"] == ("from-dotenv", ".env")
    assert rows["llm_max_tokens"] == (300, "KRYSTAL_LLM_MAX_TOKENS")
    assert rows["llm_temperature"] == (0.3, "KRYSTAL_LLM_TEMPERATURE")
    config = LLMConfig.from_settings(load_settings(), temperature=0.9, model=None)
    assert (config.provider, config.model, config.max_tokens) == ("ollama", "from-dotenv", 300)
    assert (config.temperature, config.timeout) == (0.9, 10.0)


def test_api_keys_come_from_the_providers_variables_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KRYSTAL_LLM_PROVIDER", "openai")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-environment-0123456789")
    config = LLMConfig.from_settings(load_settings())
    assert config.api_key == "sk-from-environment-0123456789"
    assert "sk-from-environment" not in repr(config)
    path = tmp_path / "krystal.yaml"
    path.write_text("llm_api_key: sk-in-a-file-0123456789\n")
    (issue,) = validate_config_file(path)
    assert issue.key == "llm_api_key" and "OPENAI_API_KEY" in issue.message
    with pytest.raises(ConfigError, match="API keys are not settings"):
        load_settings()


def test_a_provider_flag_drops_the_model_and_url_set_for_another(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KRYSTAL_LLM_PROVIDER", "vllm")
    monkeypatch.setenv("KRYSTAL_LLM_MODEL", "qwen3")
    monkeypatch.setenv("KRYSTAL_LLM_BASE_URL", "http://gpu:8000/v1")
    settings = load_settings()
    same = LLMConfig.from_settings(settings, provider="vllm")
    assert (same.model, same.base_url) == ("qwen3", "http://gpu:8000/v1")
    other = LLMConfig.from_settings(settings, provider="mock")
    assert (other.provider, other.model, other.base_url) == ("mock", "", "")


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ("llm_provider: skynet\n", "llm_provider", "unknown LLM provider"),
        ("llm_base_url: localhost:1234\n", "llm_base_url", "http:// or https://"),
        ("llm_temperature: 3\n", "llm_temperature", "less than or equal to 2"),
        ("llm_max_tokens: 0\n", "llm_max_tokens", "greater than or equal to 1"),
        ("llm_timeout: 0\n", "llm_timeout", "greater than 0"),
        ("llm_modle: qwen3\n", "llm_modle", "did you mean 'llm_model'"),
    ],
)
def test_bad_llm_values_name_the_file_key_and_value(
    tmp_path: Path, text: str, key: str, words: str
) -> None:
    path = tmp_path / "krystal.yaml"
    path.write_text(text)
    (issue,) = validate_config_file(path)
    assert (issue.source, issue.key) == (str(path), key)
    assert words in issue.message


def test_bad_environment_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRYSTAL_LLM_TEMPERATURE", "hot")
    with pytest.raises(ConfigError, match=r"KRYSTAL_LLM_TEMPERATURE: .*'hot'"):
        load_settings()
