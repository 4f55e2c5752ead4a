"""``HostedAgent``: one named :class:`krystal.Krystal` in memory, with its decisions.

A hosted agent owns the learner, a lock, the decisions still waiting for a reward and a
short history for monitoring. Every change is made under the lock and turned into event
rows (:class:`krystal.storage.Write`) numbered by ``seq`` and handed to ``submit`` while
the lock is still held, so the event log has exactly the order in which the agent saw
them; :meth:`HostedAgent.replay` applies logged events again after a restart.

Rewards and the learner: like the local ``Krystal``, the learner credits a reward to its
most recent decision. A reward for a decision that a newer ``decide`` on the same agent
has superseded is stored, counted and acknowledged but does not train the model
(``learned: false``); give each independent stream of decisions its own agent.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import logging
import math
import os
import pickle
import re
import secrets
import tempfile
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from krystal._errors import CallOrderError, InputError
from krystal.agent import Krystal, KrystalConfig, get_preset
from krystal.agent._spaces import ActionSpace
from krystal.server._errors import ConflictError, NotFoundError, UnavailableError
from krystal.storage import StoredEvent, Write

#: How many settled decisions each agent remembers for duplicate rewards (older ones are
#: looked up in the database), and how many recent decisions it keeps for monitoring.
SETTLED_CACHE = 4096
RECENT_DECISIONS = 256
_RATE_WINDOW = 60.0
#: The largest agent the service hosts per reward-model backend, as state_dim x
#: action_dim (x 4 with rbf interactions), so that no agent's update stalls the others
#: for long: at the limit a decide+reward pair takes about 19 ms with the pure-Python
#: model and 10 ms with numpy (``breakdown_ms.agent_sizes`` in
#: benchmarks/results/service_load.json).
MAX_AGENT_SIZE = {"python": 256, "numpy": 512}

logger = logging.getLogger("krystal.server")
# Every event's payload goes through one encoder (json.dumps with options builds one a call).
_ENCODE_PAYLOAD = json.JSONEncoder(allow_nan=False).encode

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DECISION_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")

Submit = Callable[[Sequence[Write]], "Future[None]"]


def check_name(name: str) -> str:
    """``name`` if it is a valid agent name, else :class:`InputError`.

    >>> check_name("autoscaler-eu.1")
    'autoscaler-eu.1'
    """
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise InputError(
            f"name: expected 1-64 letters, digits, '_', '-' or '.', starting with a letter "
            f"or digit, got {name!r}"
        )
    return name


def build_spec(
    preset: str | None, space: Mapping[str, Any] | None, config: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The stored description of a new agent: preset name, action space and full config.

    A missing seed is drawn now and written into the config, so that rebuilding the
    agent from its spec (a reset, or a replay) gives the same agent.

    >>> spec = build_spec("server", None, {"seed": 4})
    >>> spec["preset"], sorted(spec["space"]), spec["config"]["horizon"], spec["config"]["seed"]
    ('server', ['concurrency', 'replicas'], 8, 4)
    """
    values: dict[str, Any] = {}
    chosen_space: Mapping[str, Any] | None = space
    if preset is not None:
        found = get_preset(preset)
        values.update({"state_dim": 8, **found.settings})
        if chosen_space is None:
            chosen_space = found.space
    if config is not None:
        if not isinstance(config, Mapping):
            raise InputError(f"config: expected an object of settings, got {config!r}")
        values.update(config)
    if values.get("auto_reward"):
        raise InputError(
            "config.auto_reward: not supported by the service (rewards arrive by decision "
            "id); expected false"
        )
    if values.get("seed") is None:
        values["seed"] = secrets.randbits(48)
    if values.get("backend") is None:
        values["backend"] = default_backend()
    space_spec = None if chosen_space is None else ActionSpace.from_spec(chosen_space).to_spec()
    krystal = Krystal(KrystalConfig.from_dict(values), space=space_spec)
    c = krystal.config
    size = c.state_dim * c.action_dim * (4 if c.interactions == "rbf" else 1)
    limit = MAX_AGENT_SIZE[c.backend]
    if size > limit:
        larger = f" ({MAX_AGENT_SIZE['numpy']} with backend numpy)" if c.backend == "python" else ""
        raise InputError(
            f"config: state_dim x action_dim{' x 4 (rbf)' if c.interactions == 'rbf' else ''} "
            f"= {size} is more than the service hosts with backend {c.backend} ({limit}"
            f"{larger}); one update of a model that size takes long enough to stall every "
            "other agent"
        )
    return {"preset": preset, "space": space_spec, "config": krystal.config.to_dict()}


