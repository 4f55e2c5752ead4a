import json

import pytest

from krystal.kernel.learner import Learner
from krystal.kernel.rng import Rng


def quad(a: float, peak: float) -> float:
    return 1.0 - 4.0 * (a - peak) ** 2


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_learns_a_contextual_problem_and_beats_the_best_fixed_action(seed: int) -> None:
    # The best action is 0.25 in context 0 and 0.75 in context 1 (drawn at random).
    # The best fixed action, 0.5, earns 0.75 on average.
    learner = Learner(state_dim=1, action_dim=1, seed=seed, horizon=1)
    contexts = Rng(1000 + seed)
    rewards = []
    for _ in range(300):
        context = contexts.randint(0, 1)
        learner.observe([float(context)])
        a = learner.decide()[0]
        r = quad(a, 0.25 if context == 0 else 0.75)
        learner.reward(r)
        rewards.append(r)
    assert sum(rewards[-100:]) / 100 > 0.9
    learner.observe([0.0])
    assert learner.greedy()[0] == pytest.approx(0.25, abs=0.05)
    learner.observe([1.0])
    assert learner.greedy()[0] == pytest.approx(0.75, abs=0.05)


def _delayed_quality(horizon: int, seed: int, steps: int = 400) -> float:
    # The reward at step t scores the action taken at step t - 3; nothing else.
    learner = Learner(state_dim=1, action_dim=1, seed=seed, horizon=horizon)
    actions: list[float] = []
    for t in range(steps):
        learner.observe([0.0])
        actions.append(learner.decide()[0])
        learner.reward(quad(actions[t - 3], 0.7) if t >= 3 else 0.0)
    tail = actions[-100:]
    return sum(quad(a, 0.7) for a in tail) / len(tail)


def test_horizon_credits_delayed_effects() -> None:
    seeds = (0, 1, 2)
    short = sum(_delayed_quality(1, s) for s in seeds) / len(seeds)
    long = sum(_delayed_quality(4, s) for s in seeds) / len(seeds)
    # The immediate learner still drifts the right way (its actions are correlated in
    # time), but only the one that credits the delayed reward gets close to the optimum.
    assert long > 0.9
    assert long > short + 0.03


def _run_with_optional_shift(seed: int, shift: bool) -> tuple[Learner, list[float], float]:
    learner = Learner(state_dim=1, action_dim=1, seed=seed, horizon=1)
    temperatures: list[float] = []
    peak, settled_greedy = 0.2, 0.0
    for step in range(700):
        if step == 400:
            settled_greedy = learner.greedy()[0]
            if shift:
                peak = 0.8
        learner.observe([0.0])
        learner.reward(quad(learner.decide()[0], peak))
        temperatures.append(learner.phase.temperature)
    return learner, temperatures, settled_greedy


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_phase_engine_reacts_to_a_shift_and_the_learner_recovers(seed: int) -> None:
    learner, temperatures, settled_greedy = _run_with_optional_shift(seed, shift=True)
    _, calm, _ = _run_with_optional_shift(seed, shift=False)
    assert settled_greedy == pytest.approx(0.2, abs=0.05)
    assert calm[399] == temperatures[399]
    # The shift heats the learner clearly; the same run without a shift does not.
    assert max(temperatures[400:450]) > temperatures[399] + 0.15
    assert max(calm[400:450]) < calm[399] + 0.05
    learner.observe([0.0])
    assert learner.greedy()[0] == pytest.approx(0.8, abs=0.1)
    assert learner.phase.phase in ("SOLID", "LIQUID")


def test_without_phase_engine_there_is_no_heat_after_a_shift() -> None:
    learner = Learner(state_dim=1, action_dim=1, seed=0, horizon=1, enable_phase=False)
    peak, temperatures = 0.2, []
    for step in range(500):
        if step == 400:
            peak = 0.8
        learner.observe([0.0])
        learner.reward(quad(learner.decide()[0], peak))
        temperatures.append(learner.phase.temperature)
    assert max(temperatures[400:]) <= temperatures[399]


def test_decisions_are_in_the_unit_box_and_missing_values_are_accepted() -> None:
    learner = Learner(state_dim=3, action_dim=2, seed=5)
    rng = Rng(6)
    for step in range(120):
        x = [rng.gauss(), None if step % 3 == 0 else rng.uniform(0, 100), 5.0]
        learner.observe(x)
        a = learner.decide()
        assert len(a) == 2 and all(0.0 <= v <= 1.0 for v in a)
        learner.reward(rng.gauss())
    assert learner.normalizer.counts == [120, 80, 120]
    assert learner.cycle == 120


def test_reward_without_decision_is_refused() -> None:
    learner = Learner(state_dim=1, action_dim=1)
    learner.observe([1.0])
    with pytest.raises(ValueError, match="decide"):
        learner.reward(1.0)
    learner.decide()
    learner.reward(1.0)
    with pytest.raises(ValueError, match="decide"):
        learner.reward(1.0)
    assert learner.cycle == 1


