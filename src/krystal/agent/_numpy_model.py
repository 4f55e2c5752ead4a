"""A numpy implementation of the kernel's Bayesian linear model, for speed.

Same mathematics, same state format and the same results (to floating-point rounding)
as :class:`krystal.kernel.linear_model.BayesLinear`, which stays the reference: the
pure-Python model is what runs on MicroPython and what the parity tests pin down. The
recursive-least-squares update is ``O(d^2)``; in numpy it is a few vector operations
instead of ``d`` Python-level list passes. Chosen with ``KrystalConfig(backend="numpy")``
(the ``fast`` extra installs numpy).
"""

import math
from typing import Any

from krystal._imports import require


def check_model_arguments(size: int, prior_var: float, forgetting: float) -> None:
    """Raise ``ValueError`` naming the first argument the kernel's model would refuse."""
    if size < 1:
        raise ValueError(f"size: expected an integer >= 1, got {size!r}")
    if prior_var <= 0.0:
        raise ValueError(f"prior_var: expected a positive number, got {prior_var!r}")
    if not 0.5 < forgetting <= 1.0:
        raise ValueError(f"forgetting: expected a number in (0.5, 1], got {forgetting!r}")


class NumpyBayesLinear:
    """Drop-in, numpy-backed :class:`~krystal.kernel.linear_model.BayesLinear`.

    >>> from krystal.kernel.linear_model import BayesLinear
    >>> fast, reference = NumpyBayesLinear(2, prior_var=1e6), BayesLinear(2, prior_var=1e6)
    >>> for x, y in (([1.0, 0.0], 1.0), ([1.0, 1.0], 3.0), ([1.0, 2.0], 5.0)):
    ...     _ = fast.update(x, y, 0.99), reference.update(x, y, 0.99)
    >>> all(abs(a - b) < 1e-9 for a, b in zip(fast.weights, reference.weights))
    True
    >>> import pickle
    >>> pickle.loads(pickle.dumps(fast)).predict([1.0, 3.0]) == fast.predict([1.0, 3.0])
    True
    """

    def __init__(self, size: int, prior_var: float = 10.0, forgetting: float = 1.0) -> None:
        check_model_arguments(size, prior_var, forgetting)
        self._np: Any = require("numpy", "fast")
        self.size = size
        self.prior_var = float(prior_var)
        self.forgetting = float(forgetting)
        self.reset()

    def __getstate__(self) -> dict[str, Any]:
        # The numpy module cannot be pickled; the service copies agents by pickling them.
        state = self.__dict__.copy()
        del state["_np"], state["_outer"]  # a scratch buffer, made again
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._np = require("numpy", "fast")
        self._outer = self._np.empty((self.size, self.size))

    def reset(self) -> None:
        """Forget everything: back to the prior."""
        np = self._np
        self._w = np.zeros(self.size)
        self._p = np.eye(self.size) * self.prior_var
        self._u = np.zeros(self.size)
        self._outer = np.empty((self.size, self.size))  # scratch for the update
        self.weights: list[float] = [0.0] * self.size
        self.count = 0

    @property
    def covariance(self) -> list[list[float]]:
        """The covariance as nested lists (a copy)."""
        rows: list[list[float]] = self._p.tolist()
        return rows

    def predict(self, x: list[float]) -> float:
        """Return the posterior mean prediction ``w . x``."""
        return float(self._w @ self._np.asarray(x, dtype=float))

    def variance(self, x: list[float]) -> float:
        """Return ``x' P x``."""
        v = self._np.asarray(x, dtype=float)
        return float(v @ self._p @ v)

    def quadratic_form(self, index: list[int], coeff: list[float]) -> float:
        """``u' P u`` for the sparse vector with ``coeff`` at positions ``index``."""
        # Scattered into a dense vector: two matrix-vector products cost half of
        # gathering the sub-matrix with ``np.ix_`` at these sizes.
        u = self._u
        u.fill(0.0)
        u[index] = coeff
        return float(u @ self._p @ u)

    def inflate(self, amount: float) -> None:
        """Add ``amount`` to every weight's variance."""
        self._p[self._np.diag_indices(self.size)] += amount

    def update(self, x: list[float], y: float, forgetting: float | None = None) -> float:
        """Fold in one sample and return the prediction error before the update."""
        np = self._np
        lam = self.forgetting if forgetting is None else forgetting
        inv = 1.0 / lam
        p = self._p
        v = np.asarray(x, dtype=float)
        scale = None
        if lam < 1.0:
            capped = p.diagonal() * inv > self.prior_var
            if capped.any():
                scale = np.where(capped, 1.0, math.sqrt(inv))
        qx = inv * (p @ v) if scale is None else scale * (p @ (scale * v))
        denom = 1.0 + float(qx @ v)
        error = float(y - self._w @ v)
        gain = qx / denom
        self._w += gain * error
        # The outer products as (d, 1) x (1, d) matrix products into a kept buffer: the
        # same products (each entry one multiplication), a third of the time of
        # broadcasting them at these sizes.
        outer = self._outer
        if scale is None:
            if inv != 1.0:
                p *= inv
        else:
            np.dot(scale[:, None], scale[None, :], out=outer)
            p *= outer
        np.dot(gain[:, None], qx[None, :], out=outer)
        p -= outer
        self.weights = self._w.tolist()
        self.count += 1
        return error

    def get_state(self) -> dict[str, Any]:
        """The same JSON-friendly state as the pure-Python model."""
        return {"weights": list(self.weights), "covariance": self.covariance, "count": self.count}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state produced by either implementation's ``get_state``."""
        np = self._np
        weights = np.asarray([float(w) for w in state["weights"]])
        covariance = np.asarray([[float(p) for p in row] for row in state["covariance"]])
        if weights.shape != (self.size,) or covariance.shape != (self.size, self.size):
            raise ValueError(f"state: expected {self.size} weights and a square covariance")
        self._w = weights
        self._p = covariance
        self.weights = weights.tolist()
        self.count = int(state["count"])
