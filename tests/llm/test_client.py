"""The client around the adapters: config, auto-detection, the mock, lazy imports."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from standins.common import Reply
from standins.ollama_server import MODEL as OLLAMA_MODEL
from standins.ollama_server import OllamaStandIn

import krystal
from krystal import ConfigError
from krystal.llm import LLMClient, LLMConfig, Message, Tool, UnavailableError, detect
from krystal.llm._transport import CircuitBreaker

SOURCE_ROOT = str(Path(krystal.__file__).resolve().parent.parent)
ALL_ENV = [
    "OLLAMA_HOST", "OLLAMA_MODEL", "LMSTUDIO_HOST", "LMSTUDIO_MODEL", "VLLM_HOST",
    "VLLM_MODEL", "OPENAI_API_KEY", "OPENAI_MODEL", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY",
    "ANTHROPIC_MODEL", "ANTHROPIC_BASE_URL", "GEMINI_API_KEY", "GEMINI_MODEL",
    "GEMINI_BASE_URL", "KRYSTAL_LLM_PROVIDER",
]  # fmt: skip


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def no_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Point every local server at a closed port and unset every API key."""
    for name in ALL_ENV:
        monkeypatch.delenv(name, raising=False)
    for name in ("OLLAMA_HOST", "LMSTUDIO_HOST", "VLLM_HOST"):
        monkeypatch.setenv(name, f"127.0.0.1:{_free_port()}")


@pytest.fixture
def ollama_server() -> Iterator[OllamaStandIn]:
    with OllamaStandIn() as server:
        yield server


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": SOURCE_ROOT, "PATH": "/usr/bin:/bin"},
        timeout=60,
    )


# -- config --------------------------------------------------------------------------------


def test_config_defaults_match_the_published_api() -> None:
    config = LLMConfig()
    assert (config.provider, config.model, config.api_key, config.base_url) == ("auto", "", "", "")
    assert (config.max_tokens, config.temperature, config.timeout) == (1024, 0.7, 60)
    assert (config.retry_count, config.retry_delay, config.stream) == (3, 1.0, False)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("provider", "skynet"),
        ("max_tokens", 0),
        ("temperature", -1),
        ("timeout", 0),
        ("retry_count", -1),
        ("retry_delay", -0.5),
        ("base_url", "localhost:1234"),
    ],
)
def test_config_rejects_bad_values_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"LLMConfig.{field}: got {value!r}"):
        LLMConfig(**{field: value})


def test_from_env_reads_each_providers_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    environ = {
        "OPENAI_API_KEY": "sk-env-key-0123456789",
        "OPENAI_MODEL": "gpt-4.1",
        "VLLM_HOST": "http://gpu:8000",
        "VLLM_MODEL": "qwen",
    }
    openai = LLMConfig.from_env("openai", environ)
    assert (openai.api_key, openai.model) == ("sk-env-key-0123456789", "gpt-4.1")
    assert "sk-env-key" not in repr(openai)
    vllm = LLMConfig.from_env("vllm", environ)
    assert (vllm.base_url, vllm.model) == ("http://gpu:8000/v1", "qwen")
    assert LLMConfig.from_env(environ={}).provider == "auto"
    assert LLMConfig.from_env(environ={"KRYSTAL_LLM_PROVIDER": "Ollama"}).provider == "ollama"


def test_messages_accept_dicts_and_normalise_images() -> None:
    message = Message.coerce(
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0"}},
                {"type": "image", "url": "https://example.com/cat.jpg"},
            ],
        }
    )
    assert message.text == "What is this?"
    assert message.images == [
        {"type": "image", "data": "iVBORw0", "mime_type": "image/png"},
        {"type": "image", "url": "https://example.com/cat.jpg"},
    ]
    assert Tool.coerce({"type": "function", "function": {"name": "f"}}).name == "f"
    with pytest.raises(ValueError, match="role"):
        Message("robot", "hi")


# -- the mock ------------------------------------------------------------------------------


def test_mock_only_when_asked_and_always_says_so() -> None:
    client = LLMClient(LLMConfig(provider="mock"))
    response = client.complete("Hello")
    assert "mock" in response.content and "not a real model" in response.content
    assert response.provider == "mock" and response.model == "mock"
    assert "mock" in "".join(client.stream("Hello"))


def test_auto_never_falls_back_to_the_mock_and_lists_what_it_tried(no_servers) -> None:
    with pytest.raises(UnavailableError) as caught:
        LLMClient(LLMConfig(probe_timeout=0.3)).complete("Hi")
    message = str(caught.value)
    for name in ("ollama", "lmstudio", "vllm", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI"):
        assert name in message
    assert "mock" not in message


def test_auto_prefers_a_local_server(no_servers, ollama_server, monkeypatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", ollama_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-would-be-second-0123456789")
    found = {c.name: c for c in detect(LLMConfig(probe_timeout=0.3))}
    assert found["ollama"].available and found["ollama"].model == OLLAMA_MODEL
    assert not found["lmstudio"].available and "connect" in found["lmstudio"].reason
    assert found["openai"].available
    ollama_server.script(Reply("from ollama"))
    client = LLMClient(LLMConfig(probe_timeout=0.3))
    assert client.chat("Hi") == "from ollama"
    assert client.provider == "ollama" and client.is_local()
    assert ollama_server.requests[-1].body["model"] == OLLAMA_MODEL


def test_missing_api_key_is_a_clear_error(no_servers) -> None:
    with pytest.raises(UnavailableError, match="OPENAI_API_KEY"):
        LLMClient(LLMConfig(provider="openai")).complete("Hi")


def test_circuit_breaker_opens_and_recovers() -> None:
    breaker = CircuitBreaker(failure_threshold=2, reset_after=0.05)
    breaker.failure()
    breaker.check("p")
    breaker.failure()
    with pytest.raises(UnavailableError, match="circuit open"):
        breaker.check("p")
    import time

    time.sleep(0.06)
    breaker.check("p")  # the half-open trial call
    with pytest.raises(UnavailableError):
        breaker.check("p")  # everyone else waits for the trial
    breaker.success()
    breaker.check("p")


# -- imports -------------------------------------------------------------------------------


def test_import_krystal_and_krystal_llm_do_not_import_httpx() -> None:
    result = _run(
        """
        import sys, krystal, krystal.llm
        from krystal.llm import LLMConfig, Message, LLMError
        assert "httpx" not in sys.modules, "httpx imported"
        print("ok")
        """
    )
    assert result.stdout.strip() == "ok", result.stderr


def test_without_httpx_the_client_names_the_extra() -> None:
    result = _run(
        """
        import sys
        sys.modules["httpx"] = None  # as if it were not installed
        from krystal.llm import LLMConfig, Message
        LLMConfig(provider="ollama"); Message("user", "hi")
        try:
            from krystal.llm import LLMClient
        except ImportError as error:
            print(type(error).__name__, error)
        """
    )
    assert "MissingExtraError" in result.stdout, result.stderr
    assert 'pip install "krystal-sdk[llm]"' in result.stdout