def default_backend() -> str:
    """The reward model of an agent whose spec names none: numpy when it is installed.

    It gives the same results as the pure-Python model (to rounding) at a third of the
    CPU per decision for the presets' sizes, which is most of what a hosted agent costs.

    >>> default_backend() in ("python", "numpy")
    True
    """
    return "numpy" if importlib.util.find_spec("numpy") is not None else "python"


def new_krystal(spec: Mapping[str, Any]) -> Krystal:
    """A fresh agent for a stored spec."""
    return Krystal(KrystalConfig.from_dict(dict(spec["config"])), space=spec["space"])


class _Pending:
    __slots__ = ("created_at", "future", "record", "response")

    def __init__(self, created_at: float, response: dict[str, Any], record: dict[str, Any]) -> None:
        self.created_at = created_at
        self.response = response
        self.record = record
        self.future: Future[None] | None = None


class HostedAgent:
    """One agent of the service; see the module docstring. Use the lock-taking methods only."""

    def __init__(self, agent_id: str, name: str, spec: dict[str, Any], created_at: float) -> None:
        self.id = agent_id
        self.name = name
        self.spec = spec
        self.created_at = created_at
        self.lock = threading.Lock()
        self.deleted = False  # set under the lock by Service.delete_agent
        self.retired = False  # set under the lock when the service reloads the agent
        self.krystal = new_krystal(spec)
        self.seq = -1
        self.checkpoint_seq = -1
        self.checkpointed_at = time.time()
        self.pending: dict[str, _Pending] = {}
        self.latest: str | None = None
        # decision id -> (reward, source, learned, TD error); a repeated reward waits for
        # the writer's barrier rather than keeping each reward's commit future here
        self.settled: OrderedDict[str, tuple[float, str, bool, float | None]] = OrderedDict()
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT_DECISIONS)
        self.decisions = 0
        self.rewards = 0
        self.default_rewards = 0
        self.reward_sum = 0.0
        self._reward_window: deque[float] = deque(maxlen=100)
        self._decision_times: deque[float] = deque(maxlen=4096)

    # -- the loop ------------------------------------------------------------------

    def decide(
        self,
        observation: Mapping[str, float] | None,
        decision_id: str | None,
        submit: Submit,
        now: float | None = None,
    ) -> tuple[dict[str, Any], Future[None] | None]:
        """Observe (if given) and decide; returns the response and its commit future (None
        for a retry of a decision restored at start-up: committed already)."""
        if decision_id is not None and not DECISION_ID_PATTERN.match(str(decision_id)):
            raise InputError(
                f"decision_id: expected 8-64 letters, digits, '_' or '-', got {decision_id!r}"
            )
        with self.lock:
            if decision_id is not None:
                known = self.pending.get(decision_id)
                if known is not None:  # a retried request: the same decision
                    # (no future: restored at start-up, so committed long ago)
                    return known.response, known.future
                if decision_id in self.settled:
                    raise ConflictError(
                        f"decision_id: {decision_id!r} was already used for a decision that "
                        "has been rewarded; use a new id for a new decision"
                    )
            now = time.time() if now is None else now
            if observation is not None:
                self.krystal.observe(observation)
            action = self.krystal.decide()  # CallOrderError (nothing changed) if never observed
            did = decision_id or _new_decision_id()
            response = self._decision_response(did, action, now)
            self._record_decision(did, action, now, response)
            rows = [
                self._event(
                    "decide",
                    now,
                    did,
                    None,
                    {
                        "observation": None if observation is None else dict(observation),
                        "action": action,
                        "phase": response["phase"],
                    },
                )
            ]
            future = submit(rows)
            self.pending[did].future = future
            return response, future

    def observe(
        self, observation: Mapping[str, float], submit: Submit
    ) -> tuple[dict[str, Any], Future[None]]:
        """Record metrics without deciding (the legacy ``/api/observe``)."""
        with self.lock:
            self.krystal.observe(observation)
            now = time.time()
            future = submit(
                [self._event("observe", now, None, None, {"observation": dict(observation)})]
            )
            return {
                "agent": self.name,
                "cycle": self.krystal.cycle,
                "phase": self.krystal.get_phase(),
            }, future

    def reward(
        self,
        decision_id: str,
        value: float,
        submit: Submit,
        source: str = "client",
        now: float | None = None,
    ) -> tuple[dict[str, Any], Future[None] | None] | None:
        """Reward a decision. Returns None when the decision is not in memory (ask the DB).

        A repeat of a settled decision's reward is answered with a None future: the caller
        waits until the original's commit (see :meth:`Service.reward_in_memory`).
        """
        reward = _finite("reward", value)
        with self.lock:
            waiting = self.pending.pop(decision_id, None)
            if waiting is None:
                settled = self.settled.get(decision_id)
                if settled is None:
                    return None
                stored, source, learned, td_error = settled
                answer = self.duplicate(decision_id, reward, stored, source, learned, td_error)
                return answer, None
            return self._apply_reward(decision_id, waiting, reward, source, submit, now)

    def reward_latest(self, value: float, submit: Submit) -> tuple[dict[str, Any], Future[None]]:
        """Reward the most recent decision, whatever its id (the legacy ``/api/reward``)."""
        reward = _finite("reward", value)
        with self.lock:
            did = self.latest
            waiting = None if did is None else self.pending.pop(did, None)
            if did is None or waiting is None:
                raise CallOrderError(
                    "reward: no decision is waiting for a reward on this agent; decide first"
                )
            response, future = self._apply_reward(did, waiting, reward, "client", submit, None)
            return response, future

    def expire(self, now: float, wait: float, default: float, submit: Submit) -> list[Future[None]]:
        """Give the default reward to every decision older than ``wait`` seconds."""
        futures: list[Future[None]] = []
        with self.lock:
            for did in [d for d, p in self.pending.items() if p.created_at + wait <= now]:
                waiting = self.pending.pop(did)
                _, future = self._apply_reward(did, waiting, default, "default", submit, now)
                futures.append(future)
        return futures

    def reset(self, submit: Submit) -> tuple[dict[str, Any], Future[None]]:
        """Start the learner afresh from the agent's spec (decisions waiting stay answerable)."""
        with self.lock:
            self.krystal = new_krystal(self.spec)
            self.latest = None
            future = submit([self._event("reset", time.time(), None, None, {})])
            return {"agent": self.name, "cycle": 0, "phase": self.krystal.get_phase()}, future

    def duplicate(
        self,
        decision_id: str,
        reward: float,
        stored: float,
        source: str,
        learned: bool,
        td_error: float | None,
    ) -> dict[str, Any]:
        """The answer to a repeated reward: the first answer again, or the error."""
        if source == "default":
            raise NotFoundError(
                f"decision_id: {decision_id!r} expired: no reward came within the wait, so it "
                f"got the default reward {stored!r}"
            )
        if stored != reward:
            raise ConflictError(
                f"reward: decision {decision_id!r} was already rewarded with {stored!r}; "
                f"got {reward!r} (a repeated reward must carry the same value)"
            )
        return {
            "agent": self.name,
            "decision_id": decision_id,
            "reward": stored,
            "duplicate": True,
            "learned": learned,
            "td_error": td_error,
            "cycle": self.krystal.cycle,
        }

    # -- state ---------------------------------------------------------------------

    def checkpoint(
        self, folder: str, submit: Submit | None = None
    ) -> tuple[Write, Future[None] | None]:
        """A checkpoint row of the agent's state now (submitted too when ``submit`` is given).

        Under the lock the agent is only copied (pickle, about a millisecond); writing
        the copy out as JSON (tens of milliseconds) happens after, so requests to the
        agent wait for the copy, not for the serialisation.
        """
        with self.lock:
            if self.deleted:
                raise NotFoundError(f"agent: {self.name!r} has been deleted")
            snapshot = pickle.loads(pickle.dumps(self.krystal, pickle.HIGHEST_PROTOCOL))
            pending = [[did, p.created_at, p.response] for did, p in self.pending.items()]
            latest, seq = self.latest, self.seq
            counters = [self.decisions, self.rewards, self.default_rewards, self.reward_sum]
            self.checkpoint_seq = seq
            self.checkpointed_at = time.time()
        path = os.path.join(folder, f"{self.id}.json")
        snapshot.save(path)
        document = {
            "krystal": json.loads(Path(path).read_text(encoding="utf-8")),
            "pending": pending,
            "latest": latest,
            "counters": counters,
        }
        # Restoring takes this state and replays the events after ``seq``, so the row
        # may be committed after later events without losing or repeating any.
        write = Write(
            "checkpoint",
            {
                "agent_id": self.id,
                "seq": seq,
                "state": json.dumps(document, allow_nan=False),
                "created_at": time.time(),
            },
        )
        return write, None if submit is None else submit([write])

    def restore(self, state: str, seq: int, folder: str) -> None:
        """Load a checkpoint written by :meth:`checkpoint` (before replaying later events)."""
        document = json.loads(state)
        path = os.path.join(folder, f"{self.id}.json")
        Path(path).write_text(json.dumps(document["krystal"]), encoding="utf-8")
        self.krystal = Krystal().load(path)
        for did, created_at, response in document["pending"]:
            record = {**_record_of(response), "created_at": created_at}
            self.pending[did] = _Pending(created_at, response, record)
        self.latest = document["latest"]
        self.decisions, self.rewards, self.default_rewards, self.reward_sum = document["counters"]
        self.seq = self.checkpoint_seq = seq

    def remember(self, events: Sequence[StoredEvent]) -> None:
        """Refill the monitoring history from logged events up to the restored checkpoint
        (:meth:`Storage.history`): recent decisions with their rewards, the reward window
        and the decision times, so that the dashboard's charts carry on after a restart.

        Each decision's ``cycle`` is counted back from the checkpoint's: every learned
        reward after a decision added one. Decisions before a reset are left out of the
        recent decisions (their cycle is not known); their rewards still count.
        """
        with self.lock:
            cycle, cycles, first = self.krystal.cycle, {}, 0
            for i in range(len(events) - 1, -1, -1):
                event = events[i]
                if event.kind == "reset":
                    first = i + 1
                    break
                if event.kind == "reward" and json.loads(event.payload)["learned"]:
                    cycle -= 1
                elif event.kind == "decide":
                    cycles[i] = cycle
            records: dict[str, dict[str, Any]] = {}
            latest: str | None = None
            for i, event in enumerate(events):
                if event.kind == "reset":
                    continue
                data = json.loads(event.payload)
                did = event.decision_id
                assert did is not None
                if event.kind == "decide" and i < first:
                    self._decision_times.append(event.created_at)
                elif event.kind == "decide":
                    if latest in records and records[latest]["reward"] is None:
                        records[latest]["superseded"] = True
                    waiting = self.pending.get(did)  # share its record: its reward updates it
                    records[did] = (
                        waiting.record
                        if waiting is not None
                        else {
                            **_record_of({**data, "decision_id": did, "cycle": cycles[i]}),
                            "created_at": event.created_at,
                        }
                    )
                    latest = did
                    self._decision_times.append(event.created_at)
                else:
                    assert event.reward is not None
                    if did in records:
                        records[did].update(
                            reward=event.reward,
                            source=data["source"],
                            td_error=data["td_error"],
                            rewarded_at=event.created_at,
                        )
                    self._reward_window.append(event.reward)
            self.recent.extend(records.values())

    def replay(
        self,
        seq: int,
        kind: str,
        decision_id: str | None,
        reward: float | None,
        payload: str,
        created_at: float,
    ) -> None:
        """Apply one logged event again (after :meth:`restore`), in ``seq`` order."""
        data = json.loads(payload)
        if kind == "decide":
            if data["observation"] is not None:
                self.krystal.observe(data["observation"])
            action = self.krystal.decide()
            if _canonical(action) != _canonical(data["action"]):
                logger.warning(
                    "agent %r: replaying event %d gave action %r, the log says %r",
                    self.name,
                    seq,
                    action,
                    data["action"],
                )
            assert decision_id is not None
            response = self._decision_response(decision_id, action, created_at)
            self._record_decision(decision_id, action, created_at, response)
        elif kind == "reward":
            assert decision_id is not None and reward is not None
            waiting = self.pending.pop(decision_id, None)
            if data["learned"]:
                self.krystal.reward(reward)
                self.latest = None
            self._count_reward(
                decision_id,
                waiting,
                reward,
                data["source"],
                data["learned"],
                data["td_error"],
                created_at,
            )
        elif kind == "observe":
            self.krystal.observe(data["observation"])
        elif kind == "reset":
            self.krystal = new_krystal(self.spec)
            self.latest = None
        self.seq = seq

    # -- monitoring ----------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """Name, spec, phase, cycle, counters, recent mean reward and decision rate."""
        with self.lock:
            k = self.krystal
            now = time.time()
            recent = [t for t in self._decision_times if t >= now - _RATE_WINDOW]
            window = list(self._reward_window)
            return {
                "name": self.name,
                "preset": self.spec["preset"],
                "space": self.spec["space"],
                "config": self.spec["config"],
                "created_at": self.created_at,
                "phase": k.get_phase(),
                "cycle": k.cycle,
                "total_reward": k.total_reward,
                "decisions": self.decisions,
                "rewards": self.rewards,
                "default_rewards": self.default_rewards,
                "pending": len(self.pending),
                "mean_reward": self.reward_sum / self.rewards if self.rewards else None,
                "recent_mean_reward": sum(window) / len(window) if window else None,
                "decision_rate": len(recent) / _RATE_WINDOW,
            }

    def recent_decisions(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest decisions, newest first, each with its reward once it has one."""
        with self.lock:
            items = list(self.recent)[-limit:] if limit > 0 else []
        return [dict(item) for item in reversed(items)]

    def metrics(self) -> dict[str, Any]:
        """The learner's own signals (:meth:`krystal.Krystal.get_metrics`) and its phase."""
        with self.lock:
            out = self.krystal.get_metrics()
            out["phase"] = self.krystal.get_phase()
            out["phase_history"] = self.krystal.phase_history
            return out

    # -- helpers (lock held) ---------------------------------------------------------

    def _decision_response(self, did: str, action: Any, now: float) -> dict[str, Any]:
        return {
            "agent": self.name,
            "decision_id": did,
            "action": action,
            "phase": self.krystal.get_phase(),
            "cycle": self.krystal.cycle,
            "created_at": now,
        }

    def _record_decision(self, did: str, action: Any, now: float, response: dict[str, Any]) -> None:
        if self.latest is not None and self.latest in self.pending:
            self.pending[self.latest].record["superseded"] = True
        self.latest = did
        record = {**_record_of(response), "created_at": now}
        self.pending[did] = _Pending(now, response, record)
        self.recent.append(record)
        self.decisions += 1
        self._decision_times.append(now)

    def _apply_reward(
        self,
        did: str,
        waiting: _Pending,
        reward: float,
        source: str,
        submit: Submit,
        now: float | None,
    ) -> tuple[dict[str, Any], Future[None]]:
        now = time.time() if now is None else now
        learned = did == self.latest
        td_error = self.krystal.reward(reward) if learned else None
        if learned:
            self.latest = None
        row = self._event(
            "reward", now, did, reward, {"source": source, "learned": learned, "td_error": td_error}
        )
        future = submit([row])
        self._count_reward(did, waiting, reward, source, learned, td_error, now)
        return {
            "agent": self.name,
            "decision_id": did,
            "reward": reward,
            "duplicate": False,
            "learned": learned,
            "td_error": td_error,
            "cycle": self.krystal.cycle,
        }, future

    def _count_reward(
        self,
        did: str,
        waiting: _Pending | None,
        reward: float,
        source: str,
        learned: bool,
        td_error: float | None,
        now: float,
    ) -> None:
        if waiting is not None:
            waiting.record.update(
                {"reward": reward, "source": source, "td_error": td_error, "rewarded_at": now}
            )
        self.rewards += 1
        self.default_rewards += source == "default"
        self.reward_sum += reward
        self._reward_window.append(reward)
        self.settled[did] = (reward, source, learned, td_error)
        if len(self.settled) > SETTLED_CACHE:
            self.settled.popitem(last=False)

    def _event(
        self, kind: str, now: float, did: str | None, reward: float | None, payload: dict[str, Any]
    ) -> Write:
        if self.deleted:  # a request that raced the delete: log nothing for a deleted agent
            raise NotFoundError(f"agent: {self.name!r} has been deleted")
        if self.retired:  # one that raced a reload: its successor takes the requests
            raise UnavailableError(f"agent {self.name!r}: being reloaded; retry")
        self.seq += 1
        return Write(
            "event",
            {
                "agent_id": self.id,
                "seq": self.seq,
                "kind": kind,
                "decision_id": did,
                "reward": reward,
                "payload": _ENCODE_PAYLOAD(payload),
                "created_at": now,
            },
        )


# Decision ids: a random prefix per process and a counter. Unique across restarts without
# a system call per decision (os.urandom costs milliseconds on some sandboxed kernels);
# they are not secrets: keys guard who may reward.
_ID_PREFIX = secrets.token_hex(8)
_id_counter = itertools.count()


def _new_decision_id() -> str:
    return f"{_ID_PREFIX}{next(_id_counter):08x}"


def _record_of(response: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "decision_id": response["decision_id"],
        "action": response["action"],
        "phase": response["phase"],
        "cycle": response["cycle"],
        "reward": None,
        "source": None,
        "td_error": None,
        "rewarded_at": None,
        "superseded": False,
    }


def _canonical(action: Any) -> str:
    return json.dumps(action, sort_keys=True)


def _finite(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{name}: expected a finite number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise InputError(f"{name}: expected a finite number, got {number!r}")
    return number


def scratch_folder() -> str:
    """A private temporary folder for checkpoint files on their way to the database."""
    return tempfile.mkdtemp(prefix="krystal-ckpt-")
