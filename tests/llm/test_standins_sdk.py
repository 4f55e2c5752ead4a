"""The OpenAI and Ollama stand-ins, driven by the official SDKs.

If a stand-in drifted from the real wire format the SDK would fail to parse it, or its
models would find unknown fields (checked on every document the stand-in sent); and the
requests the SDK itself sends must pass the same checks as Krystal's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import ollama
import openai
import pytest
from standins import ollama_checks, openai_checks
from standins.common import WEATHER, Fail, Reply, ToolUse
from standins.ollama_server import OllamaStandIn
from standins.openai_server import API_KEY, OpenAIStandIn


@pytest.fixture(scope="module")
def openai_server() -> Iterator[OpenAIStandIn]:
    with OpenAIStandIn() as server:
        yield server


@pytest.fixture(scope="module")
def ollama_server() -> Iterator[OllamaStandIn]:
    with OllamaStandIn() as server:
        yield server


@pytest.fixture
def oa(openai_server: OpenAIStandIn) -> Iterator[tuple[OpenAIStandIn, openai.OpenAI]]:
    openai_server.reset()
    sdk = openai.OpenAI(base_url=openai_server.base_url, api_key=API_KEY, max_retries=0)
    yield openai_server, sdk
    sdk.close()
    assert openai_checks.validate_all_sent(openai_server.sent) > 0
    for recorded in openai_server.requests:
        if recorded.method == "POST":
            openai_checks.validate_request(recorded.body)


@pytest.fixture
def ol(ollama_server: OllamaStandIn) -> Iterator[tuple[OllamaStandIn, ollama.Client]]:
    ollama_server.reset()
    yield ollama_server, ollama.Client(host=ollama_server.base_url)
    assert ollama_checks.validate_all_sent(ollama_server.sent) > 0
    for recorded in ollama_server.requests:
        if recorded.method == "POST":
            ollama_checks.validate_request(recorded.body)


def test_openai_sdk_completes(oa) -> None:
    server, sdk = oa
    server.script(Reply("Bonjour."))
    answer = sdk.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello"}], max_tokens=16
    )
    assert answer.choices[0].message.content == "Bonjour."
    assert answer.choices[0].finish_reason == "stop" and answer.usage.total_tokens > 0
    assert sdk.models.list().data[0].id


def test_openai_sdk_streams_with_usage(oa) -> None:
    server, sdk = oa
    server.script(Reply("one two three", chunks=3))
    chunks = list(
        sdk.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "Count"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three"
    assert chunks[-1].usage is not None and not chunks[-1].choices


def test_openai_sdk_tool_call_and_streamed_arguments(oa) -> None:
    server, sdk = oa
    server.script(
        ToolUse("get_weather", {"city": "Paris"}), ToolUse("get_weather", {"city": "Rome"})
    )
    messages = [{"role": "user", "content": "Paris?"}]
    answer = sdk.chat.completions.create(model="m", messages=messages, tools=[WEATHER])
    call = answer.choices[0].message.tool_calls[0]
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    with sdk.chat.completions.stream(model="m", messages=messages, tools=[WEATHER]) as stream:
        final = stream.get_final_completion()
    arguments = final.choices[0].message.tool_calls[0].function.arguments
    assert json.loads(arguments) == {"city": "Rome"}


def test_openai_sdk_sees_errors_and_retry_after(oa) -> None:
    server, sdk = oa
    server.script(Fail(429, "Rate limit reached", retry_after=7))
    with pytest.raises(openai.RateLimitError) as caught:
        sdk.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert caught.value.response.headers["retry-after"] == "7"
    bad = openai.OpenAI(base_url=server.base_url, api_key="sk-wrong-000000", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])


def test_ollama_sdk_chats_streams_and_lists(ol) -> None:
    server, sdk = ol
    server.script(Reply("Hi there."), Reply("a b c", chunks=3))
    answer = sdk.chat(model="llama3.2", messages=[{"role": "user", "content": "Hello"}])
    assert answer.message.content == "Hi there." and answer.done and answer.eval_count
    parts = list(
        sdk.chat(model="llama3.2", messages=[{"role": "user", "content": "x"}], stream=True)
    )
    assert "".join(p.message.content for p in parts) == "a b c" and parts[-1].done
    assert sdk.list().models[0].model


def test_ollama_sdk_tool_call_and_errors(ol) -> None:
    server, sdk = ol
    server.script(ToolUse("get_weather", {"city": "Oslo"}), Fail(404, "model 'nope' not found"))
    answer = sdk.chat(
        model="llama3.2", messages=[{"role": "user", "content": "x"}], tools=[WEATHER]
    )
    call = answer.message.tool_calls[0]
    assert (call.function.name, call.function.arguments) == ("get_weather", {"city": "Oslo"})
    with pytest.raises(ollama.ResponseError) as caught:
        sdk.chat(model="nope", messages=[{"role": "user", "content": "x"}])
    assert caught.value.status_code == 404 and "not found" in caught.value.error
