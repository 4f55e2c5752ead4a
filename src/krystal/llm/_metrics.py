"""Per-provider counters of an :class:`~krystal.llm.LLMClient`: requests, errors, retries,
tokens, latency percentiles, dollars spent, cache hits and fallback switches, in one place
behind one lock; ``get_metrics()`` is :meth:`Metrics.snapshot`."""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from krystal.llm._fallback import Fallback

#: latencies kept per provider for the percentiles (a sliding window)
WINDOW = 1000


@dataclass
class _Stats:
    requests: int = 0
    errors: int = 0
    retries: int = 0
    tokens_input: int = 0
    tokens_output: int = 0
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))
    errors_by_type: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    cost_usd: float = 0.0
    cost_unknown: int = 0
    cache_hits: int = 0
    fallbacks: list[dict[str, Any]] = field(default_factory=list)


class Metrics:
    """Thread-safe counters; :meth:`snapshot` is what ``get_metrics()`` returns.

    >>> m = Metrics()
    >>> m.success("ollama", 12.0, 5, 7); m.failure("ollama", ValueError())
    >>> m.snapshot()["ollama"]["requests"], m.snapshot()["ollama"]["errors"]
    (2, 1)
    >>> m.cost("openai", 0.25); m.cost("openai", None); m.cache_hit("openai")
    >>> {k: m.snapshot()["openai"][k] for k in ("cost_usd", "cost_unknown", "cache_hits")}
    {'cost_usd': 0.25, 'cost_unknown': 1, 'cache_hits': 1}
    """

    def __init__(self) -> None:
        self._stats: dict[str, _Stats] = defaultdict(_Stats)
        self._lock = threading.Lock()

    def success(self, provider: str, latency_ms: float, tokens_in: int, tokens_out: int) -> None:
        with self._lock:
            stats = self._stats[provider]
            stats.requests += 1
            stats.tokens_input += tokens_in
            stats.tokens_output += tokens_out
            stats.latencies.append(latency_ms)

    def failure(self, provider: str, error: BaseException) -> None:
        with self._lock:
            stats = self._stats[provider]
            stats.requests += 1
            stats.errors += 1
            stats.errors_by_type[type(error).__name__] += 1

    def retry(self, provider: str) -> None:
        with self._lock:
            self._stats[provider].retries += 1

    def cost(self, provider: str, dollars: float | None) -> None:
        """Add the price of one answer; None counts an answer the price table could not
        price."""
        with self._lock:
            stats = self._stats[provider]
            if dollars is None:
                stats.cost_unknown += 1
            else:
                stats.cost_usd += dollars

    def cache_hit(self, provider: str) -> None:
        with self._lock:
            self._stats[provider].cache_hits += 1

    def fallback(self, switch: Fallback) -> None:
        """Record a switch away from ``switch.from_provider``."""
        with self._lock:
            self._stats[switch.from_provider].fallbacks.append(asdict(switch))

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {name: _summary(stats) for name, stats in self._stats.items()}


def _summary(stats: _Stats) -> dict[str, Any]:
    ordered = sorted(stats.latencies)

    def percentile(q: float) -> float | None:
        if not ordered:
            return None
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    return {
        "requests": stats.requests,
        "errors": stats.errors,
        "errors_by_type": dict(stats.errors_by_type),
        "retries": stats.retries,
        "tokens_input": stats.tokens_input,
        "tokens_output": stats.tokens_output,
        "tokens_total": stats.tokens_input + stats.tokens_output,
        "latency_ms": {
            "p50": percentile(0.5),
            "p95": percentile(0.95),
            "p99": percentile(0.99),
            "mean": sum(ordered) / len(ordered) if ordered else None,
        },
        "cost_usd": stats.cost_usd,
        "cost_unknown": stats.cost_unknown,
        "cache_hits": stats.cache_hits,
        "fallbacks": list(stats.fallbacks),
    }
