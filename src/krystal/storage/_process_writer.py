"""``ProcessWriter``: group commit in a process of its own, answered on the event loop.

The same contract as :class:`~krystal.storage.EventWriter` (submit writes, get a future
that completes on commit). The commits run in a child process, so the event loop never
waits on the disk: on a shared machine an SQLite commit in WAL mode usually takes a
tenth of a millisecond, but now and then one waits milliseconds for the disk (when
SQLite checkpoints its WAL inside a commit, it syncs), and a loop that committed itself
would stop every request for that long, then need the CPU to catch up. A writer thread
does not help: it takes the interpreter lock back after each call into SQLite and waits
for it behind the busy loop.

The loop sends what is queued down a socket pair as one message, one message at a time:
while the child commits it, new writes queue up and go together once it has answered
(group commit, with fewer messages the busier the service is). The child commits a
message's batches in one transaction (each batch on its own when that fails, so one bad
batch fails alone) and answers with the batch numbers, which complete the batches'
futures on the loop. Writes from other threads (the service's upkeep) join the same
stream. If the child dies, every waiting future fails (the requests are answered 503)
and so does every later submit.

The child is a fresh interpreter running :func:`serve_writes`. It ignores SIGINT and
SIGTERM (``krystal serve`` stopping on Ctrl-C signals the whole process group; the
service closes the writer after its last checkpoints) and exits when the pipe closes,
so a parent killed with ``kill -9`` does not leave it behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from multiprocessing.connection import Connection
from pathlib import Path

from krystal.storage._repository import Storage, Write
from krystal.storage._writer import BatchCommitter, CommitError, behind, refusal, written_agents

logger = logging.getLogger("krystal.storage")

_READY_TIMEOUT = 60.0
_LENGTH = struct.Struct("!i")  # multiprocessing's framing: a length before each message
_CHILD = "import sys; from krystal.storage import _process_writer as w; w.main(sys.argv[1])"
_SOURCE_ROOT = str(Path(__file__).resolve().parents[2])  # where ``krystal`` is imported from


class ProcessWriter(BatchCommitter):
    """Commit :class:`Write` batches in a child process; see the module docstring.

    ``url`` is the database (already migrated); futures complete on ``loop``.

    >>> import asyncio, os, tempfile, time
    >>> from krystal.storage import Write
    >>> url = "sqlite:///" + os.path.join(tempfile.mkdtemp(), "w.db")
    >>> db = Storage(url)
    >>> row = {"agent_id": "a1", "seq": 0, "kind": "observe", "decision_id": None,
    ...        "reward": None, "payload": "{}", "created_at": time.time()}
    >>> async def demo():
    ...     writer = ProcessWriter(url, asyncio.get_running_loop())
    ...     await asyncio.wrap_future(writer.submit([Write("event", row)]))
    ...     await asyncio.to_thread(writer.close)
    ...     return writer.batches
    >>> asyncio.run(demo()), db.count_events("a1")
    (1, 1)
    """

    def __init__(self, url: str, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._loop = loop
        # A fresh interpreter running this module, not multiprocessing's spawn: that
        # would import the program's own main module again in the child.
        mine, theirs = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_SOURCE_ROOT, env.get("PYTHONPATH")]))
        with mine, theirs:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _CHILD, str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                env=env,
            )
            self._pipe = Connection(os.dup(mine.fileno()))
        self._pipe.send(url)  # not on the command line, where a password would show
        if not self._pipe.poll(_READY_TIMEOUT):
            self._process.kill()
            raise CommitError(f"the writer process did not start within {_READY_TIMEOUT:.0f} s")
        try:
            ready = self._pipe.recv()
        except EOFError:
            ready = f"it exited with code {self._process.wait(5)}"
        if ready != "ready":
            self._process.wait(5)
            raise CommitError(f"the writer process could not open the database: {ready}")
        self._numbered = 0  # batches sent so far; the next one sent gets this number
        self._sent: deque[tuple[int, list[Write], Future[None]]] = deque()
        self._unread = b""  # the start of an answer whose end has not arrived yet
        self._outbox = bytearray()  # framed messages the socket has not taken yet
        self._waiting_to_write = False
        self._dead = False
        self._idle = threading.Condition(self._lock)
        loop.call_soon_threadsafe(loop.add_reader, self._pipe.fileno(), self._on_answers)

    @property
    def stopped(self) -> bool:
        """Whether the writer process died (not closed): nothing more can be committed."""
        return self._dead and not self._closed

    @property
    def pid(self) -> int | None:
        """The writer process's id."""
        return self._process.pid

    def close(self, timeout: float = 30.0) -> None:
        """Wait for what was submitted to be committed, then stop the writer process.

        Call it from another thread than the loop's (the loop must keep running to
        send the last batches and read their answers).
        """
        with self._lock:
            self._closed = True
            self._idle.wait_for(lambda: self._dead or not (self._queue or self._sent), timeout)
            self._dead = True
        with contextlib.suppress(RuntimeError):  # the loop is closed already
            self._loop.call_soon_threadsafe(self._loop.remove_reader, self._pipe.fileno())
        with contextlib.suppress(OSError):  # the process is gone already
            self._pipe.send(None)
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout)
        self._pipe.close()

    def submit(self, writes: Sequence[Write]) -> Future[None]:
        """Queue ``writes`` (applied in order); the future completes once they are committed."""
        if self._dead:
            self._note_failed(writes)
            raise CommitError("the writer process has stopped")
        return super().submit(writes)

    def _wake(self) -> None:
        try:
            on_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            self._loop.call_soon(self._send_queued)
        else:
            self._loop.call_soon_threadsafe(self._send_queued)

    def _send_queued(self) -> None:
        # On the loop only: the one thread that writes to the socket. Everything queued
        # goes as one message (one system call), its batches numbered in order, once
        # the message before it has been answered.
        refused = []
        with self._lock:
            if self._dead or not self._queue or self._outbox or self._sent:
                return
            taken = []
            for writes, future in self._queue:
                agent = behind(writes, self.failed_agents)
                if agent is None:
                    taken.append((writes, future))
                else:  # behind a batch that failed: not sent (see _writer); noted now
                    self._note_failed(writes)  # so that later batches here see it too
                    refused.append((writes, future, agent))
            self._queue.clear()
            first = self._numbered
            self._numbered += len(taken)
            for offset, (writes, future) in enumerate(taken):
                self._sent.append((first + offset, writes, future))
            if not self._sent:
                self._idle.notify_all()
        for writes, future, agent in refused:  # outside the lock: callbacks may submit
            self._refused(writes, future, refusal(agent))
        if not taken:
            return
        payload = pickle.dumps((first, [writes for writes, _ in taken]), pickle.HIGHEST_PROTOCOL)
        self._outbox += _LENGTH.pack(len(payload))
        self._outbox += payload
        self._flush()

    def _flush(self) -> None:
        # The event loop made the socket non-blocking: write what it takes now and the
        # rest when it is writable again (a checkpoint can be larger than its buffer).
        try:
            written = os.write(self._pipe.fileno(), self._outbox)
        except BlockingIOError:
            written = 0
        except OSError as exc:
            self._fail(CommitError(f"the writer process has stopped: {exc}"))
            return
        del self._outbox[:written]
        if self._outbox and not self._waiting_to_write:
            self._loop.add_writer(self._pipe.fileno(), self._flush)
            self._waiting_to_write = True
        elif not self._outbox and self._waiting_to_write:
            self._loop.remove_writer(self._pipe.fileno())
            self._waiting_to_write = False

    def _on_answers(self) -> None:
        # Called when the pipe is readable: one read takes every answer waiting there
        # (the framing is multiprocessing's, a 4-byte length before each message).
        try:
            chunk = os.read(self._pipe.fileno(), 1 << 16)
        except BlockingIOError:  # woken with nothing to read after all
            return
        except OSError:
            chunk = b""
        if not chunk:
            code = self._process.poll()
            self._fail(CommitError(f"the writer process has stopped (exit code {code})"))
            return
        buffer = self._unread + chunk
        start = 0
        while len(buffer) - start >= 4:
            (size,) = _LENGTH.unpack_from(buffer, start)
            if len(buffer) - start - 4 < size:
                break
            self._settle(pickle.loads(buffer[start + 4 : start + 4 + size]))
            start += 4 + size
        self._unread = buffer[start:]
        self._send_queued()

    def _settle(self, answers: list[tuple[int, str | None]]) -> None:
        for number, error in answers:
            with self._lock:
                sent_number, writes, future = self._sent.popleft()
                if not self._sent and not self._queue:
                    self._idle.notify_all()
            assert sent_number == number, (sent_number, number)
            if error is None:
                self._committed(writes, future)
            else:
                self._refused(writes, future, CommitError(error))

    def _fail(self, error: CommitError) -> None:
        with self._lock:
            if not self._closed:
                logger.error("%s", error)
            waiting = [future for _, _, future in self._sent]
            waiting += [future for _, future in self._queue]
            for _, writes, _ in self._sent:
                self._note_failed(writes)
            for writes, _ in self._queue:
                self._note_failed(writes)
            self._sent.clear()
            self._queue.clear()
            self._dead = True
            self.last_error = error
            self._idle.notify_all()
        self._outbox.clear()
        with contextlib.suppress(OSError, ValueError):
            self._loop.remove_reader(self._pipe.fileno())
            if self._waiting_to_write:
                self._loop.remove_writer(self._pipe.fileno())
        for future in waiting:
            if not future.done():
                future.set_exception(error)


