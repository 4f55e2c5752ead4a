"""``LLMClient``: one interface over every provider, sync and async.

The client picks a provider (by name, or by :func:`detect` for ``provider="auto"``),
normalises messages and options, and hands them to the provider's adapter and the shared
transport. It owns the metrics and the structured-output loop (validate, re-ask once).

>>> from krystal.llm import LLMClient, LLMConfig
>>> client = LLMClient(LLMConfig(provider="mock"))
>>> client.chat("Hello")
'[mock provider, not a real model] You said: Hello'
>>> client.is_local(), client.get_metrics()["mock"]["requests"]
(True, 1)
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import queue
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from krystal.llm._config import (
    API_PROVIDERS,
    DEFAULT_MODELS,
    ENV,
    LOCAL_PROVIDERS,
    LLMConfig,
    env_settings,
)
from krystal.llm._errors import LLMError, ProviderError, UnavailableError
from krystal.llm._metrics import Metrics
from krystal.llm._structured import Schema, reask
from krystal.llm._transport import CircuitBreaker, Transport
from krystal.llm._types import Message, ProviderType, Response, StreamEvent, Tool, to_messages
from krystal.llm.providers.base import Options, Provider

log = logging.getLogger("krystal.llm")

#: name -> (module, class); imported on first use, so a missing module only breaks its
#: own provider
REGISTRY = {
    "openai": ("krystal.llm.providers.openai_compat", "OpenAICompatible"),
    "lmstudio": ("krystal.llm.providers.openai_compat", "LMStudio"),
    "vllm": ("krystal.llm.providers.openai_compat", "VLLM"),
    "ollama": ("krystal.llm.providers.ollama", "Ollama"),
    "anthropic": ("krystal.llm.providers.anthropic", "Anthropic"),
    "gemini": ("krystal.llm.providers.gemini", "Gemini"),
    "mock": ("krystal.llm.providers.mock", "Mock"),
}


def provider_class(name: str) -> type[Provider]:
    """The adapter class registered as ``name``."""
    module_name, class_name = REGISTRY[name]
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as error:
        raise UnavailableError(
            f"{name}: its adapter {module_name}.{class_name} cannot be loaded: {error}",
            provider=name,
        ) from error
    return cls  # type: ignore[no-any-return]


@dataclass
class Candidate:
    """One provider auto-detection looked at, and what it found."""

    name: str
    base_url: str
    available: bool
    reason: str
    models: list[str] = field(default_factory=list)
    model: str = ""


def detect(
    config: LLMConfig | None = None, environ: Mapping[str, str] | None = None
) -> list[Candidate]:
    """Probe the local servers (in parallel, short timeouts), then look for API keys.

    Returns every candidate in order of preference, available or not, with the reason.
    """
    config = config or LLMConfig()

    def probe(name: str) -> Candidate:
        settings = env_settings(name, environ)
        cls = provider_class(name)
        base_url = settings.base_url or cls.default_base_url
        transport = Transport(cls(), base_url, retry_count=0)
        try:
            _, body = transport.probe(config.probe_timeout)
        except LLMError as error:
            return Candidate(name, base_url, False, str(error))
        finally:
            transport.close()
        models = cls().parse_models(body)
        model = settings.model or (models[0] if models else "")
        if not model:
            return Candidate(name, base_url, False, "up, but it lists no models", models)
        return Candidate(name, base_url, True, f"up, {len(models)} models", models, model)

    with ThreadPoolExecutor(max_workers=len(LOCAL_PROVIDERS)) as pool:
        found = list(pool.map(probe, LOCAL_PROVIDERS))
    for name in API_PROVIDERS:
        settings = env_settings(name, environ)
        key_name = ENV[name].api_key
        if not settings.api_key:
            found.append(Candidate(name, settings.base_url, False, f"{key_name} is not set"))
            continue
        try:
            cls = provider_class(name)
        except UnavailableError as error:
            found.append(Candidate(name, settings.base_url, False, str(error)))
            continue
        model = settings.model or DEFAULT_MODELS[name]
        found.append(
            Candidate(
                name,
                settings.base_url or cls.default_base_url,
                True,
                f"{key_name} is set",
                model=model,
            )
        )
    return found


@dataclass
class _Backend:
    provider: Provider
    transport: Transport
    model: str


class LLMClient:
    """Talk to a model: ``complete``, ``stream``, ``chat`` and their async twins.

    ``messages`` may be a prompt string, :class:`~krystal.llm.Message` objects or
    OpenAI-style dicts. Keyword options of every call: ``model``, ``max_tokens``,
    ``temperature``, ``tools`` (:class:`~krystal.llm.Tool` or OpenAI-style dicts),
    ``tool_choice``, ``schema`` (a JSON schema or a pydantic model; the validated
    object lands in ``response.parsed``), ``stop`` and ``extra`` (raw body fields).
    """

    def __init__(self, config: LLMConfig | None = None) -> None:
        self.config = config or LLMConfig()
        self.candidates: list[Candidate] = []
        self._metrics = Metrics()
        self._backend: _Backend | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LLMClient({self.config!r})"

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        if self._backend is not None:
            self._backend.transport.close()

    async def aclose(self) -> None:
        if self._backend is not None:
            await self._backend.transport.aclose()

    # -- choosing the provider ------------------------------------------------------------

    @property
    def backend(self) -> _Backend:
        with self._lock:
            if self._backend is None:
                self._backend = self._connect()
            return self._backend

    @property
    def provider(self) -> str:
        """The name of the provider in use (auto-detection runs on first access)."""
        return self.backend.provider.name

    def _connect(self) -> _Backend:
        config = self.config
        name, base_url, model = config.provider, config.base_url, config.model
        api_key = config.api_key
        if name == "auto":
            self.candidates = detect(config)
            chosen = next((c for c in self.candidates if c.available), None)
            if chosen is None:
                tried = "; ".join(f"{c.name}: {c.reason}" for c in self.candidates)
                raise UnavailableError(f"no LLM provider is available. Tried {tried}")
            log.info("auto-detected provider %s at %s", chosen.name, chosen.base_url)
            name, base_url, model = chosen.name, chosen.base_url, model or chosen.model
            api_key = env_settings(name).api_key
        elif name in ENV:
            settings = env_settings(name)
            api_key = api_key or settings.api_key
            base_url = base_url or settings.base_url
            model = model or settings.model
        cls = provider_class(name)
        if cls.requires_api_key and not api_key:
            raise UnavailableError(
                f"{name}: no API key (set LLMConfig.api_key or {ENV[name].api_key})",
                provider=name,
            )
        provider = cls(api_key)
        transport = Transport(
            provider,
            base_url or cls.default_base_url,
            connect_timeout=min(config.connect_timeout, config.timeout),
            read_timeout=config.timeout,
            deadline=config.timeout,
            retry_count=config.retry_count,
            retry_delay=config.retry_delay,
            breaker=CircuitBreaker(),
            on_retry=lambda _error: self._metrics.retry(name),
            http_transport=getattr(provider, "http_transport", lambda: None)(),
        )
        if not model and cls.provider_type is ProviderType.LOCAL:
            model = self._first_model(transport)
        return _Backend(provider, transport, model or DEFAULT_MODELS.get(name, ""))

    def _first_model(self, transport: Transport) -> str:
        try:
            _, body = transport.probe(self.config.probe_timeout)
        except LLMError:
            return ""
        models = transport.provider.parse_models(body)
        return models[0] if models else ""

    def is_local(self) -> bool:
        """Whether the model runs on a local server (Ollama, LM Studio, vLLM, mock)."""
        return self.backend.provider.provider_type is ProviderType.LOCAL

    def is_api(self) -> bool:
        """Whether the model is behind a paid API (OpenAI, Anthropic, Gemini)."""
        return self.backend.provider.provider_type is ProviderType.API

    def get_metrics(self) -> dict[str, Any]:
        """Per provider: requests, errors, retries, tokens and latency percentiles (ms)."""
        return self._metrics.snapshot()

    # -- calls ----------------------------------------------------------------------------

    def _prepare(
        self,
        messages: str | Iterable[Message | Mapping[str, Any]],
        stream: bool,
        *,
        model: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        tools: Iterable[Tool | Mapping[str, Any]] | None = None,
        tool_choice: str | None = None,
        schema: Any = None,
        stop: str | list[str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> tuple[_Backend, list[Message], Options, Schema | None]:
        backend = self.backend
        wanted = Schema(schema) if schema is not None else None
        options = Options(
            model=model or backend.model,
            max_tokens=max_tokens or self.config.max_tokens,
            temperature=self.config.temperature if temperature is None else temperature,
            tools=[Tool.coerce(tool) for tool in tools or []],
            tool_choice=tool_choice,
            json_schema=wanted.json_schema if wanted else None,
            schema_name=wanted.name if wanted else "answer",
            stop=[stop] if isinstance(stop, str) else list(stop or []),
            stream=stream,
            extra=dict(extra or {}),
        )
        return backend, to_messages(messages), options, wanted

    def complete(self, messages: Any, **kw: Any) -> Response:
        """The whole answer to ``messages`` as a :class:`~krystal.llm.Response`."""
        backend, history, options, wanted = self._prepare(messages, False, **kw)
        response = self._complete_once(backend, history, options)
        if wanted is None:
            return response
        try:
            response.parsed = wanted.validate(response.content)
        except ValueError as error:
            log.info("%s: invalid structured answer, asking again: %s", self.provider, error)
            history = [*history, response.to_message(), Message("user", reask(error))]
            response = self._complete_once(backend, history, options)
            response.parsed = self._validated(wanted, response)
        return response

    async def acomplete(self, messages: Any, **kw: Any) -> Response:
        """Async :meth:`complete`."""
        backend, history, options, wanted = self._prepare(messages, False, **kw)
        response = await self._acomplete_once(backend, history, options)
        if wanted is None:
            return response
        try:
            response.parsed = wanted.validate(response.content)
        except ValueError as error:
            history = [*history, response.to_message(), Message("user", reask(error))]
            response = await self._acomplete_once(backend, history, options)
            response.parsed = self._validated(wanted, response)
        return response

    def chat(self, prompt: str, system: str | None = None) -> str:
        """The text of the answer to one prompt, with an optional system prompt."""
        messages = [Message("system", system)] if system else []
        return self.complete([*messages, Message("user", prompt)]).content

    def stream(self, messages: Any, **kw: Any) -> Iterator[str]:
        """The answer's text as it arrives; see :meth:`stream_events` for usage and tools."""
        for event in self.stream_events(messages, **kw):
            if event.text:
                yield event.text

    def stream_events(self, messages: Any, **kw: Any) -> Iterator[StreamEvent]:
        """Text deltas, then a final event with finish reason, usage and tool calls.

        Stopping early (``break``, ``close()``) closes the response and frees the
        connection.
        """
        backend, history, options, _ = self._prepare(messages, True, **kw)
        name = backend.provider.name
        started = time.perf_counter()
        events = backend.transport.stream(backend.provider.build_request(history, options))
        parsed = backend.provider.parse_stream(events)
        try:
            for event in parsed:
                if event.done:
                    self._record_stream(name, started, event)
                yield event
        except LLMError as error:
            self._metrics.failure(name, error)
            raise
        finally:
            parsed.close()
            events.close()

    async def astream(self, messages: Any, **kw: Any) -> AsyncIterator[str]:
        """Async :meth:`stream`."""
        async for event in self.astream_events(messages, **kw):
            if event.text:
                yield event.text

    async def astream_events(self, messages: Any, **kw: Any) -> AsyncIterator[StreamEvent]:
        """Async :meth:`stream_events`.

        The adapters' stream parsers are plain generators that pull events; here the event
        loop reads the response into a queue and the parser runs one step at a time in a
        worker thread, so no adapter needs an async twin.
        """
        backend, history, options, _ = self._prepare(messages, True, **kw)
        name = backend.provider.name
        started = time.perf_counter()
        events = backend.transport.astream(backend.provider.build_request(history, options))
        inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()

        async def read() -> None:
            try:
                async for item in events:
                    inbox.put(item)
                inbox.put(_END)
            except BaseException as error:  # handed to the parser, which re-raises it
                inbox.put(error)
                if isinstance(error, asyncio.CancelledError):
                    raise

        reader = asyncio.ensure_future(read())
        parsed = backend.provider.parse_stream(_drain(inbox))
        try:
            while True:
                event = await asyncio.to_thread(next, parsed, _END)
                if event is _END:
                    break
                if event.done:
                    self._record_stream(name, started, event)
                yield event
        except LLMError as error:
            self._metrics.failure(name, error)
            raise
        finally:
            reader.cancel()
            inbox.put(_END)
            with contextlib.suppress(ValueError):  # still running in a cancelled worker
                parsed.close()
            with contextlib.suppress(BaseException):
                await reader
            await events.aclose()

    # -- internals ------------------------------------------------------------------------

    def _complete_once(self, backend: _Backend, history: list[Message], opts: Options) -> Response:
        name = backend.provider.name
        started = time.perf_counter()
        try:
            status, body = backend.transport.send(backend.provider.build_request(history, opts))
            response = backend.provider.parse_response(status, body)
        except LLMError as error:
            self._metrics.failure(name, error)
            raise
        return self._finish(name, started, response)

    async def _acomplete_once(
        self, backend: _Backend, history: list[Message], opts: Options
    ) -> Response:
        name = backend.provider.name
        started = time.perf_counter()
        try:
            request = backend.provider.build_request(history, opts)
            status, body = await backend.transport.asend(request)
            response = backend.provider.parse_response(status, body)
        except LLMError as error:
            self._metrics.failure(name, error)
            raise
        return self._finish(name, started, response)

    def _finish(self, name: str, started: float, response: Response) -> Response:
        response.latency_ms = (time.perf_counter() - started) * 1000
        self._metrics.success(
            name, response.latency_ms, response.tokens_input, response.tokens_output
        )
        return response

    def _record_stream(self, name: str, started: float, event: StreamEvent) -> None:
        usage = event.usage
        self._metrics.success(
            name,
            (time.perf_counter() - started) * 1000,
            usage.input_tokens if usage else 0,
            usage.output_tokens if usage else 0,
        )

    def _validated(self, wanted: Schema, response: Response) -> Any:
        try:
            return wanted.validate(response.content)
        except ValueError as error:
            raise ProviderError(
                f"{response.provider}: the answer does not match the schema after one "
                f"re-ask: {error}",
                provider=response.provider,
            ) from error


_END: Any = object()


def _drain(inbox: queue.SimpleQueue[Any]) -> Iterator[Any]:
    """The events the async reader queued, in order; its exception is re-raised here."""
    while True:
        item = inbox.get()
        if item is _END:
            return
        if isinstance(item, BaseException):
            raise item
        yield item
