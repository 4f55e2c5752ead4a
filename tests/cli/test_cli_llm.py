"""krystal llm status / chat, against the 127.0.0.1 stand-ins of tests/llm/standins."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from llm_standins import API_KEY, MODEL, Fail, OpenAIStandIn, Reply, chat_bodies, closed_port


@pytest.fixture
def openai_server() -> Iterator[OpenAIStandIn]:
    with OpenAIStandIn() as server:
        yield server


# -- status --------------------------------------------------------------------------------


def test_status_finds_a_server_named_by_its_host_variable(
    cli: Any, local_server: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LMSTUDIO_HOST", local_server.base_url)
    result = cli("llm", "status", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["auto_choice"], data["usable"], data["configured_provider"]) == (
        "lmstudio",
        True,
        "auto",
    )
    rows = {row["name"]: row for row in data["candidates"]}
    assert list(rows) == ["ollama", "lmstudio", "vllm", "openai", "anthropic", "gemini"]
    studio = rows["lmstudio"]
    assert (studio["kind"], studio["reachable"], studio["usable"]) == ("local", True, True)
    assert (studio["base_url"], studio["models"], studio["model"]) == (
        local_server.base_url,
        [MODEL],
        MODEL,
    )
    assert rows["ollama"]["reachable"] is False and "cannot connect" in rows["ollama"]["reason"]
    assert rows["openai"]["reachable"] is None
    assert rows["openai"]["reason"] == "OPENAI_API_KEY is not set"


def test_status_finds_a_server_named_in_the_config_file(
    cli: Any, local_server: OpenAIStandIn, tmp_path: Path
) -> None:
    (tmp_path / "krystal.yaml").write_text(
        f"llm_provider: vllm\nllm_base_url: {local_server.base_url}\n"
    )
    result = cli("llm", "status")
    assert result.exit_code == 0, result.output
    assert "auto would pick: vllm" in result.stdout
    assert MODEL in result.stdout and "configured provider: vllm" in result.stdout
    assert "OPENAI_API_KEY is not set" in result.stdout


def test_status_counts_an_api_key_as_usable(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    result = cli("llm", "status", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["auto_choice"] == "openai"
    assert API_KEY not in result.stdout


def test_status_with_nothing_usable_exits_1_with_each_reason(cli: Any) -> None:
    result = cli("llm", "status", "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["usable"] is False and data["auto_choice"] is None
    assert all(not row["usable"] and row["reason"] for row in data["candidates"])
    table = cli("llm", "status")
    assert table.exit_code == 1
    assert "auto would pick: none" in table.stdout and "Connection refused" in table.stdout


# -- chat ----------------------------------------------------------------------------------


def test_chat_prints_the_answer_of_the_configured_server(
    cli: Any, local_server: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KRYSTAL_LLM_PROVIDER", "vllm")
    monkeypatch.setenv("KRYSTAL_LLM_BASE_URL", local_server.base_url)
    local_server.script(Reply("Paris is the capital."))
    result = cli(
        "llm", "chat", "Capital of France?", "--system", "Be brief.",
        "--max-tokens", "32", "--temperature", "0.1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout == "Paris is the capital.\n"
    assert "vllm" in result.stderr and MODEL in result.stderr
    (body,) = chat_bodies(local_server)
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Capital of France?"},
    ]
    assert (body["model"], body["max_tokens"], body["temperature"]) == (MODEL, 32, 0.1)


def test_chat_uses_the_providers_key_variable_and_flags(
    cli: Any, openai_server: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("KRYSTAL_LLM_MODEL", "from-env")
    args = ("llm", "chat", "Hi", "-p", "openai", "--base-url", openai_server.base_url)
    result = cli(*args, "--model", "from-flag", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["content"] == Reply().text
    assert (data["provider"], data["model"], data["provider_type"]) == (
        "openai",
        "from-flag",
        "api",
    )
    assert data["tokens_input"] > 0 and data["tokens_output"] > 0
    assert data["tokens_total"] == data["tokens_input"] + data["tokens_output"]
    assert data["latency_ms"] > 0 and data["finish_reason"] == "stop"
    assert result.stderr == ""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-key-0123456789")
    denied = cli(*args)
    assert denied.exit_code == 1
    assert denied.stderr.startswith("error:") and "Incorrect API key" in denied.stderr


def test_chat_stream_prints_the_text_as_it_arrives(
    cli: Any, local_server: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LMSTUDIO_HOST", local_server.base_url)
    local_server.script(Reply("one two three four", chunks=4))
    result = cli("llm", "chat", "Count", "--stream")
    assert result.exit_code == 0, result.output
    assert result.stdout == "one two three four\n"
    assert "lmstudio" in result.stderr
    assert chat_bodies(local_server)[0]["stream"] is True


def test_chat_stream_json_is_one_document(
    cli: Any, local_server: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LMSTUDIO_HOST", local_server.base_url)
    result = cli("llm", "chat", "Hi", "--stream", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["content"], data["provider"], data["stream"]) == (Reply().text, "lmstudio", True)
    assert data["finish_reason"] == "stop" and data["model"] == MODEL
    assert 0 < data["time_to_first_token_ms"] <= data["latency_ms"]


def test_chat_with_an_unreachable_provider_exits_1_with_the_reason(
    cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KRYSTAL_LLM_TIMEOUT", "0.3")  # the deadline cuts the retries short
    url = f"http://127.0.0.1:{closed_port()}/v1"
    result = cli("llm", "chat", "Hi", "--provider", "vllm", "--base-url", url, "--model", "m")
    assert result.exit_code == 1
    assert "vllm: cannot connect" in result.stderr and result.stdout == ""
    nothing = cli("llm", "chat", "Hi")
    assert nothing.exit_code == 1
    assert "no LLM provider is available" in nothing.stderr


def test_chat_shows_the_providers_own_error_message(
    cli: Any, local_server: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VLLM_HOST", local_server.base_url)
    local_server.script(Fail(400, "max_tokens is too large for this model"))
    result = cli("llm", "chat", "Hi", "-p", "vllm")
    assert result.exit_code == 1
    assert "max_tokens is too large for this model" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["llm", "chat"],
        ["llm", "chat", "Hi", "--provider", "skynet"],
        ["llm", "chat", "Hi", "--temperature", "3"],
        ["llm", "chat", "Hi", "--max-tokens", "0"],
        ["llm", "chat", "Hi", "--base-url", "localhost:1234"],
        ["llm", "chat", "Hi", "--no-such-flag"],
        ["llm", "status", "--probe-timeout", "0"],
        ["llm", "launch"],
    ],
)
def test_usage_errors_exit_2(cli: Any, args: list[str]) -> None:
    assert cli(*args).exit_code == 2


def test_invalid_llm_settings_exit_1_naming_the_source(
    cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KRYSTAL_LLM_PROVIDER", "skynet")
    result = cli("llm", "chat", "Hi")
    assert result.exit_code == 1
    assert "KRYSTAL_LLM_PROVIDER" in result.stderr and "skynet" in result.stderr


# -- help and config show ------------------------------------------------------------------


def test_help_of_the_group_and_each_command(cli: Any) -> None:
    group = cli("llm", "--help")
    assert group.exit_code == 0
    for text in ("status", "chat", "KRYSTAL_LLM_", "OPENAI_API_KEY", "LMSTUDIO_HOST"):
        assert text in group.stdout
    status = cli("llm", "status", "--help")
    assert status.exit_code == 0 and "auto" in status.stdout and "--json" in status.stdout
    chat = cli("llm", "chat", "--help")
    assert chat.exit_code == 0
    for flag in ("--provider", "--model", "--system", "--stream", "--json", "--max-tokens"):
        assert flag in chat.stdout
    assert "llm" in cli("--help").stdout


def test_config_show_lists_the_llm_settings_with_sources(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "krystal.toml").write_text('llm_provider = "ollama"\nllm_model = "qwen3"\n')
    (tmp_path / ".env").write_text("KRYSTAL_LLM_MODEL=llama3\n")
    monkeypatch.setenv("KRYSTAL_LLM_TIMEOUT", "5")
    result = cli("config", "show", "--json")
    assert result.exit_code == 0, result.output
    rows = {
        row["key"]: (row["value"], row["source"]) for row in json.loads(result.stdout)["settings"]
    }
    assert rows["llm_provider"] == ("ollama", "krystal.toml")
    assert rows["llm_model"] == ("llama3", ".env")
    assert rows["llm_timeout"] == (5.0, "KRYSTAL_LLM_TIMEOUT")
    assert rows["llm_temperature"] == (0.7, "default")
    assert not any("api_key" in key for key in rows)
