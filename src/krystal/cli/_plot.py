"""The ``krystal demo --plot`` figure: rolling-mean reward per policy over phase bands.

matplotlib (the ``plot`` extra) is imported only here and only when a plot is asked
for. The figure is drawn on an Agg canvas directly, without pyplot, so no GUI backend
and no global figure state are involved.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from krystal._imports import require
from krystal.cli._demo_run import POLICY_DESCRIPTIONS, DemoRun

PHASE_COLOURS = {
    "SOLID": "#4c72b0",
    "LIQUID": "#55a868",
    "GAS": "#dd8452",
    "PLASMA": "#c44e52",
}
POLICY_STYLES: dict[str, dict[str, Any]] = {
    "krystal": {"color": "#7b2cbf", "linewidth": 2.2},
    "random": {"color": "#8c8c8c", "linewidth": 1.2},
    "default": {"color": "#1f77b4", "linewidth": 1.2, "linestyle": "--"},
    "best_fixed": {"color": "#2a9d8f", "linewidth": 1.4, "linestyle": "-."},
}


def rolling_mean(values: Sequence[float], window: int) -> list[float]:
    """Trailing mean over ``window`` values (over fewer at the start).

    >>> rolling_mean([1.0, 2.0, 3.0, 4.0], 2)
    [1.0, 1.5, 2.5, 3.5]
    """
    out: list[float] = []
    total = 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def plot_demo(run: DemoRun, path: str | Path) -> Path:
    """Write the demo figure as a PNG to ``path`` and return the path."""
    require("matplotlib", "plot")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    window = max(5, run.steps // 25)
    figure = Figure(figsize=(10, 6), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()

    seen_phases: list[str] = []
    for phase, start, end in run.phase_segments():
        axes.axvspan(start, end + 1, color=PHASE_COLOURS.get(phase, "#cccccc"), alpha=0.13, lw=0)
        if phase not in seen_phases:
            seen_phases.append(phase)
    if run.shift_at is not None and run.shift_at < run.steps:
        axes.axvline(run.shift_at, color="black", linewidth=1, linestyle=":")
        axes.annotate(
            "world shifts",
            (run.shift_at, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(4, -12),
            textcoords="offset points",
            fontsize=8,
        )

    steps = list(range(1, run.steps + 1))
    for name, policy in run.runs.items():
        axes.plot(
            steps,
            rolling_mean(policy.rewards, window),
            label=f"{name}: {POLICY_DESCRIPTIONS[name]} (mean {policy.mean:.3f})",
            **POLICY_STYLES.get(name, {}),
        )

    handles, labels = axes.get_legend_handles_labels()
    for phase in seen_phases:
        handles.append(Patch(color=PHASE_COLOURS.get(phase, "#cccccc"), alpha=0.3))
        labels.append(f"Krystal phase {phase}")
    figure.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=8)
    axes.set_xlim(1, run.steps)
    axes.set_xlabel("step")
    axes.set_ylabel(f"reward, rolling mean over {window} steps")
    axes.set_title(
        f"krystal demo: {run.domain} simulator, {run.steps} steps, seed {run.seed}"
        + (" (shifting world)" if run.shift else "")
    )
    axes.grid(alpha=0.3)

    target = Path(path)
    figure.savefig(target, dpi=110, format="png")
    return target
