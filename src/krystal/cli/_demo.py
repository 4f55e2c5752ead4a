"""``krystal demo``: watch Krystal learn on a simulator and compare it with baselines.

The experiment itself is :func:`krystal.cli._demo_run.run_demo`; this module adds the
options, progress bars, tables, the JSON document and the optional plot.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from krystal._errors import MissingExtraError
from krystal._imports import require
from krystal.cli._config_cmd import ConfigOption
from krystal.cli._console import (
    fail,
    krystal_logging,
    load_settings,
    number,
    print_json,
    stderr,
    stdout,
)
from krystal.cli._demo_run import DemoRun, run_demo

_STAGE_LABELS = {
    "krystal": "Krystal learning",
    "random": "baseline: random",
    "default": "baseline: default action",
    "search": "baseline: searching fixed settings",
    "best_fixed": "baseline: best fixed",
}
_PHASE_STYLE = {"SOLID": "blue", "LIQUID": "green", "GAS": "yellow", "PLASMA": "red"}


def _check_domain(value: str | None) -> str | None:
    if value is None:
        return None
    from krystal.agent import PRESET_NAMES

    name = value.strip().lower()
    if name not in PRESET_NAMES:
        raise typer.BadParameter(
            f"unknown domain {value!r}; expected one of {', '.join(PRESET_NAMES)}"
        )
    return name


def _check_plot(value: Path | None) -> Path | None:
    if value is not None and not value.parent.is_dir():
        raise typer.BadParameter(f"directory {str(value.parent)!r} does not exist")
    return value


def demo(
    domain: Annotated[
        str | None,
        typer.Option(
            "--domain",
            "-d",
            metavar="game|server|ml|iot",
            callback=_check_domain,
            help="Simulator and preset to run (default: the configured domain, game).",
        ),
    ] = None,
    steps: Annotated[
        int, typer.Option("--steps", "-n", min=10, help="Steps each policy runs.")
    ] = 1000,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed", "-s", help="Seed of the simulator and agents (default: config, else 0)."
        ),
    ] = None,
    shift: Annotated[
        bool,
        typer.Option(
            "--shift",
            help="Change the simulator's world half-way through the run; Krystal has to adapt.",
        ),
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print one JSON document instead of progress bars and tables."),
    ] = False,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            metavar="FILE.png",
            dir_okay=False,
            callback=_check_plot,
            help="Also write a PNG of reward curves and Krystal's phases (needs the plot extra).",
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Run Krystal on a simulated system and compare it with three baselines.

    Each policy runs the same steps on the same seed: Krystal (learning online), a random
    action, the preset's default action, and the best fixed action found in hindsight by
    a grid search on this very run. Shows mean rewards, Krystal's ratio to each, the
    phases Krystal went through and its final metrics. Needs no network and no server.
    """
    settings = load_settings(config)
    name = domain or settings.domain
    run_seed = seed if seed is not None else (settings.seed if settings.seed is not None else 0)
    if plot is not None:  # fail before the run, not after it
        try:
            require("matplotlib", "plot")
        except MissingExtraError as exc:
            fail(str(exc))

    with krystal_logging(settings.log_level, capture=as_json) as log_records:
        if as_json:
            run = run_demo(
                name, steps=steps, seed=run_seed, shift=shift, overrides=settings.agent_overrides()
            )
        else:
            run = _run_with_progress(name, steps, run_seed, shift, settings.agent_overrides())

    plot_path = None
    if plot is not None:
        from krystal.cli._plot import plot_demo

        try:
            plot_path = plot_demo(run, plot)
        except OSError as exc:
            fail(f"could not write {plot}: {exc}")

    if as_json:
        document = run.summary()
        document["plot"] = None if plot_path is None else str(plot_path)
        document["log"] = log_records
        print_json(document)
        return
    _render(run)
    if plot_path is not None:
        stdout().print(f"plot written to {escape(str(plot_path))}")


def _run_with_progress(
    domain: str, steps: int, seed: int, shift: bool, overrides: dict[str, Any]
) -> DemoRun:
    with Progress(
        TextColumn("{task.description:<36}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr(),
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def on_progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(_STAGE_LABELS.get(stage, stage), total=total)
            progress.update(tasks[stage], completed=done, total=total)

        return run_demo(
            domain,
            steps=steps,
            seed=seed,
            shift=shift,
            overrides=overrides,
            on_progress=on_progress,
        )


def _times(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def _render(run: DemoRun) -> None:
    summary = run.summary()
    console = stdout()
    title = f"krystal demo: {run.domain} simulator, {run.steps} steps, seed {run.seed}"
    if run.shift_at is not None and run.shift_at < run.steps:
        title += f", world shifts at step {run.shift_at}"
    table = Table(title=title, title_justify="left")
    table.add_column("policy")
    table.add_column("mean reward", justify="right")
    table.add_column("last 20%", justify="right")
    table.add_column("Krystal ÷ policy", justify="right")
    table.add_column("Krystal ÷ policy, last 20%", justify="right")
    for policy in summary["policies"]:
        style = "bold magenta" if policy["name"] == "krystal" else ""
        table.add_row(
            f"[{style}]{policy['name']}[/]" if style else policy["name"],
            f"{policy['mean_reward']:.3f}",
            f"{policy['mean_reward_last_20pct']:.3f}",
            _times(policy["krystal_ratio"]),
            _times(policy["krystal_ratio_last_20pct"]),
        )
    console.print(table)
    for policy in summary["policies"]:
        note = policy["description"]
        if policy["action"] is not None:
            note += f": {_action(policy['action'])}"
        console.print(f"  [bold]{policy['name']}[/]: {escape(note)}")
    if any(p["krystal_ratio_last_20pct"] is None for p in summary["policies"]):
        console.print("  n/a: no ratio to a policy whose mean reward is not positive")
    if run.overrides:
        console.print(f"  agent settings from config: {escape(_action(run.overrides))}")

    phases = Table(title="Krystal's phases", title_justify="left")
    phases.add_column("phase")
    phases.add_column("from cycle", justify="right")
    phases.add_column("to cycle", justify="right")
    for phase, start, end in run.phase_segments():
        colour = _PHASE_STYLE.get(phase, "white")
        phases.add_row(f"[{colour}]{escape(phase)}[/]", str(start), str(end))
    console.print(phases)

    metrics = Table(title="Krystal's final metrics", title_justify="left")
    metrics.add_column("metric")
    metrics.add_column("value", overflow="fold")
    for key, value in run.metrics.items():
        metrics.add_row(escape(str(key)), escape(_metric(value)))
    console.print(metrics)
    console.print(f"done in {run.elapsed_s:.1f} s")


def _action(action: dict[str, Any]) -> str:
    return ", ".join(f"{key}={_metric(value)}" for key, value in action.items())


def _metric(value: Any) -> str:
    if isinstance(value, float):
        return number(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(_metric(item) for item in value)
    if isinstance(value, dict):
        return _action(value)
    return str(value)
