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
import itertools
import logging
import queue
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar, cast

from krystal.llm._cache import MemoryCache, ResponseCache, SQLiteCache, request_key
from krystal.llm._config import (
    API_PROVIDERS,
    DEFAULT_MODELS,
    ENV,
    LOCAL_PROVIDERS,
    LLMConfig,
    env_settings,
)
from krystal.llm._errors import LLMError, ProviderError, UnavailableError
from krystal.llm._fallback import Fallback, should_fall_back
from krystal.llm._metrics import Metrics
from krystal.llm._pricing import PriceTable
from krystal.llm._ratelimit import RateLimiter
from krystal.llm._structured import Schema, reask
from krystal.llm._transport import CircuitBreaker, Transport
from krystal.llm._types import Message, ProviderType, Response, StreamEvent, Tool, to_messages
from krystal.llm.providers.base import Options, Provider, Request

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
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise UnavailableError(
            f"{name}: {module_name}.{class_name} is not a Provider subclass", provider=name
        )
    return cls


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
    config: LLMConfig


@dataclass
class _Call:
    """What the caller asked for, before it is fitted to one provider of the chain."""

    history: list[Message]
    stream: bool
    wanted: Schema | None
    model: str | None
    max_tokens: int | None
    temperature: float | None
    tools: list[Tool]
    tool_choice: str | None
    stop: list[str]
    extra: dict[str, Any]
    cache: bool | None

    def options(self, backend: _Backend, primary: bool) -> Options:
        config = backend.config
        wanted = self.wanted
        return Options(
            # a model named in the call is the first provider's; fallbacks use their own
            model=(self.model if primary else None) or backend.model,
            max_tokens=self.max_tokens or config.max_tokens,
            temperature=config.temperature if self.temperature is None else self.temperature,
            tools=self.tools,
            tool_choice=self.tool_choice,
            json_schema=wanted.json_schema if wanted else None,
            schema_name=wanted.name if wanted else "answer",
            stop=self.stop,
            stream=self.stream,
            extra=self.extra,
        )

    def cacheable(self, options: Options) -> bool:
        """The cache rule: whole answers only, at temperature 0 or when asked to."""
        if self.stream or self.cache is False:
            return False
        return bool(self.cache) or options.temperature == 0


@dataclass
class _Send:
    """Step: send ``request`` through the backend's transport; the result is
    ``(status, body)``."""

    backend: _Backend
    request: Request


@dataclass
class _Wait:
    """Step: wait for the rate limiter."""

    limiter: RateLimiter


@dataclass
class _Open:
    """Step: open a stream; the result is its (sync or async) event generator."""

    backend: _Backend
    history: list[Message]
    options: Options


@dataclass
class _First:
    """Step: the first event of an opened stream (None when it has none)."""

    events: Any


@dataclass
class _Opened:
    """A stream that gave its first event, and the fallbacks it took to get there."""

    events: Any
    first: StreamEvent | None
    switches: list[Fallback]


@dataclass
class _Done:
    """A plan's return value."""

    value: Any


_T = TypeVar("_T")
#: a call written once: yields the steps above, receives their results, returns a _T
_Plan = Generator["_Send | _Wait | _Open | _First", Any, _T]


