"""The arms policy: one Bayesian linear reward model per action of a finite set."""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from krystal.kernel.arms import GAUSS_BOUND, ArmModels, ArmsPolicy, thompson_choice
from krystal.kernel.features import state_features
from krystal.kernel.learner import Learner
from krystal.kernel.linear_model import BayesLinear
from krystal.kernel.rng import Rng

ARMS = [[0.0], [0.25], [0.5], [0.75], [1.0]]


def _contextual_run(policy: ArmsPolicy, rng: Rng, steps: int) -> list[float]:
    """Reward 1 for the arm that matches the context's bucket; returns the rewards."""
    rewards = []
    for step in range(steps):
        z = [rng.gauss()]
        psi = state_features(z)
        best = 3 if z[0] > 0.0 else 1  # neither end of the list: no order to exploit
        a = policy.propose(psi, z, 0.5 if step < steps // 2 else 0.1)
        r = 1.0 if ARMS.index(a) == best else 0.0
        policy.learn(psi, z, a, r + 0.05 * rng.gauss())
        rewards.append(r)
    return rewards


def test_learns_the_best_arm_per_context() -> None:
    rng = Rng(1)
    policy = ArmsPolicy(ARMS, 1, rng)
    rewards = _contextual_run(policy, rng, 600)
    assert sum(rewards[-200:]) / 200 > 0.85
    assert policy.greedy(state_features([1.5]), [1.5]) == [0.75]
    assert policy.greedy(state_features([-1.5]), [-1.5]) == [0.25]


def test_rbf_context_learns_a_non_monotone_rule() -> None:
    # Arm 2 pays in the middle of the range, arm 0 at both ends: linear in z cannot say
    # that, the RBF context can.
    rng = Rng(2)
    policy = ArmsPolicy([[0.0], [1.0]], 1, rng, rbf_context=True)
    hits = []
    for _ in range(800):
        z = [rng.uniform(-2.0, 2.0)]
        psi = state_features(z)
        a = policy.propose(psi, z, 0.3)
        middle = abs(z[0]) < 0.8
        r = 1.0 if (a == [1.0]) == middle else 0.0
        policy.learn(psi, z, a, r)
        hits.append(r)
    assert sum(hits[-200:]) / 200 > 0.8


def test_temperature_widens_exploration() -> None:
    # After a short run the model is fairly sure but not certain: a calm draw mostly
    # takes the best arm, a hot one tries the others far more often.
    rng = Rng(3)
    policy = ArmsPolicy(ARMS, 1, rng)
    _contextual_run(policy, rng, 60)
    z = [1.0]
    psi = state_features(z)
    best = policy.greedy(psi, z)[0]
    hot = [policy.propose(psi, z, 1.0)[0] for _ in range(400)]
    cold = [policy.propose(psi, z, 0.0)[0] for _ in range(400)]
    assert cold.count(best) > 300
    assert len(hot) - hot.count(best) > 2 * (len(cold) - cold.count(best))


def test_arm_of_is_the_nearest_arm() -> None:
    policy = ArmsPolicy([[0.0, 0.0], [0.0, 1.0], [1.0, 1.0]], 1, Rng(0))
    assert policy.arm_of([0.1, 0.8]) == 1
    assert policy.arm_of([0.9, 0.6]) == 2


def test_state_round_trip_gives_the_same_choices() -> None:
    rng = Rng(4)
    policy = ArmsPolicy(ARMS, 1, rng)
    _contextual_run(policy, rng, 100)
    twin = ArmsPolicy(ARMS, 1, Rng(0))
    twin.set_state(policy.get_state())
    twin.rng.set_state(policy.rng.get_state())
    z = [0.3]
    psi = state_features(z)
    assert [policy.propose(psi, z, 0.5) for _ in range(20)] == [
        twin.propose(psi, z, 0.5) for _ in range(20)
    ]
    with pytest.raises(ValueError, match="arm models"):
        ArmsPolicy(ARMS[:2], 1, Rng(0)).set_state(policy.get_state())


@pytest.mark.parametrize(
    ("arms", "message"),
    [([[0.0]], "at least 2"), ([[0.0], [0.5, 1.0]], "equal length")],
)
def test_bad_arguments_are_named(arms, message) -> None:
    with pytest.raises(ValueError, match=message):
        ArmsPolicy(arms, 1, Rng(0))


@pytest.mark.parametrize(("rbf_context", "size"), [(False, 4), (True, 13)])
def test_model_type_builds_the_arms_with_the_per_weight_prior(rbf_context, size) -> None:
    # One place sizes the arms' models and spreads the prior over their features, for
    # the kernel's models and a replacement (the agent's numpy backend) alike.
    class Recorded(ArmModels):
        built: list = []  # noqa: RUF012 - shared record of constructor calls

        def __init__(self, arms: int, size: int, prior_var: float, forgetting: float) -> None:
            Recorded.built.append((arms, size, prior_var, forgetting))
            super().__init__(arms, size, prior_var, forgetting)

    policy = ArmsPolicy(ARMS, 3, Rng(0), 8.0, 0.99, Recorded, rbf_context=rbf_context)
    assert Recorded.built == [(len(ARMS), size, 8.0 / size, 0.99)]
    assert isinstance(policy.models, Recorded)
    assert [m.size for m in policy.models.models] == [size] * len(ARMS)
    assert policy.context_size == size


def test_arm_models_are_independent_bayes_linear_models() -> None:
    bank = ArmModels(3, 2, 5.0, 1.0)
    alone = BayesLinear(2, 5.0, 1.0)
    rng = Rng(7)
    for _ in range(40):
        x = [1.0, rng.gauss()]
        y = 0.5 - x[1] + 0.1 * rng.gauss()
        assert bank.update(1, x, y) == alone.update(x, y)
    means, variances = bank.moments([1.0, 0.3])
    assert means[1] == alone.predict([1.0, 0.3])
    assert variances[1] == alone.variance([1.0, 0.3])
    # the arms that learned nothing are still at the prior
    assert means[0] == means[2] == 0.0
    assert variances[0] == variances[2] == pytest.approx(5.0 * (1.0 + 0.09))
    assert bank.count == 40
    bank.inflate(1.0)
    assert bank.moments([1.0, 0.0])[1][0] == pytest.approx(6.0)


def _draw_all(means: list, variances: list, spread: float, rng: Rng) -> int:
    # Thompson sampling with a draw for every arm: what thompson_choice must equal.
    best, best_score = 0, float("-inf")
    for index, (m, v) in enumerate(zip(means, variances)):
        score = m + spread * math.sqrt(max(v, 0.0)) * rng.gauss()
        if score > best_score:
            best, best_score = index, score
    return best


def test_gauss_bound_holds_for_the_kernel_generator() -> None:
    # Box-Muller on 53-bit uniforms: the smallest uniform it takes the log of is 2^-53.
    assert math.sqrt(-2.0 * math.log(2.0**-53)) < GAUSS_BOUND
    rng = Rng(11)
    assert max(abs(rng.gauss()) for _ in range(20000)) < GAUSS_BOUND


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(-3.0, 3.0), min_size=2, max_size=8, unique=True),
    st.floats(0.0, 0.5),
    st.floats(0.0, 2.0),
    st.integers(0, 2**32),
)
def test_thompson_choice_skips_only_arms_that_cannot_win(means, sd, spread, seed) -> None:
    variances = [(sd * (1 + i % 3)) ** 2 for i in range(len(means))]
    reach = [spread * GAUSS_BOUND * math.sqrt(v) for v in variances]
    floor = max(m - r for m, r in zip(means, reach))
    # every draw within the bound leaves the skipped arms below the best contender
    for trial in range(20):
        rng = Rng(seed + trial)
        chosen = thompson_choice(means, variances, spread, rng)
        assert means[chosen] + reach[chosen] >= floor
    # and with all arms (more than two) in reach it is plain Thompson sampling, draw
    # for draw; two in reach take one draw of their difference (tested below)
    if len(means) > 2 and all(m + r >= floor for m, r in zip(means, reach)):
        assert thompson_choice(means, variances, spread, Rng(seed)) == _draw_all(
            means, variances, spread, Rng(seed)
        )


