"""What the per-format adapter tests share: a stand-in per module, checked after each test,
and one request built, validated, sent and parsed through a real :class:`Transport`.

A test module makes its fixtures and helpers in one call::

    module_server, server = standin_fixtures(AnthropicStandIn, validate_all_sent, validate_request)
    wire = Wire(MODEL, validate_request)

then calls ``wire.complete(server, provider, messages, ...)`` and ``wire.stream(...)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from krystal.llm._transport import Transport
from krystal.llm._types import to_messages
from krystal.llm.providers.base import Options


def standin_fixtures(
    standin: type[Any],
    validate_all_sent: Callable[[Any], None],
    validate_request: Callable[[Any], None],
) -> tuple[Any, Any]:
    """``(module_server, server)`` fixtures: one stand-in per module, reset for each test;
    after the test every answer it gave and every request it got is checked."""

    @pytest.fixture(scope="module")
    def module_server() -> Iterator[Any]:
        with standin() as server:
            yield server

    @pytest.fixture
    def server(module_server: Any) -> Iterator[Any]:
        module_server.reset()
        yield module_server
        validate_all_sent(module_server.sent)
        for request in module_server.requests:
            validate_request(request.body)

    return module_server, server


class Wire:
    """Send one request the way the client does, checking it against the spec first."""

    def __init__(self, model: str, validate_request: Callable[[Any], None]) -> None:
        self.model = model
        self.validate_request = validate_request

    def transport(self, server: Any, provider: Any, **kw: Any) -> Transport:
        kw = {"retry_delay": 0.01, "deadline": 5.0, **kw}
        return Transport(provider, server.base_url, **kw)

    def complete(
        self,
        server: Any,
        provider: Any,
        messages: Any,
        transport: Transport | None = None,
        **options: Any,
    ) -> Any:
        request = provider.build_request(
            to_messages(messages), Options(model=self.model, **options)
        )
        self.validate_request(request.json)
        transport = transport or self.transport(server, provider)
        try:
            return provider.parse_response(*transport.send(request))
        finally:
            transport.close()

    def stream(
        self,
        server: Any,
        provider: Any,
        messages: Any,
        transport: Transport | None = None,
        **options: Any,
    ) -> Iterator[Any]:
        request = provider.build_request(
            to_messages(messages), Options(model=self.model, stream=True, **options)
        )
        self.validate_request(request.json)
        transport = transport or self.transport(server, provider)
        try:
            yield from provider.parse_stream(transport.stream(request))
        finally:
            transport.close()
