"""``health_check()``: a real self-test of every component, in well under a second.

Each check runs the component on a small problem with a known answer (a learning run
that must improve, a controller that must reach its setpoint, a save that must load
back to the same decisions), so a broken build reports ``fail`` instead of ``ok``.
"""

import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from krystal.agent._agent import Krystal
from krystal.agent._config import KrystalConfig
from krystal.kernel.phase import PhaseEngine
from krystal.kernel.pid import Pid
from krystal.kernel.rng import Rng
from krystal.kernel.swarm import ParticleSwarm

Check = Callable[[], str]


def _check_rng() -> str:
    value = Rng(0).next_u64()
    if value != 0xE220A8397B1DCDAF:
        raise AssertionError(f"SplitMix64 stream differs from its reference: {value:#x}")
    return "seeded stream matches the reference vector"


def _check_learning() -> str:
    # A contextual problem: the best knob value is 0.25 in one context, 0.75 in the other.
    k = Krystal(KrystalConfig(state_dim=1, action_dim=1, seed=11))
    rewards = []
    for step in range(400):
        context = step % 2
        a = k.observe({"context": float(context)}).decide()
        assert isinstance(a, list)
        target = 0.25 if context == 0 else 0.75
        r = 1.0 - 4.0 * (a[0] - target) ** 2
        k.reward(r)
        rewards.append(r)
    early = sum(rewards[:100]) / 100
    late = sum(rewards[-100:]) / 100
    if not late > early + 0.05 or late < 0.9:
        raise AssertionError(f"did not learn: mean reward {early:.3f} -> {late:.3f}")
    return f"mean reward {early:.3f} -> {late:.3f} over 400 steps"


def _check_phase() -> str:
    engine = PhaseEngine(initial_temperature=0.6, anneal_steps=50.0)
    for _ in range(300):
        engine.update(0.1, 1.0)
    calm = engine.temperature
    for _ in range(20):
        engine.update(2.0, -1.0)
    if not engine.temperature > calm + 0.3:
        raise AssertionError(f"a surprise did not heat: {calm:.2f} -> {engine.temperature:.2f}")
    return f"temperature {calm:.2f} -> {engine.temperature:.2f} after a surprise"


def _check_swarm() -> str:
    swarm = ParticleSwarm(2, Rng(5), particles=6)
    for _ in range(240):
        x = swarm.ask()
        swarm.tell(x, -((x[0] - 0.3) ** 2) - (x[1] - 0.6) ** 2)
    best = swarm.best_position
    if best is None or math.hypot(best[0] - 0.3, best[1] - 0.6) > 0.05:
        raise AssertionError(f"swarm missed the optimum (0.3, 0.6): {best}")
    return f"found ({best[0]:.3f}, {best[1]:.3f}) for optimum (0.3, 0.6)"


def _check_pid() -> str:
    pid = Pid(2.0, 1.0, 0.0, out_min=-10.0, out_max=10.0)
    y = 0.0
    for _ in range(400):
        u = pid.update(y, 0.05, setpoint=1.0)
        y += 0.05 * (-y + u)
    if abs(y - 1.0) > 0.02:
        raise AssertionError(f"PID did not settle at 1.0: {y:.4f}")
    return f"first-order plant settled at {y:.4f} (setpoint 1.0)"


def _check_persistence() -> str:
    k = Krystal(KrystalConfig(state_dim=2, action_dim=2, seed=3))
    for step in range(30):
        k.observe({"a": float(step), "b": 1.0}).decide()
        k.reward(0.1 * step)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "agent.json"
        k.save(path)
        twin = Krystal.from_file(path)
    for step in range(20):
        obs = {"a": 3.0 + step, "b": 2.0}
        if k.observe(obs).decide() != twin.observe(obs).decide():
            raise AssertionError(f"a saved and reloaded agent decided differently at step {step}")
        k.reward(0.05 * step)
        twin.reward(0.05 * step)
    return "save -> load gives identical decisions for 20 steps"


CHECKS: dict[str, Check] = {
    "rng": _check_rng,
    "learning": _check_learning,
    "phase_engine": _check_phase,
    "swarm": _check_swarm,
    "pid": _check_pid,
    "persistence": _check_persistence,
}


def health_check() -> dict[str, Any]:
    """Run every component's self-test; report each one and an overall status.

    >>> report = health_check()
    >>> report["status"], sorted(report["components"])[:3]
    ('ok', ['learning', 'persistence', 'phase_engine'])
    """
    components: dict[str, dict[str, Any]] = {}
    for name, check in CHECKS.items():
        start = time.perf_counter()
        try:
            detail, status = check(), "ok"
        except Exception as exc:  # a self-test reports every failure, whatever its kind
            detail, status = f"{type(exc).__name__}: {exc}", "fail"
        components[name] = {
            "status": status,
            "detail": detail,
            "elapsed_ms": (time.perf_counter() - start) * 1000.0,
        }
    failed = [name for name, c in components.items() if c["status"] != "ok"]
    return {
        "status": "ok" if not failed else "fail",
        "components": components,
        "failed": failed,
    }
