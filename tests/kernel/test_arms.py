"""The arms policy: one Bayesian linear reward model per action of a finite set."""

import pytest

from krystal.kernel.arms import ArmsPolicy
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
def test_model_type_builds_each_arm_with_the_per_weight_prior(rbf_context, size) -> None:
    # One place sizes the arms' models and spreads the prior over their features, for
    # the kernel's model and a replacement (the agent's numpy backend) alike.
    class Recorded(BayesLinear):
        built: list = []  # noqa: RUF012 - shared record of constructor calls

        def __init__(self, size: int, prior_var: float, forgetting: float) -> None:
            Recorded.built.append((size, prior_var, forgetting))
            super().__init__(size, prior_var, forgetting)

    policy = ArmsPolicy(ARMS, 3, Rng(0), 8.0, 0.99, Recorded, rbf_context=rbf_context)
    assert Recorded.built == [(size, 8.0 / size, 0.99)] * len(ARMS)
    assert all(isinstance(m, Recorded) for m in policy.models)
    assert policy.context_size == size


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
