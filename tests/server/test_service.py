"""The service layer in-process: decisions, rewards, expiry, restore after a crash."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import pytest

from krystal import InputError, Krystal, KrystalConfig
from krystal._errors import CallOrderError
from krystal.server import ConflictError, NotFoundError, ServerSettings, Service


def _service(tmp_path: Path, **options: object) -> Service:
    service = Service(ServerSettings(db=f"sqlite:///{tmp_path / 'k.db'}", **options))  # type: ignore[arg-type]
    service.start()
    return service


def _crash(service: Service) -> None:
    """Stop the way a killed process does: commit nothing more, checkpoint nothing, and
    let go of the database's lease (the operating system drops a dead process's lock)."""
    service._stop.set()
    assert service.writer is not None and service.storage is not None
    service.writer.close()
    assert service._lease is not None
    service._lease.release()
    service.storage.close()


def _observation(rng: random.Random) -> dict[str, float]:
    return {"load": rng.random(), "latency": 50 + 100 * rng.random()}


def test_hosted_agent_decides_like_a_local_one_across_a_crash(tmp_path: Path) -> None:
    space = {"replicas": {"type": "int", "low": 1, "high": 8}, "cache": {"type": "bool"}}
    service = _service(tmp_path, checkpoint_interval=3600)
    summary, done = service.create_agent("twin", space=space, config={"seed": 11})
    done.result(10)
    local = Krystal(KrystalConfig.from_dict(summary["config"]), space=summary["space"])
    rng = random.Random(3)
    for step in range(30):
        if step == 10:  # a periodic checkpoint (nothing is waiting for a reward now)
            service.upkeep(now=time.time() + 7200)
            assert service.agent("twin").checkpoint_seq == service.agent("twin").seq
        if step == 20:  # crash: restored from the step-10 checkpoint plus 10 replayed steps
            _crash(service)
            service = _service(tmp_path, checkpoint_interval=3600)
            restored = service.agent("twin")
            assert (restored.checkpoint_seq, restored.seq, restored.krystal.cycle) == (19, 39, 20)
        observation = _observation(rng)
        decision, done = service.decide("twin", observation)
        done.result(10)
        assert decision["action"] == local.observe(observation).decide()
        reward = rng.random()
        answer, done = service.reward("twin", decision["decision_id"], reward)
        done.result(10)
        assert answer["td_error"] == pytest.approx(local.reward(reward), abs=1e-12)
    assert service.agent("twin").krystal.cycle == local.cycle == 30
    service.stop()
    # A clean stop checkpoints: nothing is left to replay and the state is the same.
    service = _service(tmp_path)
    agent = service.agent("twin")
    assert agent.checkpoint_seq == agent.seq and agent.krystal.cycle == 30
    assert agent.krystal.total_reward == pytest.approx(local.total_reward)
    service.stop()


def test_duplicates_conflicts_and_unknown_ids(tmp_path: Path) -> None:
    service = _service(tmp_path)
    decision, _ = service.decide("default", {"x": 1.0})
    did = decision["decision_id"]
    first, done = service.reward("default", did, 0.5)
    done.result(10)
    again, _ = service.reward("default", did, 0.5)
    assert again["duplicate"] and again["td_error"] == first["td_error"]
    assert service.agent("default").krystal.cycle == 1
    with pytest.raises(ConflictError, match=r"already rewarded with 0\.5; got 0\.7"):
        service.reward("default", did, 0.7)
    with pytest.raises(NotFoundError, match="unknown id"):
        service.reward("default", "never-issued", 0.5)
    with pytest.raises(NotFoundError, match="no agent named 'ghost'"):
        service.decide("ghost", {"x": 1.0})
    # Duplicates are answered from the event log once the memory has forgotten them.
    service.agent("default").settled.clear()
    from_log, _ = service.reward("default", did, 0.5)
    assert from_log["duplicate"] and from_log["td_error"] == first["td_error"]
    service.stop()


def test_bad_input_changes_nothing(tmp_path: Path) -> None:
    service = _service(tmp_path)
    agent = service.agent("default")
    with pytest.raises(CallOrderError, match="observe"):
        service.decide("default", None)
    seq = agent.seq
    with pytest.raises(InputError, match="x: expected a finite number"):
        service.decide("default", {"x": float("nan")})
    decision, _ = service.decide("default", {"x": 1.0})
    with pytest.raises(InputError, match="reward: expected a finite number"):
        service.reward("default", decision["decision_id"], float("inf"))
    assert agent.seq == seq + 1 and decision["decision_id"] in agent.pending
    with pytest.raises(InputError, match="decision_id: expected 8-64"):
        service.decide("default", {"x": 1.0}, "bad id!")
    with pytest.raises(InputError, match="auto_reward"):
        service.create_agent("auto", config={"auto_reward": True})
    with pytest.raises(InputError, match=r"= 512 is more than .* backend python \(256 \(512 with"):
        service.create_agent("huge", config={"state_dim": 64, "action_dim": 8, "backend": "python"})
    with pytest.raises(InputError, match=r"= 1024 is more than .* backend numpy \(512\)"):
        service.create_agent("huger", config={"state_dim": 64, "action_dim": 16})
    with pytest.raises(InputError, match="name: expected 1-64"):
        service.create_agent("no spaces")
    with pytest.raises(ConflictError, match="already exists"):
        service.create_agent("default")
    service.stop()


def test_a_retried_decide_returns_the_same_decision(tmp_path: Path) -> None:
    service = _service(tmp_path)
    first, _ = service.decide("default", {"x": 1.0}, "retry-me-123")
    second, _ = service.decide("default", {"x": 1.0}, "retry-me-123")
    assert first == second and service.agent("default").decisions == 1
    service.reward("default", "retry-me-123", 1.0)[1].result(10)  # type: ignore[union-attr]
    with pytest.raises(ConflictError, match="already used"):
        service.decide("default", {"x": 1.0}, "retry-me-123")
    service.stop()


def test_a_superseded_decision_is_recorded_but_not_learned(tmp_path: Path) -> None:
    service = _service(tmp_path)
    older, _ = service.decide("default", {"x": 1.0})
    newer, _ = service.decide("default", {"x": 2.0})
    late, _ = service.reward("default", older["decision_id"], 0.2)
    current, done = service.reward("default", newer["decision_id"], 0.9)
    done.result(10)
    assert (late["learned"], late["td_error"]) == (False, None)
    assert current["learned"] and current["td_error"] is not None
    agent = service.agent("default")
    assert agent.krystal.cycle == 1 and agent.rewards == 2
    records = {r["decision_id"]: r for r in agent.recent_decisions()}
    assert records[older["decision_id"]]["superseded"] is True
    assert records[newer["decision_id"]]["reward"] == 0.9
    service.stop()


def test_unrewarded_decisions_get_the_default_reward_after_the_wait(tmp_path: Path) -> None:
    service = _service(tmp_path, reward_wait=5.0, default_reward=-0.25)
    decision, _ = service.decide("default", {"x": 1.0})
    service.upkeep(now=decision["created_at"] + 4.0)
    assert decision["decision_id"] in service.agent("default").pending
    service.upkeep(now=decision["created_at"] + 5.0)
    agent = service.agent("default")
    assert agent.pending == {} and agent.default_rewards == 1
    assert agent.krystal.cycle == 1 and agent.krystal.total_reward == -0.25
    with pytest.raises(NotFoundError, match="expired"):
        service.reward("default", decision["decision_id"], -0.25)
    service.stop()
    assert service.storage is not None
    restarted = _service(tmp_path)
    assert restarted.agent("default").default_rewards == 1
    with pytest.raises(NotFoundError, match="expired"):  # from the log after a restart
        restarted.reward("default", decision["decision_id"], 1.0)
    restarted.stop()


def test_pending_decisions_survive_a_restart(tmp_path: Path) -> None:
    service = _service(tmp_path)
    decision, done = service.decide("default", {"x": 1.0})
    done.result(10)
    _crash(service)
    service = _service(tmp_path)
    answer, done = service.reward("default", decision["decision_id"], 1.0)
    done.result(10)
    assert answer["learned"] and service.agent("default").krystal.cycle == 1
    service.stop()


def test_keys_cannot_grant_more_than_the_caller_has(tmp_path: Path) -> None:
    service = _service(tmp_path)
    key, token = service.create_key("ops", "admin", by_role="admin")
    assert service.authenticate(token) == key
    with pytest.raises(InputError, match="a admin key cannot create a superadmin key"):
        service.create_key("root", "superadmin", by_role="admin")
    boss, _ = service.create_key("boss", "superadmin", by_role="superadmin")
    with pytest.raises(InputError, match="cannot revoke"):
        service.revoke_key(boss.id, by_role="admin")
    service.revoke_key(key.id, by_role="admin")
    assert service.authenticate(token) is None  # at once, not after the cache expires
    service.stop()


def test_a_deleted_agent_logs_nothing_more(tmp_path: Path) -> None:
    service = _service(tmp_path)
    service.create_agent("gone")[1].result(10)  # type: ignore[union-attr]
    held = service.agent("gone")  # a request that looked the agent up before the delete
    decision, done = held.decide({"x": 1.0}, None, service._submit)
    done.result(10)
    service.delete_agent("gone")[1].result(10)  # type: ignore[union-attr]
    with pytest.raises(NotFoundError, match="has been deleted"):
        held.reward(decision["decision_id"], 1.0, service._submit)
    assert service.storage is not None
    assert service.storage.count_events(held.id) == 0
    assert [a.name for a in service.storage.load_agents()] == ["default"]
    service.stop()


def test_agents_get_the_numpy_reward_model_unless_their_spec_names_one(tmp_path: Path) -> None:
    pytest.importorskip("numpy")
    service = _service(tmp_path)
    assert service.agent("default").spec["config"]["backend"] == "numpy"
    summary, done = service.create_agent("plain", config={"backend": "python", "seed": 1})
    done.result(10)
    assert summary["config"]["backend"] == "python"
    decision, done = service.decide("plain", {"x": 1.0})
    answer, done = service.reward("plain", decision["decision_id"], 0.5)
    assert done is not None
    done.result(10)
    # a repeat is answered from memory and waits for nothing already committed
    again, waits = service.reward("plain", decision["decision_id"], 0.5)
    assert again["duplicate"] is True and again["td_error"] == answer["td_error"]
    assert waits is None
    service.stop()


def test_the_monitoring_history_survives_a_restart(tmp_path: Path) -> None:
    """Recent decisions, the reward window and the decision rate carry on after a crash,
    also for the decisions the checkpoint holds (those are not replayed)."""
    options = {"checkpoint_interval": 3600, "reward_wait": 36000}
    service = _service(tmp_path, **options)
    rng = random.Random(8)
    superseded = []
    for step in range(40):
        if step == 12:
            service.reset("default")[1].result(10)
        if step == 30:  # a checkpoint: steps 0-29 are restored from it, not replayed
            service.upkeep(now=time.time() + 7200)
        decision, _ = service.decide("default", _observation(rng))
        if step % 7 == 3:
            superseded.append(decision["decision_id"])  # the next decision supersedes it
        else:
            service.reward("default", decision["decision_id"], rng.random())
    service.reward("default", superseded[3], 0.25)  # step 24's, late: stored, not learned
    service.decide("default", _observation(rng))[1].result(10)  # left waiting
    before = service.agent("default")
    history, summary = before.recent_decisions(256), before.summary()
    assert len(history) == 41 and history[0]["reward"] is None
    _crash(service)

    service = _service(tmp_path, **options)
    after = service.agent("default")
    assert after.checkpoint_seq < after.seq  # some were replayed, the rest remembered
    # everything since the reset is back as it was (a decision before it has no known
    # cycle), superseded flags and late rewards included
    restored = after.recent_decisions(256)
    assert restored == history[:29]
    assert [r["superseded"] for r in restored].count(True) == 4
    assert next(r for r in restored if r["decision_id"] == superseded[3])["reward"] == 0.25
    again = after.summary()
    assert again["recent_mean_reward"] == pytest.approx(summary["recent_mean_reward"])
    assert again["decision_rate"] == summary["decision_rate"] > 0
    # the decision waiting for a reward shares its record: rewarding it shows up
    service.reward("default", restored[0]["decision_id"], 0.5)[1].result(10)  # type: ignore[union-attr]
    assert after.recent_decisions(1)[0]["reward"] == 0.5
    service.stop()


def test_a_decide_retried_after_a_restart_returns_the_same_decision(tmp_path: Path) -> None:
    service = _service(tmp_path)
    first, done = service.decide("default", {"x": 1.0}, "before-restart-1")
    done.result(10)
    _crash(service)
    service = _service(tmp_path)  # the decision is restored, still waiting for its reward
    again, _ = service.decide("default", {"x": 1.0}, "before-restart-1")
    assert again == first and service.agent("default").decisions == 1
    service.stop()


def test_the_app_makes_full_collections_rarer_while_it_runs_and_restores_them(
    tmp_path: Path,
) -> None:
    import gc

    from fastapi.testclient import TestClient

    from krystal.server import create_app

    before = gc.get_threshold()
    gc.unfreeze()
    app = create_app(ServerSettings(db=f"sqlite:///{tmp_path / 'gc.db'}"))
    with TestClient(app) as http:
        assert http.get("/health").status_code == 200
        running = gc.get_threshold()
        assert running[:2] == before[:2] and running[2] > before[2]
        assert gc.get_freeze_count() > 0  # start-up's objects are out of the collector's sight
    # an app embedded in a bigger program leaves no trace: thresholds as they were, and
    # what it froze is collectable again (an app started and stopped many times would
    # otherwise keep every one of them for good)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def _lost_and_fine(tmp_path: Path) -> tuple[Service, dict[str, Any], random.Random]:
    """A service with agents "lost" and "fine", and a stored decision of "lost"."""
    service = _service(tmp_path, checkpoint_interval=3600)
    for name in ("lost", "fine"):
        service.create_agent(name, config={"seed": 1})[1].result(10)
    rng = random.Random(0)
    decision, done = service.decide("lost", _observation(rng))
    done.result(10)
    return service, decision, rng


def test_an_agent_whose_change_was_not_stored_refuses_changes_until_it_is_reloaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from krystal.server import UnavailableError

    service, decision, rng = _lost_and_fine(tmp_path)
    assert service.storage is not None
    apply = service.storage.apply

    def refuse_once(writes: list[object]) -> None:  # the database refuses this one batch
        monkeypatch.setattr(service.storage, "apply", apply)
        raise RuntimeError("disk full")

    monkeypatch.setattr(service.storage, "apply", refuse_once)
    _, done = service.reward("lost", decision["decision_id"], 0.5)
    with pytest.raises(RuntimeError, match="disk full"):
        done.result(10)
    assert service.agent("lost").krystal.cycle == 1  # learned in memory, not stored
    # A retry must not be acknowledged from memory, nor may anything else change it.
    with pytest.raises(UnavailableError, match="could not be stored"):
        service.reward("lost", decision["decision_id"], 0.5)
    with pytest.raises(UnavailableError, match="reloaded from the database"):
        service.decide("lost", _observation(rng))
    _, done = service.decide("fine", _observation(rng))  # the other agent goes on
    done.result(10)
    assert "lost" in (service.check_database() or "")
    before = service.agent("lost")
    service.upkeep()  # reloads it from what the database holds
    reloaded = service.agent("lost")
    assert reloaded is not before and before.retired
    assert reloaded.krystal.cycle == 0 and decision["decision_id"] in reloaded.pending
    assert service.check_database() is None
    answer, done = service.reward("lost", decision["decision_id"], 0.5)  # the retry, now
    done.result(10)
    assert answer["cycle"] == 1
    service.stop()
    service = _service(tmp_path)  # and it is in the database
    assert service.agent("lost").krystal.cycle == 1
    service.stop()


def test_a_repeat_that_passed_the_check_before_a_failure_was_noted_is_not_acknowledged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from krystal.server import UnavailableError

    service, decision, rng = _lost_and_fine(tmp_path)
    assert service.storage is not None
    apply, entered, release = service.storage.apply, threading.Event(), threading.Event()

    def slow_failure(writes: list[object]) -> None:  # the reward's commit waits, then fails
        monkeypatch.setattr(service.storage, "apply", apply)
        entered.set()
        release.wait(30)
        raise RuntimeError("connection lost")

    monkeypatch.setattr(service.storage, "apply", slow_failure)
    _, rewarded = service.reward("lost", decision["decision_id"], 0.5)
    assert entered.wait(10)
    # While that commit is under way nothing has failed yet: another agent's decision
    # queues behind it, and a retry of the reward passes the check and waits for
    # everything before it (that decision's batch, which will be committed).
    _, other = service.decide("fine", _observation(rng))
    _, repeated = service.reward("lost", decision["decision_id"], 0.5)
    release.set()
    with pytest.raises(RuntimeError, match="connection lost"):
        rewarded.result(10)
    other.result(10)
    with pytest.raises(UnavailableError, match="could not be stored"):
        repeated.result(10)  # acknowledging it would claim a reward the database lacks
    lost = service.agent("lost")
    assert service.storage.count_events(lost.id) == 1  # only the first decision
    service.upkeep()  # reloaded: the reward is waiting again, and is stored once retried
    answer, done = service.reward("lost", decision["decision_id"], 0.5)
    done.result(10)
    assert answer["duplicate"] is False and answer["cycle"] == 1
    service.stop()
    service = _service(tmp_path)
    assert service.storage is not None
    kinds = [e.kind for e in service.storage.events_after(lost.id, -1)]
    assert kinds == ["decide", "reward"]
    service.stop()


def test_a_second_service_on_the_same_database_is_refused(tmp_path: Path) -> None:
    from krystal.storage import DatabaseInUseError

    first = _service(tmp_path)
    decision, done = first.decide("default", {"load": 0.5})
    done.result(10)
    second = Service(ServerSettings(db=f"sqlite:///{tmp_path / 'k.db'}"))
    # both would host every agent, each numbering its events on its own
    with pytest.raises(DatabaseInUseError, match="already being served by process"):
        second.start()
    answer, done = first.reward("default", decision["decision_id"], 1.0)  # untouched
    done.result(10)
    assert answer["learned"] is True
    first.stop()
    second.start()  # once the first has stopped, the database is free
    assert second.agent("default").krystal.cycle == 1
    second.stop()
