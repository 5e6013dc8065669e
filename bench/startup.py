"""The case study as a user starts it: ``python -m bench.startup [--rounds 5]``.

Whole processes of ``portable-net train --quiet`` (10,000 steps of the case study's net,
float64): NumPy, JAX cold (no persistent compilation cache: every program compiled in the
process) and JAX warm (the command's persistent cache, in a temporary directory filled by
one untimed run first). Rounds alternate the sides; the report gives medians and ratios to
the NumPy command's from the same run. Results go to ``--output`` (default: a temporary
directory; ``--output bench/results`` to keep them).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def command() -> list[str]:
    exe = shutil.which("portable-net")
    return [exe, "train"] if exe else [sys.executable, "-m", "portable_net", "train"]


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT, env=env)
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--output", default=None, help="directory for the results")
    args = parser.parse_args(argv)
    out = Path(args.output) if args.output else Path(tempfile.mkdtemp(prefix="startup-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    cache = tempfile.mkdtemp(prefix="startup-jax-cache-")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "JAX_"))}
    base["PYTHONPATH"] = str(ROOT) + os.pathsep + base.get("PYTHONPATH", "")
    cmd = [*command(), "--quiet"]
    sides = {
        "numpy": (cmd, base),
        "jax cold": ([*cmd, "--backend", "jax"], {**base, "PORTABLE_NET_JAX_CACHE": "off"}),
        "jax warm": ([*cmd, "--backend", "jax"], {**base, "PORTABLE_NET_JAX_CACHE": cache}),
    }
    timed(*sides["jax warm"])  # fills the cache
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    times: dict[str, list[float]] = {k: [] for k in sides}
    for r in range(args.rounds):
        for name in sides if r % 2 == 0 else list(sides)[::-1]:
            times[name].append(timed(*sides[name]))
            print(name, f"{times[name][-1]:.2f}", flush=True)
    shutil.rmtree(cache, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    # round by round (the sides of a round run one after the other): drift between rounds
    # cancels
    ratio = {
        k: statistics.median(a / b for a, b in zip(v, times["numpy"])) for k, v in times.items()
    }
    lines = [
        "# The case study from the command line: JAX against NumPy",
        "",
        "`portable-net train --quiet` (10,000 steps, float64), whole processes, medians of "
        f"{args.rounds} alternating rounds (the ratio: the median over rounds of the ratio to "
        "NumPy's time in the same round); JAX cold: `PORTABLE_NET_JAX_CACHE=off`; JAX warm: "
        f"the persistent compilation cache filled by an earlier run. Load average at the "
        f"start: {load}.",
        "",
        "| command | seconds | ratio to NumPy | all rounds |",
        "|---|---|---|---|",
    ]
    for name, values in times.items():
        lines.append(
            f"| {name} | {med[name]:.2f} | {ratio[name]:.2f} | "
            f"{', '.join(f'{v:.2f}' for v in values)} |"
        )
    text = "\n".join(lines) + "\n"
    (out / "startup.md").write_text(text)
    (out / "startup.json").write_text(json.dumps({"load": load, "seconds": times}, indent=1))
    print(text)
    print(f"written to {out}")


if __name__ == "__main__":
    main()
