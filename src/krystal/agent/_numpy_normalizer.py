"""A numpy implementation of the kernel's running normaliser, for many metrics.

Same mathematics, state format and numbers as
:class:`krystal.kernel.normalizer.RunningNormalizer`, which stays the reference. The
kernel's cost grows with the number of metrics (a Python loop over them); here a step is
about fifteen numpy calls whatever the number, which pays from a couple of dozen
metrics on: the agent's numpy backend uses it from :data:`MIN_METRICS` metrics (below
that, the kernel's loop is faster). Missing values (``None``) and the first steps take
the kernel's own path on lists, then the moments go back into arrays.
"""

from typing import Any

from krystal._imports import require
from krystal.kernel.normalizer import RunningNormalizer

#: From this many metrics on the numpy normaliser is the faster one (bandit benchmark,
#: see docs/benchmarks.md).
MIN_METRICS = 24


class NumpyRunningNormalizer:
    """Drop-in, numpy-backed :class:`~krystal.kernel.normalizer.RunningNormalizer`.

    >>> fast, reference = NumpyRunningNormalizer(2), RunningNormalizer(2)
    >>> for x in ([10.0, 200.0], [12.0, None], [14.0, 240.0], [9.0, 210.0], [8.0, 205.0]):
    ...     assert fast.standardise(x) == reference.standardise(x)
    >>> fast.get_state() == reference.get_state()
    True
    """

    def __init__(self, size: int, horizon: float = 1000.0, clip: float = 5.0) -> None:
        self._reference = RunningNormalizer(size, horizon, clip)  # checks the arguments
        self._np: Any = require("numpy", "fast")
        self.size = size
        self.horizon = float(horizon)
        self.clip = float(clip)
        self._arrays()

    def _arrays(self) -> None:
        # The moments as arrays (from the reference's lists), plus scratch buffers.
        np, ref = self._np, self._reference
        counts = ref.counts
        # One count for every metric (the usual case) lets one weight serve them all.
        self._even = counts[0] if counts.count(counts[0]) == self.size else None
        self._means = np.array(ref.means, dtype=float)
        self._variances = np.array(ref.variances, dtype=float)
        self._delta = np.zeros(self.size)
        self._step = np.zeros(self.size)
        self._z = np.zeros(self.size)
        self._std = np.zeros(self.size)

    def _lists(self) -> RunningNormalizer:
        # The reference with the current moments (for the paths that work on lists).
        ref = self._reference
        if self._even is not None:
            ref.counts = [self._even] * self.size
        ref.means = self._means.tolist()
        ref.variances = self._variances.tolist()
        return ref

    def __getstate__(self) -> dict[str, Any]:
        # The numpy module cannot be pickled; the service copies agents by pickling them.
        state = self.__dict__.copy()
        del state["_np"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._np = require("numpy", "fast")

    @property
    def counts(self) -> list[int]:
        """Samples seen per metric (a copy)."""
        return list(self._lists().counts)

    @property
    def means(self) -> list[float]:
        """Running mean per metric (a copy)."""
        out: list[float] = self._means.tolist()
        return out

    @property
    def variances(self) -> list[float]:
        """Running variance per metric (a copy)."""
        out: list[float] = self._variances.tolist()
        return out

    def standardise(self, x: list[float | None]) -> list[float]:
        """:meth:`update` with ``x``, then :meth:`transform` it."""
        np = self._np
        n = self._even
        if n is None or n < 2:
            return self._on_lists(x)
        try:
            sum(x)  # type: ignore[arg-type]
        except TypeError:  # a None: a missing value (numpy would read it as nan)
            return self._on_lists(x)
        a = np.fromiter(x, float, self.size)
        n += 1
        weight = 1.0 / n
        if weight < 1.0 / self.horizon:
            weight = 1.0 / self.horizon
        means, variances, std, z = self._means, self._variances, self._std, self._z
        delta, step = self._delta, self._step
        # The kernel's arithmetic in the kernel's order, so the numbers are the same.
        np.subtract(a, means, out=delta)
        np.multiply(delta, weight, out=step)
        means += step
        step *= delta
        variances += step
        variances *= 1.0 - weight
        self._even = n
        np.sqrt(variances, out=std)
        if std.min() < 1e-12:  # a constant metric: the kernel's rule maps it to 0
            return self._lists().transform(x)
        np.subtract(a, means, out=z)
        z /= std
        np.minimum(z, self.clip, out=z)
        np.maximum(z, -self.clip, out=z)
        out: list[float] = z.tolist()
        return out

    def _on_lists(self, x: list[float | None]) -> list[float]:
        out = self._lists().standardise(x)
        self._arrays()
        return out

    def update(self, x: list[float | None]) -> None:
        """Fold one observation into the running moments."""
        self._lists().update(x)
        self._arrays()

    def transform(self, x: list[float | None]) -> list[float]:
        """Return the standardised vector; unseen or missing entries give 0.0."""
        return self._lists().transform(x)

    def get_state(self) -> dict[str, Any]:
        """The kernel's state: counts, means and variances as lists."""
        return self._lists().get_state()

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore moments produced by either implementation's ``get_state``."""
        self._reference.set_state(state)
        self._arrays()
