"""Shared pieces of the suite's reports: markdown tables, goal lines, matplotlib."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from krystal._imports import require

__all__ = ["goals_markdown", "pyplot", "suite_markdown", "table", "write_outputs"]


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A GitHub markdown table as lines.

    >>> table(["a", "b"], [["1", "2"]])
    ['| a | b |', '| --- | --- |', '| 1 | 2 |']
    """
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def goals_markdown(result: dict[str, Any]) -> list[str]:
    """One line per goal: met or not met, with the figures behind it.

    >>> goals_markdown({"goals": [{"goal": "g", "met": False, "detail": "d"}]})
    ['**Goals**', '', '- NOT MET: g — d']
    """
    lines = ["**Goals**", ""]
    for entry in result.get("goals", []):
        mark = "met" if entry["met"] else "NOT MET"
        lines.append(f"- {mark}: {entry['goal']} — {entry['detail']}")
    for entry in result.get("skipped", []):
        lines.append(f"- skipped {entry['peer']}: {entry['reason']}")
    return lines


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the file-only Agg backend (needs the bench extra)."""
    matplotlib = require("matplotlib", "bench")
    matplotlib.use("Agg")
    return require("matplotlib.pyplot", "bench")


def save_figure(fig: Any, path: Path, dpi: int = 80) -> Path:
    """Lay ``fig`` out, write it to ``path`` as PNG and release it; return ``path``."""
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    return path


def suite_markdown(document: dict[str, Any]) -> str:
    """The whole report: a goal summary, then each section's own markdown."""
    from krystal.bench._suite import load_section

    sections = document["sections"]
    lines = [
        f"# Krystal benchmark suite ({document['suite']})",
        "",
        f"krystal-sdk {document['krystal_version']}, Python {document['python']}, "
        f"{document['machine']['platform']}, {document['machine']['cpus']} CPUs; "
        f"started {document['started_utc']}, {document['elapsed_s'] / 60:.1f} min.",
        *(
            f"Re-run later: {', '.join(r['sections'])} (started {r['started_utc']}, "
            f"{r['elapsed_s'] / 60:.1f} min): `{r['command']}`."
            for r in document.get("reruns", [])
        ),
        "",
        "## Goals",
        "",
    ]
    rows = []
    for name, result in sections.items():
        if result.get("status", "ok") != "ok":
            rows.append([name, result["status"], result.get("reason", "")])
            continue
        for entry in result.get("goals", []):
            rows.append([name, "met" if entry["met"] else "**not met**", _cell(entry)])
    lines += table(["section", "result", "goal — figures"], rows)
    for name, result in sections.items():
        if result.get("status", "ok") != "ok":
            continue
        module, _ = load_section(name)
        if module is not None:
            lines += ["", module.render_markdown(result)]
    return "\n".join(lines) + "\n"


def _cell(entry: dict[str, Any]) -> str:
    return f"{entry['goal']} — {entry['detail']}".replace("|", "/")


def write_outputs(document: dict[str, Any], out_dir: Path, *, name: str = "suite") -> list[Path]:
    """Write ``<name>.json``, ``<name>.md`` and each section's PNGs into ``out_dir``."""
    from krystal.bench._suite import load_section

    out_dir.mkdir(parents=True, exist_ok=True)
    written = [_atomic_write(out_dir / f"{name}.json", json.dumps(document, indent=1))]
    written.append(_atomic_write(out_dir / f"{name}.md", suite_markdown(document)))
    for section, result in document["sections"].items():
        if result.get("status", "ok") != "ok":
            continue
        module, _ = load_section(section)
        if module is not None:
            written += module.plot(result, out_dir)
    return written


def _atomic_write(path: Path, text: str) -> Path:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path
