"""The arms' reward models stacked in numpy arrays, scored with one matrix product.

Same mathematics, state format and choices (to floating-point rounding) as the kernel's
:class:`krystal.kernel.arms.ArmModels`, which stays the reference. The kernel scores the
``k`` arms of a ``d``-feature context one by one (``k`` quadratic forms in Python); here
all arms live in one ``(k, d + 1, d)`` array, each arm's covariance ``P`` with its weights
``w`` as one more row, so one matrix-vector product gives every arm's ``P x`` and ``w . x``
and a second one their predictive variances ``x' P x``. At these sizes the cost of a
numpy call, not the arithmetic, is what counts, so the layout is chosen to make few
calls: the update of one arm is one outer product subtracted from its ``(d + 1, d)``
block (covariance and weights at once), and it reuses ``P x`` kept from scoring the same
context. The normal deviates still come from the kernel's
:class:`~krystal.kernel.rng.Rng`, in arm order, so a seeded agent makes the same choices
on either backend.
"""

import math
from typing import Any

from krystal._imports import require
from krystal.agent._numpy_model import check_model_arguments


class NumpyArmModels:
    """Drop-in, numpy-backed :class:`~krystal.kernel.arms.ArmModels`.

    >>> from krystal.kernel.arms import ArmModels
    >>> fast, reference = NumpyArmModels(3, 2, 10.0, 1.0), ArmModels(3, 2, 10.0, 1.0)
    >>> for arm, x, y in ((0, [1.0, 0.5], 1.0), (2, [1.0, -1.0], 0.3), (0, [1.0, 2.0], 0.0)):
    ...     _ = fast.update(arm, x, y, None), reference.update(arm, x, y, None)
    >>> x = [1.0, 0.7]
    >>> all(abs(a - b) < 1e-12 for a, b in zip(fast.means(x), reference.means(x)))
    True
    >>> [round(v, 9) for v in fast.moments(x)[1]] == [round(v, 9) for v in reference.moments(x)[1]]
    True
    """

    def __init__(self, arms: int, size: int, prior_var: float, forgetting: float) -> None:
        if arms < 1:
            raise ValueError(f"arms: expected an integer >= 1, got {arms!r}")
        check_model_arguments(size, prior_var, forgetting)
        self._np: Any = require("numpy", "fast")
        np = self._np
        self.arms = arms
        self.size = size
        self.prior_var = float(prior_var)
        self.forgetting = float(forgetting)
        # Arm k's block: rows 0..d-1 its covariance, row d its weights.
        self._a = np.zeros((arms, size + 1, size))
        self._a[:, :size, :] = np.eye(size) * self.prior_var
        self._counts = [0] * arms
        # Row 0: the context with a trailing 0, row 1: picks the weights' row (w . x).
        self._probe = np.zeros((2, size + 1))
        self._probe[1, size] = 1.0
        self._outer = np.zeros((size + 1, size))
        self._views()

    def _views(self) -> None:
        # Buffers and views made once, not per call: at these sizes a numpy call costs
        # more than the arithmetic. All arms' blocks as one (k (d + 1), d) matrix and
        # each arm's block; the context row of the probe; the products [P x, w . x] of
        # the last context scored, whole, transposed and per arm (with its P x part).
        np, size = self._np, self.size
        self._flat = self._a.reshape(-1, size)
        self._blocks = list(self._a)
        self._x_row = self._probe[0, :size]
        self._products = np.zeros((self.arms, size + 1))
        self._products_flat = self._products.reshape(-1)
        self._products_t = self._products.T
        self._rows = list(self._products)
        self._qxs = [row[:size] for row in self._rows]
        # The update's outer product as a (d + 1, 1) x (1, d) matrix product: a third of
        # the time of ``np.multiply.outer`` at these sizes.
        self._columns = [row[:, None] for row in self._rows]
        self._gain = np.zeros(size)
        self._gain_row = self._gain[None, :]
        self._multiply = np.multiply
        self._forget()

    def __getstate__(self) -> dict[str, Any]:
        # The numpy module cannot be pickled (the service copies agents by pickling them),
        # and views would come back as copies: both are remade on unpickling.
        state = self.__dict__.copy()
        for name in ("_np", "_flat", "_blocks", "_x_row", "_products", "_products_flat"):
            del state[name]
        for name in ("_products_t", "_rows", "_qxs", "_columns", "_gain", "_gain_row"):
            del state[name]
        for name in ("_multiply", "_x"):
            del state[name]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._np = require("numpy", "fast")
        self._views()

    @property
    def count(self) -> int:
        """Outcomes learned so far, over all arms."""
        return sum(self._counts)

    def _forget(self) -> None:
        # Drop what was kept for the last context scored (a model changed).
        self._x: list[float] | None = None

    def _score(self, x: list[float]) -> None:
        # Every arm's x' P x and w . x for ``x``, and its P x, kept until a model changes.
        if x == self._x:
            return
        self._x_row[:] = x
        self._flat.dot(self._x_row, out=self._products_flat)
        moments: list[list[float]] = self._probe.dot(self._products_t).tolist()
        self._variances, self._means = moments
        self._x = list(x)

    def means(self, x: list[float]) -> list[float]:
        """Every arm's expected reward for context ``x``."""
        self._score(x)
        return list(self._means)

    def moments(self, x: list[float]) -> tuple[list[float], list[float]]:
        """Every arm's predictive mean ``w . x`` and (noise-scaled) variance ``x' P x``.

        Read-only: they are kept for the next call with the same context.
        """
        self._score(x)
        return self._means, self._variances

    def predict(self, arm: int, x: list[float]) -> float:
        """Arm ``arm``'s expected reward for context ``x``."""
        self._score(x)
        mean: float = self._means[arm]
        return mean

    def update(self, arm: int, x: list[float], y: float, forgetting: float | None = None) -> float:
        """Fold ``y`` into arm ``arm``'s model; return its prediction error before."""
        np = self._np
        self._score(x)
        size = self.size
        lam = self.forgetting if forgetting is None else forgetting
        inv = 1.0 / lam
        block = self._blocks[arm]
        error = y - self._means[arm]
        # [P x, w . x] kept from scoring this context: its first d entries become qx
        # and its last -error, the left factor of the update below.
        row, qx = self._rows[arm], self._qxs[arm]
        scale = None
        if lam < 1.0:
            # Selective forgetting, as in the kernel: a weight whose variance would pass
            # its prior is not forgotten.
            p = block[:size]
            capped = p.diagonal() * inv > self.prior_var
            if capped.any():
                scale = np.where(capped, 1.0, math.sqrt(inv))
                v = self._x_row
                qx[:] = scale * (p @ (scale * v))
                square = self._outer[:size]  # scratch: the (d, 1) x (1, d) product
                np.dot(scale[:, None], scale[None, :], out=square)
                p *= square
                denom = 1.0 + float(qx @ v)
            else:
                qx *= inv
                p *= inv
        if scale is None:
            denom = 1.0 + inv * self._variances[arm]
        row[size] = -error
        # P -= gain qx' and w += gain * error (gain = qx / denom) as one outer product.
        outer = self._outer
        self._multiply(qx, 1.0 / denom, out=self._gain)
        self._columns[arm].dot(self._gain_row, out=outer)
        block -= outer
        self._counts[arm] += 1
        self._x = None  # the models changed: nothing kept is valid
        return error

    def inflate(self, amount: float) -> None:
        """Add ``amount`` to every weight variance of every arm."""
        index = self._np.arange(self.size)
        self._a[:, index, index] += amount
        self._forget()

    def get_state(self) -> list[dict[str, Any]]:
        """The kernel's state: one ``{weights, covariance, count}`` per arm."""
        size = self.size
        weights, covariances = self._a[:, size, :].tolist(), self._a[:, :size, :].tolist()
        return [
            {"weights": w, "covariance": p, "count": n}
            for w, p, n in zip(weights, covariances, self._counts)
        ]

    def set_state(self, states: list[dict[str, Any]]) -> None:
        """Restore the states produced by either implementation's ``get_state``."""
        np = self._np
        size = self.size
        if len(states) != self.arms:
            raise ValueError(f"state: expected {self.arms} arm models")
        weights = np.array([[float(w) for w in s["weights"]] for s in states])
        covariances = np.array([[[float(c) for c in r] for r in s["covariance"]] for s in states])
        if weights.shape != (self.arms, size) or covariances.shape != (self.arms, size, size):
            raise ValueError(f"state: expected {size} weights and a square covariance per arm")
        counts = [int(s["count"]) for s in states]
        blocks = np.empty((self.arms, size + 1, size))
        blocks[:, :size, :] = covariances
        blocks[:, size, :] = weights
        self._a, self._counts = blocks, counts
        self._views()
