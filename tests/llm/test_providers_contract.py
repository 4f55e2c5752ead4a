"""One contract suite for every provider adapter, run against its stand-in server.

Each case names a provider, the stand-in that speaks its wire format, the checks that
hold the traffic to the published specs and SDK models, and how to read the few things
that differ between wire formats out of a request body. Every test ends by validating
every document the stand-in sent; every request Krystal sent is validated too. A new
adapter gets the whole suite by adding a case.
"""

from __future__ import annotations

import base64
import gc
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pydantic
import pytest
from standins import (
    anthropic_checks,
    anthropic_server,
    gemini_checks,
    gemini_server,
    ollama_checks,
    openai_checks,
)
from standins.common import (
    WEATHER,
    Drop,
    Fail,
    Hang,
    Malformed,
    Recorded,
    Reply,
    StandIn,
    ToolUse,
    Truncate,
)
from standins.ollama_server import OllamaStandIn
from standins.openai_server import API_KEY, OpenAIStandIn

from krystal.llm import (
    AuthError,
    ConnectionError,
    LLMClient,
    LLMConfig,
    Message,
    ProviderError,
    RateLimitError,
    ServerError,
    TimeoutError,
    ToolCall,
)
from krystal.llm.providers.anthropic import STRUCTURED_TOOL

PIXEL = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()


@dataclass
class Wire:
    """How one wire format carries what the suite checks in a request body."""

    #: the system prompt and the roles of the other turns
    conversation: Callable[[dict[str, Any]], tuple[str, list[str]]]
    #: whether the request asked for a stream
    streamed: Callable[[Recorded], bool]
    #: the names of the tools declared
    tool_names: Callable[[dict[str, Any]], list[str]]
    #: assert that ``body`` sends back the assistant's ``call`` and the tool's answer
    check_tool_history: Callable[[dict[str, Any], ToolCall, str], None]
    #: the JSON schema sent for structured output (natively, in the format's dialect)
    schema_sent: Callable[[dict[str, Any]], dict[str, Any]]
    #: the image part of the last user turn, and what it must be for PIXEL as a PNG
    image_sent: Callable[[dict[str, Any]], Any]
    image_expected: Any
    #: the stand-in's answer carrying ``value`` as structured output
    structured: Callable[[dict[str, Any]], Any] = lambda value: Reply(json.dumps(value))


def _chat_conversation(body: dict[str, Any]) -> tuple[str, list[str]]:
    turns = body["messages"]
    system = turns[0]["content"] if turns[0]["role"] == "system" else ""
    return system, [turn["role"] for turn in turns if turn["role"] != "system"]


def _openai_tool_history(body: dict[str, Any], call: ToolCall, result: str) -> None:
    sent = body["messages"]
    assert sent[1]["role"] == "assistant"
    assert [c["id"] for c in sent[1]["tool_calls"]] == [call.id]
    assert json.loads(sent[1]["tool_calls"][0]["function"]["arguments"]) == call.arguments
    assert sent[2] == {"role": "tool", "content": result, "tool_call_id": call.id}


def _ollama_tool_history(body: dict[str, Any], call: ToolCall, result: str) -> None:
    sent = body["messages"]
    assert sent[1]["role"] == "assistant"
    assert sent[1]["tool_calls"][0]["function"]["arguments"] == call.arguments
    assert sent[2] == {"role": "tool", "content": result, "tool_name": call.name}


