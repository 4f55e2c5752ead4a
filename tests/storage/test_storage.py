"""The storage layer on SQLite and on a real PostgreSQL: schema, batched writes, keys."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest
import sqlalchemy as sa

from krystal import ConfigError, InputError
from krystal.storage import EventWriter, Storage, Write, hash_token, normalise_url


def _event(agent: str, seq: int, kind: str = "observe", **extra: object) -> Write:
    row = {
        "agent_id": agent,
        "seq": seq,
        "kind": kind,
        "decision_id": None,
        "reward": None,
        "payload": json.dumps({"n": seq}),
        "created_at": time.time(),
    }
    row.update(extra)
    return Write("event", row)


def test_migrations_create_the_schema_once(db_url: str) -> None:
    first = Storage(db_url)
    first.close()
    again = Storage(db_url)  # a second start finds the schema at head and changes nothing
    with again.engine.connect() as connection:
        tables = set(sa.inspect(connection).get_table_names())
        version = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    again.close()
    assert {"krystal_agents", "krystal_checkpoints", "krystal_events", "krystal_api_keys"} <= tables
    assert version == "0001"


def test_writes_apply_in_order_and_all_or_nothing(db_url: str) -> None:
    db = Storage(db_url)
    spec = json.dumps({"preset": None})
    db.apply(
        [
            Write("agent", {"id": "a1", "name": "one", "spec": spec, "created_at": 1.0}),
            _event("a1", 0),
            _event("a1", 1, "reward", decision_id="d1", reward=0.5),
            Write("checkpoint", {"agent_id": "a1", "seq": 1, "state": "{}", "created_at": 2.0}),
            Write("checkpoint", {"agent_id": "a1", "seq": 2, "state": "{}", "created_at": 3.0}),
        ]
    )
    # seq 1 again violates the per-agent order: the whole batch is refused.
    with pytest.raises(sa.exc.IntegrityError):
        db.apply([_event("a1", 2), _event("a1", 1)])
    agents = db.load_agents()
    events = list(db.events_after("a1", -1))
    assert [(a.name, a.seq) for a in agents] == [("one", 2)]
    assert [e.seq for e in events] == [0, 1]
    assert db.decision_events("a1", "d1")[0].reward == 0.5
    assert db.last_seq("a1") == 1
    db.apply([Write("delete", {"agent_id": "a1"})])
    assert db.load_agents() == [] and db.count_events() == 0
    db.close()


def test_the_writer_groups_concurrent_writes_into_few_commits(db_url: str) -> None:
    db = Storage(db_url)
    writer = EventWriter(db)
    futures = []
    lock = threading.Lock()

    def produce(agent: str) -> None:
        for seq in range(100):
            future = writer.submit([_event(agent, seq)])
            with lock:
                futures.append(future)

    threads = [threading.Thread(target=produce, args=(f"agent{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for future in futures:
        future.result(timeout=30)
    writer.close()
    assert db.count_events() == 400
    assert writer.writes == 400
    assert writer.batches < 400  # group commit: several requests share a transaction
    for i in range(4):  # each producer's events are stored in the order submitted
        assert [e.seq for e in db.events_after(f"agent{i}", -1)] == list(range(100))
    db.close()


def test_a_failed_commit_fails_every_request_in_it(db_url: str) -> None:
    db = Storage(db_url)
    writer = EventWriter(db)
    writer.submit([_event("a", 0)]).result(timeout=30)
    duplicate = writer.submit([_event("a", 0)])
    with pytest.raises(sa.exc.IntegrityError):
        duplicate.result(timeout=30)
    assert writer.last_error is not None and writer.failed_agents == {"a"}
    writer.submit([_event("b", 0)]).result(timeout=30)  # the writer keeps going
    assert writer.last_error is None
    writer.close()
    assert db.count_events("a") == 1 and db.count_events("b") == 1
    db.close()


def test_a_batch_behind_a_failed_one_of_the_same_agent_is_refused_unwritten(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from krystal.storage import CommitError

    db = Storage(db_url)
    writer = EventWriter(db)
    writer.submit([_event("a", 0)]).result(timeout=30)
    apply, entered, release = db.apply, threading.Event(), threading.Event()

    def slow_failure(writes: list[Write]) -> None:  # the next commit waits, then fails
        monkeypatch.setattr(db, "apply", apply)
        entered.set()
        release.wait(30)
        raise RuntimeError("connection lost")

    monkeypatch.setattr(db, "apply", slow_failure)
    failing = writer.submit([_event("a", 1)])
    assert entered.wait(30)
    # queued while the first commits: a's next event, and a batch of b's alone
    queued = writer.submit([_event("a", 2), _event("b", 0)])
    release.set()
    with pytest.raises(RuntimeError, match="connection lost"):
        failing.result(timeout=30)
    with pytest.raises(CommitError, match="agent a: an earlier change to it was not stored"):
        queued.result(timeout=30)  # a's seq 2 after a gap at 1: never written, nor b's with it
    assert writer.failed_agents == {"a", "b"}
    writer.submit([_event("c", 0)]).result(timeout=30)  # agents that are not behind go on
    with pytest.raises(CommitError):
        writer.submit([_event("a", 1)]).result(timeout=30)
    writer.failed_agents.discard("a")  # what the service does once it has reloaded the agent
    writer.submit([_event("a", 1)]).result(timeout=30)
    deleted = writer.submit([Write("delete", {"agent_id": "b"})])  # a deletion is never behind
    deleted.result(timeout=30)
    writer.close()
    assert [e.seq for e in db.events_after("a", -1)] == [0, 1]
    assert db.count_events("b") == 0 and db.count_events("c") == 1
    db.close()


def test_keys_are_stored_hashed_and_can_be_revoked(db_url: str) -> None:
    db = Storage(db_url)
    key, token = db.create_key("ci", "operator")
    with db.engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT * FROM krystal_api_keys")).mappings().all()
    assert len(stored) == 1
    assert token not in json.dumps([dict(row) for row in stored], default=str)
    assert stored[0]["token_hash"] == hash_token(token)
    assert db.key_for_token(token) == key
    assert db.revoke_key(key.id) is True
    assert db.revoke_key(key.id) is False
    assert db.key_for_token(token) is None
    assert db.list_keys() == []
    assert [k.id for k in db.list_keys(include_revoked=True)] == [key.id]
    with pytest.raises(InputError, match="role: expected one of viewer, operator"):
        db.create_key("x", "root")
    db.close()


def test_database_urls_are_checked() -> None:
    assert str(normalise_url("postgresql://u@h/d")) == "postgresql+psycopg://u@h/d"
    with pytest.raises(ConfigError, match="SQLite or PostgreSQL"):
        normalise_url("mysql://h/d")
    with pytest.raises(ConfigError, match="in-memory"):
        normalise_url("sqlite://")
    with pytest.raises(ConfigError, match="db: expected a database URL"):
        normalise_url("not a url")


def test_the_process_writer_commits_in_order_and_fails_only_the_bad_batch(db_url: str) -> None:
    import asyncio

    from krystal.storage import CommitError, ProcessWriter

    db = Storage(db_url)

    async def run() -> ProcessWriter:
        writer = ProcessWriter(db_url, asyncio.get_running_loop())
        assert writer.pid is not None and writer.pid != os.getpid()
        # Requests that arrive together share one batch...
        together = [writer.submit([_event("proc", seq)]) for seq in range(50)]
        assert len(set(map(id, together))) == 1
        await asyncio.wrap_future(together[0])
        # ...and writes from another thread (the upkeep) join the same ordered stream.
        threaded = await asyncio.to_thread(lambda: writer.submit([_event("proc", 50)]))
        await asyncio.wrap_future(threaded)
        bad = writer.submit([_event("proc", 0)])  # seq 0 again: refused, the whole batch
        with pytest.raises(CommitError, match=r"IntegrityError|UniqueViolation"):
            await asyncio.wrap_future(bad)
        assert writer.last_error is not None
        good = writer.submit([_event("other", 0)])  # the writer keeps going
        await asyncio.wrap_future(good)
        assert writer.last_error is None
        # a batch sent while the bad one was in flight is refused when its answer comes
        assert writer.failed_agents == {"proc"}
        writer.failed_agents.clear()
        bad = writer.submit([_event("proc", 0)])
        await asyncio.sleep(0)  # sent: what comes now queues behind it
        behind = writer.submit([_event("proc", 51)])
        with pytest.raises(CommitError, match=r"IntegrityError|UniqueViolation"):
            await asyncio.wrap_future(bad)
        with pytest.raises(CommitError, match="agent proc: an earlier change"):
            await asyncio.wrap_future(behind)
        writer.failed_agents.clear()
        await asyncio.wrap_future(writer.submit([_event("proc", 51)]))
        await asyncio.to_thread(writer.close)
        with pytest.raises(RuntimeError, match=r"closed|stopped"):
            writer.submit([_event("proc", 52)])
        return writer

    writer = asyncio.run(run())
    assert writer.writes == 53 and writer.batches == 4
    assert [e.seq for e in db.events_after("proc", -1)] == list(range(52))
    db.close()


def test_the_process_writer_merges_what_queued_and_splits_it_again_on_a_failure(
    db_url: str,
) -> None:
    import asyncio

    from krystal.storage import CommitError, ProcessWriter
    from krystal.storage._process_writer import _commit

    db = Storage(db_url)
    # what the writer process does with batches that arrived together: one transaction,
    # or each on its own when that fails, so only the bad one is refused
    answers = _commit(db, [(0, [_event("m", 0)]), (1, [_event("m", 1)])])
    assert answers == [(0, None), (1, None)]
    batches = [(2, [_event("m", 2)]), (3, [_event("m", 0)]), (4, [_event("m", 3)])]
    answers = _commit(db, [*batches, (5, [_event("n", 0)])])
    assert [number for number, error in answers if error is None] == [2, 5]
    assert answers[1][0] == 3 and answers[1][1] is not None
    # m's next batch is behind the failed one: refused without being written
    assert answers[2][0] == 4 and "agent m: an earlier change" in str(answers[2][1])
    assert [e.seq for e in db.events_after("m", -1)] == [0, 1, 2]
    assert db.count_events("n") == 1

    async def many_in_flight() -> None:
        writer = ProcessWriter(db_url, asyncio.get_running_loop())
        futures = []
        for seq in range(3, 303):  # a batch each: later ones queue behind the first
            futures.append(writer.submit([_event("m", seq)]))
            await asyncio.sleep(0)
        await asyncio.gather(*(asyncio.wrap_future(f) for f in futures))
        assert writer.writes == 300
        await asyncio.to_thread(writer.close)

    asyncio.run(many_in_flight())
    assert [e.seq for e in db.events_after("m", -1)] == list(range(303))
    with pytest.raises(CommitError, match="could not open the database"):
        asyncio.run(_start_writer("sqlite:////proc/no/such/dir/k.db"))
    db.close()


async def _start_writer(url: str) -> None:
    import asyncio

    from krystal.storage import ProcessWriter

    ProcessWriter(url, asyncio.get_running_loop())


def test_when_the_writer_process_dies_waiting_and_later_writes_fail(db_url: str) -> None:
    import asyncio
    import signal

    from krystal.storage import CommitError, ProcessWriter

    db = Storage(db_url)

    async def run() -> None:
        writer = ProcessWriter(db_url, asyncio.get_running_loop())
        await asyncio.wrap_future(writer.submit([_event("k", 0)]))
        assert writer.pid is not None
        os.kill(writer.pid, signal.SIGKILL)
        pending = writer.submit([_event("k", 1)])
        with pytest.raises(CommitError, match="writer process has stopped"):
            await asyncio.wait_for(asyncio.wrap_future(pending), 30)
        assert isinstance(writer.last_error, CommitError)
        with pytest.raises(CommitError, match="writer process has stopped"):
            writer.submit([_event("k", 2)])
        await asyncio.to_thread(writer.close)

    asyncio.run(run())
    assert db.count_events("k") == 1  # acknowledged: stored; refused: not
    db.close()


def test_writes_of_one_batch_share_a_future_and_the_barrier_waits_for_them(db_url: str) -> None:
    import asyncio

    from krystal.storage import ProcessWriter

    db = Storage(db_url)

    async def run() -> None:
        writer = ProcessWriter(db_url, asyncio.get_running_loop())
        assert writer.barrier() is None  # nothing submitted: nothing to wait for
        first = writer.submit([_event("b", 0)])
        second = writer.submit([_event("b", 1), _event("b", 2)])
        assert first is second and not first.done()
        assert writer.barrier() is first
        await asyncio.wrap_future(first)
        assert writer.barrier() is None and writer.batches == 1 and writer.writes == 3
        await asyncio.to_thread(writer.close)

    asyncio.run(run())
    threaded = EventWriter(db)
    futures = [threaded.submit([_event("t", seq)]) for seq in range(20)]
    barrier = threaded.barrier()
    assert barrier is not None
    barrier.result(timeout=30)
    assert all(f.done() for f in futures)  # committed in order: everything before it too
    assert threaded.barrier() is None
    threaded.close()
    assert db.count_events("t") == 20
    db.close()


def test_the_writer_leaves_most_of_the_wal_to_a_checkpoint_of_its_own(db_url: str) -> None:
    db = Storage(db_url)
    for seq in range(20):
        db.apply([_event("w", seq)])
    db.checkpoint()  # passive; nothing to do on PostgreSQL
    if db.dialect == "sqlite":
        writer = db._connection
        assert writer.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 10_000
        with db.engine.connect() as connection:
            busy, frames, copied = connection.exec_driver_sql(
                "PRAGMA wal_checkpoint(PASSIVE)"
            ).one()
        assert busy == 0 and copied == frames  # a passive checkpoint copies without blocking
    assert [e.seq for e in db.events_after("w", -1)] == list(range(20))
    db.close()


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_the_process_writer_sends_writes_larger_than_the_socket_takes_at_once(
    db_url: str, loop: str
) -> None:
    # uvloop makes the socket non-blocking; a checkpoint of a big agent is megabytes
    import asyncio

    from krystal.storage import ProcessWriter

    db = Storage(db_url)
    big = "x" * 3_000_000

    async def run() -> None:
        writer = ProcessWriter(db_url, asyncio.get_running_loop())
        first = writer.submit([_event("big", 0, payload=json.dumps({"blob": big}))])
        behind = [writer.submit([_event("big", seq)]) for seq in range(1, 4)]
        await asyncio.wait_for(asyncio.wrap_future(first), 60)
        for future in behind:
            await asyncio.wait_for(asyncio.wrap_future(future), 60)
        if loop == "uvloop":
            assert not os.get_blocking(writer._pipe.fileno())
            writer._on_answers()  # woken with nothing to read: not the end of the writer
            await asyncio.wait_for(asyncio.wrap_future(writer.submit([_event("big", 4)])), 60)
        await asyncio.to_thread(writer.close)

    if loop == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        uvloop.run(run())
    else:
        asyncio.run(run())
    stored = list(db.events_after("big", -1))
    assert [e.seq for e in stored] == ([0, 1, 2, 3, 4] if loop == "uvloop" else [0, 1, 2, 3])
    assert len(stored[0].payload) > 3_000_000
    db.close()
