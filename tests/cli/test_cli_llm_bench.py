"""krystal llm bench, against the OpenAI-compatible stand-in of tests/llm/standins."""

from __future__ import annotations

import json
from typing import Any

import pytest
from llm_standins import API_KEY, MODEL, Fail, OpenAIStandIn, Reply, chat_bodies


def test_bench_json_times_each_usable_provider(
    cli: Any, local_server: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LMSTUDIO_HOST", local_server.base_url)
    with OpenAIStandIn() as api:
        monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", api.base_url)
        monkeypatch.setenv("OPENAI_MODEL", "gpt-bench")
        result = cli("llm", "bench", "--json", "--requests", "3", "--prompt", "Count to three")
        api_bodies = chat_bodies(api)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    data = json.loads(result.stdout)
    assert (data["prompt"], data["requests"]) == ("Count to three", 3)
    assert [row["name"] for row in data["providers"]] == ["lmstudio", "openai"]
    assert {row["name"] for row in data["unusable"]} == {"ollama", "vllm", "anthropic", "gemini"}
    assert all(row["reason"] for row in data["unusable"])
    assert [row["model"] for row in data["providers"]] == [MODEL, "gpt-bench"]
    for row in data["providers"]:
        assert (row["requests"], row["error"]) == (3, None)
        assert 0 < row["time_to_first_token_ms"] <= row["latency_ms"]
        assert row["tokens_output"] > 0 and row["tokens_per_second"] > 0
        assert len(row["runs"]) == 3
        for run in row["runs"]:
            expected = run["tokens_output"] / (run["latency_ms"] / 1000)
            assert run["tokens_per_second"] == pytest.approx(expected)
    for bodies in (chat_bodies(local_server), api_bodies):
        assert len(bodies) == 3
        assert all(body["stream"] is True for body in bodies)
        assert bodies[0]["messages"] == [{"role": "user", "content": "Count to three"}]


def test_bench_table_with_one_named_provider(
    cli: Any, local_server: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VLLM_HOST", local_server.base_url)
    monkeypatch.setenv("LMSTUDIO_HOST", local_server.base_url)
    local_server.script(*[Reply("one two three four", chunks=4)] * 2)
    result = cli("llm", "bench", "-p", "vllm", "-n", "2", "--max-tokens", "16")
    assert result.exit_code == 0, result.output
    assert "medians of 2 streamed requests" in result.stdout
    assert "vllm" in result.stdout and "lmstudio" not in result.stdout
    assert MODEL in result.stdout and "2/2" in result.stdout
    for column in ("latency ms", "first token ms", "tokens/s"):
        assert column in result.stdout
    bodies = chat_bodies(local_server)
    assert len(bodies) == 2 and all(body["max_tokens"] == 16 for body in bodies)


def test_bench_defaults_to_five_requests(
    cli: Any, local_server: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LMSTUDIO_HOST", local_server.base_url)
    result = cli("llm", "bench", "--json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)["providers"]
    assert row["requests"] == 5 and len(chat_bodies(local_server)) == 5


def test_bench_with_nothing_usable_exits_1_with_each_reason(cli: Any) -> None:
    result = cli("llm", "bench", "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["providers"] == [] and len(data["unusable"]) == 6
    assert "no LLM provider is usable" in result.stderr
    assert "OPENAI_API_KEY is not set" in result.stderr
    table = cli("llm", "bench")
    assert table.exit_code == 1 and table.stdout == ""
    assert "Connection refused" in table.stderr or "cannot connect" in table.stderr
    named = cli("llm", "bench", "--provider", "anthropic")
    assert named.exit_code == 1
    assert "anthropic: ANTHROPIC_API_KEY is not set" in named.stderr
    assert "openai" not in named.stderr


def test_bench_stops_a_provider_at_its_first_error_and_exits_1(
    cli: Any, local_server: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LMSTUDIO_HOST", local_server.base_url)
    local_server.script(Reply(), Fail(400, "context length exceeded"))
    result = cli("llm", "bench", "--json", "-n", "4")
    assert result.exit_code == 1
    (row,) = json.loads(result.stdout)["providers"]
    assert row["requests"] == 1 and "context length exceeded" in row["error"]
    assert len(chat_bodies(local_server)) == 2
    table = cli("llm", "bench", "-n", "2")
    assert table.exit_code == 0, table.output  # the script is used up: answers again


@pytest.mark.parametrize(
    "args",
    [
        ["llm", "bench", "--requests", "0"],
        ["llm", "bench", "--provider", "mock"],
        ["llm", "bench", "--provider", "skynet"],
        ["llm", "bench", "--max-tokens", "0"],
    ],
)
def test_bench_usage_errors_exit_2(cli: Any, args: list[str]) -> None:
    assert cli(*args).exit_code == 2


def test_bench_help(cli: Any) -> None:
    result = cli("llm", "bench", "--help")
    assert result.exit_code == 0
    for flag in ("--json", "--provider", "--requests", "--prompt"):
        assert flag in result.stdout
    assert "bench" in cli("llm", "--help").stdout
