"""The case study's step on NumPy against the literal loop, round by round:
``python -m bench.numpy_rounds [--rounds 5]``.

The suite (``python -m bench``) reports medians; this reports every round, so that a ratio
that holds only in the best rounds shows. Each round times the literal loop
(``bench/reference.py``) and ``train``'s NumPy step at the case study's size (300 points,
hidden 100, float64), each in its own fresh process (``bench/_worker.py``: the median of five
timed runs of 600 steps), in alternating order, in two environments: glibc's defaults, and glibc's heap trimming and mmap threshold set
high (``MALLOC_*``, as the suite runs). Results go to ``--output`` (default: a temporary
directory; ``--output bench/results`` to keep them).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from .__main__ import MALLOC_ENV, worker

# each process: the median of 5 timed runs of 600 steps (a burst of another tenant's work
# spoils one run, not the round)
BASE = {
    "backend": "numpy",
    "n_per_class": 100,
    "hidden": 100,
    "dtype": "float64",
    "steps": 600,
    "repeats": 5,
    "peak": False,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.numpy_rounds", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--output", default=None, help="directory for the results")
    args = parser.parse_args(argv)
    out = Path(args.output) if args.output else Path(tempfile.mkdtemp(prefix="numpy-rounds-"))
    out.mkdir(parents=True, exist_ok=True)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    for key in [k for k in os.environ if k.startswith("MALLOC_")]:
        del os.environ[key]  # the workers inherit this environment: defaults are defaults
    rows = []
    for env_name, extra in (("glibc defaults", {}), ("MALLOC_* high", MALLOC_ENV)):
        for r in range(args.rounds):
            sides = ["reference", "ours"] if r % 2 == 0 else ["ours", "reference"]
            t = {}
            for kind in sides:
                t[kind] = worker({**BASE, "kind": kind}, extra)["seconds_per_step"]
            rows.append(
                {
                    "environment": env_name,
                    "round": r + 1,
                    "reference_us": 1e6 * t["reference"],
                    "numpy_us": 1e6 * t["ours"],
                    "ratio": t["ours"] / t["reference"],
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    lines = [
        "# The case study's step on NumPy against the literal loop, round by round",
        "",
        "300 points, hidden 100, float64; per process the median of 5 timed runs of 600 steps; "
        "each round times both sides in fresh processes, in alternating order. Load average at "
        "the start: "
        f"{load}.",
        "",
        "| environment | round | literal loop us/step | NumPy us/step | ratio |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['environment']} | {row['round']} | {row['reference_us']:.1f} | "
            f"{row['numpy_us']:.1f} | {row['ratio']:.2f} |"
        )
    worst = {
        env: max(r["ratio"] for r in rows if r["environment"] == env)
        for env in dict.fromkeys(r["environment"] for r in rows)
    }
    lines += ["", "Worst round: " + "; ".join(f"{k} {v:.2f}" for k, v in worst.items()) + "."]
    text = "\n".join(lines) + "\n"
    (out / "numpy-rounds.md").write_text(text)
    (out / "numpy-rounds.json").write_text(json.dumps({"load": load, "rows": rows}, indent=1))
    print(text)
    print(f"written to {out}")


if __name__ == "__main__":
    main()
