"""Bayesian linear regression, updated online by recursive least squares.

``w`` is the posterior mean and ``P`` (times the noise variance) the posterior covariance
of a Gaussian prior ``N(0, prior_var * I)``; each update is the exact rank-one posterior
update, so a few dozen samples already give a usable fit, unlike stochastic gradient
steps that need hundreds. A forgetting factor below one down-weights old samples so the
model follows a world that changes; to stop the covariance from growing without bound
in directions that are never excited ("wind-up"), a weight whose variance would exceed
its prior variance is not forgotten while the others are (selective forgetting).
"""

import math

try:
    from operator import mul
except ImportError:  # MicroPython builds without the operator module

    def mul(a: float, b: float) -> float:  # type: ignore[misc]
        return a * b


class BayesLinear:
    """Online Bayesian linear model ``y ~ w . x`` with exponential forgetting.

    >>> model = BayesLinear(2, prior_var=1e6)
    >>> for x, y in (([1.0, 0.0], 1.0), ([1.0, 1.0], 3.0), ([1.0, 2.0], 5.0)):
    ...     _ = model.update(x, y)
    >>> [round(v, 2) for v in model.weights]
    [1.0, 2.0]
    >>> round(model.predict([1.0, 3.0]), 2)
    7.0
    """

    def __init__(self, size: int, prior_var: float = 10.0, forgetting: float = 1.0) -> None:
        if size < 1:
            raise ValueError("size: expected an integer >= 1, got " + repr(size))
        if prior_var <= 0.0:
            raise ValueError("prior_var: expected a positive number, got " + repr(prior_var))
        if not 0.5 < forgetting <= 1.0:
            raise ValueError("forgetting: expected a number in (0.5, 1], got " + repr(forgetting))
        self.size = size
        self.prior_var = float(prior_var)
        self.forgetting = float(forgetting)
        self.weights = [0.0] * size
        self.covariance = [
            [self.prior_var if i == j else 0.0 for j in range(size)] for i in range(size)
        ]
        self.count = 0

    def predict(self, x: list[float]) -> float:
        """Return the posterior mean prediction ``w . x``."""
        total: float = sum(map(mul, self.weights, x))
        return total

    def variance(self, x: list[float]) -> float:
        """Return ``x' P x``, the (noise-scaled) posterior variance of the prediction."""
        total = 0.0
        for i, row in enumerate(self.covariance):
            xi = x[i]
            if xi != 0.0:
                total += xi * sum(map(mul, row, x))
        return total

    def quadratic_form(self, index: list[int], coeff: list[float]) -> float:
        """``u' P u`` for the sparse vector with ``coeff`` at positions ``index``."""
        cov = self.covariance
        total = 0.0
        for p, cp in zip(index, coeff):
            row = cov[p]
            for q, cq in zip(index, coeff):
                total += cp * cq * row[q]
        return total

    def inflate(self, amount: float) -> None:
        """Add ``amount`` to every weight's variance (re-open the model to new data)."""
        for i, row in enumerate(self.covariance):
            row[i] += amount

    def update(self, x: list[float], y: float, forgetting: float | None = None) -> float:
        """Fold in one sample and return the prediction error before the update."""
        lam = self.forgetting if forgetting is None else forgetting
        cov = self.covariance
        size = self.size
        inv = 1.0 / lam
        # Selective forgetting: a weight whose variance would pass its prior is not
        # forgotten (its row and column are left unscaled), the others are. Forgetting
        # never stops for the whole model because one feature is never excited.
        scale = None
        if lam < 1.0:
            limit = self.prior_var
            root = math.sqrt(inv)
            for i in range(size):
                if cov[i][i] * inv > limit:
                    scale = [1.0 if cov[j][j] * inv > limit else root for j in range(size)]
                    break
        if scale is None:
            qx = [inv * sum(map(mul, row, x)) for row in cov]
        else:
            sx = list(map(mul, scale, x))
            qx = [si * sum(map(mul, row, sx)) for si, row in zip(scale, cov)]
        denom = 1.0 + sum(map(mul, qx, x))
        error = y - self.predict(x)
        gain = [v / denom for v in qx]
        self.weights = [w + g * error for w, g in zip(self.weights, gain)]
        for i in range(size):
            gi = gain[i]
            row = cov[i]
            if scale is None:
                if gi == 0.0:
                    if inv != 1.0:
                        cov[i] = [p * inv for p in row]
                    continue
                cov[i] = [inv * p - gi * q for p, q in zip(row, qx)]
            else:
                si = scale[i]
                cov[i] = [si * sj * p - gi * q for p, sj, q in zip(row, scale, qx)]
        self.count += 1
        return error

    def reset(self) -> None:
        """Forget everything: back to the prior."""
        self.weights = [0.0] * self.size
        self.covariance = [
            [self.prior_var if i == j else 0.0 for j in range(self.size)] for i in range(self.size)
        ]
        self.count = 0

    def get_state(self) -> dict:  # type: ignore[type-arg]
        """Return weights and covariance as JSON-friendly data."""
        return {
            "weights": list(self.weights),
            "covariance": [list(row) for row in self.covariance],
            "count": self.count,
        }

    def set_state(self, state: dict) -> None:  # type: ignore[type-arg]
        """Restore a state produced by :meth:`get_state`."""
        weights = [float(w) for w in state["weights"]]
        covariance = [[float(p) for p in row] for row in state["covariance"]]
        if len(weights) != self.size or len(covariance) != self.size:
            raise ValueError("state: expected " + str(self.size) + " weights")
        self.weights = weights
        self.covariance = covariance
        self.count = int(state["count"])
