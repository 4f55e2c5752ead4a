"""How fast is Krystal? The numbers behind the README's speed table.

Times one observe + decide + reward cycle at 8 metrics x 4 actions and at 32 x 8,
``optimize()``'s overhead per evaluation, the memory one agent holds, and the time to
``import krystal`` in a fresh interpreter; the same measurements as ``krystal bench``.

    python benchmarks/speed.py                 # writes benchmarks/results/speed.json
    python benchmarks/speed.py --cycles 200    # quicker
"""

import argparse
import json
import sys
from pathlib import Path

from krystal.cli._measure import run_all

RESULTS = Path(__file__).parent / "results"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cycles", type=int, default=2000, help="timed cycles per agent size")
    parser.add_argument("--memory-cycles", type=int, default=1000)
    parser.add_argument("--out", default=str(RESULTS / "speed.json"))
    args = parser.parse_args()
    result = run_all(
        args.cycles,
        memory_cycles=args.memory_cycles,
        on_stage=lambda key, text: print(f"{key}: {text}", file=sys.stderr, flush=True),
    )
    result["command"] = " ".join(["python", "benchmarks/speed.py", *sys.argv[1:]])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "environment"}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
