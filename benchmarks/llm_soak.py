"""Fault runs at full scale: do abandoned and broken streams leak or hang Krystal's client?

For each wire format (OpenAI, Ollama, Anthropic, Gemini), against the stand-in servers of
the test suite (tests/llm/standins, each held to its provider's SDK models), on 127.0.0.1:

1. **abandoned**: ``--streams`` streams, each read to its first piece of text and then
   given up, half with ``close()`` and half by dropping the last reference. Afterwards
   the client's pool must hold at most one connection, the server must see at most one
   open connection, and a full stream must still work;
2. **sequential**: ``--streams`` whole streams one after another; every fifth one is
   broken mid-way (connection reset, truncated stream, malformed event, in turn). Each
   must end with the right text or the right error type, within the client's deadline:
   the run records the slowest stream and fails if any took longer than the deadline.

The test suite runs the same checks at a smaller scale (tests/llm/test_providers_contract.py).

    python benchmarks/llm_soak.py                 # writes benchmarks/results/llm_soak.json
    python benchmarks/llm_soak.py --streams 50    # a quick look
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "llm"))

from standins import anthropic_server, gemini_server  # noqa: E402
from standins.common import Drop, Malformed, Reply, StandIn, Truncate  # noqa: E402
from standins.ollama_server import OllamaStandIn  # noqa: E402
from standins.openai_server import API_KEY, OpenAIStandIn  # noqa: E402

from krystal.llm import ConnectionError, LLMClient, LLMConfig, ProviderError  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
TEXT = "many small pieces of text for the stream"
#: provider -> (stand-in factory, API key)
FORMATS: dict[str, tuple[Any, str]] = {
    "openai": (OpenAIStandIn, API_KEY),
    "ollama": (OllamaStandIn, ""),
    "anthropic": (anthropic_server.AnthropicStandIn, anthropic_server.API_KEY),
    "gemini": (gemini_server.GeminiStandIn, gemini_server.API_KEY),
}
#: every fifth sequential stream breaks, in turn, like this; and the error it must raise
BREAKS = [
    (Drop(after_events=2), ConnectionError),
    (Truncate(after_events=2), ProviderError),
    (Malformed(), ProviderError),
]


def _client(provider: str, server: StandIn, key: str, deadline: float) -> LLMClient:
    config = LLMConfig(
        provider=provider,
        base_url=server.base_url,
        api_key=key,
        model="soak-model",
        timeout=deadline,
        retry_count=0,
    )
    return LLMClient(config)


def _pool_size(client: LLMClient) -> int:
    # httpx's connection pool (httpcore) is the one place that knows what is held open
    return len(client.backend.transport.client._transport._pool.connections)


def abandoned(provider: str, streams: int, deadline: float) -> dict[str, Any]:
    make, key = FORMATS[provider]
    with make() as server:
        server.script(*[Reply(TEXT, chunks=8) for _ in range(streams)])
        client = _client(provider, server, key, deadline)
        started = time.perf_counter()
        pool_max = 0
        for index in range(streams):
            stream = client.stream("Hi")
            next(stream)
            if index % 2:
                stream.close()
            else:
                del stream  # no close(): the generator's finaliser must free the connection
            pool_max = max(pool_max, _pool_size(client))
        seconds = time.perf_counter() - started
        gc.collect()
        settle = time.monotonic() + 5
        while server.open_connections > 1 and time.monotonic() < settle:
            time.sleep(0.01)
        still_works = "".join(client.stream("still fine?")) == Reply().text
        result = {
            "streams": streams,
            "seconds": seconds,
            "pool_connections_max": pool_max,
            "pool_connections_after": _pool_size(client),
            "server_open_connections_after": server.open_connections,
            "requests_seen": len(server.requests),
            "full_stream_after": still_works,
        }
        client.close()
    result["ok"] = (
        result["pool_connections_max"] <= 1
        and result["server_open_connections_after"] <= 1
        and result["requests_seen"] == streams + 1
        and still_works
    )
    return result


def sequential(provider: str, streams: int, deadline: float) -> dict[str, Any]:
    make, key = FORMATS[provider]
    durations: list[float] = []
    right = wrong = 0
    problems: list[str] = []
    with make() as server:
        client = _client(provider, server, key, deadline)
        for index in range(streams):
            broken = index % 5 == 4
            fault, expected = BREAKS[(index // 5) % len(BREAKS)]
            server.script(fault if broken else Reply(TEXT, chunks=8))
            started = time.perf_counter()
            try:
                text = "".join(client.stream("Hi"))
                outcome = not broken and text == TEXT
            except (ConnectionError, ProviderError) as error:
                outcome = broken and type(error) is expected
                if not outcome and len(problems) < 5:
                    problems.append(f"stream {index}: {type(error).__name__}: {error}")
            durations.append(time.perf_counter() - started)
            right += outcome
            wrong += not outcome
        client.close()
    ms = sorted(d * 1e3 for d in durations)
    return {
        "streams": streams,
        "broken": sum(1 for index in range(streams) if index % 5 == 4),
        "right": right,
        "wrong": wrong,
        "problems": problems,
        "stream_ms_median": statistics.median(ms),
        "stream_ms_p99": ms[min(len(ms) - 1, round(0.99 * len(ms)))],
        "stream_ms_max": ms[-1],
        "deadline_s": deadline,
        "seconds": sum(durations),
        "ok": wrong == 0 and ms[-1] < deadline * 1e3,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--streams", type=int, default=1000, help="streams per run (1000)")
    parser.add_argument("--deadline", type=float, default=5.0, help="client deadline, seconds")
    parser.add_argument(
        "--formats", default=",".join(FORMATS), help="comma-separated wire formats to run"
    )
    parser.add_argument("--out", default=str(RESULTS / "llm_soak.json"))
    args = parser.parse_args()
    runs: dict[str, Any] = {}
    for provider in args.formats.split(","):
        print(f"{provider}: {args.streams} abandoned, {args.streams} sequential", file=sys.stderr)
        runs[provider] = {
            "abandoned": abandoned(provider, args.streams, args.deadline),
            "sequential": sequential(provider, args.streams, args.deadline),
        }
    result = {
        "command": " ".join(["python", "benchmarks/llm_soak.py", *sys.argv[1:]]),
        "environment": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
        },
        "runs": runs,
        "ok": all(run["abandoned"]["ok"] and run["sequential"]["ok"] for run in runs.values()),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"{'format':<10}{'abandoned s':>12}{'pool max':>9}{'open after':>11}"
          f"{'seq right':>10}{'seq wrong':>10}{'med ms':>8}{'max ms':>8}")  # fmt: skip
    for provider, run in runs.items():
        a, s = run["abandoned"], run["sequential"]
        print(
            f"{provider:<10}{a['seconds']:>12.2f}{a['pool_connections_max']:>9}"
            f"{a['server_open_connections_after']:>11}{s['right']:>10}{s['wrong']:>10}"
            f"{s['stream_ms_median']:>8.2f}{s['stream_ms_max']:>8.1f}"
        )
    print(f"\nwrote {out}; all ok: {result['ok']}", file=sys.stderr)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
