"""optimize(), control() and decide(objective=...)."""

import json
import math
from typing import Any

import pytest

from krystal import InputError, Krystal, KrystalConfig

SPACE = {
    "threads": {"type": "int", "low": 1, "high": 32},
    "ratio": {"type": "float", "low": 0.0, "high": 2.0},
    "mode": {"type": "choice", "options": ["slow", "medium", "fast"]},
    "cache": {"type": "bool"},
}


def named_score(a: dict[str, Any]) -> float:
    return (
        -((a["threads"] - 12) ** 2) / 100.0
        - (a["ratio"] - 1.3) ** 2
        + (0.5 if a["mode"] == "medium" else 0.0)
        + (0.2 if a["cache"] else 0.0)
    )


def state(k: Krystal) -> str:
    return json.dumps([k._learner.get_state(), k._pending, k._last_action], sort_keys=True)


# -- optimize --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2])
def test_optimize_finds_the_max_of_a_quadratic(seed: int) -> None:
    k = Krystal(KrystalConfig(action_dim=3, seed=seed))
    target = [0.2, 0.75, 0.5]
    best, score = k.optimize(lambda a: -sum((x - t) ** 2 for x, t in zip(a, target)), iterations=60)
    assert isinstance(best, list) and len(best) == 3
    assert best == pytest.approx(target, abs=0.03)
    assert score == pytest.approx(-sum((x - t) ** 2 for x, t in zip(best, target)))
    assert score > -1e-3


def test_optimize_on_a_named_space_returns_typed_values() -> None:
    k = Krystal(KrystalConfig(seed=3), space=SPACE)
    best, score = k.optimize(named_score, iterations=60)
    assert isinstance(best, dict)
    k.space.check(best)  # type: ignore[union-attr]
    assert type(best["threads"]) is int and type(best["cache"]) is bool
    assert best["mode"] == "medium" and best["cache"] is True
    assert abs(best["threads"] - 12) <= 2
    assert best["ratio"] == pytest.approx(1.3, abs=0.1)
    assert score == named_score(best)


def test_optimize_sees_only_legal_actions() -> None:
    k = Krystal(KrystalConfig(seed=3), space=SPACE)
    seen = []

    def objective(a: dict[str, Any]) -> float:
        k.space.check(a)  # type: ignore[union-attr]
        seen.append(a)
        return 0.0

    k.optimize(objective, iterations=3)
    assert len(seen) == 3 * k.config.swarm_particles


@pytest.mark.parametrize("bad", [math.nan, math.inf, "0.5", None, True])
def test_optimize_rejects_a_bad_objective_value(bad: Any) -> None:
    k = Krystal(KrystalConfig(action_dim=2, seed=0))
    with pytest.raises(InputError, match=r"^objective: expected a finite number"):
        k.optimize(lambda a: bad)


@pytest.mark.parametrize("iterations", [0, -1, 2.5, True, "10", None])
def test_optimize_rejects_bad_iterations(iterations: Any) -> None:
    k = Krystal(KrystalConfig(action_dim=2, seed=0))
    with pytest.raises(InputError, match=r"^iterations: expected a positive integer"):
        k.optimize(lambda a: 0.0, iterations=iterations)


def test_optimize_rejects_a_non_callable() -> None:
    with pytest.raises(InputError, match=r"^objective: expected a callable"):
        Krystal().optimize(42)  # type: ignore[arg-type]


def test_refused_optimize_changes_nothing() -> None:
    k = Krystal(KrystalConfig(action_dim=2, seed=0))
    k.observe({"a": 1.0})
    before = state(k)
    with pytest.raises(InputError):
        k.optimize(lambda a: math.nan)
    assert state(k) == before


def test_optimize_does_not_disturb_the_learners_decisions() -> None:
    busy = Krystal(KrystalConfig(action_dim=2, seed=6))
    quiet = Krystal(KrystalConfig(action_dim=2, seed=6))
    for t in range(8):
        if t % 3 == 0:
            busy.optimize(lambda a: -abs(a[0] - 0.5), iterations=2)
        assert busy.observe({"x": float(t)}).decide() == quiet.observe({"x": float(t)}).decide()
        busy.reward(0.1 * t)
        quiet.reward(0.1 * t)


def test_optimize_is_reproducible_across_agents_and_save_load(tmp_path: Any) -> None:
    def objective(a: list[float]) -> float:
        return -((a[0] - 0.3) ** 2) - (a[1] - 0.6) ** 2

    one = Krystal(KrystalConfig(action_dim=2, seed=8))
    two = Krystal(KrystalConfig(action_dim=2, seed=8))
    assert one.optimize(objective, iterations=2) == two.optimize(objective, iterations=2)
    one.save(tmp_path / "agent.json")
    three = Krystal.from_file(tmp_path / "agent.json")
    expected = one.optimize(objective, iterations=2)
    assert three.optimize(objective, iterations=2) == expected
    assert two.optimize(objective, iterations=2) == expected


