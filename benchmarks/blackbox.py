"""Black-box optimisation: Krystal's optimize() against Optuna, Nevergrad and pyswarms.

Runs section 2 of the benchmark suite (``krystal.bench.blackbox``): Branin, Hartmann6,
10-D Rosenbrock, Levy, shifted Ackley and shifted Rastrigin, and a noisy Hartmann6, at
budgets of 100 and 500 evaluations over 10 seeds, and writes

    benchmarks/results/blackbox.json          raw medians, IQRs, ranks, traces, goals
    benchmarks/results/blackbox.md            the tables
    benchmarks/results/blackbox_regret.png    median regret against evaluations
    benchmarks/results/blackbox_ranks.png     average rank per budget

Usage:
    pip install -e ".[bench,plot]"
    python benchmarks/blackbox.py              # the full section (15-30 minutes, 2 workers)
    python benchmarks/blackbox.py --quick      # 3 functions, 2 seeds, budgets 30 and 100
"""

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from krystal.bench import blackbox

RESULTS = Path(__file__).parent / "results"


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(handle, "w") as out:
        out.write(text)
    os.chmod(temporary, 0o644)  # mkstemp makes files private; results are for everyone
    os.replace(temporary, path)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="the ~20-second version")
    parser.add_argument("--seeds", type=int, default=None, help="override the seed count")
    parser.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    parser.add_argument("--out", default=str(RESULTS), help="folder for the results")
    args = parser.parse_args()
    total = blackbox.estimate(quick=args.quick, seeds=args.seeds)
    done = [0.0]

    def progress(advance: float, description: str) -> None:
        done[0] += advance
        print(f"[{100 * done[0] / total:5.1f}%] {description}", file=sys.stderr, flush=True)

    result = blackbox.run(
        quick=args.quick, seeds=args.seeds, progress=progress, workers=args.workers
    )
    result["command"] = " ".join(["python", "benchmarks/blackbox.py", *sys.argv[1:]])
    out = Path(args.out)
    write_atomic(out / "blackbox.json", json.dumps(result, indent=1))
    write_atomic(out / "blackbox.md", blackbox.render_markdown(result))
    for path in blackbox.plot(result, out):
        print(f"wrote {path}", file=sys.stderr)
    print(blackbox.render_markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
