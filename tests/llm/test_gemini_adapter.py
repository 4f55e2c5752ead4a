"""What only Gemini's wire format has, against the Gemini stand-in: the URL and key header,
``systemInstruction`` and ``generationConfig``, file images, function declarations and
responses, schema narrowing, blocked prompts and Google's error bodies. The cases every
provider shares (answers, streams, tools, retries, faults) are in
``test_providers_contract.py``.

Every request Krystal sends is validated against the published discovery document and
every answer the stand-in gives with the official SDK models and the discovery schemas
(fixture teardown).
"""

from __future__ import annotations

import base64

import pytest
from standins.adapter_harness import Wire, standin_fixtures
from standins.gemini_checks import validate_all_sent, validate_request
from standins.gemini_server import (
    API_KEY,
    Fail,
    FunctionCall,
    GeminiStandIn,
    Reply,
)

from krystal._errors import InputError
from krystal.llm import _errors as errors
from krystal.llm._types import Message, Tool
from krystal.llm.providers.base import Options
from krystal.llm.providers.gemini import Gemini

MODEL = "gemini-2.5-flash"
WEATHER = Tool(
    "get_weather",
    "Current weather for a city.",
    {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": ["integer", "null"]}},
        "required": ["city"],
        "additionalProperties": False,
    },
)
PIXEL = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()


module_server, server = standin_fixtures(GeminiStandIn, validate_all_sent, validate_request)
wire = Wire(MODEL, validate_request)
_transport, _complete, _stream = wire.transport, wire.complete, wire.stream


@pytest.fixture
def provider() -> Gemini:
    return Gemini(api_key=API_KEY)


def test_complete_sends_system_instruction_and_generation_config(server, provider) -> None:
    server.script(Reply("Bonjour."))
    messages = [
        Message("system", "Answer in French."),
        Message("user", "Hello"),
        Message("assistant", "Salut."),
        Message("user", "Again"),
    ]
    answer = _complete(server, provider, messages, temperature=0.3, stop=["END"], max_tokens=64)
    assert (answer.content, answer.finish_reason, answer.provider) == ("Bonjour.", "stop", "gemini")
    assert answer.tokens_input > 0 and answer.tokens_output > 0 and answer.model == MODEL
    sent = server.requests[-1]
    assert sent.path == f"/v1beta/models/{MODEL}:generateContent"
    assert sent.headers["x-goog-api-key"] == API_KEY and "key" not in sent.query
    assert sent.body["systemInstruction"] == {"parts": [{"text": "Answer in French."}]}
    assert [c["role"] for c in sent.body["contents"]] == ["user", "model", "user"]
    assert sent.body["generationConfig"] == {
        "maxOutputTokens": 64,
        "temperature": 0.3,
        "stopSequences": ["END"],
    }


def test_images_go_as_inline_data_or_file_data(server, provider) -> None:
    content = [
        {"type": "text", "text": "What is in these?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}},
        {"type": "image", "url": "https://example.org/cat.jpg"},
    ]
    _complete(server, provider, [{"role": "user", "content": content}])
    parts = server.requests[-1].body["contents"][0]["parts"]
    assert parts[1] == {"inlineData": {"mimeType": "image/png", "data": PIXEL}}
    assert parts[2] == {"fileData": {"fileUri": "https://example.org/cat.jpg"}}


def test_function_call_round_trip(server, provider) -> None:
    server.script(FunctionCall("get_weather", {"city": "Paris"}), Reply("Sunny."))
    history = [Message("user", "Weather in Paris?")]
    first = _complete(server, provider, history, tools=[WEATHER], tool_choice="auto")
    assert first.finish_reason == "tool_calls"
    (call,) = first.tool_calls
    assert (call.name, call.arguments) == ("get_weather", {"city": "Paris"})
    sent = server.requests[-1].body
    parameters = sent["tools"][0]["functionDeclarations"][0]["parameters"]
    assert parameters["properties"]["days"] == {"type": "INTEGER", "nullable": True}
    assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}
    history += [first.to_message(), Message("tool", '{"temp_c": 22}', tool_call_id=call.id)]
    second = _complete(server, provider, history, tools=[WEATHER])
    assert second.content == "Sunny."
    contents = server.requests[-1].body["contents"]
    assert contents[1] == {
        "role": "model",
        "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}],
    }
    assert contents[2] == {
        "role": "user",
        "parts": [{"functionResponse": {"name": "get_weather", "response": {"temp_c": 22}}}],
    }


