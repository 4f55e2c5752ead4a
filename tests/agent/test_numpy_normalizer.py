"""The numpy normaliser gives the kernel's numbers, and the agent uses it only where it pays."""

import json
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from krystal import Krystal, KrystalConfig
from krystal.kernel.normalizer import RunningNormalizer

pytest.importorskip("numpy")

from krystal.agent._numpy_normalizer import MIN_METRICS, NumpyRunningNormalizer

VALUE = st.one_of(st.none(), st.floats(-1e6, 1e6), st.sampled_from([3.0, 3.0, 3.0]))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(VALUE, min_size=4, max_size=4), min_size=1, max_size=50))
def test_same_numbers_as_the_kernel(rows: list[list[float | None]]) -> None:
    # None (missing), constant metrics (std 0) and the first steps all take their own
    # paths; every path must give the kernel's numbers exactly.
    fast, reference = NumpyRunningNormalizer(4, horizon=20.0), RunningNormalizer(4, horizon=20.0)
    for row in rows:
        assert fast.standardise(row) == reference.standardise(row)
        assert fast.get_state() == reference.get_state()


def test_a_missing_value_after_an_even_run_is_not_read_as_a_number() -> None:
    fast, reference = NumpyRunningNormalizer(3), RunningNormalizer(3)
    for row in ([1.0, 2.0, 3.0], [2.0, 3.0, 5.0], [4.0, 1.0, 2.0], [3.0, None, 1.0]):
        assert fast.standardise(row) == reference.standardise(row)
    assert fast.counts == [4, 3, 4]
    assert fast.standardise([5.0, 5.0, 5.0]) == reference.standardise([5.0, 5.0, 5.0])


def test_long_even_runs_stay_exact_and_the_state_round_trips() -> None:
    fast, reference = NumpyRunningNormalizer(30, horizon=50.0), RunningNormalizer(30, horizon=50.0)
    for t in range(300):
        row = [float((t * (i + 3)) % 17) + 0.01 * i * t for i in range(30)]
        assert fast.standardise(row) == reference.standardise(row)
    assert (fast.counts, fast.means, fast.variances) == (
        reference.counts,
        reference.means,
        reference.variances,
    )
    twin = NumpyRunningNormalizer(30, horizon=50.0)
    twin.set_state(json.loads(json.dumps(fast.get_state())))
    copy = pickle.loads(pickle.dumps(fast))
    row = [float(i) for i in range(30)]
    expected = reference.standardise(row)
    assert twin.standardise(row) == copy.standardise(row) == fast.standardise(row) == expected
    fast.update(row)
    reference.update(row)
    assert fast.transform(row) == reference.transform(row)


def test_bad_arguments_and_state_are_refused() -> None:
    with pytest.raises(ValueError, match="size"):
        NumpyRunningNormalizer(0)
    norm = NumpyRunningNormalizer(2)
    norm.standardise([1.0, 2.0])
    before = norm.get_state()
    with pytest.raises(ValueError, match="2 counts"):
        norm.set_state({"counts": [1], "means": [0.0], "variances": [0.0]})
    assert norm.get_state() == before


@pytest.mark.parametrize(
    ("backend", "state_dim", "numpy"),
    [("numpy", MIN_METRICS, True), ("numpy", MIN_METRICS - 1, False), ("python", 64, False)],
)
def test_agent_uses_it_on_the_numpy_backend_from_enough_metrics(backend, state_dim, numpy) -> None:
    agent = Krystal(KrystalConfig(state_dim=state_dim, seed=0, backend=backend))
    assert isinstance(agent._learner.normalizer, NumpyRunningNormalizer) == numpy
