import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from krystal.kernel.replay import PrioritizedReplay, ReplayBuffer
from krystal.kernel.rng import Rng


def round_trip(state: dict) -> dict:  # type: ignore[type-arg]
    return json.loads(json.dumps(state, allow_nan=False))  # type: ignore[no-any-return]


# ReplayBuffer


def test_ring_overwrites_oldest_first() -> None:
    buffer = ReplayBuffer(4, Rng(0))
    for item in range(3):
        buffer.add(item)
    assert buffer.items() == [0, 1, 2]
    for item in range(3, 10):
        buffer.add(item)
    assert buffer.items() == [6, 7, 8, 9]
    assert len(buffer) == 4


def test_uniform_sampling_covers_all_items_evenly() -> None:
    buffer = ReplayBuffer(5, Rng(11))
    for item in range(8):
        buffer.add(item)
    draws = buffer.sample(10000)
    counts = [draws.count(item) for item in range(3, 8)]
    assert set(draws) == {3, 4, 5, 6, 7}
    assert all(abs(c - 2000) < 200 for c in counts)
    assert buffer.sample(0) == []


def test_clear_and_empty_sampling() -> None:
    buffer = ReplayBuffer(2, Rng(0))
    buffer.add("a")
    buffer.clear()
    assert len(buffer) == 0
    assert buffer.items() == []
    with pytest.raises(ValueError, match="empty"):
        buffer.sample(1)


@pytest.mark.parametrize("capacity", [0, -1, 2.5, True])
def test_buffer_rejects_bad_capacity(capacity: object) -> None:
    with pytest.raises(ValueError, match="capacity"):
        ReplayBuffer(capacity, Rng(0))  # type: ignore[arg-type]


def test_buffer_rejects_bad_count() -> None:
    buffer = ReplayBuffer(2, Rng(0))
    buffer.add(1)
    with pytest.raises(ValueError, match="n: expected"):
        buffer.sample(-1)


def test_buffer_state_round_trip_gives_identical_samples() -> None:
    rng = Rng(5)
    buffer = ReplayBuffer(6, rng)
    for item in range(9):
        buffer.add([item, float(item) / 2])
    copy_rng = Rng(0)
    copy_rng.set_state(rng.get_state())
    copy = ReplayBuffer(1, copy_rng)
    copy.set_state(round_trip(buffer.get_state()))
    assert copy.items() == buffer.items()
    assert copy.sample(20) == buffer.sample(20)
    buffer.add([99, 1.0])
    copy.add([99, 1.0])
    assert copy.items() == buffer.items()
    assert copy.sample(20) == buffer.sample(20)


# PrioritizedReplay


def test_prioritized_ring_overwrites_oldest_slot() -> None:
    replay = PrioritizedReplay(3, Rng(0))
    for item in "abcde":
        replay.add(item, priority=1.0)
    assert len(replay) == 3
    _, items, _ = replay.sample(300)
    assert set(items) == {"c", "d", "e"}


