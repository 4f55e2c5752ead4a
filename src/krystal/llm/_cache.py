"""A response cache keyed on the normalised request: in memory (LRU) or in SQLite.

**What is cached.** Only whole (non-streaming) answers, and only when the answer is meant
to be reproducible: the call's temperature is 0, or the caller passed ``cache=True``.
``cache=False`` turns it off for one call. A sampled answer (temperature > 0) is not
cached by default, since asking again is how a caller gets a different one.

**The key** is the SHA-256 of a stable JSON document (sorted keys, no whitespace) of the
provider name, the messages and every option (model, max_tokens, temperature, tools,
tool_choice, schema, stop, extra), so equal requests share a key whatever order their
dicts were built in.

A hit comes back as a fresh :class:`~krystal.llm.Response` with ``cached=True`` and
``cost_usd=0.0``; the client counts hits per provider in ``get_metrics()``.

>>> from krystal.llm._types import Message, ProviderType, Response
>>> cache = MemoryCache(max_size=2)
>>> key = request_key("ollama", [Message("user", "Hi")], {"model": "m", "temperature": 0})
>>> cache.put(key, Response("Hello", "m", "ollama", ProviderType.LOCAL, 1, 1, 5.0, "stop", {}))
>>> hit = cache.get(key)
>>> hit.content, hit.cached
('Hello', True)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from krystal._errors import ConfigError
from krystal.llm._types import Message, ProviderType, Response, ToolCall


def request_key(provider: str, messages: Iterable[Message], options: Mapping[str, Any]) -> str:
    """The cache key of a request: a hash of its stable JSON form."""
    document = {
        "provider": provider,
        "messages": [message.to_dict() for message in messages],
        "options": {name: value for name, value in options.items() if name != "stream"},
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=_plain)
    return hashlib.sha256(text.encode()).hexdigest()


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


def dump_response(response: Response) -> str:
    """A response as JSON (``parsed`` and ``fallbacks`` are per call, not stored)."""
    return json.dumps(
        {
            "content": response.content,
            "model": response.model,
            "provider": response.provider,
            "provider_type": response.provider_type.value,
            "tokens_input": response.tokens_input,
            "tokens_output": response.tokens_output,
            "latency_ms": response.latency_ms,
            "finish_reason": response.finish_reason,
            "raw": response.raw,
            "tool_calls": [dataclasses.asdict(call) for call in response.tool_calls],
        },
        default=str,
    )


def load_response(text: str) -> Response:
    """The :class:`Response` :func:`dump_response` wrote, marked as a cache hit."""
    data = json.loads(text)
    return Response(
        content=data["content"],
        model=data["model"],
        provider=data["provider"],
        provider_type=ProviderType(data["provider_type"]),
        tokens_input=data["tokens_input"],
        tokens_output=data["tokens_output"],
        latency_ms=data["latency_ms"],
        finish_reason=data["finish_reason"],
        raw=data["raw"],
        tool_calls=[ToolCall(**call) for call in data["tool_calls"]],
        cost_usd=0.0,
        cached=True,
    )


class ResponseCache:
    """The cache contract: :meth:`get` a hit (or ``None``), :meth:`put` an answer."""

    def get(self, key: str) -> Response | None:
        raise NotImplementedError

    def put(self, key: str, response: Response) -> None:
        raise NotImplementedError

    def clear(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the cache holds open (nothing, for the in-memory one)."""


class MemoryCache(ResponseCache):
    """The ``max_size`` most recently used answers, in this process, thread-safe."""

    def __init__(self, max_size: int = 1024) -> None:
        if not isinstance(max_size, int) or max_size < 1:
            raise ConfigError(f"MemoryCache.max_size: got {max_size!r}, expected an int >= 1")
        self.max_size = max_size
        self._entries: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Response | None:
        with self._lock:
            text = self._entries.get(key)
            if text is None:
                return None
            self._entries.move_to_end(key)
        return load_response(text)

    def put(self, key: str, response: Response) -> None:
        text = dump_response(response)
        with self._lock:
            self._entries[key] = text
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


#: a use counter rather than a timestamp, so that quick successive uses never tie
_NEXT_USE = "(SELECT COALESCE(MAX(used), 0) + 1 FROM responses)"


class SQLiteCache(ResponseCache):
    """Answers in an SQLite file at ``path``, shared across runs and processes.

    Each write is one transaction; with ``max_size`` the least recently used rows beyond
    it are deleted in the same transaction.
    """

    def __init__(self, path: str | Path, max_size: int | None = None) -> None:
        if max_size is not None and (not isinstance(max_size, int) or max_size < 1):
            raise ConfigError(f"SQLiteCache.max_size: got {max_size!r}, expected an int >= 1")
        import sqlite3  # here, so that an in-memory-only client never loads it

        self.path = Path(path)
        self.max_size = max_size
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
        with self._db:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS responses "
                "(key TEXT PRIMARY KEY, response TEXT NOT NULL, used INTEGER NOT NULL)"
            )

    def __repr__(self) -> str:
        return f"SQLiteCache({str(self.path)!r}, max_size={self.max_size!r})"

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def get(self, key: str) -> Response | None:
        with self._lock, self._db:
            row = self._db.execute(
                "SELECT response FROM responses WHERE key = ?", (key,)
            ).fetchone()
            if row is None:
                return None
            self._db.execute(f"UPDATE responses SET used = {_NEXT_USE} WHERE key = ?", (key,))
        return load_response(row[0])

    def put(self, key: str, response: Response) -> None:
        text = dump_response(response)
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO responses (key, response, used) "
                f"VALUES (?, ?, {_NEXT_USE})",
                (key, text),
            )
            if self.max_size is not None:
                self._db.execute(
                    "DELETE FROM responses WHERE key NOT IN "
                    "(SELECT key FROM responses ORDER BY used DESC LIMIT ?)",
                    (self.max_size,),
                )

    def clear(self) -> None:
        with self._lock, self._db:
            self._db.execute("DELETE FROM responses")

    def close(self) -> None:
        with self._lock:
            self._db.close()
