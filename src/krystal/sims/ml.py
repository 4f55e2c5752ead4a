"""A real (small) training run: tune SGD while a logistic regression learns.

Knobs: ``learning_rate`` (1e-3 to 1, ``"log": True`` in the spec: a good rate is found
by its order of magnitude, so agents and grids should move on a log scale),
``momentum`` (0 to 0.99) and ``batch_size`` (a choice of 8, 16, 32, 64, 128).

Each run draws a fresh dataset from the *world* stream: 8 Gaussian features with fixed
scales ``[6, 3, 2, 1.5, 1, 0.8, 0.6, 0.5]`` (ill-conditioned on purpose: the largest
scale bounds the stable rate, near 0.3 without momentum, while the smallest sets how
long training takes), a random true weight vector giving logits of standard deviation
3, and Bernoulli labels drawn from the true probabilities; 512 training and 128
validation examples. Training starts from zero weights (validation loss ln 2).

One step = a fixed compute budget of 128 examples: ``128 / batch_size`` minibatches,
each drawn as a random contiguous window of the training set, each followed by a
heavy-ball update ``v = momentum * v - learning_rate * grad; w += v``. A run lasts
``run_steps`` (default 100) steps, then ends (``terminated=True``) and the next
``reset()`` starts a new run.

Reward: with ``gap`` the share of the reducible validation loss still left,
``(val_loss - L*) / (ln 2 - L*)`` where ``L*`` is the validation loss of the true
weights, ``reward = 1 - 2 gap**0.7 + 8 (previous val_loss - val_loss) / (ln 2 - L*)``,
clipped to [-1, 1]. The compute per step is fixed, so this is validation progress per
unit of compute: mostly how far training has got (the exponent 0.7 keeps the last few
per cent of loss worth chasing), plus a bonus for this step's improvement so that each
step's effect shows at once. Early in a run small batches and momentum make the most of
the budget; late in a run their minibatch noise holds the loss up and a ten times
smaller rate with little momentum wins (the schedule found by ``best_per_context``
beats the best constant setting by about 15 %): the best setting depends on
``progress`` and on the loss observations.

``shift=True``: runs starting at or after ``shift_at`` draw features 3x larger, so the
curvature grows 9x and the best learning rate moves down.
"""

from __future__ import annotations

import math
from itertools import repeat
from operator import add, mul, sub
from typing import Any

from krystal._errors import InputError
from krystal.sims.base import DEFAULT_SHIFT_AT, Env, sigmoid

__all__ = ["MLEnv"]

_SCALES = (6.0, 3.0, 2.0, 1.5, 1.0, 0.8, 0.6, 0.5)
_N_TRAIN = 512
_N_VAL = 128
_EXAMPLES_PER_STEP = 128
_RUN_STEPS = 100
_LOGIT_SD = 3.0
_SHIFT_SCALE = 3.0
_LN2 = math.log(2.0)
_BONUS = 8.0
_GAP_POWER = 0.7


def _logits(columns: list[list[float]], weights: list[float], start: int, stop: int) -> list[float]:
    """``X[start:stop] @ weights`` from column-major data (bias weight last)."""
    z = [weights[-1]] * (stop - start)
    for w, column in zip(weights, columns, strict=False):
        if w != 0.0:
            z = list(map(add, z, map(mul, column[start:stop], repeat(w))))
    return z


def _log_loss(z: list[float], y: list[float]) -> float:
    """Mean logistic loss of logits ``z`` against 0/1 labels ``y`` (overflow-safe)."""
    total = 0.0
    for zi, yi in zip(z, y, strict=True):
        total += (zi if zi > 0.0 else 0.0) - yi * zi + math.log1p(math.exp(-abs(zi)))
    return total / len(z)