# -- decide(objective=...) ---------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_decide_with_objective_is_at_least_as_good_as_the_plain_proposal(seed: int) -> None:
    def objective(a: list[float]) -> float:
        return -((a[0] - 0.9) ** 2) - (a[1] - 0.1) ** 2

    with_obj = Krystal(KrystalConfig(action_dim=2, seed=seed))
    plain = Krystal(KrystalConfig(action_dim=2, seed=seed))
    for t in range(5):
        obs = {"x": float(t)}
        improved = with_obj.observe(obs).decide(objective=objective)
        proposal = plain.observe(obs).decide()
        assert objective(improved) >= objective(proposal)  # type: ignore[arg-type]
        with_obj.reward(0.1)
        plain.reward(0.1)


def test_decide_with_objective_on_a_named_space() -> None:
    k = Krystal(KrystalConfig(seed=5), space=SPACE)
    twin = Krystal(KrystalConfig(seed=5), space=SPACE)
    improved = k.observe({"x": 1.0}).decide(objective=named_score)
    proposal = twin.observe({"x": 1.0}).decide()
    k.space.check(improved)  # type: ignore[union-attr, arg-type]
    assert named_score(improved) >= named_score(proposal)  # type: ignore[arg-type]
    assert k.last_action == improved
    k.reward(named_score(improved))  # type: ignore[arg-type]
    assert k.cycle == 1


@pytest.mark.parametrize("bad", [math.nan, "good", None])
def test_decide_rejects_a_bad_objective_value(bad: Any) -> None:
    k = Krystal(KrystalConfig(action_dim=2, seed=0))
    k.observe({"x": 1.0})
    with pytest.raises(InputError, match=r"^objective: "):
        k.decide(objective=lambda a: bad)
    assert k.last_action is None


def test_refused_decide_with_objective_changes_nothing() -> None:
    k = Krystal(KrystalConfig(action_dim=2, seed=0))
    k.observe({"x": 1.0})
    before = state(k)
    with pytest.raises(InputError):
        k.decide(objective=lambda a: math.nan)
    assert state(k) == before


# -- control ---------------------------------------------------------------------------


def test_control_proportional_step() -> None:
    k = Krystal(KrystalConfig(pid_kp=0.5, pid_ki=0.0))
    assert k.control(setpoint=10.0, current=8.0) == pytest.approx(1.0)
    assert k.control(setpoint=10.0, current=12.0) == pytest.approx(-1.0)
    assert k.control(setpoint=0.0, current=0.0) == 0.0


def test_control_integrates_over_dt_and_respects_limits() -> None:
    k = Krystal(KrystalConfig(pid_kp=0.0, pid_ki=2.0, pid_output_min=-1.0, pid_output_max=3.0))
    first = k.control(1.0, 0.0, dt=0.5)
    second = k.control(1.0, 0.0, dt=0.5)
    assert second > first > 0.0
    outputs = [k.control(1.0, 0.0, dt=0.1) for _ in range(50)]
    assert max(outputs) <= 3.0
    assert outputs[-1] > 2.5  # integrated up towards the upper limit
    limited = Krystal(
        KrystalConfig(pid_kp=10.0, pid_ki=0.0, pid_output_min=-0.5, pid_output_max=2.0)
    )
    assert limited.control(5.0, 0.0) == 2.0
    assert limited.control(-5.0, 0.0) == -0.5


def test_control_settles_a_first_order_plant() -> None:
    k = Krystal(KrystalConfig(pid_kp=2.0, pid_ki=1.0))
    y = 0.0
    for _ in range(400):
        u = k.control(1.0, y, dt=0.05)
        y += 0.05 * (u - y)
    assert y == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"dt": 0.0}, "dt"),
        ({"dt": -1.0}, "dt"),
        ({"dt": math.nan}, "dt"),
        ({"dt": math.inf}, "dt"),
        ({"dt": "1"}, "dt"),
        ({"setpoint": math.nan}, "setpoint"),
        ({"current": None}, "current"),
        ({"current": True}, "current"),
    ],
)
def test_control_rejects_bad_input(kwargs: dict[str, Any], field: str) -> None:
    k = Krystal()
    args = {"setpoint": 1.0, "current": 0.0, "dt": 1.0, **kwargs}
    before = json.dumps(k._pid.get_state(), sort_keys=True)
    with pytest.raises(InputError, match=f"^{field}: expected a"):
        k.control(**args)
    assert json.dumps(k._pid.get_state(), sort_keys=True) == before
