"""A solar-powered sensor node: deliver useful data without browning out overnight.

Knobs: ``sampling_hz`` (0.1-10 Hz, log scale), ``radio_power`` (0-3: 0, 5, 10, 15 dBm)
and ``duty_cycle`` (0.05-1.0, the fraction of time the radio is awake).

Dynamics, one step = 5 minutes, a day = 288 steps:

* **Sun and weather**: clear-sky irradiance ``sin(pi (hour - 6) / 12)`` between 06:00 and
  18:00 times a cloud factor (AR(1) around 0.8, in [0.15, 1]) on a 0.5 W panel; charge
  current ``0.85 * solar_w / 3.7 V``. Ambient temperature follows the day (±7 °C).
* **Battery**: 400 mAh. Draw (mA) ``0.3`` asleep ``+ 1.2 * sampling_hz`` for sensing
  ``+ duty_cycle * [18, 24, 33, 46][radio_power]`` for the radio. Below 3 % the node
  browns out: it stops, loses its buffer and only sleeps until the battery is back
  above 15 %.
* **Link**: the SNR margin (dB) is a slow random walk (AR(1), mean 2 dB, sd ~2.5 dB);
  a batch gets through with probability ``sigmoid((snr + 5 * radio_power - 6) / 2)``.
* **Data**: samples join a buffer (5000 max, overflow is lost); the awake radio can
  send up to ``8 * duty_cycle`` samples/s, and what fails stays buffered for a retry.
* **Reward** = usefulness of the delivered rate, ``1 - exp(-rate / 2 Hz)`` (the
  application needs about 2 Hz, more is redundant), minus the energy drawn, priced at
  ``0.06`` per mAh plus ``0.12 + 1.0 (1 - soc)**2`` per mAh taken from the battery
  rather than the sun (energy gets dearer as the battery empties); ``-0.5`` while
  browned out; clipped to [-1, 1].

In sunshine energy is nearly free and fast sampling pays; at night every mAh comes from
a battery that must last until dawn; on a poor link a stronger radio pays, on a good one
it wastes power. ``shift=True`` at ``shift_at``: an aged battery (55 % capacity) and a
cloudy season (cloud factor around 0.45).
"""

from __future__ import annotations

import math
from typing import Any

from krystal.sims.base import Env, sigmoid

__all__ = ["IoTEnv"]

_DAY_STEPS = 288
_STEP_H = 5.0 / 60.0
_STEP_S = 300.0
_PANEL_W = 0.5
_CHARGE_EFF = 0.85
_VOLTS = 3.7
_CAPACITY_MAH = 400.0
_SLEEP_MA = 0.3
_SENSE_MA_PER_HZ = 1.2
_RADIO_MA = (18.0, 24.0, 33.0, 46.0)
_RADIO_DBM = (0.0, 5.0, 10.0, 15.0)
_LINK_RATE = 8.0
_BUFFER_MAX = 5000.0
_BROWNOUT = 0.03
_RESTART = 0.15
_NEED_HZ = 2.0
_BASE_PRICE = 0.06
_PRICE_FLOOR = 0.12
_PRICE_SCARCITY = 1.0
_SHIFT_CAPACITY = 0.55
_CLOUD_MEAN = 0.8
_SHIFT_CLOUD_MEAN = 0.45