def test_structured_output_uses_response_schema(server, provider) -> None:
    schema = {
        "type": "object",
        "properties": {
            "answer": {"type": "integer", "description": "the product"},
            "unit": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "email": {"type": "string", "format": "email"},
        },
        "required": ["answer"],
        "additionalProperties": False,
    }
    server.script(Reply('{"answer": 42, "unit": null}'))
    answer = _complete(server, provider, "6 x 7?", json_schema=schema)
    assert answer.content == '{"answer": 42, "unit": null}'
    generation = server.requests[-1].body["generationConfig"]
    assert generation["responseMimeType"] == "application/json"
    assert generation["responseSchema"] == {
        "type": "OBJECT",
        "properties": {
            "answer": {"type": "INTEGER", "description": "the product"},
            "unit": {"type": "STRING", "nullable": True},
            "email": {"type": "STRING"},
        },
        "required": ["answer"],
    }


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (Fail(403), errors.AuthError),
        (Fail(400, "API key not valid.", reason="API_KEY_INVALID"), errors.AuthError),
        (Fail(429, retry_delay="7s"), errors.RateLimitError),
        (Fail(500), errors.ServerError),
        (Fail(503), errors.ServerError),
        (
            Fail(400, "The input token count (1200000) exceeds the maximum number of tokens"),
            errors.ContextLengthError,
        ),
        (Fail(400, "Invalid value at 'contents[0].role'"), errors.BadRequestError),
    ],
)
def test_error_bodies_map_to_the_error_tree(server, provider, failure, error) -> None:
    server.script(failure)
    transport = _transport(server, provider, retry_count=0)
    with pytest.raises(error) as caught:
        _complete(server, provider, "x", transport=transport)
    raised = caught.value
    assert type(raised) is error and raised.status_code == failure.status
    assert raised.provider_message and raised.provider_message in str(raised)
    assert API_KEY not in str(raised) + repr(raised)
    if failure.retry_delay:
        assert raised.retry_after == 7.0


def test_wrong_key_is_an_auth_error_and_not_retried(server) -> None:
    provider = Gemini(api_key="wrong-key-123")
    with pytest.raises(errors.AuthError, match="API key not valid") as caught:
        _complete(server, provider, "x")
    assert len(server.requests) == 1 and "wrong-key-123" not in str(caught.value)


def test_blocked_prompt_is_a_content_filter_error(provider) -> None:
    body = {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {}}
    with pytest.raises(errors.ContentFilterError, match="SAFETY"):
        provider.parse_response(200, body)


def test_tool_result_without_a_call_is_refused(provider) -> None:
    with pytest.raises(InputError, match="tool_call_id='x'"):
        provider.build_request([Message("tool", "1", tool_call_id="x")], Options(model=MODEL))


def test_a_pydantic_schema_survives_the_narrowing(server, provider) -> None:
    pydantic = pytest.importorskip("pydantic")

    class Inner(pydantic.BaseModel):
        x: int
        tags: list[str] = pydantic.Field(default_factory=list)

    class Answer(pydantic.BaseModel):
        answer: int
        inner: Inner | None = None

    server.script(Reply('{"answer": 1, "inner": {"x": 2}}'))
    answer = _complete(server, provider, "?", json_schema=Answer.model_json_schema())
    assert Answer.model_validate_json(answer.content).inner.x == 2
    schema = server.requests[-1].body["generationConfig"]["responseSchema"]
    assert schema["properties"]["inner"]["nullable"] is True
    assert schema["properties"]["inner"]["properties"]["tags"]["items"] == {"type": "STRING"}
