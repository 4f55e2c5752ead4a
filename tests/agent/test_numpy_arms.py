"""The stacked numpy arm models agree with the kernel's, which stay the reference."""

import json
import pickle
import random

import pytest

from krystal.kernel.arms import ArmModels, ArmsPolicy, thompson_choice
from krystal.kernel.rng import Rng

pytest.importorskip("numpy")

from krystal.agent._numpy_arms import NumpyArmModels

# Rounding differs between the two (BLAS sums in another order) and builds up over
# hundreds of updates with forgetting; the choices are compared exactly.
TOL = {"rel": 1e-7, "abs": 1e-10}


def _assert_same(fast: NumpyArmModels, reference: ArmModels) -> None:
    for mine, theirs in zip(fast.get_state(), reference.get_state()):
        assert mine["count"] == theirs["count"]
        assert mine["weights"] == pytest.approx(theirs["weights"], **TOL)
        for a, b in zip(mine["covariance"], theirs["covariance"]):
            assert a == pytest.approx(b, **TOL)


@pytest.mark.parametrize("forgetting", [1.0, 0.99, 0.9])
def test_updates_and_moments_match_the_reference(forgetting: float) -> None:
    rng = random.Random(3)
    fast, reference = NumpyArmModels(4, 5, 2.0, forgetting), ArmModels(4, 5, 2.0, forgetting)
    for step in range(400):
        # The last feature is never excited: with forgetting < 1 its variance reaches
        # the cap, so the selective-forgetting branch runs too.
        x = [1.0] + [rng.gauss(0.0, 1.0) for _ in range(3)] + [0.0]
        arm = rng.randrange(4)
        y = (arm - 1.5) * x[1] + rng.gauss(0.0, 0.1)
        if step % 3 == 0:  # scored first, as in the loop: the update reuses P x
            assert fast.moments(x)[0] == pytest.approx(reference.moments(x)[0], **TOL)
        lam = None if step % 5 else forgetting
        assert fast.update(arm, x, y, lam) == pytest.approx(reference.update(arm, x, y, lam), **TOL)
    _assert_same(fast, reference)
    probe = [1.0, 0.3, -0.2, 0.5, 0.0]
    for mine, theirs in zip(fast.moments(probe), reference.moments(probe)):
        assert mine == pytest.approx(theirs, **TOL)
    assert fast.means(probe) == pytest.approx(reference.means(probe), **TOL)
    assert fast.predict(2, probe) == pytest.approx(reference.predict(2, probe), **TOL)
    assert fast.count == reference.count == 400
    fast.inflate(0.25)
    reference.inflate(0.25)
    _assert_same(fast, reference)


def test_a_scored_context_is_not_reused_after_the_models_change() -> None:
    fast, reference = NumpyArmModels(2, 2, 1.0, 1.0), ArmModels(2, 2, 1.0, 1.0)
    x = [1.0, 0.5]
    fast.moments(x)
    for bank in (fast, reference):
        bank.update(0, x, 1.0)
        bank.inflate(0.5)
    assert fast.moments(x)[1] == pytest.approx(reference.moments(x)[1], **TOL)
    assert fast.moments(list(x))[0] == pytest.approx(reference.moments(x)[0], **TOL)


def test_policies_on_either_bank_choose_alike_on_fixed_seed_vectors() -> None:
    arms = [[0.0], [0.25], [0.5], [0.75], [1.0]]
    python = ArmsPolicy(arms, 3, Rng(4), forgetting=0.99)
    numpy = ArmsPolicy(arms, 3, Rng(4), forgetting=0.99, model_type=NumpyArmModels)
    env = Rng(5)
    for step in range(500):
        z = [env.gauss(), env.gauss(), env.uniform(-2.0, 2.0)]
        temperature = 0.6 if step < 250 else 0.1
        a, b = python.propose([], z, temperature), numpy.propose([], z, temperature)
        assert a == b
        r = 1.0 - abs(a[0] - (0.5 + 0.2 * z[0])) + 0.05 * env.gauss()
        assert python.learn([], z, a, r) == pytest.approx(numpy.learn([], z, b, r), **TOL)
    assert python.rng.get_state() == numpy.rng.get_state()
    assert python.noise_var == pytest.approx(numpy.noise_var, **TOL)


def test_state_moves_between_implementations_and_survives_pickling() -> None:
    reference = ArmModels(3, 2, 5.0, 1.0)
    rng = Rng(8)
    for _ in range(30):
        x = [1.0, rng.gauss()]
        reference.update(rng.randint(0, 2), x, rng.gauss())
    fast = NumpyArmModels(3, 2, 5.0, 1.0)
    fast.set_state(json.loads(json.dumps(reference.get_state())))
    _assert_same(fast, reference)
    copy = pickle.loads(pickle.dumps(fast))
    for bank in (fast, copy, reference):
        bank.update(1, [1.0, 0.4], 0.7)
    _assert_same(copy, reference)
    _assert_same(fast, reference)
    means, variances = copy.moments([1.0, -1.0])
    assert thompson_choice(means, variances, 0.5, Rng(1)) == thompson_choice(
        *reference.moments([1.0, -1.0]), 0.5, Rng(1)
    )


@pytest.mark.parametrize(
    ("states", "message"),
    [
        ([{"weights": [0.0, 0.0], "covariance": [[1.0, 0.0], [0.0, 1.0]], "count": 0}], "3 arm"),
        ([{"weights": [0.0], "covariance": [[1.0]], "count": 0}] * 3, "2 weights"),
    ],
)
def test_bad_state_is_refused_and_leaves_the_models_unchanged(states, message) -> None:
    fast = NumpyArmModels(3, 2, 5.0, 1.0)
    fast.update(0, [1.0, 1.0], 1.0)
    before = fast.get_state()
    with pytest.raises(ValueError, match=message):
        fast.set_state(states)
    assert fast.get_state() == before


@pytest.mark.parametrize(
    ("args", "field"),
    [((0, 2, 1.0, 1.0), "arms"), ((2, 0, 1.0, 1.0), "size"), ((2, 2, 0.0, 1.0), "prior_var")],
)
def test_bad_arguments_are_named(args, field) -> None:
    with pytest.raises(ValueError, match=field):
        NumpyArmModels(*args)
