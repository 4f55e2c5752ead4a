"""Turn the committed benchmark results into the markdown tables the README shows.

python benchmarks/report.py      # writes benchmarks/results/summary.md and prints it
"""

import json
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def learning_table(document: dict) -> str:
    lines = [
        "| domain | shift | Krystal | best fixed | ratio | preset default | random | "
        "recovery steps (per seed) | against the fixed setting's tail: Krystal / the "
        "fixed setting itself |",
        "|---|---|---:|---:|---:|---:|---:|---|---|",
    ]

    def steps(values: list) -> str:
        return ", ".join("-" if v is None else str(v) for v in values)

    for r in document["results"]:
        tail = ""
        if "recovery_to_tail" in r:
            tail = f"{steps(r['recovery_to_tail'])} / {steps(r['best_fixed_recovery_to_tail'])}"
        lines.append(
            f"| {r['domain']} | {'yes' if r['shift'] else 'no'} | {r['krystal']:.3f} | "
            f"{r['best_fixed']:.3f} | {r['ratio_to_best_fixed']:.3f} | {r['default']:.3f} | "
            f"{r['random']:.3f} | {steps(r.get('recovery_steps', [])) or 'n/a'} | "
            f"{tail or 'n/a'} |"
        )
    return "\n".join(lines)


def speed_table(document: dict) -> str:
    rows = [
        ("observe + decide + reward, 8 metrics x 4 actions", document["cycle_8x4"], "us"),
        ("observe + decide + reward, 32 metrics x 8 actions", document["cycle_32x8"], "us"),
    ]
    lines = ["| measurement | median | p90 |", "|---|---:|---:|"]
    for name, data, unit in rows:
        lines.append(f"| {name} | {data['median_us']:.0f} {unit} | {data['p90_us']:.0f} {unit} |")
    for key, size in (("cycle_8x4_numpy", "8 x 4"), ("cycle_32x8_numpy", "32 x 8")):
        data = document.get(key, {})
        if "median_us" in data:
            lines.append(
                f'| same, {size}, `backend="numpy"` | '
                f"{data['median_us']:.0f} us | {data['p90_us']:.0f} us |"
            )
    optimize = document["optimize"]
    lines.append(
        "| optimize() overhead per evaluation | "
        f"{optimize['overhead_per_evaluation_us']:.1f} us | "
        f"{optimize['p90_overhead_per_evaluation_us']:.1f} us |"
    )
    memory = document["memory"]
    lines.append(
        f"| one agent after {memory['cycles']:,} cycles (retained) | "
        f"{memory['retained_bytes'] / 1024:.0f} KiB | |"
    )
    imp = document["import"]
    lines.append(f"| `import krystal` (its own import time) | {imp['import_ms']:.1f} ms | |")
    return "\n".join(lines)


def llm_tables(document: dict) -> str:
    imports = ["| import (fresh process) | time | RSS |", "|---|---:|---:|"]
    for name, row in document["imports"].items():
        if "import_ms_median" in row:
            imports.append(
                f"| {name} | {row['import_ms_median']:.0f} ms | {row['rss_mb_median']:.1f} MB |"
            )
    requests = [
        "| client | request median | p99 | first token | whole stream |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, ratio in document["ratios"].items():
        if not isinstance(ratio, dict):  # a peer that was not installed, or no baseline
            requests.append(f"| {name} | {ratio} | | | |")
            continue
        latency = document["latency"][name]
        stream = document["streaming"][name]
        requests.append(
            f"| {name} | {latency['median_ms']:.3f} ms ({ratio['request_median']:.2f}x) | "
            f"{latency['p99_ms']:.3f} ms ({ratio['request_p99']:.2f}x) | "
            f"{stream['ttft']['median_ms']:.3f} ms ({ratio['stream_ttft_median']:.2f}x) | "
            f"{stream['total']['median_ms']:.3f} ms ({ratio['stream_total_median']:.2f}x) |"
        )
    return "\n".join(imports) + "\n\n" + "\n".join(requests)


def main() -> int:
    parts = []
    learning = RESULTS / "learning.json"
    if learning.exists():
        document = json.loads(learning.read_text())
        parts += [
            "## Learning (`python benchmarks/learning.py`)",
            "",
            f"Mean reward over the last 500 of {document['results'][0]['steps']} steps, "
            "median over seeds; ratio: Krystal / best fixed. Recovery: steps after the "
            "shift until Krystal's mean reward over the next 100 steps is within 10 % of "
            "what the new best fixed setting earned over the same 100 steps (per seed; - : "
            "not within the run). Last column, the earlier measure: until the next 100 "
            "steps reach 90 % of the best fixed setting's score over the last 500 steps, "
            "for Krystal and for the best fixed setting itself, which shows how much of "
            "that figure is waiting for an easy stretch of the world.",
            "",
            learning_table(document),
            "",
        ]
    speed = RESULTS / "speed.json"
    if speed.exists():
        parts += [
            "## Speed (`python benchmarks/speed.py`)",
            "",
            speed_table(json.loads(speed.read_text())),
            "",
        ]
    llm = RESULTS / "llm.json"
    if llm.exists():
        document = json.loads(llm.read_text())
        parts += [
            "## LLM client (`python benchmarks/llm.py`)",
            "",
            "Against a local stand-in server on 127.0.0.1; ratios are to raw httpx "
            f"in the same run ({document['settings']['requests']} requests, "
            f"{document['settings']['streams']} streams).",
            "",
            llm_tables(document),
            "",
        ]
    text = "\n".join(parts)
    (RESULTS / "summary.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
