"""The contract every section of the benchmark suite follows.

A section is a module under :mod:`krystal.bench` (``bandits``, ``blackbox``, ``control``,
``setpoint``, ``speed_peers``) that defines four module-level functions. The runner
(:mod:`krystal.bench._suite`) imports a section by name, asks it how much work a run is,
runs it with a progress callback, and hands its result to the markdown and plot writers.
Nothing else is shared: a section owns its problems, its peers and its goals.

``estimate(*, quick: bool, seeds: int | None = None) -> float``
    The total number of progress units :func:`run` will report for these arguments
    (any unit: events, evaluations, rollouts). Must be cheap: no peer is imported.

``run(*, quick: bool, seeds: int | None = None, progress: Progress) -> dict``
    Run the section and return a JSON-able dict. ``quick`` selects the ~2-minute suite
    (fewer seeds, shorter streams, smaller budgets); ``seeds`` overrides the number of
    seeds of either size (tests pass 1). Call ``progress(advance, description)`` as work
    completes; the advances should add up to about :func:`estimate`. The dict must hold

    - ``"goals"``: a list of ``{"goal": str, "met": bool, "detail": str}``, one entry per
      goal of the issue this section measures, judged on this run's numbers;
    - ``"versions"``: ``{package: version}`` of every peer used (``None`` when missing);
    - ``"skipped"``: a list of ``{"peer": str, "reason": str}`` for peers not run (e.g.
      the package is not installed), so a missing peer is visible, never silent;
    - ``"quality"`` (optional, used by ``--compare``): ``{key: value}`` of Krystal's
      decision-quality figures, higher is better, each a ratio or score that is stable
      from run to run at the same ``quick`` setting (e.g. reward relative to a peer in
      the same run);
    - ``"speed"`` (optional, used by ``--compare``): ``{key: ratio}`` of Krystal's time
      relative to a reference measured in the same run, lower is better (never raw
      times: they do not carry across machines).

    Peers are imported inside functions with ``krystal._imports.require(module,
    "bench")`` so that importing a section costs nothing.

``render_markdown(result: dict) -> str``
    A markdown fragment (starting with a ``##`` heading) with the section's tables and a
    line per goal, from the dict :func:`run` returned (it may come from a JSON file).

``plot(result: dict, out_dir: pathlib.Path) -> list[pathlib.Path]``
    Write PNG figures into ``out_dir`` and return their paths; import matplotlib inside
    (``require("matplotlib", "bench")``) and use the ``Agg`` backend.

>>> from krystal.bench._section import SECTION_FUNCTIONS, missing_functions
>>> SECTION_FUNCTIONS
('estimate', 'run', 'render_markdown', 'plot')
>>> import types
>>> missing_functions(types.SimpleNamespace(estimate=len, run=len))
['render_markdown', 'plot']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["SECTION_FUNCTIONS", "Progress", "goal", "missing_functions", "peer_versions"]

Progress = Callable[[float, str], None]
"""``progress(advance_in_units, description)``; a section's total units come from estimate()."""

SECTION_FUNCTIONS = ("estimate", "run", "render_markdown", "plot")


def missing_functions(module: Any) -> list[str]:
    """The contract functions ``module`` does not define (empty: it is a section)."""
    return [name for name in SECTION_FUNCTIONS if not callable(getattr(module, name, None))]


def goal(text: str, met: bool, detail: str) -> dict[str, Any]:
    """One entry of a section's ``"goals"`` list.

    >>> goal("faster than X", True, "0.4x")
    {'goal': 'faster than X', 'met': True, 'detail': '0.4x'}
    """
    return {"goal": text, "met": bool(met), "detail": detail}


def peer_versions(distributions: list[str]) -> dict[str, str | None]:
    """Installed version of each distribution, ``None`` where it is not installed.

    >>> peer_versions(["no-such-distribution-xyz"])
    {'no-such-distribution-xyz': None}
    """
    from importlib import metadata

    out: dict[str, str | None] = {}
    for name in distributions:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out
