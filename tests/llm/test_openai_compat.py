"""The OpenAI-compatible adapter's fallback for servers that lack OpenAI's json_schema form."""

from __future__ import annotations

import pytest
from standins.common import Fail, Reply
from standins.openai_server import OpenAIStandIn

from krystal.llm import BadRequestError, LLMClient, LLMConfig

CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
# what llama-cpp-python answers (with a 500) to response_format {"type": "json_schema"}
REFUSAL = (
    "1 validation error: {'type': 'literal_error', 'loc': ('body', 'response_format', "
    "'type'), 'msg': \"Input should be 'text' or 'json_object'\"}"
)


def test_a_refused_json_schema_is_sent_again_as_json_object_and_remembered() -> None:
    with OpenAIStandIn(api_key=None) as server:
        server.script(Fail(500, REFUSAL), Reply('{"city": "Paris"}'), Reply('{"city": "Oslo"}'))
        config = LLMConfig(provider="vllm", base_url=server.base_url, model="m", retry_count=0)
        with LLMClient(config) as client:
            assert client.complete("Where?", schema=CITY).parsed == {"city": "Paris"}
            assert client.complete("Where?", schema=CITY).parsed == {"city": "Oslo"}
        forms = [request.body["response_format"] for request in server.requests]
    assert forms[0]["type"] == "json_schema" and forms[0]["json_schema"]["schema"] == CITY
    assert forms[1:] == [{"type": "json_object", "schema": CITY}] * 2


def test_other_refusals_stand() -> None:
    with OpenAIStandIn(api_key=None) as server:
        server.script(Fail(400, "max_tokens is too large"))
        config = LLMConfig(provider="vllm", base_url=server.base_url, model="m", retry_count=0)
        with LLMClient(config) as client, pytest.raises(BadRequestError, match="max_tokens"):
            client.complete("Where?", schema=CITY)
        assert len(server.requests) == 1
        assert client.backend.provider.schema_form == "json_schema"
