"""``Service``: the hosted agents, the database and the background upkeep, without HTTP.

The FastAPI routes are thin wrappers around this class, and anything else in the same
process (the dashboard, a test, a benchmark) uses it the same way; see
:mod:`krystal.server` for how to reach it from an app.

Start-up restores every agent from its last checkpoint and replays the events logged
after it, so each agent resumes exactly where it was. While running, a background
thread gives the default reward to decisions that waited too long and checkpoints
agents with new events every ``checkpoint_interval`` seconds; :meth:`Service.stop`
checkpoints them all once more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from typing import Any

from krystal._errors import InputError
from krystal.server._errors import ConflictError, NotFoundError, UnavailableError
from krystal.server._hosted import (
    RECENT_DECISIONS,
    HostedAgent,
    build_spec,
    check_name,
    scratch_folder,
)
from krystal.server._settings import ServerSettings
from krystal.storage import (
    EventWriter,
    ProcessWriter,
    ServingLease,
    Storage,
    StoredKey,
    Write,
    role_rank,
)

logger = logging.getLogger("krystal.server")

Result = tuple[dict[str, Any], "Future[None] | None"]


class Service:
    """Agents in memory, persisted through one group-committing writer.

    Each method that changes something returns ``(response, future)``: the future
    completes when the change is committed, and only then may it be acknowledged.

    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> service = Service(ServerSettings(db="sqlite:///" + os.path.join(folder, "k.db")))
    >>> service.start()
    >>> decision, done = service.decide("default", {"load": 0.4})
    >>> done.result(10); len(decision["action"])
    4
    >>> answer, done = service.reward("default", decision["decision_id"], 1.0)
    >>> done.result(10); answer["learned"], service.agent("default").krystal.cycle
    (True, 1)
    >>> service.stop()
    """

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.storage: Storage | None = None
        self.writer: EventWriter | ProcessWriter | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.started_at = time.time()
        self._agents: dict[str, HostedAgent] = {}
        self._registry = threading.Lock()
        self._folder = scratch_folder()
        self._stop = threading.Event()
        self._upkeep: threading.Thread | None = None
        self._keys: dict[str, tuple[StoredKey | None, float]] = {}
        self._lease: ServingLease | None = None

    # -- life cycle ----------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Open the database (migrating it), restore every agent, start the upkeep thread.

        With ``loop`` (the app's event loop) commits happen in a writer process and are
        answered on that loop (:class:`~krystal.storage.ProcessWriter`), else on a writer
        thread (:class:`~krystal.storage.EventWriter`). Called from another thread than the
        loop's, as the app's lifespan does, while the loop keeps running.
        """
        self.storage = Storage(self.settings.db)
        try:  # one service at a time on a database (see krystal.storage.ServingLease)
            self._lease = ServingLease.take(self.storage)
        except BaseException:
            self.storage.close()
            raise
        self._loop = loop
        if loop is None:
            self.writer = EventWriter(self.storage)
        else:
            self.writer = ProcessWriter(self.settings.db, loop)
        for stored in self.storage.load_agents():
            self._agents[stored.name] = self._restore(stored)
        if self.settings.default_agent not in self._agents:
            _, created = self.create_agent(self.settings.default_agent)
            assert created is not None
            created.result(60)
        self._stop.clear()
        self._upkeep = threading.Thread(target=self._run_upkeep, name="krystal-upkeep", daemon=True)
        self._upkeep.start()

    def stop(self) -> None:
        """Checkpoint every agent, commit what is queued and close the database."""
        self._stop.set()
        if self._upkeep is not None:
            self._upkeep.join(10)
        if self.writer is not None:
            futures = [self._checkpoint(agent) for agent in self.agents()]
            for future in futures:
                if future is not None:
                    future.result(60)
            self.writer.close()
        if self._lease is not None:
            self._lease.release()
        if self.storage is not None:
            self.storage.close()
        shutil.rmtree(self._folder, ignore_errors=True)

    def _restore(self, stored: Any) -> HostedAgent:
        import json

        agent = HostedAgent(stored.id, stored.name, json.loads(stored.spec), stored.created_at)
        assert self.storage is not None
        if stored.state is not None:
            agent.restore(stored.state, stored.seq, self._folder)
            # the events before the checkpoint are not replayed: refill the history
            agent.remember(self.storage.history(stored.id, stored.seq, RECENT_DECISIONS))
        replayed = 0
        for event in self.storage.events_after(stored.id, agent.seq):
            agent.replay(*event)
            replayed += 1
        if replayed:
            logger.info("agent %r: replayed %d events after its checkpoint", agent.name, replayed)
        return agent

    # -- agents ----------------------------------------------------------------------

    def agents(self) -> list[HostedAgent]:
        """The hosted agents, in creation order."""
        with self._registry:
            return list(self._agents.values())

    def _writable(self, name: str) -> HostedAgent:
        # An agent with a change that was not committed holds in memory more than the
        # database does: answering from it (a repeated reward, say) would acknowledge
        # what is not stored. It refuses changes until :meth:`recover` reloads it.
        agent = self.agent(name)
        if self._ahead_of_database(agent):
            raise _not_stored(name)
        return agent

    def _ahead_of_database(self, agent: HostedAgent) -> bool:
        return self.writer is not None and agent.id in self.writer.failed_agents

    def agent(self, name: str) -> HostedAgent:
        """The agent called ``name``; :class:`NotFoundError` if there is none."""
        found = self._agents.get(name)
        if found is None:
            raise NotFoundError(f"agent: no agent named {name!r}")
        return found

    def create_agent(
        self,
        name: str,
        preset: str | None = None,
        space: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> Result:
        """Create and persist an agent (a preset, a named action space and/or a config)."""
        import json

        check_name(name)
        spec = build_spec(preset, space, config)
        with self._registry:
            if name in self._agents:
                raise ConflictError(f"name: an agent named {name!r} already exists")
            agent = HostedAgent(secrets.token_hex(16), name, spec, time.time())
            row = {
                "id": agent.id,
                "name": name,
                "spec": json.dumps(spec),
                "created_at": agent.created_at,
            }
            checkpoint, _ = agent.checkpoint(self._folder)
            future = self._submit([Write("agent", row), checkpoint])
            self._agents[name] = agent
        return agent.summary(), future

    def delete_agent(self, name: str) -> Result:
        """Remove an agent with its checkpoint and events."""
        with self._registry:
            agent = self.agent(name)
            del self._agents[name]
            with agent.lock:  # no event of this agent can be logged after its deletion
                agent.deleted = True
                future = self._submit([Write("delete", {"agent_id": agent.id})])
        return {"agent": name, "deleted": True}, future

    # -- the loop --------------------------------------------------------------------

    def decide(
        self, name: str, observation: Mapping[str, float] | None, decision_id: str | None = None
    ) -> Result:
        """Observe and decide on agent ``name``; see :meth:`HostedAgent.decide`."""
        return self._writable(name).decide(observation, decision_id, self._submit)

    def reward(self, name: str, decision_id: str, reward: float) -> Result:
        """Reward one decision; duplicates are answered from memory or the database."""
        done = self.reward_in_memory(name, decision_id, reward)
        return done if done is not None else self.reward_from_log(name, decision_id, reward)

    def reward_in_memory(self, name: str, decision_id: str, reward: float) -> Result | None:
        """Reward a decision the agent holds in memory; None if it must be looked up."""
        if not isinstance(decision_id, str) or not decision_id:
            raise InputError(f"decision_id: expected a decision id string, got {decision_id!r}")
        agent = self._writable(name)
        result = agent.reward(decision_id, reward, self._submit)
        if result is not None and result[1] is None:
            # a repeat: answered once everything before it, its original too, is committed
            assert self.writer is not None
            return result[0], self._stored(agent, self.writer.barrier())
        return result

    def _stored(self, agent: HostedAgent, barrier: Future[None] | None) -> Future[None] | None:
        # A repeat that passed the check in _writable before its original's commit failed
        # must not be acknowledged either: once everything before it is done (the writer
        # has noted the failure by then), look again.
        if barrier is None:
            return None
        checked: Future[None] = Future()

        def settle(done: Future[None]) -> None:
            error = done.exception()
            if error is None and (agent.retired or self._ahead_of_database(agent)):
                error = _not_stored(agent.name)
            if error is None:
                checked.set_result(None)
            else:
                checked.set_exception(error)

        barrier.add_done_callback(settle)
        return checked

    def reward_from_log(self, name: str, decision_id: str, reward: float) -> Result:
        """Answer a reward for a decision no longer in memory from the event log."""
        import json

        agent = self.agent(name)
        assert self.storage is not None
        for event in self.storage.decision_events(agent.id, decision_id):
            if event.kind == "reward" and event.reward is not None:
                data = json.loads(event.payload)
                answer = agent.duplicate(
                    decision_id,
                    float(reward),
                    event.reward,
                    data["source"],
                    data["learned"],
                    data["td_error"],
                )
                return answer, None
        raise NotFoundError(
            f"decision_id: {decision_id!r} is not a decision of agent {name!r} that is "
            f"waiting for a reward (unknown id, or it expired after "
            f"{self.settings.reward_wait:g} s and got the default reward)"
        )

    def step(
        self,
        name: str,
        decision_id: str | None,
        reward: float | None,
        observation: Mapping[str, float],
        next_decision_id: str | None = None,
    ) -> tuple[dict[str, Any], Future[None] | None]:
        """Reward the previous decision (if given) and decide anew, in one call."""
        rewarded: dict[str, Any] | None = None
        if decision_id is not None or reward is not None:
            if decision_id is None or reward is None:
                raise InputError("step: decision_id and reward go together; give both or neither")
            rewarded, _ = self.reward(name, decision_id, reward)
        decision, future = self.decide(name, observation, next_decision_id)
        # One writer commits in order: the decision's commit implies the reward's.
        return {"reward": rewarded, "decision": decision}, future

    def observe(self, name: str, observation: Mapping[str, float]) -> Result:
        """Record metrics on an agent without deciding."""
        return self._writable(name).observe(observation, self._submit)

    def reward_latest(self, name: str, reward: float) -> Result:
        """Reward the agent's most recent decision (the legacy API has no ids)."""
        return self._writable(name).reward_latest(reward, self._submit)

    def reset(self, name: str) -> Result:
        """Start an agent's learner afresh (same spec)."""
        return self._writable(name).reset(self._submit)

    # -- keys ----------------------------------------------------------------------

    def authenticate(self, token: str, max_age: float = 1.0) -> StoredKey | None:
        """The active key for ``token``, from a cache refreshed every ``max_age`` seconds.

        Keys revoked through this service are dropped from the cache at once; a key
        revoked with ``krystal keys revoke`` on the database stops working within
        ``max_age`` seconds.
        """
        now = time.monotonic()
        cached = self._keys.get(token)
        if cached is not None and now - cached[1] < max_age:
            return cached[0]
        assert self.storage is not None
        key = self.storage.key_for_token(token)
        if len(self._keys) > 10_000:
            self._keys.clear()
        self._keys[token] = (key, now)
        return key

    def create_key(self, name: str, role: str, by_role: str) -> tuple[StoredKey, str]:
        """Create a key; a caller may grant at most its own role."""
        if role_rank(role) > role_rank(by_role):
            raise InputError(f"role: a {by_role} key cannot create a {role} key")
        assert self.storage is not None
        return self.storage.create_key(name, role)

    def revoke_key(self, key_id: str, by_role: str) -> StoredKey:
        """Revoke a key; a caller may revoke keys up to its own role."""
        assert self.storage is not None
        key = self.storage.get_key(key_id)
        if key is None or key.revoked_at is not None:
            raise NotFoundError(f"key: no active key with id {key_id!r}")
        if role_rank(key.role) > role_rank(by_role):
            raise InputError(f"key: a {by_role} key cannot revoke a {key.role} key")
        self.storage.revoke_key(key_id)
        self._keys = {t: v for t, v in self._keys.items() if v[0] is None or v[0].id != key_id}
        return key

    # -- health and upkeep -----------------------------------------------------------

    def check_database(self) -> str | None:
        """None when the database answers and the writer commits, else what is wrong."""
        try:
            assert self.storage is not None and self.writer is not None
            self.storage.ping()
        except Exception as exc:
            return f"database unreachable: {exc}"
        if self.writer.last_error is not None:
            return f"last commit failed: {self.writer.last_error}"
        stale = sorted(a.name for a in self.agents() if self._ahead_of_database(a))
        if stale:
            return f"changes to agents {stale} were not stored; they are being reloaded"
        return None

    def upkeep(self, now: float | None = None) -> None:
        """Expire decisions that waited too long, checkpoint agents that are due and the
        SQLite WAL (off the event loop, see :meth:`Storage.checkpoint`)."""
        now = time.time() if now is None else now
        s = self.settings
        self.recover()
        if self.storage is not None:
            self.storage.checkpoint()
        for agent in self.agents():
            if self._ahead_of_database(agent):
                continue  # until it is reloaded
            agent.expire(now, s.reward_wait, s.default_reward, self._submit)
            if (
                agent.seq != agent.checkpoint_seq
                and now - agent.checkpointed_at >= s.checkpoint_interval
            ):
                self._checkpoint(agent)

    def recover(self) -> None:
        """Start a new writer process if the last one died, and reload from the database
        every agent with a change that was not stored (the upkeep does this every period;
        until then such an agent answers 503)."""
        writer = self.writer
        if writer is None or self.storage is None:
            return
        if isinstance(writer, ProcessWriter) and writer.stopped and self._loop is not None:
            replacement = ProcessWriter(self.settings.db, self._loop)
            replacement.failed_agents |= writer.failed_agents
            self.writer = replacement
            writer.close(5)  # reaps the dead process
            logger.warning("the writer process had stopped; a new one has started")
            writer = replacement
        failed = set(writer.failed_agents)
        if not failed:
            return
        old = {agent.id: agent for agent in self.agents() if agent.id in failed}
        for agent in old.values():
            with agent.lock:  # a request inside it finishes first, later ones are refused
                agent.retired = True
        barrier = writer.barrier()  # every write made before the retirement is done
        if barrier is not None:
            with contextlib.suppress(Exception):  # failed or not: it is over
                barrier.result(60)
        stored = {row.id: row for row in self.storage.load_agents()}
        for agent_id in failed:
            agent = old.get(agent_id)
            row = stored.get(agent_id)
            reloaded = None if agent is None or row is None else self._restore(row)
            with self._registry:
                # cleared before the swap: a failure of the reloaded agent counts anew
                writer.failed_agents.discard(agent_id)
                if agent is not None and self._agents.get(agent.name) is agent:
                    if reloaded is None:  # its creation was never stored
                        del self._agents[agent.name]
                    else:
                        self._agents[agent.name] = reloaded
            if agent is not None:
                logger.warning("agent %r: reloaded after a change to it was not stored", agent.name)

    def _run_upkeep(self) -> None:
        period = min(1.0, self.settings.reward_wait / 4, self.settings.checkpoint_interval / 2)
        while not self._stop.wait(period):
            try:
                self.upkeep()
            except Exception:
                logger.exception("upkeep failed; retrying in %.2f s", period)

    def _checkpoint(self, agent: HostedAgent) -> Future[None] | None:
        if agent.seq == agent.checkpoint_seq or agent.deleted:
            return None
        if self._ahead_of_database(agent):
            return None  # the last good checkpoint stays
        _, future = agent.checkpoint(self._folder, self._submit)
        return future

    def _submit(self, writes: Sequence[Write]) -> Future[None]:
        assert self.writer is not None
        return self.writer.submit(writes)


def _not_stored(name: str) -> UnavailableError:
    return UnavailableError(
        f"agent {name!r}: a change to it could not be stored, so it refuses changes "
        "until it has been reloaded from the database (within seconds); retry"
    )
