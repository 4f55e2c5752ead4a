import itertools
import json
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from krystal.kernel.features import state_features
from krystal.kernel.policy import ResponseSurfacePolicy
from krystal.kernel.rng import Rng

Z0 = [0.0]
PSI0 = state_features(Z0)


def trained_1d(peak: float = 0.5, seed: int = 0, steps: int = 60) -> ResponseSurfacePolicy:
    policy = ResponseSurfacePolicy(1, 1, Rng(seed))
    for _ in range(steps):
        a = policy.propose(PSI0, Z0, temperature=0.8)
        policy.learn(PSI0, Z0, a, 1.0 - (a[0] - peak) ** 2)
    return policy


@pytest.mark.parametrize("peak", [0.15, 0.5, 0.7, 0.9])
def test_learns_the_peak_of_a_one_dimensional_surface(peak: float) -> None:
    policy = trained_1d(peak)
    assert policy.greedy(PSI0, Z0)[0] == pytest.approx(peak, abs=0.03)
    assert policy.predict(PSI0, Z0, [peak]) == pytest.approx(1.0, abs=0.02)


def test_coupled_three_dimensional_quadratic() -> None:
    target = [0.3, 0.6, 0.45]

    def reward(a: list[float]) -> float:
        d = [x - t for x, t in zip(a, target)]
        return -sum(v * v for v in d) - 0.5 * (d[0] * d[1] + d[0] * d[2] + d[1] * d[2])

    policy = ResponseSurfacePolicy(1, 3, Rng(4))
    for _ in range(200):
        a = policy.propose(PSI0, Z0, 0.8)
        policy.learn(PSI0, Z0, a, reward(a))
    assert policy.greedy(PSI0, Z0) == pytest.approx(target, abs=0.03)


def test_best_action_follows_the_state() -> None:
    # Reward peaks at 0.3 when z = -1 and at 0.7 when z = +1.
    policy = ResponseSurfacePolicy(1, 1, Rng(2))
    rng = Rng(12)
    for _ in range(200):
        z = [rng.choice([-1.0, 1.0])]
        psi = state_features(z)
        a = policy.propose(psi, z, 0.6)
        peak = 0.5 + 0.2 * z[0]
        policy.learn(psi, z, a, 1.0 - 4.0 * (a[0] - peak) ** 2)
    low = policy.greedy(state_features([-1.0]), [-1.0])[0]
    high = policy.greedy(state_features([1.0]), [1.0])[0]
    assert low == pytest.approx(0.3, abs=0.05)
    assert high == pytest.approx(0.7, abs=0.05)


def test_exploration_width_follows_the_phase_band() -> None:
    policy = trained_1d(0.5)
    state, rng_state = policy.get_state(), policy.rng.get_state()

    def spread(temperature: float) -> float:
        policy.set_state(state)
        policy.rng.set_state(rng_state)
        return statistics.pstdev(policy.propose(PSI0, Z0, temperature)[0] for _ in range(400))

    solid, plasma = spread(0.05), spread(0.9)  # inside SOLID [0, .15) and PLASMA [.7, 1]
    assert solid < 0.05
    assert plasma > 0.2
    assert plasma > 5.0 * solid


def test_zero_temperature_is_greedy_plus_minimum_jitter() -> None:
    policy = trained_1d(0.4)
    greedy = policy.greedy(PSI0, Z0)[0]
    xs = [policy.propose(PSI0, Z0, 0.0)[0] for _ in range(400)]
    assert statistics.fmean(xs) == pytest.approx(greedy, abs=0.005)
    assert statistics.pstdev(xs) == pytest.approx(policy.sigma_min, rel=0.15)


