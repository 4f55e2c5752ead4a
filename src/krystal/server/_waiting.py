"""Waiting on the event loop for commits: one callback per committed batch, not per request.

A writer completes a whole batch with one future (see :mod:`krystal.storage._writer`).
Here the requests of that batch wait on loop futures that a single callback on that
future resolves, right where the commit completes: a commit costs the event loop one
wake-up however many requests it answers (``asyncio.wrap_future`` per request would
cost one each, and a shared future behind ``asyncio.shield`` one more loop iteration).
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future

_Key = tuple["Future[None]", asyncio.AbstractEventLoop]


class CommitWaiter:
    """``await waiter.wait(future)`` until a writer future completes (its error re-raised).

    >>> import asyncio
    >>> from concurrent.futures import Future
    >>> async def demo():
    ...     done = Future()
    ...     asyncio.get_running_loop().call_later(0.01, done.set_result, None)
    ...     waiter = CommitWaiter()
    ...     await asyncio.gather(waiter.wait(done), waiter.wait(done))
    ...     return done.done()
    >>> asyncio.run(demo())
    True
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[_Key, list[asyncio.Future[None]]] = {}

    async def wait(self, future: Future[None]) -> None:
        """Wait for ``future`` without blocking the event loop."""
        if future.done():
            future.result()
            return
        loop = asyncio.get_running_loop()
        mine: asyncio.Future[None] = loop.create_future()
        key = (future, loop)
        with self._lock:
            waiting = self._waiting.get(key)
            first = waiting is None
            if waiting is None:
                waiting = self._waiting[key] = []
            waiting.append(mine)
        if first:
            future.add_done_callback(lambda done: self._completed(key, done))
        await mine

    def _completed(self, key: _Key, done: Future[None]) -> None:
        loop = key[1]
        try:
            on_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            on_loop = False
        if on_loop:  # answered on the loop itself (ProcessWriter): no wake-up pipe to write
            self._settle(key, done)
        else:
            loop.call_soon_threadsafe(self._settle, key, done)

    def _settle(self, key: _Key, done: Future[None]) -> None:
        with self._lock:
            waiting = self._waiting.pop(key)
        error = done.exception()
        for mine in waiting:
            if mine.done():  # its request was cancelled (the client went away)
                continue
            if error is None:
                mine.set_result(None)
            else:
                mine.set_exception(error)
