"""Regression check of a suite run against a stored baseline run.

Only figures that carry across machines are compared. Each section reports

- ``quality``: Krystal's decision quality as a score or a ratio to a peer run in the
  same run (higher is better). A figure fails when it falls more than
  ``quality_drop`` below the baseline, relative to the baseline's magnitude (absolute
  for figures near zero).
- ``speed``: Krystal's time divided by a reference timed in the same run (lower is
  better). A figure fails when it grows by more than ``speed_growth`` (relative).

A figure the baseline has and the run lacks also fails (a section that stopped
reporting it has regressed too); a figure only the run has is listed, not judged.

>>> base = {"suite": "quick", "sections": {"s": {"quality": {"q": 0.8}, "speed": {"t": 1.0}}}}
>>> run = {"suite": "quick", "sections": {"s": {"quality": {"q": 0.7}, "speed": {"t": 1.1}}}}
>>> report = compare(run, base)
>>> report.ok, [f.key for f in report.failures]
(False, ['s.quality.q'])
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from krystal._errors import InputError

__all__ = ["Comparison", "Finding", "Tolerances", "compare", "load_document"]


class Tolerances:
    """How much worse than the baseline a figure may get before the check fails.

    ``quality_drop`` 0.05: a quality figure may lose 5 % of its baseline value (a
    drop of 0.05 for figures within 1 of zero). ``speed_growth`` 0.30: a time ratio may
    grow by 30 % (shared machines are noisy even in ratios).
    """

    def __init__(self, quality_drop: float = 0.05, speed_growth: float = 0.30) -> None:
        for name, value in (("quality_drop", quality_drop), ("speed_growth", speed_growth)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InputError(f"{name}: expected a number >= 0, got {value!r}")
            if not (math.isfinite(value) and value >= 0):
                raise InputError(f"{name}: expected a number >= 0, got {value!r}")
        self.quality_drop = float(quality_drop)
        self.speed_growth = float(speed_growth)

    def to_dict(self) -> dict[str, float]:
        return {"quality_drop": self.quality_drop, "speed_growth": self.speed_growth}


class Finding:
    """One compared figure: its key, both values, the limit and whether it passed."""

    def __init__(
        self,
        key: str,
        kind: str,
        baseline: float | None,
        current: float | None,
        limit: float | None,
        ok: bool,
        note: str = "",
    ) -> None:
        self.key, self.kind = key, kind
        self.baseline, self.current, self.limit = baseline, current, limit
        self.ok, self.note = ok, note

    def describe(self) -> str:
        """One line for the report.

        >>> Finding("a.speed.t", "speed", 1.0, 1.5, 1.3, False).describe()
        'FAIL a.speed.t: 1.5 vs baseline 1 (limit <= 1.3)'
        """
        status = "ok  " if self.ok else "FAIL"
        if self.current is None or self.baseline is None:
            return f"{status} {self.key}: {self.note}"
        sign = ">=" if self.kind == "quality" else "<="
        return (
            f"{status} {self.key}: {self.current:.4g} vs baseline {self.baseline:.4g} "
            f"(limit {sign} {self.limit:.4g})" + (f"; {self.note}" if self.note else "")
        )

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


class Comparison:
    """All findings of one comparison; ``ok`` when none failed."""

    def __init__(self, findings: list[Finding], tolerances: Tolerances) -> None:
        self.findings = findings
        self.tolerances = tolerances

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if not f.ok]

    @property
    def ok(self) -> bool:
        return not self.failures

    def report(self) -> str:
        """A plain-text report: the verdict, the tolerances, then one line per figure."""
        t = self.tolerances
        head = (
            f"{'no regression' if self.ok else 'REGRESSION'}: {len(self.failures)} of "
            f"{len(self.findings)} figures outside tolerance (quality may drop "
            f"{t.quality_drop:.0%}, time ratios may grow {t.speed_growth:.0%})"
        )
        ordered = sorted(self.findings, key=lambda f: (f.ok, f.key))
        return "\n".join([head, *(f.describe() for f in ordered)])

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "tolerances": self.tolerances.to_dict(),
            "findings": [f.to_dict() for f in self.findings],
        }


def load_document(path: str | Path) -> dict[str, Any]:
    """Read a suite JSON document, with a clear error for anything else."""
    path = Path(path)
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"baseline: no such file {str(path)!r}") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"baseline: {str(path)!r} is not a readable JSON file: {exc}") from None
    if not isinstance(document, dict) or document.get("benchmark") != "suite":
        raise InputError(f"baseline: {str(path)!r} is not a benchmark-suite result")
    return document


def _figures(document: dict[str, Any], kind: str) -> dict[str, float]:
    out = {}
    for section, result in document.get("sections", {}).items():
        for key, value in (result.get(kind) or {}).items():
            if isinstance(value, (int, float)) and math.isfinite(value):
                out[f"{section}.{kind}.{key}"] = float(value)
    return out


def compare(
    current: dict[str, Any], baseline: dict[str, Any], tolerances: Tolerances | None = None
) -> Comparison:
    """Compare ``current`` with ``baseline`` (both suite documents); see the module doc."""
    tol = Tolerances() if tolerances is None else tolerances
    if current.get("suite") != baseline.get("suite"):
        raise InputError(
            f"baseline: a {baseline.get('suite')!r} suite run cannot be compared with a "
            f"{current.get('suite')!r} one; store a baseline of the same suite"
        )
    findings: list[Finding] = []
    for kind in ("quality", "speed"):
        now, before = _figures(current, kind), _figures(baseline, kind)
        for key, old in sorted(before.items()):
            if key not in now:
                findings.append(Finding(key, kind, old, None, None, False, "missing from this run"))
                continue
            new = now[key]
            if kind == "quality":
                limit = old - tol.quality_drop * max(abs(old), 1.0)
                findings.append(Finding(key, kind, old, new, limit, new >= limit))
            else:
                limit = old * (1.0 + tol.speed_growth)
                findings.append(Finding(key, kind, old, new, limit, new <= limit))
        for key in sorted(set(now) - set(before)):
            findings.append(Finding(key, kind, None, now[key], None, True, "new, not in baseline"))
    return Comparison(findings, tol)
