import json
import math
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from krystal.kernel.normalizer import RunningNormalizer

FINITE = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@given(st.lists(FINITE, min_size=2, max_size=40))
def test_moments_match_population_mean_and_variance(xs: list[float]) -> None:
    norm = RunningNormalizer(1, horizon=1000.0)
    for x in xs:
        norm.update([x])
    assert norm.counts == [len(xs)]
    assert norm.means[0] == pytest.approx(statistics.fmean(xs), rel=1e-9, abs=1e-6)
    assert norm.variances[0] == pytest.approx(statistics.pvariance(xs), rel=1e-6, abs=1e-3)


def test_transform_standardises_and_clips() -> None:
    norm = RunningNormalizer(1, clip=2.0)
    for x in (1.0, 2.0, 3.0, 4.0):
        norm.update([x])
    mean, std = 2.5, math.sqrt(1.25)
    assert norm.transform([4.0])[0] == pytest.approx((4.0 - mean) / std)
    assert norm.transform([2.5])[0] == pytest.approx(0.0)
    assert norm.transform([1e9]) == [2.0]
    assert norm.transform([-1e9]) == [-2.0]


def test_unseen_constant_and_missing_entries_map_to_zero() -> None:
    norm = RunningNormalizer(3)
    norm.update([1.0, 5.0, 1.0])
    assert norm.transform([3.0, 7.0, 2.0]) == [0.0, 0.0, 0.0]  # fewer than two samples
    norm.update([2.0, 5.0, 3.0])
    z = norm.transform([3.0, 9.0, None])
    assert z[0] > 0.0
    assert z[1] == 0.0  # constant metric: no spread to standardise by
    assert z[2] == 0.0  # missing


def test_missing_value_does_not_touch_its_slot_or_the_others() -> None:
    with_gap, without = RunningNormalizer(2), RunningNormalizer(2)
    rows = [[1.0, 10.0], [2.0, 11.0], [4.0, 15.0]]
    for row in rows:
        with_gap.update(row)
        without.update(row)
    with_gap.update([None, 20.0])
    without.update([0.0, 20.0])
    assert with_gap.counts == [3, 4]
    assert with_gap.means[0] == pytest.approx(7.0 / 3.0)
    assert with_gap.means[1] == without.means[1]
    assert with_gap.variances[1] == without.variances[1]
    assert with_gap.transform([None, 12.0])[1] == without.transform([0.0, 12.0])[1]


def test_horizon_makes_moments_follow_a_drifting_metric() -> None:
    short, long = RunningNormalizer(1, horizon=10.0), RunningNormalizer(1, horizon=1e9)
    for _ in range(200):
        short.update([0.0])
        long.update([0.0])
    for _ in range(60):
        short.update([100.0])
        long.update([100.0])
    assert short.means[0] > 99.0
    assert long.means[0] == pytest.approx(100.0 * 60 / 260)


@pytest.mark.parametrize(("size", "horizon"), [(0, 10.0), (-1, 10.0), (2, 0.5)])
def test_rejects_bad_arguments(size: int, horizon: float) -> None:
    with pytest.raises(ValueError, match=r"size|horizon"):
        RunningNormalizer(size, horizon=horizon)


def test_state_round_trip() -> None:
    norm = RunningNormalizer(2)
    for row in ([1.0, None], [3.0, 4.0], [2.0, 8.0]):
        norm.update(row)
    twin = RunningNormalizer(2)
    twin.set_state(json.loads(json.dumps(norm.get_state())))
    assert twin.get_state() == norm.get_state()
    assert twin.transform([2.5, 5.0]) == norm.transform([2.5, 5.0])


@given(
    st.lists(
        st.lists(st.one_of(st.none(), FINITE), min_size=3, max_size=3),
        min_size=1,
        max_size=60,
    ),
    st.sampled_from([5.0, 1000.0]),
)
def test_standardise_is_update_then_transform(rows: list, horizon: float) -> None:  # type: ignore[type-arg]
    fused, reference = RunningNormalizer(3, horizon=horizon), RunningNormalizer(3, horizon=horizon)
    for row in rows:
        reference.update(row)
        assert fused.standardise(row) == reference.transform(row)
        assert fused.get_state() == reference.get_state()


def test_standardise_takes_the_even_path_only_when_every_metric_was_seen_as_often() -> None:
    norm = RunningNormalizer(2)
    for x in ([1.0, 2.0], [2.0, 4.0], [3.0, 5.0]):
        norm.standardise(x)
    assert norm._standardise_even([4.0, None], 4) is None  # a gap: nothing changed
    assert norm.counts == [3, 3]
    norm.standardise([4.0, None])
    assert norm.counts == [4, 3]
    z = norm.standardise([5.0, 6.0])  # uneven counts: the per-metric path
    assert norm.counts == [5, 4]
    assert z[1] == pytest.approx((6.0 - norm.means[1]) / math.sqrt(norm.variances[1]))