def _anthropic_tool_history(body: dict[str, Any], call: ToolCall, result: str) -> None:
    turns = body["messages"]
    assert [turn["role"] for turn in turns] == ["user", "assistant", "user"]
    use = {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
    assert use in turns[1]["content"]
    assert turns[2]["content"] == [
        {"type": "tool_result", "tool_use_id": call.id, "content": result}
    ]


def _gemini_tool_history(body: dict[str, Any], call: ToolCall, result: str) -> None:
    contents = body["contents"]
    assert contents[1]["role"] == "model"
    assert {"functionCall": {"name": call.name, "args": call.arguments}} in contents[1]["parts"]
    [part] = contents[2]["parts"]
    assert contents[2]["role"] == "user" and part["functionResponse"]["name"] == call.name
    assert result in json.dumps(part["functionResponse"]["response"])


def _gemini_conversation(body: dict[str, Any]) -> tuple[str, list[str]]:
    system = body.get("systemInstruction", {}).get("parts", [{}])[0].get("text", "")
    return system, [content["role"] for content in body["contents"]]


def _anthropic_conversation(body: dict[str, Any]) -> tuple[str, list[str]]:
    return body.get("system", ""), [turn["role"] for turn in body["messages"]]


OPENAI_WIRE = Wire(
    conversation=_chat_conversation,
    streamed=lambda recorded: recorded.body.get("stream") is True,
    tool_names=lambda body: [tool["function"]["name"] for tool in body["tools"]],
    check_tool_history=_openai_tool_history,
    schema_sent=lambda body: body["response_format"]["json_schema"]["schema"],
    image_sent=lambda body: body["messages"][-1]["content"][1],
    image_expected={"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}},
)
OLLAMA_WIRE = Wire(
    conversation=_chat_conversation,
    streamed=lambda recorded: recorded.body.get("stream") is True,
    tool_names=lambda body: [tool["function"]["name"] for tool in body["tools"]],
    check_tool_history=_ollama_tool_history,
    schema_sent=lambda body: body["format"],
    image_sent=lambda body: body["messages"][-1]["images"],
    image_expected=[PIXEL],
)
ANTHROPIC_WIRE = Wire(
    conversation=_anthropic_conversation,
    streamed=lambda recorded: recorded.body.get("stream") is True,
    tool_names=lambda body: [tool["name"] for tool in body["tools"]],
    check_tool_history=_anthropic_tool_history,
    # structured output is a forced tool whose input is the answer
    schema_sent=lambda body: body["tools"][-1]["input_schema"],
    image_sent=lambda body: body["messages"][-1]["content"][1],
    image_expected={
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": PIXEL},
    },
    structured=lambda value: ToolUse(STRUCTURED_TOOL, value),
)
GEMINI_WIRE = Wire(
    conversation=_gemini_conversation,
    streamed=lambda recorded: (
        recorded.path.endswith(":streamGenerateContent") and recorded.query == {"alt": "sse"}
    ),
    tool_names=lambda body: [f["name"] for f in body["tools"][0]["functionDeclarations"]],
    check_tool_history=_gemini_tool_history,
    schema_sent=lambda body: body["generationConfig"]["responseSchema"],
    image_sent=lambda body: body["contents"][-1]["parts"][1],
    image_expected={"inlineData": {"mimeType": "image/png", "data": PIXEL}},
)


@dataclass
class Case:
    provider: str
    make_server: Callable[[], StandIn]
    checks: Any
    wire: Wire
    api_key: str = ""
    local: bool = True


CASES = [
    Case("openai", lambda: OpenAIStandIn(), openai_checks, OPENAI_WIRE, API_KEY, local=False),
    Case("vllm", lambda: OpenAIStandIn(api_key=None), openai_checks, OPENAI_WIRE),
    Case("lmstudio", lambda: OpenAIStandIn(api_key=None), openai_checks, OPENAI_WIRE),
    Case("ollama", OllamaStandIn, ollama_checks, OLLAMA_WIRE),
    Case(
        "anthropic",
        anthropic_server.AnthropicStandIn,
        anthropic_checks,
        ANTHROPIC_WIRE,
        anthropic_server.API_KEY,
        local=False,
    ),
    Case(
        "gemini",
        gemini_server.GeminiStandIn,
        gemini_checks,
        GEMINI_WIRE,
        gemini_server.API_KEY,
        local=False,
    ),
]

CITY = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "temp": {"type": "integer"}},
    "required": ["city", "temp"],
}


class City(pydantic.BaseModel):
    city: str
    temp: int


@pytest.fixture(scope="module", params=CASES, ids=[case.provider for case in CASES])
def case_server(request: pytest.FixtureRequest) -> Iterator[tuple[Case, StandIn]]:
    case = request.param
    with case.make_server() as server:
        yield case, server


@pytest.fixture
def case(case_server: tuple[Case, StandIn]) -> Case:
    return case_server[0]


@pytest.fixture
def server(case_server: tuple[Case, StandIn]) -> Iterator[StandIn]:
    case, server = case_server
    server.reset()
    yield server
    case.checks.validate_all_sent(server.sent)
    for recorded in server.requests:
        if recorded.method == "POST":
            case.checks.validate_request(recorded.body)


@pytest.fixture
def make_client(case: Case, server: StandIn) -> Iterator[Callable[..., LLMClient]]:
    clients: list[LLMClient] = []

    def make(**kw: Any) -> LLMClient:
        settings: dict[str, Any] = {
            "provider": case.provider,
            "base_url": server.base_url,
            "api_key": case.api_key,
            "model": "test-model",
            "retry_delay": 0.01,
            "timeout": 5,
        }
        settings.update(kw)
        client = LLMClient(LLMConfig(**settings))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., LLMClient]) -> LLMClient:
    return make_client()


# -- answers -------------------------------------------------------------------------------


def test_complete(client: LLMClient, server: StandIn, case: Case) -> None:
    server.script(Reply("Bonjour."))
    response = client.complete(
        [{"role": "system", "content": "Answer in French."}, Message("user", "Hello")]
    )
    assert response.content == "Bonjour."
    assert response.finish_reason == "stop"
    assert response.provider == case.provider
    assert response.tokens_input > 0 and response.tokens_output > 0
    assert response.tokens_total == response.tokens_input + response.tokens_output
    assert response.latency_ms > 0
    assert response.is_local is case.local
    assert client.is_local() is response.is_local and client.is_api() is not response.is_local
    assert len(server.requests) == 1


