import json

import pytest

from krystal.kernel.td import TDLambda

S0, S1 = [1.0, 0.0], [0.0, 1.0]


@pytest.mark.parametrize("lam", [0.0, 0.5, 0.8, 1.0])
@pytest.mark.parametrize(("r", "gamma"), [(1.0, 0.9), (-2.0, 0.5), (0.3, 0.0)])
def test_constant_reward_in_one_state_converges_to_discounted_sum(
    r: float, gamma: float, lam: float
) -> None:
    critic = TDLambda(1, alpha=0.2, gamma=gamma, lam=lam)
    for _ in range(3000):
        critic.begin([1.0])
        critic.reward(r)
    assert critic.value([1.0]) == pytest.approx(r / (1.0 - gamma), rel=1e-6)


def test_reward_part_of_the_td_error_by_hand() -> None:
    critic = TDLambda(2, alpha=0.5, gamma=0.9, lam=0.0)
    critic.weights = [2.0, 3.0]
    assert critic.begin(S0) == 0.0  # nothing rewarded yet: no correction
    delta = critic.reward(1.0)
    assert delta == pytest.approx(1.0 + 0.9 * 2.0 - 2.0)
    # normalised step along the trace (|psi|^2 = 1): w0 += alpha * delta
    assert critic.weights == pytest.approx([2.0 + 0.5 * delta, 3.0])


def test_split_td_sum_is_the_one_step_error_when_the_reward_part_is_zero() -> None:
    # r = (1 - gamma) V(s) makes the reward part exactly zero, so the weights do not move
    # between the two parts and their sum must be exactly r + gamma V(s') - V(s).
    gamma = 0.9
    critic = TDLambda(2, alpha=0.3, gamma=gamma, lam=0.7)
    critic.weights = [4.0, 1.5]
    critic.begin(S0)
    r = (1.0 - gamma) * 4.0
    first = critic.reward(r)
    second = critic.begin(S1)
    assert first == pytest.approx(0.0, abs=1e-12)
    assert first + second == pytest.approx(r + gamma * 1.5 - 4.0)


def test_split_td_sum_equals_one_step_td_error_in_a_two_state_chain() -> None:
    gamma, alpha = 0.9, 0.5
    critic = TDLambda(2, alpha=alpha, gamma=gamma, lam=0.0)
    critic.weights = [2.0, 3.0]
    v_s, v_next = 2.0, 3.0  # values before the step
    critic.begin(S0)
    r = 1.0
    total = critic.reward(r) + critic.begin(S1)
    assert total == pytest.approx(r + gamma * v_next - v_s)


def test_td0_on_a_two_state_cycle_converges_to_the_true_values() -> None:
    gamma = 0.9
    critic = TDLambda(2, alpha=0.1, gamma=gamma, lam=0.0)
    for _ in range(3000):
        critic.begin(S0)
        critic.reward(1.0)
        critic.begin(S1)  # completes the update of s0
        v0 = critic.value(S0)
        critic.reward(0.0)
    assert v0 == pytest.approx(1.0 / (1.0 - gamma**2), rel=1e-6)


@pytest.mark.parametrize("lam", [0.0, 0.5, 0.9])
def test_two_state_cycle_values_are_roughly_right(lam: float) -> None:
    gamma = 0.9
    critic = TDLambda(2, alpha=0.05, gamma=gamma, lam=lam)
    for _ in range(4000):
        critic.begin(S0)
        critic.reward(1.0)
        critic.begin(S1)
        critic.reward(0.0)
    assert critic.value(S0) == pytest.approx(1.0 / (1.0 - gamma**2), rel=0.02)
    assert critic.value(S1) == pytest.approx(gamma / (1.0 - gamma**2), rel=0.02)
    assert critic.value(S0) > critic.value(S1)


def test_traces_decay_by_gamma_times_lambda() -> None:
    gamma, lam = 0.9, 0.5
    critic = TDLambda(3, alpha=0.1, gamma=gamma, lam=lam)
    a, b, c = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]
    critic.begin(a)
    assert critic.traces == [1.0, 0.0, 0.0]
    critic.reward(0.5)
    critic.begin(b)
    assert critic.traces == pytest.approx([gamma * lam, 1.0, 0.0])
    critic.reward(0.5)
    critic.begin(c)
    assert critic.traces == pytest.approx([(gamma * lam) ** 2, gamma * lam, 1.0])
    critic.reset_traces()
    assert critic.traces == [0.0, 0.0, 0.0]
    assert critic.begin(a) == 0.0  # reset also forgets the pending correction


def test_traces_accumulate_when_a_state_is_revisited_without_reward() -> None:
    critic = TDLambda(2, gamma=0.9, lam=0.5)
    critic.begin(S0)
    critic.begin(S0)  # no reward in between: no decay
    assert critic.traces == [2.0, 0.0]


def test_second_reward_in_the_same_state_starts_a_new_step() -> None:
    critic = TDLambda(2, alpha=0.1, gamma=0.9, lam=0.5)
    critic.begin(S0)
    critic.reward(1.0)
    critic.reward(1.0)
    assert critic.traces == pytest.approx([0.45 + 1.0, 0.0])


def test_zero_feature_vector_learns_nothing() -> None:
    critic = TDLambda(2)
    critic.begin([0.0, 0.0])
    assert critic.reward(5.0) == 5.0
    assert critic.weights == [0.0, 0.0]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"size": 0}, "size"),
        ({"size": 1, "alpha": 0.0}, "alpha"),
        ({"size": 1, "alpha": 1.5}, "alpha"),
        ({"size": 1, "gamma": 1.0}, "gamma"),
        ({"size": 1, "gamma": -0.1}, "gamma"),
        ({"size": 1, "lam": 1.1}, "lam"),
    ],
)
def test_rejects_bad_arguments(kwargs: dict, field: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError, match=field):
        TDLambda(**kwargs)


def test_state_round_trip_continues_identically() -> None:
    critic = TDLambda(2, alpha=0.2, gamma=0.8, lam=0.6)
    for r in (1.0, -0.5, 2.0):
        critic.begin(S0)
        critic.reward(r)
    twin = TDLambda(2, alpha=0.2, gamma=0.8, lam=0.6)
    twin.set_state(json.loads(json.dumps(critic.get_state())))
    assert twin.begin(S1) == critic.begin(S1)
    assert twin.reward(0.7) == critic.reward(0.7)
    assert twin.weights == critic.weights