def serve_writes(pipe: Connection) -> None:
    """The writer process: commit the batches that arrive on ``pipe`` until it closes
    (the first message is the database's URL)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        storage = Storage(pipe.recv(), migrate=False)
    except Exception as exc:  # reported to the parent, which refuses to start
        pipe.send(f"{type(exc).__name__}: {exc}")
        return
    pipe.send("ready")
    try:
        while True:
            try:
                item = pickle.loads(pipe.recv_bytes())
            except EOFError:  # the parent is gone
                return
            if item is None:  # the parent's close()
                return
            first, group = item
            try:
                pipe.send(_commit(storage, list(enumerate(group, first))))
            except OSError:  # the parent is gone
                return
    finally:
        storage.close()


def _commit(
    storage: Storage, batches: list[tuple[int, list[Write]]]
) -> list[tuple[int, str | None]]:
    """Commit ``batches`` in one transaction, or one by one when that fails (a batch
    behind a failed one of the same agent is then refused, as the parent does)."""
    if len(batches) > 1:
        try:
            storage.apply([write for _, writes in batches for write in writes])
            return [(number, None) for number, _ in batches]
        except Exception:
            pass  # each on its own below, so only the bad one fails
    answers: list[tuple[int, str | None]] = []
    failed: set[str] = set()
    for number, writes in batches:
        agent = behind(writes, failed)
        if agent is not None:
            answers.append((number, str(refusal(agent))))
            failed |= written_agents(writes)
            continue
        try:
            storage.apply(writes)
            answers.append((number, None))
        except Exception as exc:
            logger.exception("could not commit %d writes", len(writes))
            answers.append((number, f"{type(exc).__name__}: {exc}"))
            failed |= written_agents(writes)
    return answers


def main(fd: str) -> None:
    """The writer process's entry point: :func:`serve_writes` on the inherited socket."""
    serve_writes(Connection(int(fd)))
