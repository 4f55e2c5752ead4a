"""Waiting on the event loop for commits, with one wake-up per batch instead of one per request.

``asyncio.wrap_future`` wakes the event loop once for every completed future (a write to
its self-pipe each time). The writer completes a whole batch at once, so here the
completions are collected per loop and handed over with a single wake-up.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future

_Ready = list[tuple["asyncio.Future[None]", BaseException | None]]


class CommitWaiter:
    """``await waiter.wait(future)`` until a writer future completes (its error re-raised).

    >>> import asyncio
    >>> from concurrent.futures import Future
    >>> async def demo():
    ...     done = Future()
    ...     asyncio.get_running_loop().call_later(0.01, done.set_result, None)
    ...     await CommitWaiter().wait(done)
    ...     return done.done()
    >>> asyncio.run(demo())
    True
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ready: dict[asyncio.AbstractEventLoop, _Ready] = {}

    async def wait(self, future: Future[None]) -> None:
        """Wait for ``future`` without blocking the event loop."""
        if future.done():
            future.result()
            return
        loop = asyncio.get_running_loop()
        waiting: asyncio.Future[None] = loop.create_future()
        future.add_done_callback(lambda done: self._completed(loop, waiting, done))
        await waiting

    def _completed(
        self, loop: asyncio.AbstractEventLoop, waiting: asyncio.Future[None], done: Future[None]
    ) -> None:
        # On the committing thread: queue the result; only the first one wakes the loop.
        with self._lock:
            ready = self._ready.setdefault(loop, [])
            ready.append((waiting, done.exception()))
            first = len(ready) == 1
        if first:
            try:
                on_loop = asyncio.get_running_loop() is loop
            except RuntimeError:
                on_loop = False
            # Committed on the loop itself (LoopWriter): no need to write its wake-up pipe.
            schedule = loop.call_soon if on_loop else loop.call_soon_threadsafe
            schedule(self._drain, loop)

    def _drain(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            ready = self._ready.pop(loop, [])
        for waiting, error in ready:
            if waiting.done():  # the request was cancelled (client went away)
                continue
            if error is None:
                waiting.set_result(None)
            else:
                waiting.set_exception(error)
