"""``krystal bench``: micro-benchmarks of the public API on this machine.

The measuring lives in :mod:`krystal.cli._measure` (standard library only, shared with
``benchmarks/speed.py``); this module shows progress and renders the results.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from krystal.cli import _measure
from krystal.cli._console import number, print_json, stderr, stdout


def bench(
    cycles: Annotated[
        int,
        typer.Option("--cycles", min=10, help="Timed observe+decide+reward cycles per agent size."),
    ] = 1000,
    memory_cycles: Annotated[
        int,
        typer.Option(
            "--memory-cycles", min=1, help="Cycles the agent runs for the memory measurement."
        ),
    ] = 1000,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the results as one JSON object.")
    ] = False,
) -> None:
    """Micro-benchmarks of the public API on this machine.

    Times one observe+decide+reward cycle at 8 metrics x 4 actions and at 32 x 8, the
    overhead of optimize() per evaluation, the memory of one agent (tracemalloc) and
    the `import krystal` time in fresh interpreters. Timings are medians and 90th
    percentiles in microseconds; compare them only with numbers from the same machine.
    """
    if as_json:
        print_json(_measure.run_all(cycles, memory_cycles=memory_cycles))
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=stderr(),
        transient=True,
    ) as progress:
        task = progress.add_task("measuring", total=len(_measure.STAGES))

        def on_stage(key: str, description: str) -> None:
            done = [name for name, _ in _measure.STAGES].index(key)
            progress.update(task, completed=done, description=f"measuring {description}")

        results = _measure.run_all(cycles, memory_cycles=memory_cycles, on_stage=on_stage)
        progress.update(task, completed=len(_measure.STAGES))
    _render(results)


def _render(results: dict[str, Any]) -> None:
    env = results["environment"]
    table = Table(
        title=(
            f"krystal-sdk {env['krystal_version']} on Python {env['python']} "
            f"({env['platform']}, {env['cpu_count']} CPUs)"
        ),
        title_justify="left",
    )
    table.add_column("measurement")
    table.add_column("median", justify="right")
    table.add_column("p90", justify="right")
    table.add_column("notes")
    for key in ("cycle_8x4", "cycle_32x8", "cycle_8x4_numpy", "cycle_32x8_numpy"):
        cycle = results.get(key, {})
        if "median_us" not in cycle:
            if "skipped" in cycle:
                table.add_row(f"{key}", "-", "-", cycle["skipped"])
            continue
        table.add_row(
            f"observe+decide+reward, {cycle['state_dim']} x {cycle['action_dim']}"
            + (", numpy backend" if cycle.get("backend") == "numpy" else ""),
            f"{number(cycle['median_us'])} µs",
            f"{number(cycle['p90_us'])} µs",
            f"{cycle['cycles']:,} cycles",
        )
    opt = results["optimize"]
    table.add_row(
        "optimize() overhead per evaluation",
        f"{number(opt['overhead_per_evaluation_us'])} µs",
        f"{number(opt['p90_overhead_per_evaluation_us'])} µs",
        f"{number(opt['evaluations_per_call'])} evaluations per call "
        f"(iterations={opt['iterations']}), {opt['repeats']} calls",
    )
    memory = results["memory"]
    table.add_row(
        "memory of one agent",
        f"{memory['retained_bytes'] / 1024:,.1f} KiB",
        "",
        f"retained after {memory['cycles']:,} cycles; construct "
        f"{memory['construct_bytes'] / 1024:,.1f} KiB, peak {memory['peak_bytes'] / 1024:,.1f} KiB",
    )
    imp = results["import"]
    table.add_row(
        "import krystal",
        f"{number(imp['import_ms'])} ms",
        "",
        f"-X importtime, {imp['repeats']} fresh interpreters; process "
        f"{number(imp['process_ms'])} ms vs {number(imp['baseline_process_ms'])} ms bare",
    )
    stdout().print(table)
