"""TD(lambda) value learning with eligibility traces over a linear feature map.

``V(s) = w . psi(s)``. The step size is normalised by ``|psi|^2`` (as in NLMS) so one
learning rate works whatever the number of features.

The agent API hands over a reward before it sees the next state, so the TD error
``r + gamma V(s') - V(s)`` is applied in two parts with the same traces: the reward part
``r + gamma V(s) - V(s)`` when the reward arrives (this is what ``reward()`` returns),
and the bootstrap correction ``gamma (V(s') - V(s))`` when the next state is observed,
with both values taken before the reward part moved the weights. Added up they are
exactly the one-step TD error; if the state does not change, the correction is zero.
"""


class TDLambda:
    """Linear TD(lambda) critic with accumulating, normalised eligibility traces.

    >>> critic = TDLambda(2, alpha=0.5, gamma=0.0, lam=0.0)
    >>> for _ in range(50):
    ...     _ = critic.begin([1.0, 0.0])
    ...     _ = critic.reward(1.0)
    >>> round(critic.value([1.0, 0.0]), 3)
    1.0
    """

    def __init__(self, size: int, alpha: float = 0.1, gamma: float = 0.9, lam: float = 0.8) -> None:
        if size < 1:
            raise ValueError("size: expected an integer >= 1, got " + repr(size))
        if not 0.0 < alpha <= 1.0:
            raise ValueError("alpha: expected a number in (0, 1], got " + repr(alpha))
        if not 0.0 <= gamma < 1.0:
            raise ValueError("gamma: expected a number in [0, 1), got " + repr(gamma))
        if not 0.0 <= lam <= 1.0:
            raise ValueError("lam: expected a number in [0, 1], got " + repr(lam))
        self.size = size
        self.alpha = float(alpha)
        self.gamma = float(gamma)
        self.lam = float(lam)
        self.weights = [0.0] * size
        self.traces = [0.0] * size
        self._psi: list[float] = []
        self._value = 0.0
        self._rewarded = False
        self._last_step = 0.0

    def value(self, psi: list[float]) -> float:
        """Return ``V`` for the feature vector ``psi``."""
        return sum([w * v for w, v in zip(self.weights, psi)])

    def begin(self, psi: list[float]) -> float:
        """Enter a new state; apply the bootstrap correction of the previous step.

        Returns the correction TD error (0.0 when there was no rewarded previous step).
        """
        correction = 0.0
        if self._rewarded:
            # V(s') as it was before the reward part moved the weights, so the two parts
            # add up to the TD error of one ordinary TD(lambda) step.
            moved = self._last_step * sum([e * v for e, v in zip(self.traces, psi)])
            correction = self.gamma * (self.value(psi) - moved - self._value)
            self._apply(correction)
            decay = self.gamma * self.lam
            self.traces = [decay * e + v for e, v in zip(self.traces, psi)]
        else:
            self.traces = [e + v for e, v in zip(self.traces, psi)]
        self._psi = psi
        self._value = self.value(psi)
        self._rewarded = False
        return correction

    def reward(self, r: float) -> float:
        """Apply the reward part of the TD error for the current state and return it."""
        if self._rewarded:
            # A second reward in the same state: start a fresh step from the same state.
            self.begin(self._psi)
        delta = r + (self.gamma - 1.0) * self._value
        self._apply(delta)
        self._rewarded = True
        return delta

    def _apply(self, delta: float) -> None:
        norm = sum([v * v for v in self._psi])
        self._last_step = 0.0
        if norm <= 0.0 or delta == 0.0:
            return
        step = self.alpha * delta / norm
        self._last_step = step
        self.weights = [w + step * e for w, e in zip(self.weights, self.traces)]

    def reset_traces(self) -> None:
        """Clear the eligibility traces (e.g. at the end of an episode)."""
        self.traces = [0.0] * self.size
        self._rewarded = False

    def get_state(self) -> dict:  # type: ignore[type-arg]
        """Return weights and traces as JSON-friendly data."""
        return {
            "weights": list(self.weights),
            "traces": list(self.traces),
            "psi": list(self._psi),
            "value": self._value,
            "rewarded": self._rewarded,
            "last_step": self._last_step,
        }

    def set_state(self, state: dict) -> None:  # type: ignore[type-arg]
        """Restore a state produced by :meth:`get_state`."""
        self.weights = [float(w) for w in state["weights"]]
        self.traces = [float(e) for e in state["traces"]]
        self._psi = [float(v) for v in state["psi"]]
        self._value = float(state["value"])
        self._rewarded = bool(state["rewarded"])
        self._last_step = float(state["last_step"])
