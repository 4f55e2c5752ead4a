"""Static checks that the kernel stays inside the subset MicroPython runs.

These need no Node.js: they parse ``src/krystal/kernel/*.py`` with :mod:`ast` and catch
what only fails at run time on MicroPython (an import of a module it lacks, keyword
arguments to builtins that take none) or fails to compile there (``[*xs]`` displays,
``match``). ``test_wasm_parity.py`` then imports and runs every module for real.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

KERNEL_DIR = Path(__file__).resolve().parents[2] / "src" / "krystal" / "kernel"
KERNEL_FILES = sorted(KERNEL_DIR.glob("*.py"))

# Standard-library modules MicroPython ships (in some form) and the kernel may use.
# `random` is left out on purpose: its streams differ between ports; use kernel.rng.
ALLOWED_IMPORTS = {"math", "json", "struct", "sys", "gc", "io", "time", "array", "binascii"}
# Builtins that take no keyword arguments on MicroPython.
NO_KEYWORD_BUILTINS = {"zip", "map", "enumerate", "sum", "round", "abs", "len", "range"}


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []

    def at(node: ast.AST, message: str) -> None:
        found.append(f"{path.name}:{getattr(node, 'lineno', '?')}: {message}")

    # An import guarded by ``try: ... except ImportError:`` has a fallback for ports
    # that lack the module, so it is allowed.
    guarded: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
            isinstance(h.type, ast.Name) and h.type.id == "ImportError" for h in node.handlers
        ):
            for inner in node.body:
                guarded.add(id(inner))

    for node in ast.walk(tree):
        if id(node) in guarded:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] not in ALLOWED_IMPORTS:
                    at(node, f"import {alias.name} (not in the MicroPython subset)")
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and (node.module or "").split(".")[0] not in ALLOWED_IMPORTS:
                at(node, f"from {node.module} import ... (kernel imports must be relative)")
        elif isinstance(node, (ast.List, ast.Tuple, ast.Set)) and isinstance(node.ctx, ast.Load):
            if any(isinstance(e, ast.Starred) for e in node.elts):
                at(node, "[*x] / (*x,) display (MicroPython has no PEP 448 unpacking)")
        elif isinstance(node, ast.Dict):
            if any(k is None for k in node.keys):
                at(node, "{**d} display (MicroPython has no PEP 448 unpacking)")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in NO_KEYWORD_BUILTINS and node.keywords:
                at(node, f"{func.id}() with keyword arguments (MicroPython takes none)")
        elif type(node).__name__ == "Match":
            at(node, "match statement (MicroPython has none)")
    return found


def test_kernel_files_found() -> None:
    names = [p.stem for p in KERNEL_FILES]
    assert "__init__" in names
    assert "rng" in names


@pytest.mark.parametrize("path", KERNEL_FILES, ids=[p.name for p in KERNEL_FILES])
def test_kernel_module_stays_in_micropython_subset(path: Path) -> None:
    violations = _violations(path)
    assert not violations, "\n".join(violations)


def test_checker_catches_violations(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import typing\nfrom dataclasses import dataclass\nfrom krystal import x\n"
        "a = [1, *b]\nd = {**e}\nz = zip(a, b, strict=True)\nfrom .rng import Rng\n",
        encoding="utf-8",
    )
    messages = _violations(bad)
    assert len(messages) == 6, messages
