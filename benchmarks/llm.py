"""How heavy and how fast is Krystal's LLM client next to raw httpx, the SDKs and LiteLLM?

One run, on this machine, against a local stand-in on 127.0.0.1 that this script starts
in a separate process (so its CPU does not mix with the clients'). It speaks three wire
formats: OpenAI chat completions, Anthropic messages and Gemini generateContent.

1. import time and peak RSS of a fresh interpreter for ``import krystal.llm`` plus a built
   ``LLMClient`` (its transport imports httpx), ``import httpx``, ``import openai``,
   ``import anthropic`` and ``import litellm``: the median of ``--import-repeats`` processes;
2. per-request latency (median, p99) over ``--requests`` sequential non-streaming
   requests: on the OpenAI format for raw httpx (a pooled ``httpx.Client``), Krystal's
   ``LLMClient``, the official ``openai`` SDK and ``litellm.completion``; on the Anthropic
   format for raw httpx, Krystal and the ``anthropic`` SDK; on the Gemini format for raw
   httpx, Krystal and ``google-genai``; each as a ratio to raw httpx on the same format;
3. streaming: time to first token and total time of a 50-chunk streamed answer, median
   over ``--streams`` streams, for the same clients.

The peers come from the ``bench`` extra (``pip install -e ".[llm,bench]"``); any that is
not installed is recorded as ``"skipped: not installed"``.

    python benchmarks/llm.py                      # writes benchmarks/results/llm.json
    python benchmarks/llm.py --quick              # 200 requests, 50 streams, 3 imports
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
MODEL = "gpt-standin"
API_KEY = "test"
STREAM_CHUNKS = 50
PROMPT = [{"role": "user", "content": "Say hello."}]
ANSWER = "Hello from the stand-in."
SKIPPED = "skipped: not installed"
CLIENTS = (
    "httpx", "krystal", "openai", "litellm",
    "httpx (anthropic)", "krystal (anthropic)", "anthropic",
    "httpx (gemini)", "krystal (gemini)", "google-genai",
)  # fmt: skip
#: each client's baseline: raw httpx on the same wire format
BASELINE = {
    name: "httpx (anthropic)" if "anthropic" in name else
    "httpx (gemini)" if "gemini" in name or "genai" in name else "httpx"
    for name in CLIENTS
}  # fmt: skip
ANTHROPIC_VERSION = "2023-06-01"

# LiteLLM fetches a model cost map over the network at import unless told not to
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_TELEMETRY", "False")


# --------------------------------------------------------------------------- stand-in
class _Handler(http.server.BaseHTTPRequestHandler):
    """OpenAI chat completions: a ``chat.completion`` body, or SSE chunks with usage."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        # one small write per stream event: no Nagle delay on the way out
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _send(self, status: int, document: dict[str, Any]) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            self._send(
                200,
                {
                    "object": "list",
                    "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "standin"}],
                },
            )
        else:
            self._send(
                404,
                {
                    "error": {
                        "message": f"Unknown path {self.path}",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": None,
                    }
                },
            )

    def _stream(self, events: list[bytes]) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        try:
            for data in events:  # one HTTP chunk (one send) per SSE event, as servers do
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            self.close_connection = True

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path == "/v1/messages":
            self._anthropic(body)
            return
        if self.path.startswith("/v1beta/models/"):
            self._gemini(body)
            return
        if self.path != "/v1/chat/completions":
            self._send(
                404,
                {
                    "error": {
                        "message": f"Unknown path {self.path}",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": None,
                    }
                },
            )
            return
        if not self.headers.get("authorization", "").startswith("Bearer "):
            self._send(
                401,
                {
                    "error": {
                        "message": "Missing API key.",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": "invalid_api_key",
                    }
                },
            )
            return
        identity = {
            "id": "chatcmpl-" + uuid.uuid4().hex[:24],
            "created": int(time.time()),
            "model": body.get("model", MODEL),
            "system_fingerprint": "fp_standin",
        }
        usage = {"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14}
        if not body.get("stream"):
            message = {"role": "assistant", "content": ANSWER, "refusal": None}
            self._send(
                200,
                {
                    **identity,
                    "object": "chat.completion",
                    "choices": [
                        {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}
                    ],
                    "usage": usage,
                },
            )
            return
        chunk = {**identity, "object": "chat.completion.chunk"}

        def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
            return b"data: " + json.dumps({**chunk, "choices": [choice]}).encode() + b"\n\n"

        events = [event({"role": "assistant", "content": ""})]
        events += [event({"content": f" tok{i}"}) for i in range(STREAM_CHUNKS)]
        events.append(event({}, "stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {**usage, "completion_tokens": STREAM_CHUNKS, "total_tokens": 9 + STREAM_CHUNKS}
            events.append(
                b"data: " + json.dumps({**chunk, "choices": [], "usage": usage}).encode() + b"\n\n"
            )
        events.append(b"data: [DONE]\n\n")
        self._stream(events)

    def _anthropic(self, body: dict[str, Any]) -> None:
        """Anthropic messages: a ``message`` body, or its SSE event sequence."""
        key = self.headers.get("x-api-key") or self.headers.get("authorization", "")[7:]
        if not key:
            error = {"type": "authentication_error", "message": "x-api-key header is required"}
            self._send(401, {"type": "error", "error": error})
            return
        usage = {"input_tokens": 9, "output_tokens": 5}
        message = {
            "id": "msg_" + uuid.uuid4().hex[:24],
            "type": "message",
            "role": "assistant",
            "model": body.get("model", MODEL),
            "content": [{"type": "text", "text": ANSWER}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": usage,
        }
        if not body.get("stream"):
            self._send(200, message)
            return

        def event(document: dict[str, Any]) -> bytes:
            return f"event: {document['type']}\ndata: {json.dumps(document)}\n\n".encode()

        start = {
            **message,
            "content": [],
            "stop_reason": None,
            "usage": {**usage, "output_tokens": 1},
        }
        block = {"type": "text", "text": ""}
        events = [
            event({"type": "message_start", "message": start}),
            event({"type": "content_block_start", "index": 0, "content_block": block}),
            event({"type": "ping"}),
        ]
        events += [
            event(
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": f" tok{i}"},
                }
            )
            for i in range(STREAM_CHUNKS)
        ]
        events += [
            event({"type": "content_block_stop", "index": 0}),
            event(
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": STREAM_CHUNKS},
                }
            ),
            event({"type": "message_stop"}),
        ]
        self._stream(events)

    def _gemini(self, body: dict[str, Any]) -> None:
        """Gemini generateContent, or streamGenerateContent?alt=sse chunks."""
        if not self.headers.get("x-goog-api-key"):
            error = {"code": 403, "message": "Missing API key.", "status": "PERMISSION_DENIED"}
            self._send(403, {"error": error})
            return

        def response(text: str, finish: str | None, tokens: int) -> dict[str, Any]:
            candidate: dict[str, Any] = {
                "content": {"parts": [{"text": text}], "role": "model"},
                "index": 0,
            }
            if finish:
                candidate["finishReason"] = finish
            usage = {"promptTokenCount": 9}
            if finish:
                usage.update(candidatesTokenCount=tokens, totalTokenCount=9 + tokens)
            return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": MODEL}

        if ":streamGenerateContent" not in self.path:
            self._send(200, response(ANSWER, "STOP", 5))
            return
        chunks = [
            response(f" tok{i}", "STOP" if i == STREAM_CHUNKS - 1 else None, STREAM_CHUNKS)
            for i in range(STREAM_CHUNKS)
        ]
        self._stream([b"data: " + json.dumps(chunk).encode() + b"\r\n\r\n" for chunk in chunks])


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


def serve() -> int:
    """``--serve``: print the port, serve until stdin closes."""
    server = _Server(("127.0.0.1", 0), _Handler)
    import threading

    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()
    server.shutdown()
    return 0


class StandIn:
    """The stand-in in its own process; ``root`` is its origin (Anthropic and Gemini
    clients take that) and ``base_url`` its OpenAI base, ``root/v1``."""

    def __enter__(self) -> StandIn:
        self._proc = subprocess.Popen(
            [sys.executable, __file__, "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        port = int(self._proc.stdout.readline())
        self.root = f"http://127.0.0.1:{port}"
        self.base_url = f"{self.root}/v1"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        try:
            self._proc.wait(5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


# --------------------------------------------------------------------------- imports
_IMPORT_HEAD = "import time, resource, json\nt = time.perf_counter()\n"
_IMPORT_TAIL = (
    "\nt = time.perf_counter() - t\n"
    "print(json.dumps({'seconds': t, "
    "'rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))\n"
)
IMPORTS = {
    # an empty interpreter: the floor under every row
    "python (nothing)": ("", None),
    "krystal.llm + LLMClient": (
        "import krystal.llm\n"
        "from krystal.llm import LLMClient, LLMConfig\n"
        "client = LLMClient(LLMConfig(provider='openai', base_url='http://127.0.0.1:9/v1',"
        " api_key='test', model='m'))\n"
        "client.backend  # builds the transport, which imports httpx\n"
        "import sys; assert 'httpx' in sys.modules\n",
        "krystal",
    ),
    "httpx": ("import httpx\n", "httpx"),
    "openai": ("import openai\n", "openai"),
    "anthropic": ("import anthropic\n", "anthropic"),
    "google-genai": ("from google import genai\n", "google.genai"),
    "litellm": ("import litellm\n", "litellm"),
}


def _installed(module: str | None) -> bool:
    if module is None:
        return True
    import importlib.util

    return importlib.util.find_spec(module) is not None


def measure_imports(repeats: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    for name, (code, module) in IMPORTS.items():
        if not _installed(module):
            out[name] = SKIPPED
            continue
        runs = []
        for _ in range(repeats):
            done = subprocess.run(
                [sys.executable, "-c", _IMPORT_HEAD + code + _IMPORT_TAIL],
                capture_output=True,
                text=True,
                env=env,
                timeout=120,
            )
            if done.returncode:
                out[name] = "failed: " + done.stderr.strip().splitlines()[-1][:300]
                break
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        else:
            seconds = [r["seconds"] for r in runs]
            rss = [r["rss_mb"] for r in runs]
            out[name] = {
                "import_ms_median": statistics.median(seconds) * 1e3,
                "import_ms_min": min(seconds) * 1e3,
                "rss_mb_median": statistics.median(rss),
                "runs": len(runs),
            }
    return out


# --------------------------------------------------------------------------- clients
class Peer:
    """One client: ``complete()`` returns the text, ``stream()`` yields text pieces."""

    def complete(self) -> str:
        raise NotImplementedError

    def stream(self) -> Iterator[str]:
        raise NotImplementedError

    def close(self) -> None:
        pass


class RawHttpx(Peer):
    def __init__(self, base_url: str) -> None:
        import httpx

        self.http = httpx.Client(timeout=30)
        self.url = base_url + "/chat/completions"
        self.headers = {"authorization": f"Bearer {API_KEY}"}

    def complete(self) -> str:
        r = self.http.post(
            self.url, json={"model": MODEL, "messages": PROMPT}, headers=self.headers
        )
        r.raise_for_status()
        return r.json()["choices"][0]["message"]["content"]

    def stream(self) -> Iterator[str]:
        body = {
            "model": MODEL,
            "messages": PROMPT,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        with self.http.stream("POST", self.url, json=body, headers=self.headers) as r:
            r.raise_for_status()
            for line in r.iter_lines():
                if not line.startswith("data: "):
                    continue
                data = line[6:]
                if data == "[DONE]":
                    break
                choices = json.loads(data)["choices"]
                if choices and choices[0]["delta"].get("content"):
                    yield choices[0]["delta"]["content"]

    def close(self) -> None:
        self.http.close()


class Krystal(Peer):
    def __init__(self, base_url: str, provider: str = "openai") -> None:
        from krystal.llm import LLMClient, LLMConfig

        self.client = LLMClient(
            LLMConfig(provider=provider, base_url=base_url, api_key=API_KEY, model=MODEL)
        )

    def complete(self) -> str:
        return self.client.complete(PROMPT).content

    def stream(self) -> Iterator[str]:
        return self.client.stream(PROMPT)

    def close(self) -> None:
        self.client.close()


class OpenAISDK(Peer):
    def __init__(self, base_url: str) -> None:
        import openai

        self.client = openai.OpenAI(base_url=base_url, api_key=API_KEY, max_retries=0)

    def complete(self) -> str:
        reply = self.client.chat.completions.create(model=MODEL, messages=PROMPT)
        return reply.choices[0].message.content or ""

    def stream(self) -> Iterator[str]:
        chunks = self.client.chat.completions.create(
            model=MODEL, messages=PROMPT, stream=True, stream_options={"include_usage": True}
        )
        for chunk in chunks:
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content

    def close(self) -> None:
        self.client.close()


class LiteLLM(Peer):
    def __init__(self, base_url: str) -> None:
        import litellm

        litellm.telemetry = False
        litellm.suppress_debug_info = True
        self.litellm = litellm
        self.kw = {
            "model": f"openai/{MODEL}",
            "api_base": base_url,
            "api_key": API_KEY,
            "messages": PROMPT,
            "num_retries": 0,
        }

    def complete(self) -> str:
        reply = self.litellm.completion(**self.kw)
        return reply.choices[0].message.content or ""

    def stream(self) -> Iterator[str]:
        for chunk in self.litellm.completion(
            **self.kw, stream=True, stream_options={"include_usage": True}
        ):
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content


class RawHttpxAnthropic(Peer):
    def __init__(self, base_url: str) -> None:
        import httpx

        self.http = httpx.Client(base_url=base_url.removesuffix("/v1"), timeout=30)
        self.headers = {"x-api-key": API_KEY, "anthropic-version": ANTHROPIC_VERSION}
        self.body = {"model": MODEL, "max_tokens": 1024, "messages": PROMPT}

    def complete(self) -> str:
        r = self.http.post("/v1/messages", json=self.body, headers=self.headers)
        r.raise_for_status()
        return "".join(b["text"] for b in r.json()["content"] if b["type"] == "text")

    def stream(self) -> Iterator[str]:
        body = {**self.body, "stream": True}
        with self.http.stream("POST", "/v1/messages", json=body, headers=self.headers) as r:
            r.raise_for_status()
            for line in r.iter_lines():
                if not line.startswith("data: "):
                    continue
                event = json.loads(line[6:])
                if (
                    event["type"] == "content_block_delta"
                    and event["delta"]["type"] == "text_delta"
                ):
                    yield event["delta"]["text"]
                elif event["type"] == "message_stop":
                    break

    def close(self) -> None:
        self.http.close()


class AnthropicSDK(Peer):
    def __init__(self, base_url: str) -> None:
        import anthropic

        self.client = anthropic.Anthropic(
            base_url=base_url.removesuffix("/v1"), api_key=API_KEY, max_retries=0
        )

    def complete(self) -> str:
        reply = self.client.messages.create(model=MODEL, max_tokens=1024, messages=PROMPT)
        return "".join(block.text for block in reply.content if block.type == "text")

    def stream(self) -> Iterator[str]:
        events = self.client.messages.create(
            model=MODEL, max_tokens=1024, messages=PROMPT, stream=True
        )
        for event in events:
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                yield event.delta.text

    def close(self) -> None:
        self.client.close()


class RawHttpxGemini(Peer):
    def __init__(self, base_url: str) -> None:
        import httpx

        self.http = httpx.Client(base_url=base_url.removesuffix("/v1"), timeout=30)
        self.headers = {"x-goog-api-key": API_KEY}
        self.body = {"contents": [{"role": "user", "parts": [{"text": PROMPT[0]["content"]}]}]}
        self.path = f"/v1beta/models/{MODEL}"

    def complete(self) -> str:
        r = self.http.post(f"{self.path}:generateContent", json=self.body, headers=self.headers)
        r.raise_for_status()
        return "".join(p.get("text", "") for p in r.json()["candidates"][0]["content"]["parts"])

    def stream(self) -> Iterator[str]:
        url = f"{self.path}:streamGenerateContent"
        with self.http.stream(
            "POST", url, params={"alt": "sse"}, json=self.body, headers=self.headers
        ) as r:
            r.raise_for_status()
            for line in r.iter_lines():
                if line.startswith("data: "):
                    parts = json.loads(line[6:])["candidates"][0]["content"]["parts"]
                    text = "".join(part.get("text", "") for part in parts)
                    if text:
                        yield text

    def close(self) -> None:
        self.http.close()


class GenAISDK(Peer):
    def __init__(self, base_url: str) -> None:
        from google import genai
        from google.genai import types

        options = types.HttpOptions(base_url=base_url.removesuffix("/v1"), api_version="v1beta")
        self.client = genai.Client(api_key=API_KEY, http_options=options)

    def complete(self) -> str:
        reply = self.client.models.generate_content(model=MODEL, contents=PROMPT[0]["content"])
        return reply.text or ""

    def stream(self) -> Iterator[str]:
        chunks = self.client.models.generate_content_stream(
            model=MODEL, contents=PROMPT[0]["content"]
        )
        for chunk in chunks:
            if chunk.text:
                yield chunk.text

    def close(self) -> None:
        self.client.close()


def _krystal_on(provider: str) -> Callable[[str], Peer]:
    def make(base_url: str) -> Peer:
        return Krystal(base_url.removesuffix("/v1"), provider)

    return make


PEERS: dict[str, tuple[Callable[[str], Peer], str]] = {
    "httpx": (RawHttpx, "httpx"),
    "krystal": (Krystal, "httpx"),
    "openai": (OpenAISDK, "openai"),
    "litellm": (LiteLLM, "litellm"),
    "httpx (anthropic)": (RawHttpxAnthropic, "httpx"),
    "krystal (anthropic)": (_krystal_on("anthropic"), "httpx"),
    "anthropic": (AnthropicSDK, "anthropic"),
    "httpx (gemini)": (RawHttpxGemini, "httpx"),
    "krystal (gemini)": (_krystal_on("gemini"), "httpx"),
    "google-genai": (GenAISDK, "google.genai"),
}


def _summary(samples_s: list[float]) -> dict[str, float]:
    ms = sorted(s * 1e3 for s in samples_s)
    p99 = ms[min(len(ms) - 1, max(0, round(0.99 * len(ms)) - 1))]
    return {
        "n": len(ms),
        "median_ms": statistics.median(ms),
        "mean_ms": statistics.fmean(ms),
        "p99_ms": p99,
        "min_ms": ms[0],
        "max_ms": ms[-1],
    }


def _one_stream(peer: Peer) -> tuple[float, float, int]:
    start = time.perf_counter()
    first = None
    pieces = 0
    for _piece in peer.stream():
        if first is None:
            first = time.perf_counter() - start
        pieces += 1
    return first if first is not None else float("nan"), time.perf_counter() - start, pieces


def measure_requests(
    base_url: str, requests: int, streams: int, rounds: int, warmup: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Latency and streaming, in ``rounds`` rounds whose order rotates (against drift)."""
    peers: dict[str, Peer] = {}
    latency: dict[str, Any] = {}
    streaming: dict[str, Any] = {}
    for name, (make, module) in PEERS.items():
        if not _installed(module):
            latency[name] = streaming[name] = SKIPPED
            continue
        try:
            peer = make(base_url)
            for _ in range(warmup):  # connections, lazy imports, caches
                assert peer.complete() == ANSWER
                assert sum(1 for _ in peer.stream()) == STREAM_CHUNKS
            peers[name] = peer
        except Exception as error:
            latency[name] = streaming[name] = f"failed: {type(error).__name__}: {error}"[:300]
    samples = {name: [] for name in peers}
    firsts = {name: [] for name in peers}
    totals = {name: [] for name in peers}
    chunks = {name: set() for name in peers}
    names = list(peers)
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)] if names else []
        per_round = requests // rounds + (1 if r < requests % rounds else 0)
        per_round_streams = streams // rounds + (1 if r < streams % rounds else 0)
        for name in order:
            peer, clock = peers[name], time.perf_counter
            out = samples[name]
            for _ in range(per_round):
                t = clock()
                peer.complete()
                out.append(clock() - t)
            for _ in range(per_round_streams):
                first, total, count = _one_stream(peer)
                firsts[name].append(first)
                totals[name].append(total)
                chunks[name].add(count)
    for name, peer in peers.items():
        peer.close()
        latency[name] = _summary(samples[name])
        streaming[name] = {
            "ttft": _summary(firsts[name]),
            "total": _summary(totals[name]),
            "chunks_seen": sorted(chunks[name]),
        }
    return latency, streaming


def _ratios(latency: dict[str, Any], streaming: dict[str, Any]) -> dict[str, Any]:
    """Each client against raw httpx on the same wire format (``BASELINE``)."""
    out: dict[str, Any] = {}
    for name in CLIENTS:
        lat, st = latency.get(name), streaming.get(name)
        base_l, base_s = latency.get(BASELINE[name]), streaming.get(BASELINE[name])
        if not isinstance(lat, dict) or not isinstance(base_l, dict):
            out[name] = lat if not isinstance(lat, dict) else "no baseline"
            continue
        out[name] = {
            "request_median": lat["median_ms"] / base_l["median_ms"],
            "request_p99": lat["p99_ms"] / base_l["p99_ms"],
            "request_overhead_us": (lat["median_ms"] - base_l["median_ms"]) * 1e3,
            "stream_ttft_median": st["ttft"]["median_ms"] / base_s["ttft"]["median_ms"],
            "stream_total_median": st["total"]["median_ms"] / base_s["total"]["median_ms"],
        }
    return out


def _environment() -> dict[str, Any]:
    versions = {}
    from importlib.metadata import PackageNotFoundError, version

    for dist in ("krystal-sdk", "httpx", "openai", "anthropic", "google-genai", "litellm"):
        try:
            versions[dist] = version(dist)
        except PackageNotFoundError:
            versions[dist] = None
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "versions": versions,
    }


def _table(result: dict[str, Any]) -> str:
    def cell(value: Any, key: str, fmt: str) -> str:
        return format(value[key], fmt) if isinstance(value, dict) else "-"

    lines = [f"{'import':<26}{'ms':>9}{'RSS MB':>9}"]
    for name, row in result["imports"].items():
        if isinstance(row, dict):
            lines.append(f"{name:<26}{row['import_ms_median']:>9.1f}{row['rss_mb_median']:>9.1f}")
        else:
            lines.append(f"{name:<26}  {row}")
    lines.append("")
    lines.append(
        f"{'client':<21}{'req med':>9}{'req p99':>9}{'x httpx':>8}"
        f"{'ttft med':>10}{'x':>6}{'stream':>9}{'x':>6}   (ms)"
    )
    for name in CLIENTS:
        lat, st = result["latency"].get(name), result["streaming"].get(name)
        ratio = result["ratios"].get(name)
        if not isinstance(lat, dict):
            lines.append(f"{name:<21}  {lat}")
            continue
        lines.append(
            f"{name:<21}{lat['median_ms']:>9.3f}{lat['p99_ms']:>9.3f}"
            f"{cell(ratio, 'request_median', '.2f'):>8}"
            f"{st['ttft']['median_ms']:>10.3f}{cell(ratio, 'stream_ttft_median', '.2f'):>6}"
            f"{st['total']['median_ms']:>9.3f}{cell(ratio, 'stream_total_median', '.2f'):>6}"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=None,
        help="sequential non-streaming requests per client (default 2000)",
    )
    parser.add_argument(
        "--streams", type=int, default=None, help="streamed answers per client (default 500)"
    )
    parser.add_argument(
        "--import-repeats",
        type=int,
        default=None,
        help="fresh processes per import row (default 5)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=50,
        help="split the runs into rounds with a rotating client order (many short rounds "
        "spread a shared machine's load bursts over every client)",
    )
    parser.add_argument("--warmup", type=int, default=20, help="untimed calls per client")
    parser.add_argument(
        "--quick", action="store_true", help="200 requests, 50 streams, 3 import repeats"
    )
    parser.add_argument("--out", default=str(RESULTS / "llm.json"))
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve()
    quick = {"requests": 200, "streams": 50, "import_repeats": 3}
    full = {"requests": 2000, "streams": 500, "import_repeats": 5}
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    rounds = max(1, min(args.rounds, args.requests, max(1, args.streams)))
    warmup = min(args.warmup, max(1, args.requests))

    def stage(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    stage(f"imports: {args.import_repeats} fresh processes per row")
    imports = measure_imports(args.import_repeats)
    stage(f"requests: {args.requests} sequential + {args.streams} streams per client")
    with StandIn() as standin:
        latency, streaming = measure_requests(
            standin.base_url, args.requests, args.streams, rounds, warmup
        )
    result = {
        "command": " ".join(["python", "benchmarks/llm.py", *sys.argv[1:]]),
        "environment": _environment(),
        "settings": {
            "requests": args.requests,
            "streams": args.streams,
            "import_repeats": args.import_repeats,
            "rounds": rounds,
            "warmup": warmup,
            "stream_chunks": STREAM_CHUNKS,
            "standin": "OpenAI chat completions, Anthropic messages and Gemini "
            "generateContent on 127.0.0.1, in its own process (http.server, HTTP/1.1 "
            "keep-alive, one chunk per SSE event)",
        },
        "imports": imports,
        "latency": latency,
        "streaming": streaming,
        "ratios": _ratios(latency, streaming),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(_table(result))
    print(f"\nwrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
