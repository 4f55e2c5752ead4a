"""Feature maps from a standardised state (and an action) to small real vectors.

The value function sees ``[1, z, rbf(z)]``: the linear terms carry monotone trends and a
per-metric ring of Gaussian bumps carries the bends (an additive RBF map: it grows
linearly with the number of metrics, unlike a full grid, so it stays small).

The reward model sees the quadratic response surface ``[1, z, rbf(z), a, a*a, a_i*a_j,
z_k*a_i]``: for a fixed state it is a quadratic in the action whose linear coefficients
move with the state, which is what lets the best setting follow the context.
"""

import math

RBF_CENTRES = (-1.2, 0.0, 1.2)
_RBF_INV_2W2 = 1.0 / (2.0 * 0.7 * 0.7)


def state_size(state_dim: int) -> int:
    """Length of :func:`state_features` for ``state_dim`` metrics.

    >>> state_size(8)
    33
    """
    return 1 + state_dim * (1 + len(RBF_CENTRES))


def state_features(z: list[float]) -> list[float]:
    """Map a standardised state to ``[1, z, rbf(z)]``.

    >>> [round(v, 3) for v in state_features([0.0])]
    [1.0, 0.0, 0.23, 1.0, 0.23]
    """
    out = [1.0]
    out.extend(z)
    exp = math.exp
    for v in z:
        for c in RBF_CENTRES:
            d = v - c
            out.append(exp(-d * d * _RBF_INV_2W2))
    return out


def action_size(state_dim: int, action_dim: int, context_dim: int | None = None) -> int:
    """Length of :func:`action_features`; ``context_dim`` defaults to ``state_dim``.

    >>> action_size(8, 4), action_size(8, 4, context_dim=32)
    (79, 175)
    """
    pairs = action_dim * (action_dim - 1) // 2
    context = state_dim if context_dim is None else context_dim
    return state_size(state_dim) + 2 * action_dim + pairs + context * action_dim


def action_features(phi_state: list[float], z: list[float], a: list[float]) -> list[float]:
    """Append the action's quadratic and state-interaction terms to ``phi_state``.

    The order is ``a``, ``a*a``, the pairs ``a_i*a_j`` (i < j, row-major), then
    ``z_k*a_i`` grouped by action (all k for a_0, then for a_1, ...).

    >>> action_features([1.0], [2.0], [0.5, 1.0])
    [1.0, 0.5, 1.0, 0.25, 1.0, 0.5, 1.0, 2.0]
    """
    out = list(phi_state)
    out.extend(a)
    for v in a:
        out.append(v * v)
    m = len(a)
    for i in range(m):
        ai = a[i]
        for j in range(i + 1, m):
            out.append(ai * a[j])
    for v in a:
        for zk in z:
            out.append(zk * v)
    return out