class IoTEnv(Env):
    """Sampling rate, radio power and duty cycle of a solar sensor node.

    Examples
    --------
    >>> env = IoTEnv(seed=0)
    >>> obs, info = env.reset()
    >>> action = {"sampling_hz": 1.0, "radio_power": 1, "duty_cycle": 0.2}
    >>> obs, reward, terminated, truncated, info = env.step(action)
    >>> 0.0 <= obs["battery_pct"] <= 100.0 and info["context"].split("-")[0] in ("day", "night")
    True
    """

    name = "iot"
    action_spec = {  # noqa: RUF012 - read-only class data
        "sampling_hz": {"type": "float", "low": 0.1, "high": 10.0, "log": True},
        "radio_power": {"type": "int", "low": 0, "high": 3},
        "duty_cycle": {"type": "float", "low": 0.05, "high": 1.0},
    }
    observation_keys = (
        "battery_pct",
        "solar_w",
        "link_quality",
        "hour",
        "buffer_backlog",
        "temperature_c",
        "delivered_hz",
    )
    default_levels = 6

    def _reset(self, fresh: bool) -> tuple[dict[str, float], dict[str, Any]]:
        world = self._world
        if fresh:
            self._clock = world.randint(0, _DAY_STEPS - 1)
        self._charge = 0.7 * self._capacity()
        self._cloud = _CLOUD_MEAN
        self._snr = 2.0
        self._backlog = 0.0
        self._down = False
        hour = self._hour()
        obs = {
            "battery_pct": 70.0,
            "solar_w": _PANEL_W * self._clear_sky(hour) * self._cloud,
            "link_quality": self._snr,
            "hour": hour,
            "buffer_backlog": 0.0,
            "temperature_c": self._temperature(hour),
            "delivered_hz": 0.0,
        }
        return obs, {"shifted": self.shifted, "context": self._context(hour)}

    def _capacity(self) -> float:
        return _CAPACITY_MAH * (_SHIFT_CAPACITY if self.shifted else 1.0)

    def _hour(self) -> float:
        return 24.0 * (self._clock % _DAY_STEPS) / _DAY_STEPS

    @staticmethod
    def _clear_sky(hour: float) -> float:
        return math.sin(math.pi * (hour - 6.0) / 12.0) if 6.0 < hour < 18.0 else 0.0

    @staticmethod
    def _temperature(hour: float) -> float:
        return 12.0 + 7.0 * math.sin(2.0 * math.pi * (hour - 9.0) / 24.0)

    def _context(self, hour: float) -> str:
        light = "day" if self._clear_sky(hour) > 0.2 else "night"
        link = "good" if self._snr > 2.0 else "poor"
        return f"{light}-{link}"

    def _step(
        self, action: dict[str, Any]
    ) -> tuple[dict[str, float], float, bool, bool, dict[str, Any]]:
        world, noise = self._world, self._noise
        shifted = self.shifted
        capacity = self._capacity()
        hour = self._hour()
        self._clock += 1

        cloud_mean = _SHIFT_CLOUD_MEAN if shifted else _CLOUD_MEAN
        cloud = 0.98 * self._cloud + 0.02 * cloud_mean + 0.04 * world.gauss()
        self._cloud = min(1.0, max(0.15, cloud))
        self._snr = 0.98 * self._snr + 0.02 * 2.0 + 0.5 * world.gauss()
        solar_w = _PANEL_W * self._clear_sky(hour) * self._cloud
        charge = _CHARGE_EFF * 1000.0 * solar_w / _VOLTS * _STEP_H

        sampling = float(action["sampling_hz"])
        power = action["radio_power"]
        duty = float(action["duty_cycle"])
        if self._charge > capacity:
            self._charge = capacity
        soc = self._charge / capacity

        usefulness = energy_cost = 0.0
        if self._down:
            used = _SLEEP_MA * _STEP_H
            delivered = 0.0
            reward = -0.5
        else:
            used = (_SLEEP_MA + _SENSE_MA_PER_HZ * sampling + duty * _RADIO_MA[power]) * _STEP_H
            produced = sampling * _STEP_S
            success = sigmoid((self._snr + _RADIO_DBM[power] - 6.0) / 2.0)
            attempted = min(self._backlog + produced, _LINK_RATE * duty * _STEP_S)
            delivered = attempted * success
            self._backlog = min(_BUFFER_MAX, self._backlog + produced - delivered)
            from_battery = max(0.0, used - charge)
            price = _PRICE_FLOOR + _PRICE_SCARCITY * (1.0 - soc) ** 2
            usefulness = 1.0 - math.exp(-delivered / _STEP_S / _NEED_HZ)
            energy_cost = _BASE_PRICE * used + price * from_battery
            reward = max(-1.0, min(1.0, usefulness - energy_cost))

        self._charge = min(capacity, max(0.0, self._charge + charge - used))
        soc = self._charge / capacity
        if not self._down and soc < _BROWNOUT:
            self._down = True
            self._backlog = 0.0
        elif self._down and soc > _RESTART:
            self._down = False

        obs = {
            "battery_pct": 100.0 * soc,
            "solar_w": solar_w * (1.0 + 0.03 * noise.gauss()),
            "link_quality": self._snr + noise.gauss(),
            "hour": hour,
            "buffer_backlog": self._backlog,
            "temperature_c": self._temperature(hour)
            + 2.0 * (self._cloud - 0.6)
            + 0.3 * noise.gauss(),
            "delivered_hz": delivered / _STEP_S,
        }
        info = {
            "shifted": shifted,
            "context": self._context(hour),
            "browned_out": self._down,
            "energy_mah": used,
            "charge_mah": charge,
            "delivered": delivered,
            "usefulness": usefulness,
            "energy_cost": energy_cost,
        }
        return obs, reward, False, False, info
