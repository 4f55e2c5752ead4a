"""Waiting on the event loop for commits: one loop future per committed batch, not per request.

A writer completes a whole batch with one future (see :mod:`krystal.storage._writer`).
Here every request of that batch awaits one asyncio future bound to it, resolved by a
single callback, so a commit costs the event loop one wake-up however many requests it
answers (``asyncio.wrap_future`` per request would cost one each).
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
        self._waiting: dict[_Key, asyncio.Future[None]] = {}

    async def wait(self, future: Future[None]) -> None:
        """Wait for ``future`` without blocking the event loop."""
        if future.done():
            future.result()
            return
        loop = asyncio.get_running_loop()
        key = (future, loop)
        with self._lock:
            shared = self._waiting.get(key)
            if shared is None:
                shared = self._waiting[key] = loop.create_future()
                first = True
            else:
                first = False
        if first:
            future.add_done_callback(lambda done: self._completed(key, done))
        # shielded: one request giving up (its client went away) must not cancel the rest
        await asyncio.shield(shared)

    def _completed(self, key: _Key, done: Future[None]) -> None:
        loop = key[1]
        try:
            on_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            on_loop = False
        if on_loop:  # committed on the loop itself (LoopWriter): no wake-up pipe to write
            self._settle(key, done)
        else:
            loop.call_soon_threadsafe(self._settle, key, done)

    def _settle(self, key: _Key, done: Future[None]) -> None:
        with self._lock:
            shared = self._waiting.pop(key)
        if shared.done():
            return
        error = done.exception()
        if error is None:
            shared.set_result(None)
        else:
            shared.set_exception(error)
