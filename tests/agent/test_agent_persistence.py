"""Saving and loading agents: round trip, strict reader, atomic writer."""

import json
import os
from pathlib import Path
from typing import Any

import pytest

from krystal import Krystal, KrystalConfig, StateFileError
from krystal.agent import _state_file

SPACE = {
    "replicas": {"type": "int", "low": 1, "high": 8},
    "mode": {"type": "choice", "options": ["eco", "fast"]},
    "ratio": {"type": "float", "low": 0.01, "high": 10.0, "log": True},
}


def trained(steps: int = 25, seed: int = 5) -> Krystal:
    k = Krystal(KrystalConfig(seed=seed, state_dim=3, horizon=2), space=SPACE)
    for t in range(steps):
        k.observe({"cpu": float(t % 5), "rps": 100.0 + t}).decide()
        k.reward(0.05 * (t % 7))
    return k


def fingerprint(k: Krystal) -> str:
    return json.dumps(
        {
            "config": k.config.to_dict(),
            "space": None if k.space is None else k.space.to_spec(),
            "metrics": k._metric_names,
            "learner": k._learner.get_state(),
            "pid": k._pid.get_state(),
            "agent": [k._pending, k._last_action, k._missing_total],
        },
        sort_keys=True,
    )


def future(k: Krystal, steps: int = 10) -> list[Any]:
    out = []
    for t in range(steps):
        action = k.observe({"cpu": 2.0 + t, "rps": 90.0}).decide()
        out.append((action, k.reward(0.3 - 0.01 * t), k.control(1.0, 0.5 * t)))
    return out


def test_round_trip_restores_everything(tmp_path: Path) -> None:
    k = trained()
    k.control(5.0, 3.0)
    path = tmp_path / "agent.json"
    k.save(path)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["format"] == "krystal-agent"
    assert document["version"] == 1
    assert document["metrics"] == ["cpu", "rps"]
    assert document["space"] == Krystal(space=SPACE).space.to_spec()  # type: ignore[union-attr]
    twin = Krystal.from_file(path)
    assert fingerprint(twin) == fingerprint(k)
    assert twin.cycle == k.cycle and twin.total_reward == k.total_reward
    assert twin.phase_history == k.phase_history
    assert future(twin) == future(k)


def test_save_between_decide_and_reward(tmp_path: Path) -> None:
    k = trained()
    action = k.observe({"cpu": 1.0, "rps": 95.0}).decide()
    k.save(tmp_path / "a.json")
    twin = Krystal().load(tmp_path / "a.json")
    assert twin.last_action == action
    assert twin.reward(0.7) == k.reward(0.7)
    assert future(twin) == future(k)


def test_load_replaces_config_but_keeps_reward_fn(tmp_path: Path) -> None:
    trained().save(tmp_path / "a.json")
    calls: list[dict[str, float]] = []
    target = Krystal(
        KrystalConfig(seed=1, action_dim=1), reward_fn=lambda v: calls.append(v) or 0.0
    )
    assert target.load(tmp_path / "a.json") is target
    assert target.config.horizon == 2 and target.config.action_dim == 3
    assert target._reward_fn is not None


def test_save_to_a_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    k = trained(steps=3)
    k.save("agent.json")
    assert fingerprint(Krystal.from_file("agent.json")) == fingerprint(k)
    assert sorted(os.listdir(tmp_path)) == ["agent.json"]


# -- load failures leave the agent unchanged --------------------------------------------


def _valid_document(tmp_path: Path) -> dict[str, Any]:
    trained(steps=6, seed=9).save(tmp_path / "valid.json")
    return json.loads((tmp_path / "valid.json").read_text(encoding="utf-8"))


def _other_dims_learner(tmp_path: Path) -> Any:
    other = Krystal(KrystalConfig(seed=1, state_dim=5, action_dim=1))
    other.observe({"x": 1.0}).decide()
    other.reward(1.0)
    other.save(tmp_path / "other.json")
    return json.loads((tmp_path / "other.json").read_text(encoding="utf-8"))["learner"]


def _edit(key: str, value: Any) -> Any:
    def apply(document: dict[str, Any], tmp_path: Path) -> str:
        document[key] = value(tmp_path) if callable(value) else value
        return json.dumps(document)

    return apply


def _drop(key: str) -> Any:
    def apply(document: dict[str, Any], tmp_path: Path) -> str:
        del document[key]
        return json.dumps(document)

    return apply