def test_thompson_choice_keeps_the_distribution_of_drawing_for_every_arm() -> None:
    # Arm 2 is far out of reach; arms 0 and 1 overlap. The choice frequencies between
    # 0 and 1 match plain Thompson sampling with a draw for every arm.
    means, variances, spread = [0.5, 0.6, -5.0], [0.04, 0.04, 0.04], 1.0
    skipping, drawing = Rng(21), Rng(22)
    n = 6000
    ours = [thompson_choice(means, variances, spread, skipping) for _ in range(n)]
    plain = [_draw_all(means, variances, spread, drawing) for _ in range(n)]
    assert ours.count(2) == 0 and plain.count(2) == 0
    assert abs(ours.count(1) - plain.count(1)) / n < 0.03
    assert 0.55 < ours.count(1) / n < 0.75  # exact value: P(N(0.1, 0.08) > 0) = 0.638


def test_two_arms_in_reach_take_one_draw_with_the_same_distribution() -> None:
    means, variances, spread = [0.3, 0.1], [0.09, 0.01], 0.8
    rng = Rng(5)
    n = 8000
    ours = [thompson_choice(means, variances, spread, rng) for _ in range(n)]
    plain = [_draw_all(means, variances, spread, Rng(100 + k)) for k in range(n)]
    # exact: P(0.2 + 0.8 * sqrt(0.1) N(0, 1) >= 0) = Phi(0.79) = 0.785
    exact = 0.5 * (1.0 + math.erf(0.2 / (spread * math.sqrt(0.1)) / math.sqrt(2.0)))
    assert abs(ours.count(0) / n - exact) < 0.02
    assert abs(plain.count(0) / n - exact) < 0.02
    one_draw = Rng(9)
    thompson_choice(means, variances, spread, one_draw)
    two_draws = Rng(9)
    two_draws.gauss()
    assert one_draw.get_state() == two_draws.get_state()


