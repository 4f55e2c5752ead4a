"""The one transport every provider shares: pooling, retries, deadlines, the breaker.

Adapters build :class:`~krystal.llm.providers.base.Request` objects and read answers;
everything between lives here, once, for sync (``httpx.Client``) and async
(``httpx.AsyncClient``) alike:

- **pooling and keep-alive** through one long-lived httpx client per provider;
- **retries** on connect errors, timeouts, 429 and 5xx, with exponential backoff and
  jitter, honouring ``Retry-After`` (capped by ``max_retry_delay`` and the deadline);
- **timeouts**: a connect timeout, a read timeout (the longest silence allowed between
  two bytes) and a total ``deadline`` for a call, retries included; a stream's deadline
  covers getting its first byte;
- **a circuit breaker** per provider: after ``failure_threshold`` consecutive failures
  that look like an outage, calls fail fast for ``reset_after`` seconds, then one trial
  call decides;
- **streams** cut into SSE events or NDJSON lines; the response is always closed when the
  caller stops iterating, so an abandoned stream gives its connection back;
- **error mapping**: httpx's exceptions become the LLM error tree in :func:`_mapped`,
  the only place that knows them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator, Iterable, Iterator
from typing import Any

from krystal._imports import require
from krystal.llm._errors import (
    ConnectionError,
    LLMError,
    RateLimitError,
    ServerError,
    TimeoutError,
    UnavailableError,
    redact,
)
from krystal.llm.providers.base import Provider, Request, ServerEvent

httpx = require("httpx", "llm")

log = logging.getLogger("krystal.llm")

#: errors that suggest the server is down, as opposed to busy or refusing this request
_OUTAGE = (ServerError, TimeoutError, ConnectionError)


@contextlib.contextmanager
def _mapped(provider: str, what: str) -> Iterator[None]:
    """Turn httpx's exceptions into the LLM error tree (``what`` names the phase)."""
    try:
        yield
    except httpx.TimeoutException as error:
        kind = {
            httpx.ConnectTimeout: "connecting",
            httpx.ReadTimeout: "waiting for data",
            httpx.WriteTimeout: "sending",
            httpx.PoolTimeout: "waiting for a free connection",
        }.get(type(error), "waiting")
        raise TimeoutError(f"{provider}: timed out {kind} ({what})", provider=provider) from error
    except httpx.ConnectError as error:
        raise ConnectionError(
            f"{provider}: cannot connect ({what}): {error}", provider=provider
        ) from error
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as error:
        raise ConnectionError(
            f"{provider}: the connection broke ({what}): {error or type(error).__name__}",
            provider=provider,
        ) from error
    except httpx.HTTPError as error:
        raise ConnectionError(f"{provider}: {what} failed: {error}", provider=provider) from error


class CircuitBreaker:
    """Fail fast while a provider looks down.

    >>> breaker = CircuitBreaker(failure_threshold=2, reset_after=60)
    >>> breaker.failure(); breaker.failure(); breaker.state
    'open'
    >>> breaker.check("p")
    Traceback (most recent call last):
    ...
    krystal.llm._errors.UnavailableError: p: circuit open after 2 consecutive failures...
    """

    def __init__(self, failure_threshold: int = 5, reset_after: float = 30.0) -> None:
        self.failure_threshold = failure_threshold
        self.reset_after = reset_after
        self.failures = 0
        self.opened_at: float | None = None
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        if time.monotonic() - self.opened_at >= self.reset_after:
            return "half-open"
        return "open"

    def check(self, provider: str) -> None:
        """Raise :class:`UnavailableError` while open; let one trial through when half-open."""
        with self._lock:
            if self.state == "open":
                assert self.opened_at is not None
                wait = self.reset_after - (time.monotonic() - self.opened_at)
                raise UnavailableError(
                    f"{provider}: circuit open after {self.failures} consecutive failures; "
                    f"next try in {wait:.1f} s",
                    provider=provider,
                )
            if self.state == "half-open":
                # the trial call: re-open at once for everyone else until it reports back
                self.opened_at = time.monotonic()

    def success(self) -> None:
        with self._lock:
            self.failures = 0
            self.opened_at = None

    def failure(self) -> None:
        with self._lock:
            self.failures += 1
            if self.failures >= self.failure_threshold:
                self.opened_at = time.monotonic()