class MLEnv(Env):
    """Learning rate, momentum and batch size of a logistic-regression training run.

    Examples
    --------
    >>> env = MLEnv(seed=0)
    >>> obs, info = env.reset()
    >>> action = {"learning_rate": 0.1, "momentum": 0.9, "batch_size": 32}
    >>> for _ in range(10):
    ...     obs, reward, terminated, truncated, info = env.step(action)
    >>> obs["val_loss"] < 0.69 and obs["progress"] == 0.1
    True
    """

    name = "ml"
    action_spec = {  # noqa: RUF012 - read-only class data
        "learning_rate": {"type": "float", "low": 0.001, "high": 1.0, "log": True},
        "momentum": {"type": "float", "low": 0.0, "high": 0.99},
        "batch_size": {"type": "choice", "options": [8, 16, 32, 64, 128]},
    }
    observation_keys = ("progress", "train_loss", "val_loss", "grad_norm", "loss_delta")
    default_levels = 4

    def __init__(
        self,
        *,
        seed: int | None = None,
        shift: bool = False,
        shift_at: int = DEFAULT_SHIFT_AT,
        run_steps: int = _RUN_STEPS,
    ) -> None:
        super().__init__(seed=seed, shift=shift, shift_at=shift_at)
        if not isinstance(run_steps, int) or isinstance(run_steps, bool) or run_steps < 2:
            raise InputError(f"run_steps = {run_steps!r}: expected an int >= 2")
        self.run_steps = run_steps

    def _draw_dataset(self) -> None:
        world = self._world
        self._run_shifted = self.shifted
        stretch = _SHIFT_SCALE if self._run_shifted else 1.0
        scales = [s * stretch for s in _SCALES]
        true_w = [world.gauss() / s for s in scales]
        norm = math.sqrt(sum(w * w * s * s for w, s in zip(true_w, scales, strict=True)))
        true_w = [w * _LOGIT_SD / norm for w in true_w] + [0.3 * world.gauss()]
        n = _N_TRAIN + _N_VAL
        columns = [[s * world.gauss() for _ in range(n)] for s in scales]
        z = _logits(columns, true_w, 0, n)
        labels = [1.0 if world.random() < sigmoid(zi) else 0.0 for zi in z]
        self._train_cols = [c[:_N_TRAIN] for c in columns]
        self._val_cols = [c[_N_TRAIN:] for c in columns]
        self._train_y = labels[:_N_TRAIN]
        self._val_y = labels[_N_TRAIN:]
        self._ref_loss = _log_loss(z[_N_TRAIN:], self._val_y)

    def _reset(self, fresh: bool) -> tuple[dict[str, float], dict[str, Any]]:
        self._draw_dataset()
        dims = len(_SCALES) + 1
        self._weights = [0.0] * dims
        self._velocity = [0.0] * dims
        self._step_in_run = 0
        self._val_loss = _LN2
        obs = {
            "progress": 0.0,
            "train_loss": _LN2,
            "val_loss": _LN2,
            "grad_norm": 0.0,
            "loss_delta": 0.0,
        }
        return obs, {"shifted": self._run_shifted, "context": "phase0"}

    def _step(
        self, action: dict[str, Any]
    ) -> tuple[dict[str, float], float, bool, bool, dict[str, Any]]:
        noise = self._noise
        rate = float(action["learning_rate"])
        beta = float(action["momentum"])
        batch = action["batch_size"]
        weights, velocity = self._weights, self._velocity
        columns, labels = self._train_cols, self._train_y

        train_total = 0.0
        grad = [0.0] * len(weights)
        for _ in range(_EXAMPLES_PER_STEP // batch):
            start = noise.randint(0, _N_TRAIN - batch)
            stop = start + batch
            y = labels[start:stop]
            prob = [sigmoid(zi) for zi in _logits(columns, weights, start, stop)]
            for p, yi in zip(prob, y, strict=True):
                train_total -= math.log(max(p if yi else 1.0 - p, 1e-12))
            err = list(map(sub, prob, y))
            grad = [sum(map(mul, err, column[start:stop])) / batch for column in columns]
            grad.append(sum(err) / batch)
            velocity = [beta * v - rate * g for v, g in zip(velocity, grad, strict=True)]
            weights = list(map(add, weights, velocity))
        self._weights, self._velocity = weights, velocity

        previous = self._val_loss
        val_loss = _log_loss(_logits(self._val_cols, weights, 0, _N_VAL), self._val_y)
        self._val_loss = val_loss
        reducible = _LN2 - self._ref_loss
        gap = max(0.0, (val_loss - self._ref_loss) / reducible)
        reward = 1.0 - 2.0 * gap**_GAP_POWER + _BONUS * (previous - val_loss) / reducible
        reward = max(-1.0, min(1.0, reward))

        self._step_in_run += 1
        progress = self._step_in_run / self.run_steps
        phase = min(4, int(5 * (self._step_in_run - 1) / self.run_steps))
        obs = {
            "progress": progress,
            "train_loss": train_total / (_EXAMPLES_PER_STEP // batch * batch),
            "val_loss": val_loss,
            "grad_norm": math.sqrt(sum(g * g for g in grad)),
            "loss_delta": val_loss - previous,
        }
        info = {
            "shifted": self._run_shifted,
            "context": f"phase{phase}",
            "gap": gap,
            "reference_loss": self._ref_loss,
        }
        terminated = self._step_in_run >= self.run_steps
        return obs, reward, terminated, False, info
