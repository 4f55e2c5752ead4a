"""The suite runner: import each section by name, run it, collect one JSON document.

A section module that does not exist yet, or does not follow the contract of
:mod:`krystal.bench._section`, becomes a ``{"status": "not available", ...}`` entry
instead of stopping the run; a section that raises becomes ``{"status": "error", ...}``.
"""

from __future__ import annotations

import importlib
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from krystal._version import __version__
from krystal.bench._section import missing_functions

__all__ = ["SECTIONS", "SUITE_FORMAT", "load_section", "run_suite"]

#: Section name -> the heading number the issue gives it.
SECTIONS = {"bandits": 1, "blackbox": 2, "control": 3, "setpoint": 4, "speed_peers": 5}
SUITE_FORMAT = 1

#: ``on_progress(section, advance, description)``; ``on_start(section, total_units)``.
OnProgress = Callable[[str, float, str], None]
OnStart = Callable[[str, float], None]


def load_section(name: str) -> tuple[ModuleType | None, str]:
    """Import ``krystal.bench.<name>``; return (module, "") or (None, why not)."""
    if name not in SECTIONS:
        raise ValueError(f"section: expected one of {', '.join(SECTIONS)}, got {name!r}")
    try:
        module = importlib.import_module(f"krystal.bench.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"krystal.bench.{name}":
            return None, f"section not available yet (krystal.bench.{name} does not exist)"
        raise
    missing = missing_functions(module)
    if missing:
        return None, f"section not available yet (krystal.bench.{name} lacks {missing})"
    return module, ""


def run_suite(
    *,
    quick: bool,
    seeds: int | None = None,
    sections: Sequence[str] | None = None,
    on_start: OnStart | None = None,
    on_progress: OnProgress | None = None,
) -> dict[str, Any]:
    """Run the chosen sections (all by default) and return the suite document.

    >>> doc = run_suite(quick=True, sections=[])
    >>> doc["suite"], doc["sections"]
    ('quick', {})
    """
    names = list(SECTIONS) if sections is None else list(sections)
    modules: dict[str, ModuleType] = {}
    results: dict[str, Any] = {}
    for name in names:
        module, why = load_section(name)
        if module is None:
            results[name] = {"status": "not available", "reason": why}
        else:
            modules[name] = module
    totals = {name: float(m.estimate(quick=quick, seeds=seeds)) for name, m in modules.items()}
    started = time.time()
    for name in names:
        if name not in modules:
            continue
        if on_start is not None:
            on_start(name, totals[name])

        def progress(advance: float, description: str, name: str = name) -> None:
            if on_progress is not None:
                on_progress(name, advance, description)

        began = time.perf_counter()
        try:
            result = modules[name].run(quick=quick, seeds=seeds, progress=progress)
            result.setdefault("status", "ok")
        except Exception as exc:
            result = {
                "status": "error",
                "reason": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(limit=8),
                "goals": [],
            }
        result["elapsed_s"] = time.perf_counter() - began
        results[name] = result
    return {
        "benchmark": "suite",
        "format": SUITE_FORMAT,
        "suite": "quick" if quick else "full",
        "seeds": seeds,
        "krystal_version": __version__,
        "python": sys.version.split()[0],
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "elapsed_s": time.time() - started,
        "sections": results,
    }
