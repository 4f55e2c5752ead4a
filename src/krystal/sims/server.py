"""A web service: pick replicas and per-replica concurrency to meet a latency SLO cheaply.

Knobs: ``replicas`` (1-16 instances) and ``concurrency`` (1-32 worker slots each).

Dynamics, one step = one control interval; a simulated day is 500 steps:

* **Traffic** (requests/s) follows a daily curve, ``1000 * (0.2 + 0.8 b**1.5)`` with
  ``b = (1 - cos(2 pi (hour - 4) / 24)) / 2`` (quiet at 04:00, peak at 16:00), times
  ±4 % AR(1) wander and random **bursts** (0.6 % chance a step, 10-40 steps long,
  x1.4-2.0). ``shift=True`` at ``shift_at``: traffic x1.7 with a two-peaked day
  (09:00 and 20:00).
* **Capacity**: a load balancer spreads traffic evenly over the ready replicas, so each
  is an M/M/k queue with ``k = concurrency`` slots. Slots share the replica's CPU,
  following the Universal Scalability Law (Gunther): with ``n`` busy slots each request
  takes ``S(n) = 40 ms * (1 + 0.08 (n - 1) + 0.0015 n (n - 1)) * (1 + 0.012 k)`` (the
  last factor: per-slot memory and scheduling overhead), so a saturated replica serves
  25 req/s at ``k = 1``, peaks at ~131 req/s near ``k = 17`` and each request gets
  slower as ``k`` grows. The wait comes from Erlang C; the p95 latency is approximated
  by ``3 S + ln(C / 0.05) / (k / S - lambda)`` (the exponential service p95 plus the
  p95 of the queueing delay when more than 5 % of requests wait). Load past 98 % of
  capacity is rejected (``error_rate``); latency is capped at the 2 s timeout.
* **Cold start**: a replica added by the action serves only after 4 steps but is billed
  from the start; removals are immediate (starting ones go first).
* **Reward** = value of the requests served minus ``0.04`` per billed replica, in
  [-0.64, 1]. Served requests (``1 - error_rate``) are worth 1 within the 300 ms p95
  SLO (a logistic in ``(p95 - 300 ms) / 30 ms``) and 0.25 when late, so that under a
  burst beyond capacity adding replicas still pays. Sixteen replicas cost two thirds
  of a perfect score, so over-provisioning hurts about as much as a missed SLO.

Night traffic wants three or four replicas, the daily peak eight or nine and bursts
up to sixteen: the best setting depends on ``request_rate`` and ``hour``.
"""

from __future__ import annotations

import math
from typing import Any

from krystal.sims.base import Env, sigmoid

__all__ = ["ServerEnv"]

_DAY_STEPS = 500
_PEAK_RPS = 1000.0
_SERVICE_S = 0.040
_SIGMA = 0.08
_KAPPA = 0.0015
_SLOT_OVERHEAD = 0.012
_COLD_START_STEPS = 4
_SLO_S = 0.300
_TIMEOUT_S = 2.0
_COST_PER_REPLICA = 0.04
_LATE_VALUE = 0.25
_INITIAL_REPLICAS = 4
_SHIFT_LOAD = 1.7


def _daily_shape(hour: float, shifted: bool) -> float:
    """Fraction of peak traffic at ``hour`` (0-24)."""
    if not shifted:
        b = 0.5 - 0.5 * math.cos(2.0 * math.pi * (hour - 4.0) / 24.0)
        return 0.2 + 0.8 * float(b**1.5)
    morning = math.exp(-0.5 * ((hour - 9.0) / 2.5) ** 2)
    evening = math.exp(-0.5 * ((hour - 20.0) / 2.0) ** 2)
    return 0.15 + 0.85 * max(morning, evening)


def _erlang_c(k: int, offered: float) -> float:
    """Probability that an arrival waits in an M/M/k queue with ``offered`` = lambda*S."""
    b = 1.0
    for n in range(1, k + 1):
        b = offered * b / (n + offered * b)
    rho = offered / k
    return b / (1.0 - rho + rho * b)


def _service_time(busy: float, slots: int) -> float:
    n = max(1.0, busy)
    return (
        _SERVICE_S
        * (1.0 + _SIGMA * (n - 1.0) + _KAPPA * n * (n - 1.0))
        * (1.0 + _SLOT_OVERHEAD * slots)
    )