class Transport:
    """HTTP for one provider at one base URL, sync and async.

    ``on_retry`` is called with the error each time a call is retried (metrics).
    """

    def __init__(
        self,
        provider: Provider,
        base_url: str,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        deadline: float = 60.0,
        retry_count: int = 3,
        retry_delay: float = 1.0,
        max_retry_delay: float = 30.0,
        breaker: CircuitBreaker | None = None,
        on_retry: Callable[[LLMError], None] | None = None,
        max_connections: int = 20,
        http_transport: Any = None,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.deadline = deadline
        self.retry_count = retry_count
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.breaker = breaker or CircuitBreaker()
        self.on_retry = on_retry
        self.limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self.http_transport = http_transport  # an httpx transport, for the offline mock
        self._client: Any = None
        self._async_client: Any = None
        self._urls: dict[str, Any] = {}
        self._lock = threading.Lock()

    # -- clients --------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The pooled ``httpx.Client``, made on first use."""
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(
                    base_url=self.base_url, limits=self.limits, transport=self.http_transport
                )
            return self._client

    @property
    def async_client(self) -> Any:
        """The pooled ``httpx.AsyncClient``, made on first use."""
        with self._lock:
            if self._async_client is None:
                self._async_client = httpx.AsyncClient(
                    base_url=self.base_url, limits=self.limits, transport=self.http_transport
                )
            return self._async_client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        if self._async_client is not None:
            await self._async_client.aclose()
            self._async_client = None
        self.close()

    # -- the retry policy, shared by sync and async ---------------------------------------

    def _timeout(self, ends: float) -> Any:
        left = ends - time.monotonic()
        if left <= 0:
            raise TimeoutError(
                f"{self.provider.name}: the deadline of {self.deadline:g} s passed",
                provider=self.provider.name,
            )
        return httpx.Timeout(
            connect=min(self.connect_timeout, left),
            read=min(self.read_timeout, left),
            write=min(self.read_timeout, left),
            pool=min(self.connect_timeout, left),
        )

    def _backoff(self, error: LLMError, attempt: int, ends: float) -> float:
        """Seconds to wait before retry ``attempt + 1``; re-raise when that is not allowed."""
        if isinstance(error, _OUTAGE):
            self.breaker.failure()
        if not error.retryable or attempt >= self.retry_count:
            raise error
        delay = self.retry_delay * 2.0**attempt
        delay = delay / 2 + random.uniform(0, delay / 2)  # jitter: spread a thundering herd
        if isinstance(error, RateLimitError) and error.retry_after is not None:
            delay = max(delay, error.retry_after)
        delay = min(delay, self.max_retry_delay)
        if time.monotonic() + delay >= ends:
            raise error
        log.info(
            "%s: %s; retry %d/%d in %.2f s",
            self.provider.name,
            error,
            attempt + 1,
            self.retry_count,
            delay,
        )
        if self.on_retry is not None:
            self.on_retry(error)
        return delay

    def _url(self, path: str) -> Any:
        # httpx parses a relative path and merges it with the base URL on every request
        # (two URL parses); the merged URL of each path is parsed once and kept instead.
        url = self._urls.get(path)
        if url is None:
            url = httpx.URL(f"{self.base_url}/{path.lstrip('/')}") if self.base_url else path
            self._urls[path] = url
        return url

    def _build(self, client: Any, request: Request, ends: float) -> Any:
        return client.build_request(
            request.method,
            self._url(request.path),
            json=request.json,
            headers=request.headers,
            params=request.params or None,
            timeout=self._timeout(ends),
        )

    def _error_for(self, response: Any, body_text: str) -> LLMError:
        try:
            body: Any = response.json() if body_text else None
        except ValueError:
            body = body_text
        return self.provider.map_error(response.status_code, body, response.headers)

    def _json(self, response: Any) -> Any:
        return self.provider.load_json(response.text)

    # -- sync -----------------------------------------------------------------------------

    def send(self, request: Request) -> tuple[int, Any]:
        """``(status, JSON body)`` of a 2xx answer, after retries; raise :class:`LLMError`."""
        response = self._open(request, stream=False)
        return response.status_code, self._json(response)

    def stream(self, request: Request) -> Generator[ServerEvent, None, None]:
        """The events of a streamed answer; the response closes when iteration stops."""
        response = self._open(request, stream=True)
        try:
            with _mapped(self.provider.name, "reading the stream"):
                yield from _events(response.iter_lines(), self.provider.stream_format)
        finally:
            response.close()

    def _open(self, request: Request, *, stream: bool) -> Any:
        name = self.provider.name
        ends = time.monotonic() + self.deadline
        attempt = 0
        client = self.client
        while True:
            self.breaker.check(name)
            response = None
            try:
                with _mapped(name, f"{request.method} {redact(request.path)}"):
                    response = client.send(self._build(client, request, ends), stream=stream)
                    if response.status_code >= 400:
                        text = response.read().decode("utf-8", "replace")
                        response.close()
                        raise self._error_for(response, text)
                self.breaker.success()
                return response
            except LLMError as error:
                if response is not None:
                    response.close()
                alternative = self.provider.instead(request, error)
                if alternative is not None:
                    request = alternative
                    continue
                delay = self._backoff(error, attempt, ends)
            time.sleep(delay)
            attempt += 1

    def probe(self, timeout: float) -> tuple[int, Any]:
        """One GET of the provider's probe path, no retries, a short ``timeout``."""
        request = self.provider.probe_request()
        with _mapped(self.provider.name, f"probing {request.path}"):
            response = self.client.request(
                request.method, request.path, headers=request.headers, timeout=timeout
            )
        if response.status_code >= 400:
            raise self._error_for(response, response.text)
        return response.status_code, self._json(response)

    # -- async ----------------------------------------------------------------------------

    async def asend(self, request: Request) -> tuple[int, Any]:
        """Async :meth:`send`."""
        response = await self._aopen(request, stream=False)
        return response.status_code, self._json(response)

    async def astream(self, request: Request) -> AsyncGenerator[ServerEvent, None]:
        """Async :meth:`stream`."""
        response = await self._aopen(request, stream=True)
        try:
            with _mapped(self.provider.name, "reading the stream"):
                parser = _EventParser(self.provider.stream_format)
                async for line in response.aiter_lines():
                    for event in parser.feed(line):
                        yield event
                for event in parser.end():
                    yield event
        finally:
            await response.aclose()

    async def _aopen(self, request: Request, *, stream: bool) -> Any:
        name = self.provider.name
        ends = time.monotonic() + self.deadline
        attempt = 0
        client = self.async_client
        while True:
            self.breaker.check(name)
            response = None
            try:
                with _mapped(name, f"{request.method} {redact(request.path)}"):
                    response = await client.send(self._build(client, request, ends), stream=stream)
                    if response.status_code >= 400:
                        text = (await response.aread()).decode("utf-8", "replace")
                        await response.aclose()
                        raise self._error_for(response, text)
                self.breaker.success()
                return response
            except LLMError as error:
                if response is not None:
                    await response.aclose()
                alternative = self.provider.instead(request, error)
                if alternative is not None:
                    request = alternative
                    continue
                delay = self._backoff(error, attempt, ends)
            await asyncio.sleep(delay)
            attempt += 1


class _EventParser:
    """Lines in, :class:`ServerEvent` out, for SSE (``data:``/``event:`` fields) or NDJSON."""

    def __init__(self, stream_format: str) -> None:
        self.sse = stream_format == "sse"
        self.event = ""
        self.data: list[str] = []

    def feed(self, line: str) -> Iterator[ServerEvent]:
        line = line.rstrip("\r\n")
        if not self.sse:
            if line.strip():
                yield ServerEvent(line)
            return
        if not line:
            yield from self.end()
            return
        if line.startswith(":"):
            return  # an SSE comment, used as a keep-alive
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "data":
            self.data.append(value)
        elif field == "event":
            self.event = value

    def end(self) -> Iterator[ServerEvent]:
        if self.data:
            yield ServerEvent("\n".join(self.data), self.event)
        self.event, self.data = "", []


def _events(lines: Iterable[str], stream_format: str) -> Iterator[ServerEvent]:
    parser = _EventParser(stream_format)
    for line in lines:
        yield from parser.feed(line)
    yield from parser.end()
