"""The client-side rate limit, measured on a fake clock (no real sleeping)."""

from __future__ import annotations

import threading

import pytest

from krystal import ConfigError
from krystal.llm import LLMClient, LLMConfig, RateLimiter


class FakeClock:
    """A clock that moves only when someone sleeps; records every sleep."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.sleeps.append(seconds)
            self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


def _limiter(clock: FakeClock, *args: float | None, **kw: float) -> RateLimiter:
    return RateLimiter(*args, clock=clock, sleep=clock.sleep, async_sleep=clock.async_sleep, **kw)


def test_requests_per_second_after_a_burst() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, 4, burst=2)
    for _ in range(10):
        limiter.acquire()
    # two go at once, the other eight one every 0.25 s
    assert clock.now == pytest.approx(2.0)
    assert clock.sleeps == pytest.approx([0.25] * 8)


def test_idle_time_refills_the_bucket_up_to_the_burst() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, 1, burst=3)
    for _ in range(3):
        assert limiter.acquire() == 0
    clock.now += 100  # a long pause refills only up to the burst
    waits = [limiter.acquire() for _ in range(4)]
    assert waits == pytest.approx([0, 0, 0, 1.0])


def test_tokens_per_minute_charges_what_was_used() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, None, 600)  # 10 tokens a second
    assert limiter.acquire() == 0
    limiter.spend(650)  # 50 tokens over the minute's allowance
    assert limiter.acquire() == pytest.approx(5.0)
    assert limiter.acquire() == 0


def test_threads_get_distinct_places_in_line() -> None:
    clock = FakeClock()
    clock.sleep = lambda seconds: clock.sleeps.append(seconds)  # type: ignore[method-assign]
    limiter = RateLimiter(2, burst=1, clock=clock, sleep=clock.sleep)
    threads = [threading.Thread(target=limiter.acquire) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # time stood still, so the reservations queued up: 0.5 s apart, none shared
    assert sorted(clock.sleeps) == pytest.approx([0.5 * i for i in range(1, 8)])


@pytest.mark.anyio
async def test_async_acquire_uses_the_async_sleep() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, 10, burst=1)
    for _ in range(3):
        await limiter.aacquire()
    assert clock.now == pytest.approx(0.2)


def test_the_client_waits_before_each_request_but_not_on_cache_hits() -> None:
    from krystal.llm import MemoryCache

    clock = FakeClock()
    limiter = _limiter(clock, 1, burst=1)
    client = LLMClient(LLMConfig(provider="mock"), rate_limit=limiter, cache=MemoryCache())
    for prompt in ("a", "b", "c"):
        client.complete(prompt)
    assert clock.now == pytest.approx(2.0)
    client.complete("a", cache=True)
    client.complete("a", cache=True)  # a hit: no request, no wait
    assert clock.now == pytest.approx(3.0)
    list(client.stream("d"))
    assert clock.now == pytest.approx(4.0)


@pytest.mark.parametrize("kw", [{"requests_per_second": 0}, {"tokens_per_minute": -1}])
def test_bad_limits_are_rejected(kw: dict[str, float]) -> None:
    with pytest.raises(ConfigError, match=next(iter(kw))):
        RateLimiter(**kw)
