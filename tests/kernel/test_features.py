import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from krystal.kernel.features import (
    RBF_CENTRES,
    action_features,
    action_size,
    state_features,
    state_size,
)

Z = st.floats(min_value=-5.0, max_value=5.0, allow_nan=False)


@given(st.lists(Z, min_size=1, max_size=6))
def test_state_features_layout(z: list[float]) -> None:
    phi = state_features(z)
    assert len(phi) == state_size(len(z)) == 1 + 4 * len(z)
    assert phi[0] == 1.0
    assert phi[1 : 1 + len(z)] == z
    bumps = phi[1 + len(z) :]
    for k, v in enumerate(z):
        for c_index, c in enumerate(RBF_CENTRES):
            expected = math.exp(-((v - c) ** 2) / (2 * 0.7 * 0.7))
            assert bumps[3 * k + c_index] == pytest.approx(expected)
            assert 0.0 < bumps[3 * k + c_index] <= 1.0


def test_rbf_peaks_at_its_centre() -> None:
    phi = state_features([1.2])
    assert phi[2:] == pytest.approx([math.exp(-(2.4**2) / 0.98), math.exp(-(1.2**2) / 0.98), 1.0])


@given(
    st.lists(Z, min_size=1, max_size=4),
    st.lists(st.floats(min_value=-1.0, max_value=1.0), min_size=1, max_size=5),
)
def test_action_features_length_matches_action_size(z: list[float], a: list[float]) -> None:
    phi = action_features(state_features(z), z, a)
    assert len(phi) == action_size(len(z), len(a))


def test_action_features_order_by_hand() -> None:
    z = [2.0, -1.0]
    a = [0.5, -0.25, 3.0]
    phi = action_features([7.0], z, a)
    assert phi == [
        7.0,
        0.5, -0.25, 3.0,  # a
        0.25, 0.0625, 9.0,  # a*a
        -0.125, 1.5, -0.75,  # a0a1, a0a2, a1a2
        1.0, -0.5,  # z*a0
        -0.5, 0.25,  # z*a1
        6.0, -3.0,  # z*a2
    ]  # fmt: skip


def test_action_features_does_not_modify_state_features() -> None:
    psi = state_features([0.3])
    copy = list(psi)
    action_features(psi, [0.3], [0.1])
    assert psi == copy