class ServerEnv(Env):
    """Replica count and per-replica concurrency of a service under daily traffic.

    Examples
    --------
    >>> env = ServerEnv(seed=0)
    >>> obs, info = env.reset()
    >>> obs, reward, terminated, truncated, info = env.step({"replicas": 6, "concurrency": 8})
    >>> obs["ready_replicas"], info["billed_replicas"]  # two new replicas still booting
    (4.0, 6)
    """

    name = "server"
    action_spec = {  # noqa: RUF012 - read-only class data
        "replicas": {"type": "int", "low": 1, "high": 16},
        "concurrency": {"type": "int", "low": 1, "high": 32},
    }
    observation_keys = (
        "request_rate",
        "latency_p95_ms",
        "cpu_util",
        "ready_replicas",
        "queue_length",
        "error_rate",
        "hour",
    )
    default_levels = 10

    def _reset(self, fresh: bool) -> tuple[dict[str, float], dict[str, Any]]:
        self._ready = _INITIAL_REPLICAS
        self._booting: list[int] = []
        self._wander = 0.0
        self._burst_left = 0
        self._burst = 1.0
        if fresh:
            self._clock = self._world.randint(0, _DAY_STEPS - 1)
        hour = 24.0 * (self._clock % _DAY_STEPS) / _DAY_STEPS
        rate = _PEAK_RPS * _daily_shape(hour, self.shifted)
        obs = {
            "request_rate": rate,
            "latency_p95_ms": 100.0,
            "cpu_util": 0.5,
            "ready_replicas": float(self._ready),
            "queue_length": 0.0,
            "error_rate": 0.0,
            "hour": hour,
        }
        return obs, {"shifted": self.shifted, "context": self._band(rate)}

    @staticmethod
    def _band(rate: float) -> str:
        return f"load{min(int(rate / 250.0), 9)}"

    def _traffic(self, hour: float, shifted: bool) -> float:
        world = self._world
        self._wander = 0.9 * self._wander + 0.017 * world.gauss()
        if self._burst_left > 0:
            self._burst_left -= 1
        elif world.random() < 0.006:
            self._burst_left = world.randint(10, 40)
            self._burst = world.uniform(1.4, 2.0)
        burst = self._burst if self._burst_left > 0 else 1.0
        load = _SHIFT_LOAD if shifted else 1.0
        return _PEAK_RPS * load * _daily_shape(hour, shifted) * burst * (1.0 + self._wander)

    def _scale(self, target: int) -> None:
        current = self._ready + len(self._booting)
        if target > current:
            self._booting.extend([_COLD_START_STEPS] * (target - current))
        elif target < current:
            drop = current - target
            keep = max(0, len(self._booting) - drop)
            drop -= len(self._booting) - keep
            del self._booting[keep:]
            self._ready -= drop

    def _step(
        self, action: dict[str, Any]
    ) -> tuple[dict[str, float], float, bool, bool, dict[str, Any]]:
        noise = self._noise
        shifted = self.shifted
        hour = 24.0 * (self._clock % _DAY_STEPS) / _DAY_STEPS
        self._clock += 1
        rate = self._traffic(hour, shifted)

        slots = action["concurrency"]
        self._scale(action["replicas"])
        billed = self._ready + len(self._booting)
        ready = self._ready

        if ready == 0:
            served_ok, error_rate, p95, util, queue = 0.0, 1.0, _TIMEOUT_S, 0.0, 0.0
        else:
            per_replica = rate / ready
            service = _service_time(min(float(slots), per_replica * _SERVICE_S), slots)
            service = _service_time(min(float(slots), per_replica * service), slots)
            capacity = slots / service
            admitted = min(per_replica, 0.98 * capacity)
            error_rate = 1.0 - admitted / per_replica
            offered = admitted * service
            util = offered / slots
            wait_prob = _erlang_c(slots, offered)
            spare = capacity - admitted
            queue = ready * wait_prob * util / (1.0 - util)
            p95 = 3.0 * service
            if wait_prob > 0.05:
                p95 += math.log(wait_prob / 0.05) / spare
            p95 = min(_TIMEOUT_S, p95 * math.exp(0.06 * noise.gauss()))
            within_slo = sigmoid((_SLO_S - p95) / (0.1 * _SLO_S))
            served_ok = (1.0 - error_rate) * (_LATE_VALUE + (1.0 - _LATE_VALUE) * within_slo)
        cost = _COST_PER_REPLICA * billed
        reward = served_ok - cost

        self._booting = [left - 1 for left in self._booting]
        while self._booting and self._booting[0] <= 0:
            self._booting.pop(0)
            self._ready += 1

        obs = {
            "request_rate": rate * (1.0 + 0.03 * noise.gauss()),
            "latency_p95_ms": 1000.0 * p95,
            "cpu_util": util,
            "ready_replicas": float(ready),
            "queue_length": queue,
            "error_rate": error_rate,
            "hour": hour,
        }
        info = {
            "shifted": shifted,
            "context": self._band(rate),
            "true_rate": rate,
            "served_ok": served_ok,
            "cost": cost,
            "billed_replicas": billed,
            "booting_replicas": len(self._booting),
        }
        return obs, reward, False, False, info
