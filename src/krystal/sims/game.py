"""A GPU-bound game: pick quality settings that look best while holding 60 fps.

Knobs: ``resolution_scale`` (render scale, 0.5-1.0 of native 1440p), ``shadow_quality``
(0-3), ``texture_quality`` (low/medium/high/ultra) and ``ray_tracing``.

Dynamics, one step = one second of play (many frames, averaged):

* **Scenes** follow a Markov chain over ``indoor`` (complexity 0.6), ``open_world``
  (1.0) and ``combat`` (1.6); each lasts a uniform 50-200 steps, then switches to one of
  the other two. Complexity ``c`` wanders ±6 % within a scene (AR(1), phi 0.9).
* **GPU frame time** (ms) at full clock::

      ft = c * (3.0 + p * (7.0 + S_px[sh] + 7.0 * rt) + S_fix[sh] + T_bw[tex])
           + 1.5 * rt + 8.0 * softplus(vram - 7.4 GB, 0.25)

  with ``p = resolution_scale**2`` the pixel fraction; shadows cost per pixel
  ``S_px = [0, 1.2, 2.6, 4.5]`` ms and fixed ``S_fix = [0, 0.3, 0.6, 1.0]`` ms; textures
  cost bandwidth ``T_bw = [0, 0.3, 0.7, 1.2]`` ms and VRAM ``[1.5, 2.5, 4.0, 6.0]`` GB;
  VRAM use adds ``1.2 p`` GB of render targets, ``0.8`` GB for ray tracing and ``0.8 c``
  GB of scene data, and past 7.4 of the card's 8 GB paging costs ~8 ms per GB.
  The realised frame time is ``ft * slowdown / clock`` with 5 % log-normal jitter.
* **Thermals**: with vsync at 60 fps the GPU is busy ``util = min(1, ft / 16.7)``; the
  die relaxes toward ``T_eq = 30 + 60 * util * clock`` °C with a 40-step time constant,
  and above ~83 °C the clock throttles, ``clock = 1 - 0.035 * softplus(T - 83, 1.5)``
  (floored at 0.55), which lengthens frames and in turn sheds heat.
* **Reward** = visual quality minus frame-time penalty, clipped to [-1, 1]. Quality is
  concave, 0-1: ``0.40 (1 - ((1 - s) / 0.5)**2)`` for resolution, ``0.22 [0, .55, .85,
  1]`` shadows, ``0.23 [0, .6, .9, 1]`` textures, ``0.15`` ray tracing. Penalty
  ``0.10 softplus(ft - 16.7) + 0.10 softplus(ft - 33.3)`` per ms: missing the 60 fps
  budget costs, stutter under 30 fps costs twice as much.

The best settings depend on the scene (indoors there is room for ray tracing and full
shadows, open world wants full resolution without ray tracing, combat lighter shadows)
and on the die temperature, all visible in ``scene_complexity`` (draw calls per frame),
``frame_time_ms``, ``gpu_temp_c`` and ``gpu_clock_mhz``. ``shift=True`` swaps in new hardware at
``shift_at``: a GPU 1.6x slower.
"""

from __future__ import annotations

import math
from typing import Any

from krystal.sims.base import Env, softplus

__all__ = ["GameEnv"]

_SCENES = ("indoor", "open_world", "combat")
_SCENE_COMPLEXITY = (0.6, 1.0, 1.6)
_TEXTURES = ("low", "medium", "high", "ultra")

_SHADOW_PX = (0.0, 1.2, 2.6, 4.5)
_SHADOW_FIXED = (0.0, 0.3, 0.6, 1.0)
_TEXTURE_BW = (0.0, 0.3, 0.7, 1.2)
_TEXTURE_GB = (1.5, 2.5, 4.0, 6.0)
_RES_WEIGHT = 0.40
_RT_WEIGHT = 0.15
_SHADOW_Q = (0.0, 0.55 * 0.22, 0.85 * 0.22, 0.22)
_TEXTURE_Q = (0.0, 0.6 * 0.23, 0.9 * 0.23, 0.23)
_TEX_INDEX = {name: i for i, name in enumerate(_TEXTURES)}

_BUDGET_MS = 1000.0 / 60.0
_STUTTER_MS = 1000.0 / 30.0
_VRAM_GB = 8.0
_BASE_CLOCK_MHZ = 1950.0
_TAU_STEPS = 40.0
_SHIFT_SLOWDOWN = 1.6