def test_chat_sends_the_system_prompt(client: LLMClient, server: StandIn, case: Case) -> None:
    server.script(Reply("Oui."))
    assert client.chat("Hello", system="Answer in French.") == "Oui."
    assert case.wire.conversation(server.requests[-1].body) == ("Answer in French.", ["user"])


def test_images_in_the_wire_format(client: LLMClient, server: StandIn, case: Case) -> None:
    content = [
        {"type": "text", "text": "What is in this?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}},
    ]
    assert client.complete([{"role": "user", "content": content}]).content
    assert case.wire.image_sent(server.requests[-1].body) == case.wire.image_expected


def test_stream_text_then_usage_and_finish(client: LLMClient, server: StandIn, case: Case) -> None:
    server.script(Reply("one two three four", chunks=4), Reply("again and again", chunks=3))
    events = list(client.stream_events("Count"))
    assert "".join(event.text for event in events) == "one two three four"
    assert len([e for e in events if e.text]) >= 3
    final = events[-1]
    assert final.done and final.finish_reason == "stop"
    assert final.usage is not None and final.usage.output_tokens > 0
    assert "".join(client.stream("Again")) == "again and again"
    assert case.wire.streamed(server.requests[-1])
    assert client.get_metrics()[client.provider]["requests"] == 2


def test_tool_round_trip(client: LLMClient, server: StandIn, case: Case) -> None:
    server.script(ToolUse("get_weather", {"city": "Paris"}), Reply("Sunny, 22 C."))
    history: list[Any] = [Message("user", "Weather in Paris?")]
    first = client.complete(history, tools=[WEATHER])
    assert first.finish_reason == "tool_calls"
    [call] = first.tool_calls
    assert (call.name, call.arguments) == ("get_weather", {"city": "Paris"})
    history += [first.to_message(), Message("tool", "22 C, sun", tool_call_id=call.id)]
    second = client.complete(history, tools=[WEATHER])
    assert second.content == "Sunny, 22 C."
    case.wire.check_tool_history(server.requests[-1].body, call, "22 C, sun")
    assert case.wire.tool_names(server.requests[0].body) == ["get_weather"]


def test_streamed_tool_call(client: LLMClient, server: StandIn) -> None:
    server.script(ToolUse("get_weather", {"city": "Oslo"}, text="Checking."))
    events = list(client.stream_events("Weather in Oslo?", tools=[WEATHER]))
    final = events[-1]
    assert final.done and final.finish_reason == "tool_calls"
    assert [(c.name, c.arguments) for c in final.tool_calls] == [("get_weather", {"city": "Oslo"})]


def test_structured_output_with_a_schema_and_a_model(
    client: LLMClient, server: StandIn, case: Case
) -> None:
    paris, oslo = {"city": "Paris", "temp": 22}, {"city": "Oslo", "temp": 3}
    server.script(case.wire.structured(paris), case.wire.structured(oslo))
    assert client.complete("Weather?", schema=CITY).parsed == paris
    assert client.complete("Weather?", schema=City).parsed == City(city="Oslo", temp=3)
    native = case.wire.schema_sent(server.requests[0].body)
    assert set(native["properties"]) == {"city", "temp"}
    assert native["required"] == ["city", "temp"]


def test_structured_output_asks_again_once(client: LLMClient, server: StandIn, case: Case) -> None:
    server.script(Reply("Sure! Paris, 22."), case.wire.structured({"city": "Paris", "temp": 22}))
    assert client.complete("Weather?", schema=City).parsed.city == "Paris"
    assert len(server.requests) == 2
    assert "not valid" in json.dumps(server.requests[1].body)
    assert "not valid" not in json.dumps(server.requests[0].body)
    server.script(Reply("no"), Reply("still no"))
    with pytest.raises(ProviderError, match="after one re-ask"):
        client.complete("Weather?", schema=City)


# -- errors and faults ---------------------------------------------------------------------


def test_auth_error_is_not_retried(client: LLMClient, server: StandIn) -> None:
    server.script(Fail(401, "Incorrect API key provided.", code="invalid_api_key"))
    with pytest.raises(AuthError) as caught:
        client.complete("Hi")
    assert caught.value.status_code == 401
    assert "Incorrect API key" in caught.value.provider_message
    assert len(server.requests) == 1


def test_rate_limit_waits_retry_after_then_succeeds(client: LLMClient, server: StandIn) -> None:
    server.script(Fail(429, "Rate limit reached.", retry_after=0.2), Reply("ok"))
    started = time.monotonic()
    assert client.complete("Hi").content == "ok"
    assert time.monotonic() - started >= 0.2
    assert len(server.requests) == 2
    assert client.get_metrics()[client.provider]["retries"] == 1


def test_rate_limit_error_carries_retry_after(
    make_client: Callable[..., LLMClient], server
) -> None:
    client = make_client(retry_count=1)
    server.script(
        Fail(429, "slow down", retry_after=0.01), Fail(429, "slow down", retry_after=0.01)
    )
    with pytest.raises(RateLimitError) as caught:
        client.complete("Hi")
    assert caught.value.retry_after == pytest.approx(0.01)
    assert len(server.requests) == 2


def test_server_errors_are_retried_with_backoff(client: LLMClient, server: StandIn) -> None:
    server.script(Fail(500, "boom"), Fail(503, "overloaded"), Reply("finally"))
    assert client.complete("Hi").content == "finally"
    assert len(server.requests) == 3
    server.script(*[Fail(503, "down")] * 4)
    with pytest.raises(ServerError):
        client.complete("Hi")
    assert client.get_metrics()[client.provider]["errors"] == 1


def test_hung_server_respects_the_deadline(make_client, server: StandIn) -> None:
    client = make_client(timeout=0.4)
    server.script(Hang(3), Hang(3), Hang(3), Hang(3))
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        client.complete("Hi")
    assert time.monotonic() - started < 1.5


def test_hang_mid_stream_times_out(make_client, server: StandIn) -> None:
    client = make_client(timeout=0.4)
    server.script(Hang(3, after_events=2))
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        list(client.stream("Hi"))
    assert time.monotonic() - started < 1.5


def test_connection_reset_mid_stream(client: LLMClient, server: StandIn) -> None:
    server.script(Reply("a long answer cut short", chunks=6), Drop(after_events=2))
    list(client.stream("warm up"))  # a kept-alive connection, as in real use
    received = []
    with pytest.raises(ConnectionError, match="broke"):
        for text in client.stream("Hi"):
            received.append(text)
    assert received  # the text before the reset arrived


def test_malformed_and_truncated_answers(client: LLMClient, server: StandIn) -> None:
    server.script(Malformed())
    with pytest.raises(ProviderError, match="JSON"):
        client.complete("Hi")
    server.script(Malformed())
    with pytest.raises(ProviderError, match="JSON"):
        list(client.stream("Hi"))
    server.script(Truncate(after_events=2))
    with pytest.raises(ProviderError, match="ended before"):
        list(client.stream("Hi"))


def test_abandoned_streams_release_their_connections(client: LLMClient, server: StandIn) -> None:
    server.script(*[Reply("many small pieces of text", chunks=8) for _ in range(200)])
    before = server.open_connections  # a hung handler of an earlier test may linger
    for index in range(200):
        stream = client.stream("Hi")
        next(stream)
        if index % 2:
            stream.close()
        else:
            del stream  # dropped without close(): the generator's finaliser closes it
    gc.collect()
    pool = client.backend.transport.client._transport._pool
    assert len(pool.connections) <= 1
    deadline = time.monotonic() + 2
    while server.open_connections > before + 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.open_connections <= before + 1
    assert "".join(client.stream("still fine?")) == Reply().text


def test_api_key_never_in_logs_reprs_or_errors(
    make_client, server: StandIn, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "sk-secret-never-show-0123456789"
    server.use_api_key(secret)
    client = make_client(api_key=secret, retry_count=1)
    caplog.set_level("DEBUG")
    server.script(Fail(500, f"upstream said {secret}"), Fail(401, f"Incorrect API key {secret}"))
    with pytest.raises(AuthError) as caught:
        client.complete("Hi")
    shown = [str(caught.value), repr(caught.value), caught.value.provider_message]
    shown += [repr(client), repr(client.config), repr(client.backend.provider), caplog.text]
    for text in shown:
        assert secret not in text
    assert "[redacted]" in str(caught.value)


# -- async ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_async_complete_and_stream(client: LLMClient, server: StandIn) -> None:
    server.script(Reply("async hello"), Reply("async stream here", chunks=3))
    assert (await client.acomplete("Hi")).content == "async hello"
    pieces = [piece async for piece in client.astream("Hi")]
    assert "".join(pieces) == "async stream here" and len(pieces) >= 2
    await client.aclose()


@pytest.mark.anyio
async def test_async_retries_and_errors(client: LLMClient, server: StandIn) -> None:
    server.script(Fail(503, "busy"), Reply("ok"), Truncate(after_events=1))
    assert (await client.acomplete("Hi")).content == "ok"
    with pytest.raises(ProviderError, match="ended before"):
        [piece async for piece in client.astream("Hi")]
    await client.aclose()
