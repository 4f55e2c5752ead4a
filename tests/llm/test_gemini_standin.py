"""The Gemini stand-in, driven by the official ``google-genai`` SDK.

If the stand-in drifted from the real wire format the SDK (whose models forbid unknown
fields) would fail to parse it; and what the SDK sends must validate against the
published discovery document.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types
from standins.gemini_checks import (
    request_errors,
    validate_all_sent,
    validate_request,
    validate_response,
)
from standins.gemini_server import (
    API_KEY,
    Drop,
    Fail,
    FunctionCall,
    GeminiStandIn,
    Hang,
    Malformed,
    Reply,
    Truncate,
)

MODEL = "gemini-2.5-flash"
WEATHER = types.FunctionDeclaration(
    name="get_weather",
    description="Current weather for a city.",
    parameters_json_schema={
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
)


@pytest.fixture(scope="module")
def module_server() -> Iterator[GeminiStandIn]:
    with GeminiStandIn() as server:
        yield server


@pytest.fixture
def server(module_server: GeminiStandIn) -> Iterator[GeminiStandIn]:
    module_server.reset()
    yield module_server
    validate_all_sent(module_server.sent)


def _client(server: GeminiStandIn, timeout_ms: int | None = None) -> genai.Client:
    options = types.HttpOptions(
        base_url=server.base_url,
        api_version="v1beta",
        timeout=timeout_ms,
        retry_options=types.HttpRetryOptions(attempts=1),
    )
    return genai.Client(api_key=API_KEY, http_options=options)


@pytest.fixture
def sdk(server: GeminiStandIn) -> genai.Client:
    return _client(server)


def test_sdk_generates_and_its_request_matches_the_spec(server, sdk) -> None:
    server.script(Reply('{"answer": 42}'))
    config = types.GenerateContentConfig(
        system_instruction="Answer in JSON.",
        max_output_tokens=50,
        temperature=0.1,
        response_mime_type="application/json",
        response_schema={"type": "object", "properties": {"answer": {"type": "integer"}}},
    )
    response = sdk.models.generate_content(model=MODEL, contents="The answer?", config=config)
    assert response.text == '{"answer": 42}'
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    assert response.usage_metadata.total_token_count > 0
    request = server.requests[-1]
    assert request.path == f"/v1beta/models/{MODEL}:generateContent"
    assert request.headers["x-goog-api-key"] == API_KEY
    assert request.body["systemInstruction"]["parts"] == [{"text": "Answer in JSON."}]
    assert request.body["generationConfig"]["responseSchema"]["type"] == "OBJECT"
    validate_request(request.body)


def test_sdk_function_call_round_trip(server, sdk) -> None:
    server.script(FunctionCall("get_weather", {"city": "Paris"}), Reply("Sunny in Paris."))
    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[WEATHER])])
    question = types.Content(role="user", parts=[types.Part(text="Weather in Paris?")])
    first = sdk.models.generate_content(model=MODEL, contents=[question], config=config)
    call = first.function_calls[0]
    assert (call.name, call.args) == ("get_weather", {"city": "Paris"})
    answer = types.Part.from_function_response(name="get_weather", response={"temp_c": 22})
    history = [question, first.candidates[0].content, types.Content(role="user", parts=[answer])]
    second = sdk.models.generate_content(model=MODEL, contents=history, config=config)
    assert second.text == "Sunny in Paris."
    sent_back = server.requests[-1].body["contents"]
    assert sent_back[1]["role"] == "model" and "functionCall" in sent_back[1]["parts"][0]
    assert sent_back[2]["parts"][0]["functionResponse"]["name"] == "get_weather"
    for request in server.requests:
        validate_request(request.body)


def test_sdk_streams_sse_chunks_with_usage_at_the_end(server, sdk) -> None:
    server.script(Reply("one two three four", chunks=4))
    chunks = list(sdk.models.generate_content_stream(model=MODEL, contents="Count"))
    assert "".join(chunk.text or "" for chunk in chunks) == "one two three four"
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert chunks[-1].usage_metadata.candidates_token_count > 0
    assert all(chunk.candidates[0].finish_reason is None for chunk in chunks[:-1])
    request = server.requests[-1]
    assert request.path.endswith(":streamGenerateContent") and request.query["alt"] == "sse"
    validate_request(request.body)


def test_stream_without_alt_sse_is_a_json_array(server) -> None:
    server.script(Reply("a b c"))
    url = f"{server.base_url}/v1beta/models/{MODEL}:streamGenerateContent"
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    reply = httpx.post(url, json=body, params={"key": API_KEY})
    chunks = reply.json()
    assert isinstance(chunks, list) and len(chunks) >= 2
    assert "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks) == "a b c"


@pytest.mark.parametrize(
    ("failure", "error", "status"),
    [
        (Fail(400, "Invalid value at 'contents'"), genai_errors.ClientError, "INVALID_ARGUMENT"),
        (Fail(403), genai_errors.ClientError, "PERMISSION_DENIED"),
        (Fail(429, retry_delay="7s"), genai_errors.ClientError, "RESOURCE_EXHAUSTED"),
        (Fail(500), genai_errors.ServerError, "INTERNAL"),
        (Fail(503), genai_errors.ServerError, "UNAVAILABLE"),
    ],
)
def test_sdk_maps_error_bodies(server, sdk, failure: Fail, error: type, status: str) -> None:
    server.script(failure)
    with pytest.raises(error) as caught:
        sdk.models.generate_content(model=MODEL, contents="hi")
    assert caught.value.code == failure.status and caught.value.status == status
    if failure.retry_delay:
        assert caught.value.details["error"]["details"][0]["retryDelay"] == "7s"


def test_wrong_key_missing_contents_and_unknown_fields_are_refused_like_the_api(server) -> None:
    url = f"{server.base_url}/v1beta/models/{MODEL}:generateContent"
    good = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    with httpx.Client() as http:
        wrong_key = http.post(url, json=good, params={"key": "nope"})
        no_key = http.post(url, json=good)
        empty = http.post(url, json={}, headers={"x-goog-api-key": API_KEY})
        unknown = http.post(url, json={**good, "max_tokens": 5}, params={"key": API_KEY})
    assert wrong_key.status_code == 400
    assert wrong_key.json()["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    assert no_key.status_code == 403
    assert (
        empty.status_code == 400 and "contents is not specified" in empty.json()["error"]["message"]
    )
    assert 'Unknown name "max_tokens"' in unknown.json()["error"]["message"]
    assert request_errors({**good, "max_tokens": 5})


def test_hang_trips_the_sdk_timeout(server) -> None:
    server.script(Hang(5))
    client = _client(server, timeout_ms=300)
    with pytest.raises(Exception) as caught:
        client.models.generate_content(model=MODEL, contents="hi")
    assert "TimeoutException" in _names(caught.value), repr(caught.value)


@pytest.mark.parametrize("behaviour", [Drop(after_chunks=1), Malformed()])
def test_broken_streams_raise_in_the_sdk(server, sdk, behaviour) -> None:
    server.script(behaviour)
    with pytest.raises(Exception) as caught:
        list(sdk.models.generate_content_stream(model=MODEL, contents="hi"))
    error = caught.value
    assert isinstance(error, ValueError) or "TransportError" in _names(error), repr(error)


def _names(error: BaseException) -> set[str]:
    """Class names in the error's MRO: the SDK's HTTP library is httpx or its fork httpx2."""
    return {cls.__name__ for cls in type(error).__mro__}


def test_truncated_stream_has_no_finish_reason(server, sdk) -> None:
    server.script(Truncate(after_chunks=1))
    chunks = list(sdk.models.generate_content_stream(model=MODEL, contents="hi"))
    assert chunks and all(chunk.candidates[0].finish_reason is None for chunk in chunks)


def test_checks_reject_drift() -> None:
    good = {
        "candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}, "index": 0}],
        "usageMetadata": {"promptTokenCount": 1, "totalTokenCount": 2},
    }
    validate_response("response", good)
    with pytest.raises(ValueError):
        validate_response("response", {**good, "choices": []})
    with pytest.raises(AssertionError, match="status"):
        validate_response("error", {"error": {"code": 429, "message": "slow down"}})
    with pytest.raises(AssertionError, match="unexpected"):
        validate_request({"contents": [], "messages": []})
