import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from krystal.kernel.linear_model import BayesLinear
from krystal.kernel.rng import Rng


def ridge(
    xs: list[list[float]], ys: list[float], prior_var: float
) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form posterior of y = w.x with prior N(0, prior_var I): mean and covariance."""
    x, y = np.array(xs), np.array(ys)
    precision = x.T @ x + np.eye(x.shape[1]) / prior_var
    cov = np.linalg.inv(precision)
    return cov @ x.T @ y, cov


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 2**32),
    st.integers(1, 5),
    st.integers(1, 30),
    st.sampled_from([0.1, 1.0, 10.0, 1000.0]),
)
def test_rls_equals_closed_form_ridge(seed: int, size: int, n: int, prior_var: float) -> None:
    rng = Rng(seed)
    xs = [[rng.uniform(-2.0, 2.0) for _ in range(size)] for _ in range(n)]
    ys = [rng.gauss(0.0, 3.0) for _ in range(n)]
    model = BayesLinear(size, prior_var=prior_var, forgetting=1.0)
    for x, y in zip(xs, ys):
        model.update(x, y)
    w, cov = ridge(xs, ys, prior_var)
    assert model.weights == pytest.approx(list(w), rel=1e-6, abs=1e-6)
    assert np.allclose(np.array(model.covariance), cov, rtol=1e-6, atol=1e-8)
    probe = [0.5] * size
    assert model.predict(probe) == pytest.approx(float(np.dot(w, probe)), rel=1e-6, abs=1e-6)
    assert model.variance(probe) == pytest.approx(
        float(np.dot(probe, cov @ probe)), rel=1e-6, abs=1e-9
    )
    assert model.count == n


def test_update_returns_error_before_the_update() -> None:
    model = BayesLinear(2)
    assert model.update([1.0, 2.0], 3.0) == 3.0  # prior mean predicts 0
    before = model.predict([1.0, 2.0])
    assert model.update([1.0, 2.0], 3.0) == pytest.approx(3.0 - before)


def test_variance_shrinks_with_data_and_reset_returns_to_prior() -> None:
    model = BayesLinear(2, prior_var=5.0)
    x = [1.0, -1.0]
    assert model.variance(x) == pytest.approx(10.0)
    for _ in range(20):
        model.update(x, 1.0)
    assert model.variance(x) < 0.1
    model.reset()
    assert model.weights == [0.0, 0.0]
    assert model.covariance == [[5.0, 0.0], [0.0, 5.0]]
    assert model.count == 0


def _track_switch(model: BayesLinear, x: list[float], before: int, after: int) -> float:
    for _ in range(before):
        model.update(x, 0.0)
    for _ in range(after):
        model.update(x, 1.0)
    return model.predict(x)


def test_forgetting_follows_a_changed_target() -> None:
    remembering = _track_switch(BayesLinear(1, forgetting=1.0), [1.0], 200, 20)
    forgetting = _track_switch(BayesLinear(1, forgetting=0.9), [1.0], 200, 20)
    assert remembering == pytest.approx(20.0 / 220.0, abs=0.01)
    assert forgetting > 0.8


def test_an_always_zero_feature_does_not_switch_off_forgetting() -> None:
    plain = _track_switch(BayesLinear(1, forgetting=0.9), [1.0], 200, 20)
    padded = _track_switch(BayesLinear(2, forgetting=0.9), [1.0, 0.0], 200, 20)
    # The second weight never sees data; predictions on the first must be unaffected.
    assert padded == pytest.approx(plain, abs=1e-6)


def test_per_call_forgetting_overrides_the_default() -> None:
    a, b = BayesLinear(1, forgetting=1.0), BayesLinear(1, forgetting=1.0)
    for _ in range(50):
        a.update([1.0], 0.0)
        b.update([1.0], 0.0)
    for _ in range(10):
        a.update([1.0], 1.0)
        b.update([1.0], 1.0, forgetting=0.8)
    assert a.predict([1.0]) == pytest.approx(10.0 / (60.0 + 0.1))
    # exponentially weighted ridge: old samples (and prior) weigh 0.8**10, new ones 0.8**k
    new = sum(0.8**k for k in range(10))
    assert b.predict([1.0]) == pytest.approx(new / (0.8**10 * (50.0 + 0.1) + new))


def test_unexcited_direction_does_not_wind_up() -> None:
    model = BayesLinear(2, prior_var=10.0, forgetting=0.9)
    for _ in range(500):
        model.update([1.0, 0.0], 1.0)
    assert model.covariance[1][1] <= 10.0 + 1e-9


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"size": 0}, "size"),
        ({"size": 2, "prior_var": 0.0}, "prior_var"),
        ({"size": 2, "forgetting": 0.5}, "forgetting"),
        ({"size": 2, "forgetting": 1.01}, "forgetting"),
    ],
)
def test_rejects_bad_arguments(kwargs: dict, field: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError, match=field):
        BayesLinear(**kwargs)


def test_state_round_trip_and_size_check() -> None:
    model = BayesLinear(2)
    model.update([1.0, 2.0], 3.0)
    twin = BayesLinear(2)
    twin.set_state(json.loads(json.dumps(model.get_state())))
    assert twin.get_state() == model.get_state()
    assert twin.update([0.5, 1.0], 2.0) == model.update([0.5, 1.0], 2.0)
    with pytest.raises(ValueError, match="expected 3 weights"):
        BayesLinear(3).set_state(model.get_state())


def test_forgetting_inflates_the_covariance_of_unexcited_directions() -> None:
    model = BayesLinear(2, prior_var=10.0, forgetting=0.9)
    model.update([1.0, 0.0], 1.0)  # at the prior: forgetting is skipped (no wind-up)
    model.update([0.0, 1.0], 1.0)
    p11 = model.covariance[1][1]
    assert p11 < 1.0
    model.update([1.0, 0.0], 1.0)  # excites only the first weight
    assert model.covariance[1][1] == pytest.approx(p11 / 0.9)
    assert model.covariance[0][1] == 0.0