def test_a_single_arm_in_reach_takes_no_draw() -> None:
    rng = Rng(3)
    before = rng.get_state()
    assert thompson_choice([0.0, 1.0, 0.2], [1e-4, 1e-4, 1e-4], 0.5, rng) == 1
    assert rng.get_state() == before


def test_learner_with_arms_decides_only_arms_and_reopens_on_shift() -> None:
    learner = Learner(state_dim=1, action_dim=1, seed=5, arms=[[0.0], [1.0]])
    env = Rng(6)
    seen = set()
    rewards = []
    for step in range(1200):
        x = [env.gauss()]
        learner.observe(x)
        a = learner.decide()
        seen.add(a[0])
        good = (a[0] == 1.0) == (x[0] > 0.0)
        if step >= 600:  # the world flips: the other arm is now right
            good = not good
        rewards.append(1.0 if good else 0.0)
        learner.reward(rewards[-1])
    assert seen == {0.0, 1.0}
    assert sum(rewards[500:600]) / 100 > 0.8
    assert sum(rewards[-100:]) / 100 > 0.8
    assert learner.metrics()["model_samples"] == 1200
    with pytest.raises(ValueError, match="length 2"):
        Learner(state_dim=1, action_dim=2, arms=[[0.0], [1.0]])


def _flip_run(seed: int, flip_at: int | None, steps: int = 900) -> tuple[Learner, list, list]:  # type: ignore[type-arg]
    learner = Learner(state_dim=1, action_dim=1, seed=seed, arms=[[0.0], [1.0]])
    env = Rng(seed + 100)
    temperatures, rewards = [], []
    for step in range(steps):
        x = [env.gauss()]
        learner.observe(x)
        a = learner.decide()
        good = (a[0] == 1.0) == (x[0] > 0.0)
        if flip_at is not None and step >= flip_at:
            good = not good
        rewards.append(1.0 if good else 0.0)
        learner.reward(rewards[-1])
        temperatures.append(learner.phase.temperature)
    return learner, temperatures, rewards


def test_arms_at_horizon_one_skip_the_critic_and_return_the_prediction_error() -> None:
    learner = Learner(state_dim=2, action_dim=1, seed=1, arms=[[0.0], [0.5], [1.0]])
    env = Rng(2)
    for _ in range(50):
        learner.observe([env.gauss(), env.uniform(0.0, 10.0)])
        a = learner.decide()
        expected = learner.policy.predict(learner._psi, learner._context(), a)
        r = 1.0 if a == [0.5] else 0.2
        assert learner.reward(r) == r - expected
        assert learner.last_prediction_error == r - expected
    # nothing reads the critic's value, so it is never trained nor fed transitions
    assert learner.critic.weights == [0.0] * learner.critic.size
    assert len(learner.transitions) == 0
    assert learner.metrics()["td_error"] == learner.last_prediction_error


def test_arms_with_a_longer_horizon_keep_the_critic() -> None:
    learner = Learner(state_dim=1, action_dim=1, seed=1, horizon=2, arms=[[0.0], [1.0]])
    for t in range(40):
        learner.observe([float(t % 3)])
        learner.decide()
        learner.reward(1.0)
    assert any(w != 0.0 for w in learner.critic.weights)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_arms_prediction_error_heats_the_phase_engine_after_a_shift(seed: int) -> None:
    _, shifted, rewards = _flip_run(seed, flip_at=600)
    _, calm, _ = _flip_run(seed, flip_at=None)
    assert shifted[599] == calm[599]
    assert max(shifted[600:650]) > shifted[599] + 0.15
    assert max(calm[600:650]) < calm[599] + 0.05
    assert sum(rewards[-100:]) / 100 > 0.8


def test_learner_with_arms_resumes_identically_from_saved_state() -> None:
    learner, _, _ = _flip_run(3, flip_at=None, steps=300)
    twin = Learner(state_dim=1, action_dim=1, seed=99, arms=[[0.0], [1.0]])
    twin.set_state(json.loads(json.dumps(learner.get_state())))
    env = Rng(5)
    for _ in range(100):
        x = [env.gauss()]
        learner.observe(x)
        twin.observe(x)
        a, b = learner.decide(), twin.decide()
        assert a == b
        assert learner.reward(a[0]) == twin.reward(b[0])
