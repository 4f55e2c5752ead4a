"""Domain simulators with the Gymnasium ``reset``/``step`` signature, standard library only.

Four live systems with knobs, raw metrics and a reward in about [-1, 1]: a GPU-bound
``game``, a web ``server``, an ``ml`` training run and a solar ``iot`` node. In each,
the best setting depends on a context the observations reveal (scene, traffic, training
phase, daylight), and ``shift=True`` changes the world at ``shift_at`` so that
adaptation can be measured.

>>> from krystal.sims import make, rollout, fixed_chooser
>>> env = make("game", seed=0)
>>> action = {"resolution_scale": 0.75, "shadow_quality": 1,
...           "texture_quality": "medium", "ray_tracing": False}
>>> rewards = rollout(env, fixed_chooser(action), steps=100, seed=0)
>>> len(rewards), all(-1.0 <= r <= 1.0 for r in rewards)
(100, True)
"""

from krystal.sims._baseline import best_fixed, best_per_context
from krystal.sims._registry import DOMAINS, make
from krystal.sims._rollout import fixed_chooser, random_chooser, rollout
from krystal.sims.base import Env
from krystal.sims.game import GameEnv
from krystal.sims.iot import IoTEnv
from krystal.sims.ml import MLEnv
from krystal.sims.server import ServerEnv

__all__ = [
    "DOMAINS",
    "Env",
    "GameEnv",
    "IoTEnv",
    "MLEnv",
    "ServerEnv",
    "best_fixed",
    "best_per_context",
    "fixed_chooser",
    "make",
    "random_chooser",
    "rollout",
]