class LLMClient:
    """Talk to a model: ``complete``, ``stream``, ``chat`` and their async twins.

    ``messages`` may be a prompt string, :class:`~krystal.llm.Message` objects or
    OpenAI-style dicts. Keyword options of every call: ``model``, ``max_tokens``,
    ``temperature``, ``tools`` (:class:`~krystal.llm.Tool` or OpenAI-style dicts),
    ``tool_choice``, ``schema`` (a JSON schema or a pydantic model; the validated
    object lands in ``response.parsed``), ``stop``, ``extra`` (raw body fields) and
    ``cache`` (``True``/``False`` to force the response cache on or off for the call).

    Optional parts, all off by default:

    - ``fallbacks``: more :class:`~krystal.llm.LLMConfig` objects tried in order when the
      provider before them cannot answer (see ``krystal.llm._fallback`` for which errors
      count); each switch is recorded on ``Response.fallbacks`` and in ``get_metrics()``;
    - ``prices``: model name (or prefix) -> ``(input, output)`` USD per million tokens,
      merged over the default table (``krystal.llm._pricing``), for ``Response.cost_usd``;
    - ``cache``: a :class:`~krystal.llm.MemoryCache` or :class:`~krystal.llm.SQLiteCache`
      for whole answers at temperature 0 (see ``krystal.llm._cache`` for the rule);
    - ``rate_limit``: a :class:`~krystal.llm.RateLimiter` every request of this client
      waits on (cache hits do not).

    >>> from krystal.llm import MemoryCache
    >>> client = LLMClient(LLMConfig(provider="mock"), cache=MemoryCache())
    >>> first, again = client.complete("Hi", temperature=0), client.complete("Hi", temperature=0)
    >>> first.cached, again.cached, again.content == first.content, again.cost_usd
    (False, True, True, 0.0)
    """

    def __init__(
        self,
        config: LLMConfig | None = None,
        *,
        fallbacks: Iterable[LLMConfig] = (),
        prices: Mapping[str, tuple[float, float]] | None = None,
        cache: ResponseCache | None = None,
        rate_limit: RateLimiter | None = None,
    ) -> None:
        self.config = config or LLMConfig()
        self.fallbacks = list(fallbacks)
        self.prices = PriceTable(prices)
        self.cache = cache
        self.rate_limit = rate_limit
        self.candidates: list[Candidate] = []
        self._metrics = Metrics()
        self._backends: list[_Backend | None] = [None] * (1 + len(self.fallbacks))
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: object, **overrides: object) -> LLMClient:
        """A client from Krystal's layered settings (:func:`krystal.config.load_settings`).

        The config comes from :meth:`LLMConfig.from_settings` (``overrides`` beat it, as
        flags do); ``llm_fallbacks`` names the providers of the fallback chain (each
        configured from its own environment variables), ``llm_rate_limit`` and
        ``llm_tokens_per_minute`` build a :class:`~krystal.llm.RateLimiter` (0: none),
        ``llm_cache`` picks the response cache (``off``, ``memory`` or ``sqlite`` at
        ``llm_cache_path``) and ``llm_prices`` overrides the price table.

        >>> from krystal.config import KrystalSettings
        >>> settings = KrystalSettings(
        ...     llm_provider="mock", llm_cache="memory", llm_rate_limit=5,
        ...     llm_fallbacks="ollama", llm_prices={"mock": (1.0, 2.0)})
        >>> client = LLMClient.from_settings(settings)
        >>> [c.provider for c in client.fallbacks], type(client.cache).__name__
        (['ollama'], 'MemoryCache')
        >>> client.rate_limit.requests_per_second, client.prices.price("mock")
        (5.0, Price(input=1.0, output=2.0))
        """
        config = LLMConfig.from_settings(settings, **overrides)
        names = str(getattr(settings, "llm_fallbacks", "") or "")
        fallbacks = [
            LLMConfig.from_settings(settings, provider=name)
            for name in names.split(",")
            if name and name != config.provider
        ]
        per_second = float(getattr(settings, "llm_rate_limit", 0) or 0)
        per_minute = float(getattr(settings, "llm_tokens_per_minute", 0) or 0)
        rate_limit = None
        if per_second or per_minute:
            rate_limit = RateLimiter(per_second or None, per_minute or None)
        kind = getattr(settings, "llm_cache", "off")
        cache: ResponseCache | None = None
        if kind == "memory":
            cache = MemoryCache()
        elif kind == "sqlite":
            cache = SQLiteCache(getattr(settings, "llm_cache_path", ".krystal-llm-cache.sqlite"))
        prices = getattr(settings, "llm_prices", None) or None
        return cls(config, fallbacks=fallbacks, prices=prices, cache=cache, rate_limit=rate_limit)

    def __repr__(self) -> str:
        return f"LLMClient({self.config!r})"

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        for backend in self._backends:
            if backend is not None:
                backend.transport.close()

    async def aclose(self) -> None:
        for backend in self._backends:
            if backend is not None:
                await backend.transport.aclose()

    # -- choosing the provider ------------------------------------------------------------

    @property
    def backend(self) -> _Backend:
        """The first provider of the chain (auto-detection runs on first access)."""
        return self._backend_at(0)

    def _backend_at(self, index: int) -> _Backend:
        with self._lock:
            backend = self._backends[index]
            if backend is None:
                backend = self._backends[index] = self._connect(self._chain[index])
            return backend

    @property
    def _chain(self) -> list[LLMConfig]:
        return [self.config, *self.fallbacks]

    @property
    def provider(self) -> str:
        """The name of the first provider of the chain (auto-detection runs on first access)."""
        return self.backend.provider.name

    def _connect(self, config: LLMConfig) -> _Backend:
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
            model = self._first_model(transport, config)
        return _Backend(provider, transport, model or DEFAULT_MODELS.get(name, ""), config)

    def _first_model(self, transport: Transport, config: LLMConfig) -> str:
        try:
            _, body = transport.probe(config.probe_timeout)
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
        """Per provider: requests, errors, retries, tokens, latency percentiles (ms),
        ``cost_usd`` (summed; ``cost_unknown`` counts answers the price table could not
        price), ``cache_hits`` and ``fallbacks`` (the switches away from it, with reasons).
        """
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
        cache: bool | None = None,
    ) -> _Call:
        return _Call(
            history=to_messages(messages),
            stream=stream,
            wanted=Schema(schema) if schema is not None else None,
            model=model,
            max_tokens=max_tokens,
            temperature=temperature,
            tools=[Tool.coerce(tool) for tool in tools or []],
            tool_choice=tool_choice,
            stop=[stop] if isinstance(stop, str) else list(stop or []),
            extra=dict(extra or {}),
            cache=cache,
        )

    def complete(self, messages: Any, **kw: Any) -> Response:
        """The whole answer to ``messages`` as a :class:`~krystal.llm.Response`."""
        return self._run(self._plan_complete(self._prepare(messages, False, **kw)))

    async def acomplete(self, messages: Any, **kw: Any) -> Response:
        """Async :meth:`complete`."""
        return await self._arun(self._plan_complete(self._prepare(messages, False, **kw)))

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
        connection. The fallback chain applies until the first event arrives.
        """
        opened = self._run(self._plan_stream(self._prepare(messages, True, **kw)))
        if opened.first is None:
            return
        events = opened.events
        try:
            for event in itertools.chain([opened.first], events):
                if event.done:
                    event.fallbacks = opened.switches
                yield event
        finally:
            events.close()

    async def astream(self, messages: Any, **kw: Any) -> AsyncIterator[str]:
        """Async :meth:`stream`."""
        async for event in self.astream_events(messages, **kw):
            if event.text:
                yield event.text

    async def astream_events(self, messages: Any, **kw: Any) -> AsyncIterator[StreamEvent]:
        """Async :meth:`stream_events`."""
        opened = await self._arun(self._plan_stream(self._prepare(messages, True, **kw)))
        events = opened.events
        try:
            event = opened.first
            while event is not None:
                if event.done:
                    event.fallbacks = opened.switches
                yield event
                event = await anext(events, None)
        finally:
            await events.aclose()

    # -- planning a call ------------------------------------------------------------------
    #
    # What a call does (provider chain, fallbacks, cache, rate limit, metrics, the
    # structured-output re-ask) is written once, as a generator that yields the I/O it
    # needs (_Send, _Wait, _Open, _First) and receives the results. _run performs those
    # steps with the sync transport and _arun with the async one.

    def _plan_complete(self, call: _Call) -> _Plan[Response]:
        response = yield from self._plan_chain(call, call.history)
        wanted = call.wanted
        if wanted is None:
            return response
        try:
            response.parsed = wanted.validate(response.content)
        except ValueError as error:
            log.info("%s: invalid structured answer, asking again: %s", response.provider, error)
            history = [*call.history, response.to_message(), Message("user", reask(error))]
            response = yield from self._plan_chain(call, history)
            response.parsed = self._validated(wanted, response)
        return response

    def _plan_chain(self, call: _Call, history: list[Message]) -> _Plan[Response]:
        switches: list[Fallback] = []
        for index in range(len(self._backends)):
            try:
                backend = self._backend_at(index)
                options = call.options(backend, index == 0)
                response = yield from self._plan_once(
                    backend, history, options, call.cacheable(options)
                )
            except LLMError as error:
                self._fall_back(index, error, switches)
                continue
            response.fallbacks = switches
            return response
        raise AssertionError("unreachable: the last provider's error is re-raised")

    def _plan_once(
        self, backend: _Backend, history: list[Message], opts: Options, cacheable: bool
    ) -> _Plan[Response]:
        key = None
        if cacheable and self.cache is not None:
            key, hit = self._cached(backend, history, opts)
            if hit is not None:
                return hit
        if self.rate_limit is not None:
            yield _Wait(self.rate_limit)
        started = time.perf_counter()
        try:
            status, body = yield _Send(backend, backend.provider.build_request(history, opts))
            response = backend.provider.parse_response(status, body)
        except LLMError as error:
            self._metrics.failure(backend.provider.name, error)
            raise
        return self._finish(backend, opts, started, response, key)

    def _plan_stream(self, call: _Call) -> _Plan[_Opened]:
        switches: list[Fallback] = []
        for index in range(len(self._backends)):
            try:
                backend = self._backend_at(index)
                if self.rate_limit is not None:
                    yield _Wait(self.rate_limit)
                events = yield _Open(backend, call.history, call.options(backend, index == 0))
                first = yield _First(events)
            except LLMError as error:
                self._fall_back(index, error, switches)
                continue
            return _Opened(events, first, switches)
        raise AssertionError("unreachable: the last provider's error is re-raised")

    def _run(self, plan: _Plan[_T]) -> _T:
        """Carry out ``plan`` with the sync transport."""
        step = _advance(plan)
        result: Any
        while not isinstance(step, _Done):
            try:
                if isinstance(step, _Send):
                    result = step.backend.transport.send(step.request)
                elif isinstance(step, _Wait):
                    result = step.limiter.acquire()
                elif isinstance(step, _Open):
                    result = self._stream_once(step.backend, step.history, step.options)
                else:
                    result = next(step.events, None)
            except LLMError as error:
                step = _advance(plan, failure=error)
            else:
                step = _advance(plan, result)
        return cast(_T, step.value)

    async def _arun(self, plan: _Plan[_T]) -> _T:
        """Carry out ``plan`` with the async transport."""
        step = _advance(plan)
        result: Any
        while not isinstance(step, _Done):
            try:
                if isinstance(step, _Send):
                    result = await step.backend.transport.asend(step.request)
                elif isinstance(step, _Wait):
                    result = await step.limiter.aacquire()
                elif isinstance(step, _Open):
                    result = self._astream_once(step.backend, step.history, step.options)
                else:
                    result = await anext(step.events, None)
            except LLMError as error:
                step = _advance(plan, failure=error)
            else:
                step = _advance(plan, result)
        return cast(_T, step.value)

    # -- internals ------------------------------------------------------------------------

    def _fall_back(self, index: int, error: LLMError, switches: list[Fallback]) -> None:
        """Record a switch to the next provider, or re-raise ``error`` when there is none."""
        if index + 1 >= len(self._backends) or not should_fall_back(error):
            raise error
        here = self._backends[index]
        name = here.provider.name if here is not None else self._chain[index].provider
        switch = Fallback.after(error, name, self._chain[index + 1].provider)
        log.warning("falling back from %s to %s: %s", name, switch.to_provider, switch.reason)
        switches.append(switch)
        self._metrics.fallback(switch)

    def _cached(
        self, backend: _Backend, history: list[Message], opts: Options
    ) -> tuple[str, Response | None]:
        assert self.cache is not None
        started = time.perf_counter()
        key = request_key(backend.provider.name, history, asdict(opts))
        hit = self.cache.get(key)
        if hit is not None:
            hit.latency_ms = (time.perf_counter() - started) * 1000
            self._metrics.cache_hit(backend.provider.name)
        return key, hit

    def _finish(
        self,
        backend: _Backend,
        opts: Options,
        started: float,
        response: Response,
        key: str | None,
    ) -> Response:
        name = backend.provider.name
        response.latency_ms = (time.perf_counter() - started) * 1000
        response.cost_usd = self._cost(
            backend, opts, response.model, response.tokens_input, response.tokens_output
        )
        self._metrics.success(
            name, response.latency_ms, response.tokens_input, response.tokens_output
        )
        if self.rate_limit is not None:
            self.rate_limit.spend(response.tokens_total)
        if key is not None and self.cache is not None:
            self.cache.put(key, response)
        return response

    def _cost(
        self, backend: _Backend, opts: Options, model: str, tokens_in: int, tokens_out: int
    ) -> float | None:
        kind = backend.provider.provider_type
        cost = self.prices.cost(kind, model or opts.model, tokens_in, tokens_out)
        if cost is None and model and opts.model:
            cost = self.prices.cost(kind, opts.model, tokens_in, tokens_out)
        self._metrics.cost(backend.provider.name, cost)
        return cost

    def _stream_once(
        self, backend: _Backend, history: list[Message], opts: Options
    ) -> Generator[StreamEvent, None, None]:
        name = backend.provider.name
        started = time.perf_counter()
        # both generators are closed below, so an abandoned stream frees its connection
        events = backend.transport.stream(backend.provider.build_request(history, opts))
        parsed = backend.provider.parse_stream(events)
        try:
            for event in parsed:
                if event.done:
                    self._record_stream(backend, opts, started, event)
                yield event
        except LLMError as error:
            self._metrics.failure(name, error)
            raise
        finally:
            parsed.close()
            events.close()

    async def _astream_once(
        self, backend: _Backend, history: list[Message], opts: Options
    ) -> AsyncGenerator[StreamEvent, None]:
        """The adapters' stream parsers are plain generators that pull events; here the
        event loop reads the response into a queue and the parser runs one step at a time
        in a worker thread, so no adapter needs an async twin.
        """
        name = backend.provider.name
        started = time.perf_counter()
        events = backend.transport.astream(backend.provider.build_request(history, opts))
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
                    self._record_stream(backend, opts, started, event)
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

    def _record_stream(
        self, backend: _Backend, opts: Options, started: float, event: StreamEvent
    ) -> None:
        usage = event.usage
        tokens_in = usage.input_tokens if usage else 0
        tokens_out = usage.output_tokens if usage else 0
        self._metrics.success(
            backend.provider.name, (time.perf_counter() - started) * 1000, tokens_in, tokens_out
        )
        event.cost_usd = self._cost(backend, opts, event.model, tokens_in, tokens_out)
        if self.rate_limit is not None:
            self.rate_limit.spend(tokens_in + tokens_out)

    def _validated(self, wanted: Schema, response: Response) -> Any:
        try:
            return wanted.validate(response.content)
        except ValueError as error:
            raise ProviderError(
                f"{response.provider}: the answer does not match the schema after one "
                f"re-ask: {error}",
                provider=response.provider,
            ) from error


def _advance(
    plan: _Plan[Any], result: Any = None, failure: LLMError | None = None
) -> _Send | _Wait | _Open | _First | _Done:
    """Hand ``plan`` the result of its last step (or throw ``failure`` into it); its next
    step, or :class:`_Done` with what it returned."""
    try:
        return plan.send(result) if failure is None else plan.throw(failure)
    except StopIteration as done:
        return _Done(done.value)


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
