"""``import krystal`` stays light: no CLI dependencies, fast."""

import json
import statistics
import subprocess
import sys

PROBE = """
import json, sys, time
start, cpu = time.perf_counter(), time.process_time()
import krystal
krystal.Krystal
elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
heavy = ("pydantic", "typer", "rich", "yaml", "pydantic_settings", "matplotlib", "numpy")
heavy = sorted(m for m in heavy if m in sys.modules)
agent = "krystal.agent" in sys.modules
print(json.dumps({"elapsed": elapsed, "cpu": cpu, "heavy": heavy, "agent": agent}))
"""

LAZY = """
import json, sys
import krystal
print(json.dumps({"agent": "krystal.agent" in sys.modules, "version": krystal.__version__}))
"""


def _run(code: str) -> dict:  # type: ignore[type-arg]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


BUDGET_S = 0.050
# Wall time on a shared box is stretched by other processes (measured here: ~39 ms of
# CPU, 40-78 ms of wall under load), so the 50 ms budget is enforced on the CPU time
# of the import and the wall time only has to stay within a contention allowance.
WALL_ALLOWANCE_S = 3 * BUDGET_S


def test_import_krystal_pulls_in_no_heavy_dependencies_and_is_fast() -> None:
    runs = [_run(PROBE) for _ in range(5)]
    for run in runs:
        assert run["heavy"] == []
        assert run["agent"] is True  # touching krystal.Krystal loads the agent layer
    cpu = statistics.median(r["cpu"] for r in runs)
    wall = statistics.median(r["elapsed"] for r in runs)
    assert cpu < BUDGET_S, f"median import CPU time {cpu * 1000:.1f} ms"
    assert wall < WALL_ALLOWANCE_S, f"median import wall time {wall * 1000:.1f} ms"


def test_agent_layer_is_loaded_only_on_first_use() -> None:
    result = _run(LAZY)
    assert result["agent"] is False
    assert result["version"]


def test_unknown_attribute_and_dir() -> None:
    import krystal

    assert "Krystal" in dir(krystal) and "health_check" in dir(krystal)
    try:
        krystal.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:  # pragma: no cover - the assertion is the point
        raise AssertionError("expected AttributeError")
