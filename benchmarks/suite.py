"""The benchmark suite against peers: Krystal beside the tools users would pick instead.

Five sections (contextual bandits, black-box optimisation, online control, setpoint
control, speed); see ``krystal.bench``. Needs ``pip install -e ".[bench]"``.

    python benchmarks/suite.py                 # full: benchmarks/results/suite/
    python benchmarks/suite.py --quick         # ~2 min: benchmarks/results/suite/quick/
    python benchmarks/suite.py --quick --baseline   # also store baseline_quick.json
    python benchmarks/suite.py --sections control --into benchmarks/results/suite/suite.json
                                               # re-run sections into an earlier result

The same runs as ``krystal bench --suite full|quick --out DIR``.
"""

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from krystal.bench import SECTIONS, run_suite
from krystal.bench._report import write_outputs

RESULTS = Path(__file__).parent / "results" / "suite"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="the ~2-minute version")
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--out", default=None, help="output folder")
    parser.add_argument(
        "--baseline", action="store_true", help="store the quick run as baseline_quick.json"
    )
    parser.add_argument(
        "--into",
        default=None,
        help="an earlier suite.json of the same size: replace the sections run now, keep the rest",
    )
    args = parser.parse_args()
    out = Path(args.out) if args.out else (RESULTS / "quick" if args.quick else RESULTS)
    started = time.perf_counter()

    def on_progress(section: str, advance: float, description: str) -> None:
        if advance:
            elapsed = time.perf_counter() - started
            print(f"[{elapsed:7.1f}s] {description}", file=sys.stderr, flush=True)

    document = run_suite(
        quick=args.quick,
        seeds=args.seeds,
        sections=[s for s in args.sections.split(",") if s],
        on_progress=on_progress,
    )
    document["command"] = " ".join(["python", "benchmarks/suite.py", *sys.argv[1:]])
    if args.into:
        earlier = json.loads(Path(args.into).read_text())
        if earlier["suite"] != document["suite"]:
            parser.error(f"--into: {args.into} is a {earlier['suite']} run, this is not")
        earlier["sections"].update(document["sections"])
        earlier.setdefault("reruns", []).append(
            {
                "sections": list(document["sections"]),
                "started_utc": document["started_utc"],
                "elapsed_s": document["elapsed_s"],
                "command": document["command"],
            }
        )
        document = earlier
    for path in write_outputs(document, out):
        print(f"wrote {path}")
    if args.baseline:
        target = RESULTS / "baseline_quick.json"
        shutil.copyfile(out / "suite.json", target)
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
