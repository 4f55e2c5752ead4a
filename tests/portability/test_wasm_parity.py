"""The kernel gives the same numbers on CPython, MicroPython and Pyodide.

``scenario.py`` runs here under CPython (in a subprocess, with a copy of the kernel on
``sys.path`` as the package ``kernel``) and in Node.js under the npm packages
``@micropython/micropython-webassembly-pyscript`` and ``pyodide`` through
``scripts/run_kernel_wasm.mjs``. Integers and strings must match exactly, floats to a
relative 1e-9 (absolute 1e-12 near zero).

Needs ``node`` and ``node_modules`` (``npm ci`` in the repository root). Without them the
tests are skipped, unless ``CI`` is set: then they fail, because CI installs them.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
KERNEL_DIR = ROOT / "src" / "krystal" / "kernel"
SCENARIO = Path(__file__).resolve().parent / "scenario.py"
RUNNER = ROOT / "scripts" / "run_kernel_wasm.mjs"
NODE_PACKAGES = {
    "micropython": ROOT / "node_modules" / "@micropython" / "micropython-webassembly-pyscript",
    "pyodide": ROOT / "node_modules" / "pyodide",
}
RUNTIMES = tuple(NODE_PACKAGES)
REL_TOL = 1e-9
ABS_TOL = 1e-12
TIMEOUT_S = 120


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _require_node(runtime: str) -> str:
    """Return the path of ``node``; skip (locally) or fail (in CI) if a piece is missing."""
    node = shutil.which("node")
    missing = []
    if node is None:
        missing.append("`node` is not on PATH")
    if not NODE_PACKAGES[runtime].is_dir():
        missing.append(
            f"{NODE_PACKAGES[runtime].relative_to(ROOT)} is missing (run `npm ci` in {ROOT})"
        )
    if missing:
        reason = f"{runtime} parity needs Node.js and the npm packages: " + "; ".join(missing)
        if _in_ci():
            pytest.fail(reason + " [CI is set, so this is a failure, not a skip]")
        pytest.skip(reason)
    assert node is not None
    return node


def _kernel_modules() -> list[str]:
    return sorted(p.stem for p in KERNEL_DIR.glob("*.py") if p.stem != "__init__")


def _run_node(runtime: str, scenario: Path) -> tuple[str, float]:
    node = _require_node(runtime)
    cmd = [node, str(RUNNER), runtime, str(KERNEL_DIR), str(scenario)]
    start = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        pytest.fail(
            f"{runtime} run failed (exit {proc.returncode}) after {elapsed:.1f}s:\n"
            f"{proc.stderr}\n--- stdout ---\n{proc.stdout[-2000:]}"
        )
    return proc.stdout, elapsed


def _run_cpython(scenario: Path, tmp: Path) -> str:
    # The same file as under the WebAssembly runtimes: `kernel` is a top-level package.
    shutil.copytree(KERNEL_DIR, tmp / "kernel", ignore=shutil.ignore_patterns("__pycache__"))
    env = dict(os.environ, PYTHONPATH=str(tmp), PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run(
        [sys.executable, str(scenario)],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"CPython scenario failed (exit {proc.returncode}):\n{proc.stderr}")
    return proc.stdout


def _parse(stdout: str, runtime: str) -> dict[str, Any]:
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines:
        pytest.fail(f"{runtime}: the scenario printed nothing")
    try:
        doc = json.loads(lines[-1])
    except ValueError as exc:
        pytest.fail(f"{runtime}: the last line of output is not JSON ({exc}):\n{stdout[-2000:]}")
    assert isinstance(doc, dict)
    return doc


def decode(value: Any) -> Any:
    """Turn ``"f64:<hex>"`` strings back into floats, recursively."""
    if isinstance(value, str) and value.startswith("f64:"):
        return struct.unpack(">d", bytes.fromhex(value[4:]))[0]
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        return {k: decode(v) for k, v in value.items()}
    return value


def _floats_close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def compare(expected: Any, actual: Any, path: str = "", out: list[str] | None = None) -> list[str]:
    """Return the differences between two decoded documents (empty when they agree)."""
    diffs: list[str] = [] if out is None else out
    where = path or "<root>"
    if type(expected) is not type(actual):
        diffs.append(
            f"{where}: type {type(expected).__name__} != {type(actual).__name__} "
            f"({expected!r} vs {actual!r})"
        )
    elif isinstance(expected, float):
        if not _floats_close(expected, actual):
            diffs.append(f"{where}: {expected!r} != {actual!r}")
    elif isinstance(expected, list):
        if len(expected) != len(actual):
            diffs.append(f"{where}: length {len(expected)} != {len(actual)}")
        for i, (e, a) in enumerate(zip(expected, actual, strict=False)):
            compare(e, a, f"{path}[{i}]", diffs)
    elif isinstance(expected, dict):
        if set(expected) != set(actual):
            diffs.append(f"{where}: keys differ: {sorted(set(expected) ^ set(actual))}")
        for key in expected:
            if key in actual:
                compare(expected[key], actual[key], f"{path}.{key}" if path else key, diffs)
    elif expected != actual:
        diffs.append(f"{where}: {expected!r} != {actual!r}")
    return diffs


def count_inexact(expected: Any, actual: Any) -> tuple[int, int]:
    """(floats compared, floats not bit-identical) between two raw (encoded) documents."""
    if isinstance(expected, str) and expected.startswith("f64:"):
        return 1, int(expected != actual)
    if isinstance(expected, list) and isinstance(actual, list):
        pairs = list(zip(expected, actual, strict=False))
    elif isinstance(expected, dict) and isinstance(actual, dict):
        pairs = [(expected[k], actual[k]) for k in expected if k in actual]
    else:
        return 0, 0
    total = inexact = 0
    for e, a in pairs:
        t, i = count_inexact(e, a)
        total += t
        inexact += i
    return total, inexact


def _errors(doc: dict[str, Any]) -> dict[str, str]:
    return {
        name: sec.get("error", "")
        for name, sec in doc["sections"].items()
        if sec.get("status") == "error"
    }


# ---------------------------------------------------------------------------------------
# Fixtures: each runtime runs the scenario once per test session.


@pytest.fixture(scope="module")
def cpython_doc(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _parse(_run_cpython(SCENARIO, tmp_path_factory.mktemp("cpython")), "cpython")


@pytest.fixture(scope="module", params=RUNTIMES)
def wasm_doc(request: pytest.FixtureRequest) -> dict[str, Any]:
    runtime = request.param
    stdout, elapsed = _run_node(runtime, SCENARIO)
    doc = _parse(stdout, runtime)
    doc["_elapsed_s"] = elapsed
    return doc


# ---------------------------------------------------------------------------------------
# Tests


def test_cpython_scenario_exercises_every_present_module(cpython_doc: dict[str, Any]) -> None:
    assert cpython_doc["runtime"] == sys.implementation.name
    errors = _errors(cpython_doc)
    assert not errors, "scenario sections failed under CPython:\n" + "\n".join(
        f"[{name}]\n{err}" for name, err in errors.items()
    )
    present = set(_kernel_modules())
    sections = cpython_doc["sections"]
    for name, sec in sections.items():
        if sec["status"] == "skipped":
            # A skip is only allowed when the module's file really is absent.
            assert name not in present, f"section {name!r} skipped but {name}.py exists: {sec}"
    module_sections = [n for n in sections if n in present or sections[n]["status"] == "skipped"]
    ran = sorted(n for n in module_sections if sections[n]["status"] == "ok")
    assert ran == sorted(n for n in module_sections if n in present)
    assert "rng" in ran
    assert len(ran) >= 1, "the scenario exercised no kernel module"


def test_every_kernel_module_has_a_scenario_section(cpython_doc: dict[str, Any]) -> None:
    covered = {
        sec["module"].split(".")[-1]
        for sec in cpython_doc["sections"].values()
        if sec.get("module")
    }
    missing = [m for m in _kernel_modules() if m not in covered]
    assert not missing, (
        f"kernel modules with no section in {SCENARIO.name}: {missing}; add a "
        "section_<name>() and one line to SECTIONS"
    )


def test_wasm_matches_cpython(cpython_doc: dict[str, Any], wasm_doc: dict[str, Any]) -> None:
    runtime = wasm_doc["runtime"]
    errors = _errors(wasm_doc)
    assert not errors, f"scenario sections failed under {runtime}:\n" + "\n".join(
        f"[{name}]\n{err}" for name, err in errors.items()
    )
    statuses = {n: s["status"] for n, s in wasm_doc["sections"].items()}
    assert statuses == {n: s["status"] for n, s in cpython_doc["sections"].items()}
    ran = [n for n, s in statuses.items() if s == "ok"]
    assert len(ran) >= 2, f"{runtime} ran only {ran}"

    diffs: list[str] = []
    for name in ran:
        expected = decode(cpython_doc["sections"][name]["data"])
        actual = decode(wasm_doc["sections"][name]["data"])
        compare(expected, actual, name, diffs)
    assert not diffs, (
        f"{runtime} {wasm_doc['version']} differs from CPython in {len(diffs)} places:\n"
        + "\n".join(diffs[:40])
    )


def test_runtime_invariants_hold(wasm_doc: dict[str, Any]) -> None:
    """Checks the scenario makes inside each runtime (not comparisons with CPython)."""
    sections = {
        n: decode(s["data"]) for n, s in wasm_doc["sections"].items() if s["status"] == "ok"
    }
    floats = sections["floats"]
    assert all(floats["json_roundtrip_exact"]), "json.dumps/loads does not round-trip floats"
    assert all(floats["repr_roundtrip_exact"]), "float(repr(x)) does not round-trip"
    rng = sections["rng"]
    assert rng["splitmix64_vector_ok"] is True
    assert all(rng[k]["restore_repeats"] for k in rng if k.startswith("seed_"))
    if "learner" in sections:
        assert all(sections["learner"]["restored_continues_identically"])


def test_wasm_float_parsing_is_bit_exact(
    cpython_doc: dict[str, Any], wasm_doc: dict[str, Any]
) -> None:
    """Parsing decimal floats (literals, JSON) and sqrt must agree to the last bit.

    A state saved as JSON on one port and loaded on another relies on this. (sin/cos may
    differ by one ulp between libms, which is what the tolerance elsewhere is for.)
    """
    expected = cpython_doc["sections"]["floats"]["data"]
    actual = wasm_doc["sections"]["floats"]["data"]
    for key in ("float_literals", "json_loads_literals", "sqrt", "int_ops"):
        assert actual[key] == expected[key], f"{wasm_doc['runtime']}: {key} not bit-identical"


def test_wasm_bit_exactness_report(cpython_doc: dict[str, Any], wasm_doc: dict[str, Any]) -> None:
    """Not a tolerance check: reports how many floats were not bit-identical (-s or -rP)."""
    lines = []
    for name, sec in wasm_doc["sections"].items():
        if sec["status"] != "ok":
            continue
        total, inexact = count_inexact(cpython_doc["sections"][name]["data"], sec["data"])
        lines.append(f"  {name}: {total} floats, {inexact} not bit-identical")
    print(
        f"{wasm_doc['runtime']} {wasm_doc['version']} ({wasm_doc['_elapsed_s']:.1f}s)\n"
        + "\n".join(lines)
    )


IMPORT_CHECK = """\
import json
import sys

MODULES = {modules!r}
result = {{}}
for name in MODULES:
    try:
        __import__("kernel." + name)
        result[name] = "ok"
    except Exception as exc:  # noqa: BLE001
        result[name] = type(exc).__name__ + ": " + str(exc)
print(json.dumps(result))
"""


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_every_kernel_module_imports(runtime: str, tmp_path: Path) -> None:
    """Each kernel module imports on its own (catches `typing`, `dataclasses`, ...)."""
    modules = _kernel_modules()
    assert "rng" in modules
    script = tmp_path / "import_check.py"
    script.write_text(IMPORT_CHECK.format(modules=modules), encoding="utf-8")
    stdout, _ = _run_node(runtime, script)
    result = _parse(stdout, runtime)
    assert sorted(result) == modules
    failed = {name: msg for name, msg in result.items() if msg != "ok"}
    assert not failed, f"kernel modules that fail to import under {runtime}: {failed}"