def test_commit_is_what_the_model_learns_from() -> None:
    learner = Learner(state_dim=1, action_dim=1, seed=0, horizon=1)
    learner.observe([0.0])
    learner.decide()
    learner.commit([0.9])
    learner.reward(0.5)
    _, _, action, target = learner.recent.items()[-1]
    assert action == [0.9]
    assert target == 0.5


def test_horizon_target_is_the_normalised_discounted_return() -> None:
    learner = Learner(state_dim=1, action_dim=1, seed=0, horizon=3, gamma=0.5)
    for r in (1.0, 2.0, 4.0):
        learner.observe([0.0])
        learner.decide()
        learner.reward(r)
    assert len(learner.recent) == 1
    assert learner.recent.items()[0][3] == pytest.approx((1.0 + 0.5 * 2.0 + 0.25 * 4.0) / 1.75)


def test_metrics_report_learning_signals() -> None:
    learner = Learner(state_dim=1, action_dim=1, seed=0)
    for step in range(5):
        learner.observe([float(step)])
        learner.decide()
        learner.reward(1.0)
    m = learner.metrics()
    assert m["cycle"] == 5
    assert m["total_reward"] == 5.0
    assert m["phase"] in ("SOLID", "LIQUID", "GAS", "PLASMA")
    for key in ("temperature", "td_error", "prediction_error", "model_samples", "swarm_best"):
        assert key in m


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"state_dim": 0, "action_dim": 1}, "state_dim"),
        ({"state_dim": 1, "action_dim": 0}, "action_dim"),
        ({"state_dim": 1, "action_dim": 1, "horizon": 0}, "horizon"),
    ],
)
def test_rejects_bad_arguments(kwargs: dict, field: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError, match=field):
        Learner(**kwargs)


def _drive(learner: Learner, steps: int, start: int, log: list) -> None:  # type: ignore[type-arg]
    for t in range(start, start + steps):
        peak = 0.2 if t < 150 else 0.9
        learner.observe([float(t % 3), None if t % 5 == 0 else float(t % 7)])
        a = learner.decide()
        log.append((a, learner.reward(quad(a[0], peak) - 0.1 * a[1])))


@pytest.mark.parametrize("split", [60, 170, 185])
def test_state_round_trip_continues_identically(split: int) -> None:
    kwargs = {"state_dim": 2, "action_dim": 2, "horizon": 3}
    learner = Learner(seed=4, **kwargs)
    _drive(learner, split, 0, [])
    twin = Learner(seed=123, **kwargs)
    twin.set_state(json.loads(json.dumps(learner.get_state())))
    original: list = []  # type: ignore[type-arg]
    copy: list = []  # type: ignore[type-arg]
    _drive(learner, 60, split, original)
    _drive(twin, 60, split, copy)
    assert copy == original
    assert json.dumps(twin.get_state(), sort_keys=True) == json.dumps(
        learner.get_state(), sort_keys=True
    )


def test_state_round_trip_between_a_swarm_decision_and_its_reward() -> None:
    kwargs = {"state_dim": 1, "action_dim": 2}
    learner = Learner(seed=8, **kwargs)
    for t in range(200):
        learner.observe([float(t % 2)])
        learner.decide()
        if learner._from_swarm:
            break
        learner.reward(0.1 * (t % 4))
    else:
        pytest.fail("the swarm never proposed while the learner was hot")
    twin = Learner(seed=0, **kwargs)
    twin.set_state(json.loads(json.dumps(learner.get_state())))
    for t in range(40):
        assert twin.reward(0.3) == learner.reward(0.3)
        twin.observe([float(t % 3)])
        learner.observe([float(t % 3)])
        assert twin.decide() == learner.decide()


def _non_monotone_context(interactions: str, seed: int) -> float:
    # The best action is 0.8 when |context| > 1 and 0.2 otherwise: no straight line in
    # the context separates them, so only the RBF interactions can represent it.
    learner = Learner(state_dim=1, action_dim=1, seed=seed, interactions=interactions)
    contexts = Rng(100 + seed)
    rewards = []
    for _ in range(600):
        context = contexts.uniform(-2.0, 2.0)
        learner.observe([context])
        a = learner.decide()[0]
        rewards.append(quad(a, 0.8 if abs(context) > 1.0 else 0.2))
        learner.reward(rewards[-1])
    return sum(rewards[-200:]) / 200


@pytest.mark.parametrize("seed", [0, 1])
def test_rbf_interactions_learn_a_non_monotone_context(seed: int) -> None:
    linear = _non_monotone_context("linear", seed)
    rbf = _non_monotone_context("rbf", seed)
    assert rbf > 0.85
    assert rbf > linear + 0.15


def test_unknown_interactions_are_refused() -> None:
    with pytest.raises(ValueError, match="interactions"):
        Learner(state_dim=1, action_dim=1, interactions="cubic")
