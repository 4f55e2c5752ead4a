"""What only Anthropic's wire format has, against the Anthropic stand-in: headers, top-level
``system``, image sources, structured output as a forced tool, in-stream error events,
its error bodies and 529. The cases every provider shares (answers, streams, tools,
retries, faults) are in ``test_providers_contract.py``.

Every request Krystal sends is validated against the published OpenAPI spec and every
answer the stand-in gives with the official SDK models (fixture teardown), so neither
side can drift from the real wire format unnoticed.
"""

from __future__ import annotations

import base64

import pytest
from standins.adapter_harness import Wire, standin_fixtures
from standins.anthropic_checks import validate_all_sent, validate_request
from standins.anthropic_server import (
    API_KEY,
    AnthropicStandIn,
    Fail,
    Reply,
    ToolUse,
    fail,
)

from krystal.llm import _errors as errors
from krystal.llm._types import Message, Tool, to_messages
from krystal.llm.providers.anthropic import STRUCTURED_TOOL, Anthropic
from krystal.llm.providers.base import Options

MODEL = "claude-opus-4-6"
WEATHER = Tool(
    "get_weather",
    "Current weather for a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
PIXEL = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()


module_server, server = standin_fixtures(AnthropicStandIn, validate_all_sent, validate_request)
wire = Wire(MODEL, validate_request)
_transport, _complete, _stream = wire.transport, wire.complete, wire.stream


@pytest.fixture
def provider() -> Anthropic:
    return Anthropic(api_key=API_KEY)


def test_complete_sends_system_top_level_and_reads_usage(server, provider) -> None:
    server.script(Reply("Bonjour."))
    messages = [Message("system", "Answer in French."), Message("user", "Hello")]
    answer = _complete(server, provider, messages, temperature=0.3, max_tokens=64)
    assert (answer.content, answer.finish_reason, answer.provider) == (
        "Bonjour.",
        "stop",
        "anthropic",
    )
    assert answer.tokens_input > 0 and answer.tokens_output > 0 and answer.model == MODEL
    sent = server.requests[-1]
    assert sent.headers["x-api-key"] == API_KEY and sent.headers["anthropic-version"]
    assert sent.body["system"] == "Answer in French." and sent.body["max_tokens"] == 64
    assert [m["role"] for m in sent.body["messages"]] == ["user"]


def test_images_go_as_base64_or_url_sources(server, provider) -> None:
    content = [
        {"type": "text", "text": "What is in these?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}},
        {"type": "image", "url": "https://example.org/cat.jpg"},
    ]
    _complete(server, provider, [{"role": "user", "content": content}])
    blocks = server.requests[-1].body["messages"][0]["content"]
    assert blocks[1]["source"] == {"type": "base64", "media_type": "image/png", "data": PIXEL}
    assert blocks[2]["source"] == {"type": "url", "url": "https://example.org/cat.jpg"}


def test_structured_output_is_a_forced_tool(server, provider) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "integer"}}}
    server.script(ToolUse(STRUCTURED_TOOL, {"answer": 42}))
    answer = _complete(server, provider, "6 x 7?", json_schema=schema)
    assert (answer.content, answer.finish_reason, answer.tool_calls) == (
        '{"answer": 42}',
        "stop",
        [],
    )
    sent = server.requests[-1].body
    assert sent["tool_choice"] == {"type": "tool", "name": STRUCTURED_TOOL}
    assert sent["tools"][-1]["input_schema"] == schema


def test_stream_of_structured_output_yields_the_json(server, provider) -> None:
    server.script(ToolUse(STRUCTURED_TOOL, {"answer": 42}))
    events = list(_stream(server, provider, "?", json_schema={"type": "object"}))
    assert "".join(e.text for e in events) == '{"answer": 42}'
    assert events[-1].finish_reason == "stop" and events[-1].tool_calls == []


def test_error_event_mid_stream_keeps_the_provider_message(server, provider) -> None:
    server.script(Fail(529, "overloaded_error", "Overloaded", after_events=3))
    with pytest.raises(errors.ServerError) as caught:
        list(_stream(server, provider, "x"))
    assert caught.value.provider_message == "Overloaded" and caught.value.status_code == 529


@pytest.mark.parametrize(
    ("behaviour", "error"),
    [
        (fail(401), errors.AuthError),
        (fail(429, retry_after=7), errors.RateLimitError),
        (fail(500), errors.ServerError),
        (fail(529), errors.ServerError),
        (
            fail(400, "prompt is too long: 210000 tokens > 200000 maximum"),
            errors.ContextLengthError,
        ),
        (fail(400, "messages.0.content: Field required"), errors.BadRequestError),
    ],
)
def test_error_bodies_map_to_the_error_tree(server, provider, behaviour, error) -> None:
    server.script(behaviour)
    transport = _transport(server, provider, retry_count=0)
    with pytest.raises(error) as caught:
        _complete(server, provider, "x", transport=transport)
    raised = caught.value
    assert type(raised) is error and raised.status_code == behaviour.status
    assert raised.provider_message == behaviour.message and behaviour.message in str(raised)
    assert API_KEY not in str(raised) + repr(raised)
    if behaviour.retry_after is not None:
        assert raised.retry_after == 7


def test_overloaded_is_retried(server, provider) -> None:
    server.script(fail(529), fail(529), Reply("recovered"))
    assert _complete(server, provider, "x").content == "recovered"
    assert len(server.requests) == 3


def test_consecutive_roles_merge() -> None:
    request = Anthropic("sk-ant-secret").build_request(
        to_messages(["a", "b", {"role": "assistant", "content": "c"}]), Options(model=MODEL)
    )
    turns = request.json["messages"]
    assert [t["role"] for t in turns] == ["user", "assistant"]
    assert [b["text"] for b in turns[0]["content"]] == ["a", "b"]
    assert "secret" not in repr(Anthropic("sk-ant-secret"))