def _truncate(document: dict[str, Any], tmp_path: Path) -> str:
    text = json.dumps(document)
    return text[: len(text) // 2]


def _learner_edit(key: str, value: Any) -> Any:
    def apply(document: dict[str, Any], tmp_path: Path) -> str:
        document["learner"][key] = value
        return json.dumps(document)

    return apply


BROKEN = {
    "corrupt json": lambda d, p: "{not json at all",
    "truncated": _truncate,
    "empty file": lambda d, p: "",
    "json array": lambda d, p: "[1, 2, 3]",
    "version 99": _edit("version", 99),
    "no version": _drop("version"),
    "wrong format tag": _edit("format", "someone-else"),
    "missing config": _drop("config"),
    "missing space": _drop("space"),
    "missing metrics": _drop("metrics"),
    "missing learner": _drop("learner"),
    "missing agent": _drop("agent"),
    "learner is a string": _edit("learner", "garbage"),
    "learner is empty": _edit("learner", {}),
    "learner is a list": _edit("learner", [1, 2]),
    "learner rng garbage": _learner_edit("rng", "xyz"),
    "learner policy missing": _learner_edit("policy", None),
    "learner phase unknown": _learner_edit(
        "phase", {"phase": "STEAM", "temperature": 0.1, "history": [], "steps": 0}
    ),
    "learner of other dims": _edit("learner", _other_dims_learner),
    "config unknown key": _edit("config", {"state_dims": 3}),
    "config bad value": _edit("config", {"learning_rate": 5.0}),
    "space garbage": _edit("space", {"x": {"type": "complex"}}),
    "agent section garbage": _edit("agent", {"pid": "nope"}),
}


@pytest.mark.parametrize("damage", list(BROKEN.values()), ids=list(BROKEN))
def test_failed_load_raises_state_file_error_and_changes_nothing(
    tmp_path: Path, damage: Any
) -> None:
    path = tmp_path / "broken.json"
    path.write_text(damage(_valid_document(tmp_path), tmp_path), encoding="utf-8")
    k, twin = trained(), trained()
    before = fingerprint(k)
    with pytest.raises(StateFileError, match=r"broken.json"):
        k.load(path)
    assert fingerprint(k) == before
    assert future(k) == future(twin)


def test_missing_file_unreadable_file_and_directory(tmp_path: Path) -> None:
    k = trained(steps=3)
    before = fingerprint(k)
    with pytest.raises(StateFileError, match="no such agent file"):
        k.load(tmp_path / "absent.json")
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(StateFileError, match="cannot read"):
        k.load(tmp_path / "binary.json")
    with pytest.raises(StateFileError, match="cannot read"):
        k.load(tmp_path)
    with pytest.raises(StateFileError):
        Krystal.from_file(tmp_path / "absent.json")
    assert fingerprint(k) == before


def test_truncated_real_save_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "agent.json"
    trained().save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(StateFileError, match="corrupt or truncated"):
        Krystal.from_file(path)


def test_foreign_version_message_names_the_version(tmp_path: Path) -> None:
    path = tmp_path / "agent.json"
    trained(steps=2).save(path)
    document = json.loads(path.read_text(encoding="utf-8"))
    document["version"] = 99
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(StateFileError, match="version 99 is not supported"):
        Krystal.from_file(path)


# -- atomic write ----------------------------------------------------------------------


def test_save_over_an_existing_file_replaces_it(tmp_path: Path) -> None:
    path = tmp_path / "agent.json"
    first = trained(steps=2)
    first.save(path)
    second = trained(steps=9)
    second.save(path)
    assert fingerprint(Krystal.from_file(path)) == fingerprint(second)
    assert os.listdir(tmp_path) == ["agent.json"]


@pytest.mark.parametrize(
    ("target", "error"),
    [("replace", OSError("disk on fire")), ("fsync", KeyboardInterrupt())],
)
def test_failed_write_keeps_the_old_file_and_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str, error: BaseException
) -> None:
    path = tmp_path / "agent.json"
    old = trained(steps=2)
    old.save(path)
    old_bytes = path.read_bytes()

    def boom(*args: Any, **kwargs: Any) -> None:
        raise error

    monkeypatch.setattr(_state_file.os, target, boom)
    with pytest.raises(type(error)):
        trained(steps=9).save(path)
    monkeypatch.undo()
    assert path.read_bytes() == old_bytes
    assert os.listdir(tmp_path) == ["agent.json"]
    assert fingerprint(Krystal.from_file(path)) == fingerprint(old)


def test_failed_first_write_creates_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: Any, **kwargs: Any) -> None:
        raise OSError("no")

    monkeypatch.setattr(_state_file.os, "replace", boom)
    with pytest.raises(OSError):
        trained(steps=1).save(tmp_path / "agent.json")
    assert os.listdir(tmp_path) == []


def test_unseeded_agents_draw_their_own_seed_and_keep_it_through_save(tmp_path) -> None:
    from krystal import Krystal, KrystalConfig

    first, second = Krystal(KrystalConfig(action_dim=2)), Krystal(KrystalConfig(action_dim=2))
    assert first.seed != second.seed
    obs = {"load": 1.0}
    first.observe(obs).decide()
    first.reward(0.5)
    path = tmp_path / "unseeded.json"
    first.save(path)
    twin = Krystal.from_file(path)
    assert twin.seed == first.seed
    for step in range(10):
        assert (
            twin.observe({"load": float(step)}).decide()
            == first.observe({"load": float(step)}).decide()
        )
        twin.reward(0.1)
        first.reward(0.1)
