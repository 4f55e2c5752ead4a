"""Section 4: setpoint control against simple-pid, then automatic gain tuning.

Three standard plants, simulated at ``DT`` with a little seeded measurement noise, follow
the same schedule of setpoint steps (a new setpoint every ``HOLD`` seconds):

- ``first_order_dead_time``: ``tau dy/dt = K u(t - L) - y`` with K = 1.5, tau = 4 s,
  L = 1 s; the process-control textbook case;
- ``second_order_underdamped``: ``y'' + 2 zeta wn y' + wn^2 y = K wn^2 u`` with
  zeta = 0.2, wn = 1 rad/s, K = 1: a lightly damped mechanism;
- ``drifting_gain``: first order with tau = 2 s, L = 0.5 s, whose gain K drifts from
  1 to 3 over the run (a heater fouling, a motor wearing, a load growing).

Hand-picked gains: SIMC rules (Skogestad 2003) for the nominal first-order plants
(the drifting plant's nominal gain is its starting one) and a hand-checked PID for the
under-damped one. ``control()`` and simple-pid run with the same gains and output
limits; both differentiate the measurement. ``autotune`` runs ``Krystal.autotune``
(relay experiment at the start of the run, counted in the score, then PID with gains
following the estimated plant gain) and ``autotune_fixed`` the same without the
adaptation.

Scores: integral absolute error (IAE) over the run, the worst overshoot as a fraction
of the step, and the mean settling time into a 5 % band of the step.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from krystal._imports import require
from krystal.bench._section import Progress, goal, peer_versions

__all__ = ["CONTROLLERS", "PLANTS", "estimate", "plot", "render_markdown", "run"]

DT = 0.05
HOLD = 25.0
SCHEDULE = (1.0, 2.0, 0.5, 1.5, 1.0, 2.0)
OUTPUT_LIMITS = (-10.0, 10.0)
NOISE = 0.005
PLANTS = ("first_order_dead_time", "second_order_underdamped", "drifting_gain")
CONTROLLERS = ("simple_pid", "krystal", "autotune_fixed", "autotune")
#: Hand-picked (kp, ki, kd) per plant.
HAND_GAINS = {
    # SIMC with tau_c = L: kp = tau / (K (tau_c + L)), Ti = min(tau, 4 (tau_c + L)).
    "first_order_dead_time": (4.0 / (1.5 * 2.0), 4.0 / (1.5 * 2.0) / 4.0, 0.0),
    "second_order_underdamped": (0.6, 0.5, 0.6),
    "drifting_gain": (2.0 / (1.0 * 1.0), 2.0 / (1.0 * 1.0) / 2.0, 0.0),
}
RELAY_AMPLITUDE = 1.0


class Plant:
    """A simulated process: ``step(u)`` advances ``DT`` seconds and returns ``y``."""

    def __init__(self, kind: str, duration: float) -> None:
        self.kind = kind
        self.duration = duration
        self.t = 0.0
        self.y = 0.0
        self.v = 0.0
        delay = {"first_order_dead_time": 1.0, "drifting_gain": 0.5}.get(kind, 0.0)
        self.pipe = [0.0] * round(delay / DT)

    def gain(self) -> float:
        if self.kind == "first_order_dead_time":
            return 1.5
        if self.kind == "drifting_gain":
            return 1.0 + 2.0 * min(1.0, self.t / self.duration)
        return 1.0

    def step(self, u: float) -> float:
        if self.pipe:
            self.pipe.append(u)
            u = self.pipe.pop(0)
        k = self.gain()
        if self.kind == "second_order_underdamped":
            zeta, wn = 0.2, 1.0
            acc = k * wn * wn * u - 2.0 * zeta * wn * self.v - wn * wn * self.y
            self.v += acc * DT
            self.y += self.v * DT
        else:
            tau = 4.0 if self.kind == "first_order_dead_time" else 2.0
            self.y += (k * u - self.y) * DT / tau
        self.t += DT
        return self.y


def _controller(name: str, plant: str) -> Callable[[float, float], float]:
    """``control(setpoint, measurement) -> output`` for one controller on one plant."""
    kp, ki, kd = HAND_GAINS[plant]
    low, high = OUTPUT_LIMITS
    if name == "simple_pid":
        simple_pid = require("simple_pid", "bench")
        pid = simple_pid.PID(kp, ki, kd, setpoint=0.0, sample_time=None, output_limits=(low, high))

        def step(setpoint: float, y: float) -> float:
            pid.setpoint = setpoint
            return float(pid(y, dt=DT))

        return step
    from krystal import Krystal, KrystalConfig

    agent = Krystal(
        KrystalConfig(pid_kp=kp, pid_ki=ki, pid_kd=kd, pid_output_min=low, pid_output_max=high)
    )
    if name != "krystal":
        # The relay straddles the output that holds a unit setpoint (bias 1 +- 1), with
        # hysteresis above the noise; settled = 5 s within a band a few times the noise.
        agent.autotune(
            RELAY_AMPLITUDE,
            bias=1.0,
            hysteresis=0.02,
            adapt=name == "autotune",
            settle_window=round(5.0 / DT),
            settle_band=0.04,
        )

    def control(setpoint: float, y: float) -> float:
        return agent.control(setpoint, y, dt=DT)

    return control


def simulate(plant_name: str, controller: str, seed: int) -> dict[str, Any]:
    """One run of the schedule; returns scores and a down-sampled trace."""
    duration = HOLD * len(SCHEDULE)
    plant = Plant(plant_name, duration)
    control = _controller(controller, plant_name)
    rng = random.Random(seed)
    steps_per_hold = round(HOLD / DT)
    y, ys, us, sps = 0.0, [], [], []
    for k in range(steps_per_hold * len(SCHEDULE)):
        setpoint = SCHEDULE[k // steps_per_hold]
        measured = y + rng.gauss(0.0, NOISE)
        u = control(setpoint, measured)
        y = plant.step(u)
        if not math.isfinite(y) or abs(y) > 1e6:
            y = math.copysign(1e6, y) if math.isfinite(y) else 1e6
        ys.append(y)
        us.append(u)
        sps.append(setpoint)
    return {**score(ys, sps, steps_per_hold), "trace": ys[::10], "inputs": us[::10]}


def score(ys: list[float], sps: list[float], per_hold: int) -> dict[str, float]:
    """IAE, worst overshoot (fraction of the step) and mean 5 % settling time.

    >>> ys = [0.0, 0.5, 1.2, 1.0, 1.0, 1.0]
    >>> s = score(ys, [1.0] * 6, 6)
    >>> round(s["iae"], 3), round(s["overshoot"], 2), round(s["settling_s"], 2)
    (0.085, 0.2, 0.15)
    """
    iae = sum(abs(s - y) for s, y in zip(sps, ys)) * DT
    overshoots, settling = [], []
    previous = 0.0
    for start in range(0, len(ys), per_hold):
        target = sps[start]
        size = target - previous
        segment = ys[start : start + per_hold]
        if size:
            beyond = max((y - target) * math.copysign(1.0, size) for y in segment)
            overshoots.append(max(0.0, beyond) / abs(size))
            band = 0.05 * abs(size)
            last_out = max((i for i, y in enumerate(segment) if abs(y - target) > band), default=-1)
            settling.append((last_out + 1) * DT)
        previous = target
    return {
        "iae": iae,
        "overshoot": max(overshoots),
        "settling_s": statistics.fmean(settling),
    }


def _seeds(quick: bool, seeds: int | None) -> int:
    return seeds if seeds is not None else (2 if quick else 5)


def estimate(*, quick: bool, seeds: int | None = None) -> float:
    """One unit per simulated run."""
    return float(len(PLANTS) * len(CONTROLLERS) * _seeds(quick, seeds))


def run(*, quick: bool, seeds: int | None = None, progress: Progress) -> dict[str, Any]:
    """Every controller on every plant and seed; see the module docstring."""
    import importlib.util

    n = _seeds(quick, seeds)
    controllers = list(CONTROLLERS)
    skipped = []
    if importlib.util.find_spec("simple_pid") is None:
        controllers.remove("simple_pid")
        skipped.append(
            {"peer": "simple_pid", "reason": "simple-pid is not installed (krystal-sdk[bench])"}
        )
    results: dict[str, Any] = {}
    for plant in PLANTS:
        results[plant] = {"hand_gains": HAND_GAINS[plant], "controllers": {}}
        for name in controllers:
            runs = []
            for seed in range(n):
                runs.append(simulate(plant, name, seed))
                progress(1.0, f"setpoint: {plant} · {name} · seed {seed}")
            results[plant]["controllers"][name] = {
                key: statistics.median(r[key] for r in runs)
                for key in ("iae", "overshoot", "settling_s")
            } | {"per_seed_iae": [r["iae"] for r in runs], "trace": runs[0]["trace"]}
    out: dict[str, Any] = {
        "section": "setpoint",
        "dt": DT,
        "hold_s": HOLD,
        "schedule": list(SCHEDULE),
        "seeds": n,
        "results": results,
        "versions": peer_versions(["simple-pid"]),
        "skipped": skipped,
    }
    out["goals"], out["quality"] = _judge(results)
    return out


def _judge(results: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, float]]:
    goals, quality = [], {}
    drifting = results["drifting_gain"]["controllers"]
    reference = "simple_pid" if "simple_pid" in drifting else "krystal"
    for plant, entry in results.items():
        ctl = entry["controllers"]
        if reference in ctl:
            quality[f"{plant}.autotune_iae_ratio_inverse"] = (
                ctl[reference]["iae"] / ctl["autotune"]["iae"]
            )
    ours, theirs = drifting["autotune"]["iae"], drifting[reference]["iae"]
    goals.append(
        goal(
            f"setpoint/drifting_gain: autotuned IAE below fixed-gain {reference}",
            ours < theirs,
            f"autotune {ours:.2f} vs {reference} {theirs:.2f} (ratio {ours / theirs:.2f})",
        )
    )
    if "simple_pid" in drifting:
        for plant, entry in results.items():
            a, b = entry["controllers"]["krystal"]["iae"], entry["controllers"]["simple_pid"]["iae"]
            goals.append(
                goal(
                    f"setpoint/{plant}: control() with the same gains matches simple-pid "
                    "(IAE within 5 %)",
                    a <= 1.05 * b,
                    f"control() {a:.2f} vs simple-pid {b:.2f}",
                )
            )
    return goals, quality


def render_markdown(result: dict[str, Any]) -> str:
    """IAE / overshoot / settling per plant and controller, then the goals."""
    from krystal.bench._report import goals_markdown, table

    lines = [
        "## 4. Setpoint control",
        "",
        f"Setpoint steps {result['schedule']} every {result['hold_s']:.0f} s, dt = "
        f"{result['dt']} s, {result['seeds']} noise seeds (medians). IAE: integral absolute "
        "error; overshoot: worst, as a fraction of the step; settling: mean time into a 5 % "
        "band.",
        "",
    ]
    rows = []
    for plant, entry in result["results"].items():
        for name, v in entry["controllers"].items():
            rows.append(
                [
                    plant,
                    name,
                    f"{v['iae']:.2f}",
                    f"{v['overshoot']:.0%}",
                    f"{v['settling_s']:.1f} s",
                ]
            )
    lines += table(["plant", "controller", "IAE", "overshoot", "settling"], rows)
    lines += ["", *goals_markdown(result)]
    return "\n".join(lines)


def plot(result: dict[str, Any], out_dir: Path) -> list[Path]:
    """The measured response of each controller on each plant (first seed)."""
    from krystal.bench._report import pyplot, save_figure

    plt = pyplot()
    plants = list(result["results"])
    fig, axes = plt.subplots(len(plants), 1, figsize=(10, 2.8 * len(plants)), squeeze=False)
    per_hold = round(result["hold_s"] / result["dt"])
    for ax, plant in zip(axes.flat, plants):
        ctl = result["results"][plant]["controllers"]
        n = len(next(iter(ctl.values()))["trace"])
        ts = [i * 10 * result["dt"] for i in range(n)]
        sps = [
            result["schedule"][min(i * 10 // per_hold, len(result["schedule"]) - 1)]
            for i in range(n)
        ]
        ax.plot(ts, sps, color="black", lw=0.8, label="setpoint")
        for name, v in ctl.items():
            ax.plot(ts, v["trace"], lw=1.8 if name == "autotune" else 1.0, label=name)
        ax.set_ylim(-0.5, 3.0)
        ax.set_title(plant)
        ax.set_ylabel("y")
    axes.flat[-1].set_xlabel("time (s)")
    axes.flat[0].legend(fontsize=7, ncol=5)
    return [save_figure(fig, out_dir / "setpoint.png")]