def test_sampling_frequencies_follow_priorities_to_the_alpha() -> None:
    alpha = 0.6
    priorities = [0.1, 0.5, 1.0, 2.0, 4.0, 0.0, 3.0]
    replay = PrioritizedReplay(len(priorities), Rng(2024), alpha=alpha)
    for i, p in enumerate(priorities):
        replay.add(i, priority=p)
    draws = 40000
    counts = [0] * len(priorities)
    for _ in range(draws // 8):
        indices, items, _ = replay.sample(8)
        assert indices == items  # item i sits in slot i
        for i in indices:
            counts[i] += 1
    weights = [(p + replay.eps) ** alpha for p in priorities]
    expected = [draws * w / sum(weights) for w in weights]
    chi_square = sum((c - e) ** 2 / e for c, e in zip(counts, expected, strict=True))
    # 6 degrees of freedom: P(chi2 > 22.5) is about 0.001; stratified draws only lower it.
    assert chi_square < 22.5
    assert counts[5] < 0.01 * draws  # priority 0 is almost never replayed


def test_new_items_get_the_largest_priority_seen() -> None:
    replay = PrioritizedReplay(4, Rng(0), alpha=1.0, eps=1e-9)
    replay.add("a", priority=5.0)
    replay.add("b")
    assert replay.total() == pytest.approx(10.0)
    replay.update([0], [7.0])
    replay.add("c")
    assert replay.total() == pytest.approx(7.0 + 5.0 + 7.0)


@settings(max_examples=80, deadline=None)
@given(
    capacity=st.integers(1, 37),
    alpha=st.floats(0.0, 1.0),
    adds=st.lists(st.floats(0.0, 1e3), min_size=1, max_size=60),
    updates=st.lists(
        st.tuples(st.integers(0, 10**6), st.floats(0.0, 1e3)), min_size=0, max_size=60
    ),
)
def test_sum_tree_total_equals_sum_of_leaves(
    capacity: int, alpha: float, adds: list[float], updates: list[tuple[int, float]]
) -> None:
    replay = PrioritizedReplay(capacity, Rng(1), alpha=alpha)
    raw = [0.0] * capacity
    for k, p in enumerate(adds):
        replay.add(k, priority=p)
        raw[k % capacity] = p
    size = len(replay)
    for slot, p in updates:
        replay.update([slot % size], [p])
        raw[slot % size] = p
    expected = math.fsum((p + replay.eps) ** alpha for p in raw[:size])
    assert replay.total() == pytest.approx(expected, rel=1e-9)
    indices, _, _ = replay.sample(5)
    assert all(0 <= i < size for i in indices)


def test_importance_weights_are_in_unit_interval_with_max_one() -> None:
    replay = PrioritizedReplay(50, Rng(9), beta=0.7)
    rng = Rng(3)
    for item in range(50):
        replay.add(item, priority=rng.uniform(0.0, 10.0))
    for _ in range(20):
        indices, _, weights = replay.sample(16)
        assert all(0.0 < w <= 1.0 for w in weights)
        assert max(weights) == 1.0
        # A rarer draw (smaller priority) carries the larger weight.
        leaves = [replay._tree[replay.capacity + i] for i in indices]
        order = sorted(range(16), key=lambda k: leaves[k])
        assert [weights[k] for k in order] == sorted(weights, reverse=True)


def test_update_rejects_bad_priorities_and_indices_without_changes() -> None:
    replay = PrioritizedReplay(4, Rng(0))
    replay.add("a", priority=1.0)
    replay.add("b", priority=2.0)
    before = replay.get_state()
    for bad in (-1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="priority"):
            replay.update([0, 1], [3.0, bad])
        with pytest.raises(ValueError, match="priority"):
            replay.add("c", priority=bad)
    with pytest.raises(ValueError, match="indices"):
        replay.update([2], [1.0])
    with pytest.raises(ValueError, match="priorities"):
        replay.update([0, 1], [1.0])
    assert replay.get_state() == before


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"capacity": 0}, "capacity"),
        ({"alpha": -0.1}, "alpha"),
        ({"beta": 1.5}, "beta"),
        ({"eps": 0.0}, "eps"),
        ({"eps": math.nan}, "eps"),
    ],
)
def test_prioritized_rejects_bad_arguments(kwargs: dict, name: str) -> None:  # type: ignore[type-arg]
    args: dict = {"capacity": 4, "rng": Rng(0)}  # type: ignore[type-arg]
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        PrioritizedReplay(**args)


def test_empty_prioritized_sampling() -> None:
    replay = PrioritizedReplay(4, Rng(0))
    assert replay.sample(0) == ([], [], [])
    with pytest.raises(ValueError, match="empty"):
        replay.sample(1)


def test_prioritized_state_round_trip_gives_identical_samples() -> None:
    rng = Rng(77)
    replay = PrioritizedReplay(10, rng, alpha=0.7, beta=0.5)
    for item in range(14):
        replay.add({"step": item, "obs": [item * 0.1, -item * 0.2]}, priority=item % 4 + 0.5)
    replay.update([1, 3, 5], [9.0, 0.0, 2.5])
    copy_rng = Rng(0)
    copy_rng.set_state(rng.get_state())
    copy = PrioritizedReplay(2, copy_rng)
    copy.set_state(round_trip(replay.get_state()))
    assert copy.total() == replay.total()
    for _ in range(5):
        assert copy.sample(7) == replay.sample(7)
        copy.add({"step": -1, "obs": []})
        replay.add({"step": -1, "obs": []})
        copy.update([2, 4], [0.3, 8.0])
        replay.update([2, 4], [0.3, 8.0])
