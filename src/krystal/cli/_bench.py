"""``krystal bench``: micro-benchmarks, or the suite against peers with ``--suite``.

The micro-benchmarks live in :mod:`krystal.cli._measure` (standard library only, shared
with ``benchmarks/speed.py``); the suite lives in :mod:`krystal.bench` (its peers in the
``bench`` extra). This module shows progress and renders the results.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from krystal.cli import _measure
from krystal.cli._console import EXIT_FAILURE, EXIT_USAGE, fail, number, print_json, stderr, stdout


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
    suite: Annotated[
        str | None,
        typer.Option(
            "--suite",
            help="Run the benchmark suite against peers instead: 'quick' (~2 min) or 'full'.",
        ),
    ] = None,
    compare: Annotated[
        Path | None,
        typer.Option(
            "--compare",
            help="With --suite: compare with this baseline JSON; exit 1 on a regression.",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="With --suite: write suite.json, suite.md and PNGs here."),
    ] = None,
    sections: Annotated[
        str | None,
        typer.Option("--sections", help="With --suite: comma-separated sections to run."),
    ] = None,
    seeds: Annotated[
        int | None,
        typer.Option("--seeds", min=1, help="With --suite: seeds per section (default: its own)."),
    ] = None,
) -> None:
    """Micro-benchmarks of the public API on this machine, or the suite against peers.

    Without --suite: times one observe+decide+reward cycle at 8 metrics x 4 actions and
    at 32 x 8, the overhead of optimize() per evaluation, the memory of one agent
    (tracemalloc) and the `import krystal` time in fresh interpreters. Timings are
    medians and 90th percentiles in microseconds; compare them only with numbers from
    the same machine.

    With --suite quick|full: contextual bandits, black-box optimisation, online control,
    setpoint control and speed against the tools users would pick instead (needs
    krystal-sdk[bench]). --compare BASELINE then fails (exit 1) when a decision-quality
    figure drops or a time ratio grows beyond the tolerances, printing each figure.
    """
    if suite is not None:
        _run_suite(suite, as_json, compare, out, sections, seeds)
        return
    if compare is not None or out is not None or sections is not None or seeds is not None:
        fail("--compare, --out, --sections and --seeds need --suite", EXIT_USAGE)
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


def _run_suite(
    suite: str,
    as_json: bool,
    baseline_path: Path | None,
    out: Path | None,
    sections: str | None,
    seeds: int | None,
) -> None:
    from krystal._errors import InputError
    from krystal.bench import SECTIONS, compare, run_suite
    from krystal.bench._report import suite_markdown, write_outputs
    from krystal.bench.compare import load_document

    if suite not in ("quick", "full"):
        fail(f"--suite: expected 'quick' or 'full', got {suite!r}", EXIT_USAGE)
    names = None if sections is None else [s.strip() for s in sections.split(",") if s.strip()]
    for name in names or []:
        if name not in SECTIONS:
            fail(f"--sections: unknown section {name!r}; expected {', '.join(SECTIONS)}", 2)
    baseline = None
    if baseline_path is not None:
        try:
            baseline = load_document(baseline_path)
        except InputError as exc:
            fail(str(exc), EXIT_USAGE)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=stderr(),
        transient=True,
    ) as progress:
        tasks: dict[str, Any] = {}

        def on_start(section: str, total: float) -> None:
            tasks[section] = progress.add_task(section, total=max(total, 1e-9))

        def on_progress(section: str, advance: float, description: str) -> None:
            progress.update(tasks[section], advance=advance, description=description[:70])

        document = run_suite(
            quick=suite == "quick",
            seeds=seeds,
            sections=names,
            on_start=on_start,
            on_progress=on_progress,
        )
    if out is not None:
        for path in write_outputs(document, out):
            stderr().print(f"wrote {path}")
    comparison = None
    if baseline is not None:
        try:
            comparison = compare(document, baseline)
        except InputError as exc:
            fail(str(exc), EXIT_USAGE)
        document["comparison"] = comparison.to_dict()
    if as_json:
        print_json(document)
    else:
        stdout().print(suite_markdown(document), markup=False, highlight=False)
    if comparison is not None:
        stderr().print(comparison.report(), markup=False, highlight=False)
        if not comparison.ok:
            raise typer.Exit(EXIT_FAILURE)
