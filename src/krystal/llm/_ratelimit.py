"""A client-side rate limit: token buckets for requests per second and tokens per minute.

Providers answer a burst with 429s and a ``Retry-After``; pacing calls here is cheaper
than being told off. Each call *reserves* its place under the lock (a bucket may go
below zero, which is a queue of promises) and sleeps outside it, so threads are served in
order and none spins. The tokens bucket cannot know a request's size in advance, so it
is charged afterwards with what the provider reported (:meth:`RateLimiter.spend`); a call
waits while earlier calls have overspent the minute's allowance.

The clock and the sleeps are injectable, so tests measure the pacing without waiting:

>>> now = [0.0]
>>> def sleep(seconds):
...     now[0] += seconds
>>> limiter = RateLimiter(2, burst=1, clock=lambda: now[0], sleep=sleep)
>>> for _ in range(5):
...     _ = limiter.acquire()
>>> now[0]  # the first call goes at once, the next four every half second
2.0
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable

from krystal._errors import ConfigError


class RateLimiter:
    """At most ``requests_per_second`` (bursts of ``burst``) and ``tokens_per_minute``.

    Either limit may be ``None`` (no limit of that kind). ``burst`` defaults to one
    second's worth of requests, at least 1.
    """

    def __init__(
        self,
        requests_per_second: float | None = None,
        tokens_per_minute: float | None = None,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        for name, value in (
            ("requests_per_second", requests_per_second),
            ("tokens_per_minute", tokens_per_minute),
            ("burst", burst),
        ):
            if value is not None and not value > 0:
                raise ConfigError(f"RateLimiter.{name}: got {value!r}, expected a number > 0")
        self.requests_per_second = requests_per_second
        self.tokens_per_minute = tokens_per_minute
        self.burst = burst or max(1.0, requests_per_second or 1.0)
        self.clock, self.sleep, self.async_sleep = clock, sleep, async_sleep
        self._lock = threading.Lock()
        now = clock()
        self._requests = self.burst
        self._tokens = float(tokens_per_minute or 0)
        self._updated = now

    def __repr__(self) -> str:
        return (
            f"RateLimiter(requests_per_second={self.requests_per_second!r}, "
            f"tokens_per_minute={self.tokens_per_minute!r}, burst={self.burst!r})"
        )

    def _refill(self) -> None:
        now = self.clock()
        elapsed = max(0.0, now - self._updated)
        self._updated = now
        if self.requests_per_second:
            self._requests = min(self.burst, self._requests + elapsed * self.requests_per_second)
        if self.tokens_per_minute:
            self._tokens = min(
                self.tokens_per_minute, self._tokens + elapsed * self.tokens_per_minute / 60
            )

    def reserve(self) -> float:
        """Take a place in line; the seconds to wait before sending."""
        with self._lock:
            self._refill()
            wait = 0.0
            if self.requests_per_second:
                self._requests -= 1
                if self._requests < 0:
                    wait = -self._requests / self.requests_per_second
            if self.tokens_per_minute and self._tokens < 0:
                wait = max(wait, -self._tokens / (self.tokens_per_minute / 60))
            return wait

    def acquire(self) -> float:
        """Wait (blocking) until a request may go; the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            self.sleep(wait)
        return wait

    async def aacquire(self) -> float:
        """Async :meth:`acquire`."""
        wait = self.reserve()
        if wait > 0:
            await self.async_sleep(wait)
        return wait

    def spend(self, tokens: int) -> None:
        """Charge ``tokens`` a finished request used to the tokens-per-minute bucket."""
        if not self.tokens_per_minute or tokens <= 0:
            return
        with self._lock:
            self._refill()
            self._tokens -= tokens
