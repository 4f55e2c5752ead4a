"""The Anthropic stand-in, driven by the official ``anthropic`` SDK.

If the stand-in drifted from the real wire format the SDK would fail to parse it, the
SDK's models would find unknown fields, or the SDK's own requests would be answered
wrongly; and what the SDK sends must validate against the published OpenAPI spec.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import anthropic
import httpx
import pytest
from standins.anthropic_checks import (
    request_errors,
    validate_all_sent,
    validate_request,
    validate_response,
)
from standins.anthropic_server import (
    API_KEY,
    AnthropicStandIn,
    Drop,
    Fail,
    Hang,
    Malformed,
    Reply,
    ToolUse,
    Truncate,
    fail,
)

MODEL = "claude-opus-4-6"
WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.fixture(scope="module")
def module_server() -> Iterator[AnthropicStandIn]:
    with AnthropicStandIn() as server:
        yield server


@pytest.fixture
def server(module_server: AnthropicStandIn) -> Iterator[AnthropicStandIn]:
    module_server.reset()
    yield module_server
    validate_all_sent(module_server.sent)


@pytest.fixture
def sdk(server: AnthropicStandIn) -> Iterator[anthropic.Anthropic]:
    client = anthropic.Anthropic(base_url=server.base_url, api_key=API_KEY, max_retries=0)
    yield client
    client.close()


def _ask(sdk: anthropic.Anthropic, **kw: object) -> anthropic.types.Message:
    kw.setdefault("messages", [{"role": "user", "content": "Hello"}])
    return sdk.messages.create(model=MODEL, max_tokens=64, **kw)


def test_sdk_completes_and_its_request_matches_the_spec(server, sdk) -> None:
    server.script(Reply("Bonjour."))
    message = _ask(sdk, system="Answer in French.")
    assert message.content[0].text == "Bonjour."
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    request = server.requests[-1]
    assert API_KEY in request.headers.get("x-api-key", request.headers.get("authorization", ""))
    assert request.headers["anthropic-version"]
    assert request.body["system"] == "Answer in French."
    validate_request(request.body)


def test_sdk_tool_round_trip(server, sdk) -> None:
    server.script(ToolUse("get_weather", {"city": "Paris"}, text="Let me check."), Reply("Sunny."))
    first = _ask(sdk, tools=[WEATHER], messages=[{"role": "user", "content": "Paris?"}])
    assert first.stop_reason == "tool_use"
    call = first.content[1]
    assert (call.type, call.name, call.input) == ("tool_use", "get_weather", {"city": "Paris"})
    history = [
        {"role": "user", "content": "Paris?"},
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "22 C, sun"}],
        },
    ]
    second = _ask(sdk, tools=[WEATHER], messages=history)
    assert second.content[0].text == "Sunny."
    for request in server.requests:
        validate_request(request.body)


def test_sdk_streams_text_with_ping_and_usage(server, sdk) -> None:
    server.script(Reply("one two three four"))
    with sdk.messages.stream(
        model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "Count"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "one two three four"
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0
    kinds = [record.document["type"] for record in server.sent]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert {"ping", "content_block_delta", "message_delta"} <= set(kinds)
    assert server.requests[-1].body["stream"] is True
    validate_request(server.requests[-1].body)


def test_sdk_streams_a_tool_call_from_input_json_deltas(server, sdk) -> None:
    arguments = {"city": "Reykjavík", "units": "metric", "days": [1, 2]}
    server.script(ToolUse("get_weather", arguments))
    with sdk.messages.stream(
        model=MODEL, max_tokens=64, tools=[WEATHER], messages=[{"role": "user", "content": "?"}]
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert final.content[0].input == arguments
    deltas = [
        r.document["delta"]["type"]
        for r in server.sent
        if r.document["type"] == "content_block_delta"
    ]
    assert deltas.count("input_json_delta") >= 2


@pytest.mark.parametrize(
    ("behaviour", "error"),
    [
        (fail(401), "AuthenticationError"),
        (fail(400, "messages: roles must alternate"), "BadRequestError"),
        (fail(429, retry_after=7), "RateLimitError"),
        (fail(500), "InternalServerError"),
        (fail(529), "OverloadedError"),
    ],
)
def test_sdk_maps_error_bodies(server, sdk, behaviour: Fail, error: str) -> None:
    server.script(behaviour)
    with pytest.raises(getattr(anthropic, error)) as caught:
        _ask(sdk)
    assert caught.value.status_code == behaviour.status
    assert caught.value.body["error"]["message"] == behaviour.message
    if behaviour.retry_after is not None:
        assert caught.value.response.headers["retry-after"] == "7"


def test_wrong_key_and_missing_max_tokens_are_refused_like_the_api(server) -> None:
    url = server.base_url + "/v1/messages"
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"anthropic-version": "2023-06-01", "x-api-key": API_KEY}
    with httpx.Client() as http:
        wrong_key = http.post(url, json=body, headers={**headers, "x-api-key": "nope"})
        no_max = http.post(url, json=body, headers=headers)
    assert wrong_key.status_code == 401
    assert wrong_key.json()["error"]["type"] == "authentication_error"
    assert no_max.status_code == 400
    assert no_max.json()["error"] == {
        "type": "invalid_request_error",
        "message": "max_tokens: Field required",
    }
    assert any("max_tokens" in e for e in request_errors(body))


def test_error_event_mid_stream_reaches_the_sdk(server, sdk) -> None:
    server.script(Fail(529, "overloaded_error", "Overloaded", after_events=3))
    with (
        pytest.raises(anthropic.APIStatusError, match="Overloaded"),
        sdk.messages.stream(
            model=MODEL, max_tokens=8, messages=[{"role": "user", "content": "x"}]
        ) as stream,
    ):
        stream.until_done()


def test_hang_trips_the_sdk_timeout(server) -> None:
    server.script(Hang(5))
    client = anthropic.Anthropic(
        base_url=server.base_url, api_key=API_KEY, max_retries=0, timeout=0.3
    )
    with pytest.raises(anthropic.APITimeoutError):
        _ask(client)
    client.close()


@pytest.mark.parametrize("behaviour", [Drop(after_events=4), Malformed()])
def test_broken_streams_raise_in_the_sdk(server, sdk, behaviour) -> None:
    server.script(behaviour)
    with (
        pytest.raises(Exception) as caught,
        sdk.messages.stream(
            model=MODEL, max_tokens=8, messages=[{"role": "user", "content": "x"}]
        ) as stream,
    ):
        stream.until_done()
    assert _is_wire_error(caught.value), repr(caught.value)


def test_truncated_stream_ends_without_message_stop(server, sdk) -> None:
    server.script(Truncate(4))
    with sdk.messages.stream(
        model=MODEL, max_tokens=8, messages=[{"role": "user", "content": "x"}]
    ) as stream:
        events = [event.type for event in stream]
    assert events and "message_stop" not in events


def _is_wire_error(error: BaseException) -> bool:
    """The SDK's APIError, a JSON error, or its HTTP library's TransportError (httpx2 now)."""
    names = {cls.__name__ for cls in type(error).__mro__}
    return isinstance(error, anthropic.APIError | ValueError) or "TransportError" in names


def test_malformed_json_body_fails_in_the_sdk(server, sdk) -> None:
    server.script(Malformed())
    with pytest.raises((anthropic.APIResponseValidationError, json.JSONDecodeError, ValueError)):
        _ask(sdk)


def test_checks_reject_drift() -> None:
    good = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [{"type": "text", "text": "hi"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    validate_response("message", good)
    with pytest.raises(AssertionError, match="does not know"):
        validate_response("message", {**good, "finish_reason": "stop"})
    with pytest.raises(ValueError):
        validate_response("event", {"type": "content_block_delta", "index": 0, "delta": {}})
    with pytest.raises(AssertionError, match="unexpected"):
        validate_request({"model": MODEL, "max_tokens": 1, "messages": [], "n": 2})