@settings(max_examples=30, deadline=None)
@given(
    st.integers(0, 2**32),
    st.floats(0.0, 1.0),
    st.lists(st.floats(-5.0, 5.0), min_size=2, max_size=2),
    st.floats(-100.0, 100.0),
)
def test_proposals_stay_in_the_unit_box(
    seed: int, temperature: float, z: list[float], scale: float
) -> None:
    policy = ResponseSurfacePolicy(2, 3, Rng(seed))
    psi = state_features(z)
    rng = Rng(seed + 1)
    for _ in range(15):
        a = policy.propose(psi, z, temperature)
        assert len(a) == 3
        assert all(0.0 <= v <= 1.0 for v in a)
        policy.learn(psi, z, a, scale * rng.gauss())
    g = policy.greedy(psi, z)
    assert all(0.0 <= v <= 1.0 for v in g)


def test_learn_returns_prediction_error_and_tracks_reward_moments() -> None:
    policy = ResponseSurfacePolicy(1, 1, Rng(0))
    before = policy.predict(PSI0, Z0, [0.5])
    assert policy.learn(PSI0, Z0, [0.5], 2.0) == pytest.approx(2.0 - before)
    policy.learn(PSI0, Z0, [0.5], 4.0)
    assert policy.reward_mean == pytest.approx(3.0)
    assert policy.reward_var == pytest.approx(1.0)


def test_rejects_zero_actions() -> None:
    with pytest.raises(ValueError, match="action_dim"):
        ResponseSurfacePolicy(1, 0, Rng(0))


def test_state_round_trip_gives_the_same_proposals() -> None:
    policy = trained_1d(0.6, seed=3, steps=30)
    twin = ResponseSurfacePolicy(1, 1, Rng(99))
    twin.set_state(json.loads(json.dumps(policy.get_state())))
    twin.rng.set_state(policy.rng.get_state())
    for t in (0.0, 0.3, 0.9):
        assert twin.propose(PSI0, Z0, t) == policy.propose(PSI0, Z0, t)


def test_persistent_noise_is_autocorrelated_with_unchanged_spread() -> None:
    def jitter(persistence: float) -> list[float]:
        # temperature 0: the greedy action (the centre, untrained) plus sigma_min jitter
        policy = ResponseSurfacePolicy(1, 1, Rng(21), persistence=persistence)
        return [policy.propose(PSI0, Z0, 0.0)[0] for _ in range(3000)]

    def lag1(xs: list[float]) -> float:
        mean = statistics.fmean(xs)
        num = sum((a - mean) * (b - mean) for a, b in itertools.pairwise(xs))
        return num / sum((a - mean) ** 2 for a in xs)

    white, sticky = jitter(0.0), jitter(0.9)
    assert abs(lag1(white)) < 0.1
    assert lag1(sticky) == pytest.approx(0.9, abs=0.05)
    assert statistics.pstdev(white) == pytest.approx(0.01, rel=0.1)
    assert statistics.pstdev(sticky) == pytest.approx(0.01, rel=0.25)


@pytest.mark.parametrize("persistence", [-0.1, 1.0])
def test_rejects_bad_persistence(persistence: float) -> None:
    with pytest.raises(ValueError, match="persistence"):
        ResponseSurfacePolicy(1, 1, Rng(0), persistence=persistence)


def test_locality_weights_far_outcomes_less() -> None:
    # Outcomes far from the operating point barely move a locally weighted model.
    near, far = (ResponseSurfacePolicy(1, 1, Rng(0), locality=0.1) for _ in range(2))
    near.learn(PSI0, Z0, [0.5], 1.0)  # last_greedy starts at the centre, 0.5
    far.learn(PSI0, Z0, [1.0], 1.0)
    assert near.predict(PSI0, Z0, [0.5]) > 0.5
    assert abs(far.predict(PSI0, Z0, [0.5])) < 0.01
    # the returned error is in the reward's units, not the down-weighted ones
    expected = 1.0 - far.predict(PSI0, Z0, [1.0])
    assert far.learn(PSI0, Z0, [1.0], 1.0) == pytest.approx(expected, rel=1e-6)