class GameEnv(Env):
    """Quality settings of a GPU-bound game under changing scenes and thermals.

    Examples
    --------
    >>> env = GameEnv(seed=0)
    >>> obs, info = env.reset()
    >>> action = {"resolution_scale": 0.75, "shadow_quality": 1,
    ...           "texture_quality": "medium", "ray_tracing": False}
    >>> obs, reward, terminated, truncated, info = env.step(action)
    >>> obs["fps"] <= 60.0 and info["scene"] in ("indoor", "open_world", "combat")
    True
    """

    name = "game"
    action_spec = {  # noqa: RUF012 - read-only class data
        "resolution_scale": {"type": "float", "low": 0.5, "high": 1.0},
        "shadow_quality": {"type": "int", "low": 0, "high": 3},
        "texture_quality": {"type": "choice", "options": list(_TEXTURES)},
        "ray_tracing": {"type": "bool"},
    }
    observation_keys = (
        "fps",
        "frame_time_ms",
        "gpu_temp_c",
        "gpu_util",
        "gpu_clock_mhz",
        "scene_complexity",
        "vram_used_gb",
    )
    default_levels = 4

    def _reset(self, fresh: bool) -> tuple[dict[str, float], dict[str, Any]]:
        world = self._world
        self._scene = world.randint(0, 2)
        self._dwell = world.randint(50, 200)
        self._wander = 0.0
        self._temp = 55.0
        self._clock = 1.0
        c = _SCENE_COMPLEXITY[self._scene]
        obs = {
            "fps": 60.0,
            "frame_time_ms": 10.0,
            "gpu_temp_c": self._temp,
            "gpu_util": 60.0,
            "gpu_clock_mhz": _BASE_CLOCK_MHZ,
            "scene_complexity": 2400.0 * c,
            "vram_used_gb": 4.0,
        }
        info = {"shifted": self.shifted, "scene": _SCENES[self._scene]}
        info["context"] = info["scene"]
        return obs, info

    def _advance_scene(self) -> float:
        world = self._world
        self._dwell -= 1
        if self._dwell <= 0:
            self._scene = (self._scene + world.randint(1, 2)) % 3
            self._dwell = world.randint(50, 200)
        self._wander = 0.9 * self._wander + 0.026 * world.gauss()
        return _SCENE_COMPLEXITY[self._scene] * (1.0 + self._wander)

    def _step(
        self, action: dict[str, Any]
    ) -> tuple[dict[str, float], float, bool, bool, dict[str, Any]]:
        noise = self._noise
        shifted = self.shifted
        c = self._advance_scene()

        scale = float(action["resolution_scale"])
        shadows = action["shadow_quality"]
        texture = _TEX_INDEX[action["texture_quality"]]
        rt = 1.0 if action["ray_tracing"] else 0.0
        pixels = scale * scale

        vram = _TEXTURE_GB[texture] + 1.2 * pixels + 0.8 * rt + 0.8 * c
        ft = c * (
            3.0
            + pixels * (7.0 + _SHADOW_PX[shadows] + 7.0 * rt)
            + _SHADOW_FIXED[shadows]
            + _TEXTURE_BW[texture]
        )
        ft += 1.5 * rt + 8.0 * softplus(vram - 7.4, 0.25)
        if shifted:
            ft *= _SHIFT_SLOWDOWN
        ft = ft / self._clock * math.exp(0.05 * noise.gauss())

        util = min(1.0, ft / _BUDGET_MS)
        t_eq = 30.0 + 60.0 * util * self._clock
        self._temp += (t_eq - self._temp) / _TAU_STEPS
        self._clock = max(0.55, 1.0 - 0.035 * softplus(self._temp - 83.0, 1.5))

        quality = (
            _RES_WEIGHT * (1.0 - ((1.0 - scale) / 0.5) ** 2)
            + _SHADOW_Q[shadows]
            + _TEXTURE_Q[texture]
            + _RT_WEIGHT * rt
        )
        penalty = 0.10 * softplus(ft - _BUDGET_MS) + 0.10 * softplus(ft - _STUTTER_MS)
        reward = max(-1.0, min(1.0, quality - penalty))

        obs = {
            "fps": 1000.0 / max(ft, _BUDGET_MS),
            "frame_time_ms": ft,
            "gpu_temp_c": self._temp + 0.3 * noise.gauss(),
            "gpu_util": 100.0 * util,
            "gpu_clock_mhz": _BASE_CLOCK_MHZ * self._clock,
            "scene_complexity": 2400.0 * c * (1.0 + 0.04 * noise.gauss()),
            "vram_used_gb": min(vram, _VRAM_GB),
        }
        scene = _SCENES[self._scene]
        info = {
            "shifted": shifted,
            "scene": scene,
            "context": scene,
            "quality": quality,
            "penalty": penalty,
            "frame_time_ms": ft,
            "throttle": 1.0 - self._clock,
        }
        return obs, reward, False, False, info
