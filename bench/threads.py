"""Intra-op threads: where more than one pays, idle and beside a CPU burner.

    python -m bench.threads [--rounds 5] [--backends numpy,torch] [--output DIR]

Each side is a fresh process (``--worker``) on one library with a fixed number of intra-op
threads (``Trainer(..., n_jobs=k)``: torch's pool, NumPy's BLAS through threadpoolctl) that
times training steps on each case below (a warm-up run first) and reports microseconds per
step. The cases span the largest product a step makes (examples per block x the widest
layer's inputs x its outputs: what :mod:`portable_net.engines.threads` decides by). Rounds
alternate 1 and 2 threads; the report gives, per case, the median over rounds of the ratio
(2 threads / 1 thread, same round; below 1: the second thread pays), idle and with
``--burn`` spinning processes (default: one per core) running beside the measurement.
Results go to ``--output`` (default: a temporary directory; ``--output bench/results`` to keep
them) as ``threads.md`` and ``threads.json``, with the load average of each phase.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: (name, points, layer widths, batch size or None for the full batch)
CASES = [
    ("case study (300, [2, 100, 3], full batch)", 300, [2, 100, 3], None),
    ("30,000 points, [2, 100, 3], full batch", 30_000, [2, 100, 3], None),
    ("tabular [50, 256, 128, 5], batch 256", 20_000, [50, 256, 128, 5], 256),
    ("[784, 512, 512, 10], batch 256", 4_096, [784, 512, 512, 10], 256),
    ("[784, 2048, 10], batch 512", 4_096, [784, 2048, 10], 512),
    ("[1024, 4096, 10], batch 256", 1_024, [1024, 4096, 10], 256),
]


def worker(backend: str, threads: int, cases: list[int]) -> dict:
    import numpy as np

    import portable_net as pn
    from portable_net.engines import threads as th
    from portable_net.history import History
    from portable_net.loop import Logging, Trainer
    from portable_net.optim import SGD

    out = {}
    for name, points, widths, batch in (CASES[i] for i in cases):
        rng = np.random.default_rng(0)
        X = rng.standard_normal((points, widths[0]))
        y = rng.integers(0, widths[-1], points)
        params = pn.init_params(widths, seed=0)
        if backend == "torch":
            import torch

            X, y = torch.asarray(X), torch.asarray(y)
            params = {k: torch.asarray(v) for k, v in params.items()}
        trainer = Trainer(params, X, y, optimizer=SGD(0.01), reg=1e-4, batch_size=batch,
                          n_jobs=threads)  # fmt: skip
        product = th.largest_product(trainer.packed, trainer.settings.block or batch or points)
        trainer.run(3, History(), Logging(log_every=1000))  # warm-up
        steps, elapsed = 3, 0.0
        while elapsed < 0.3:  # at least 0.3 s of steps
            steps *= 2
            t = time.perf_counter()
            trainer.run(steps, History(), Logging(log_every=10**9))
            elapsed = time.perf_counter() - t
        out[name] = {"us_per_step": elapsed / steps * 1e6, "largest_product": product}
    return out


def _spin(seconds: float) -> None:
    end = time.time() + seconds
    while time.time() < end:
        pass


def side(backend: str, threads: int, cases: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-m", "bench.threads", "--worker", backend, str(threads)]
    cmd += ["--cases", cases]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def phase(backends: list[str], rounds: int, cases: str) -> dict:
    times: dict = {b: {1: [], 2: []} for b in backends}
    for r in range(rounds):
        for b in backends:
            for k in (1, 2) if r % 2 == 0 else (2, 1):
                times[b][k].append(side(b, k, cases))
                print(r, b, k, flush=True)
    return times


def summary(times: dict) -> dict:
    out: dict = {}
    for b, sides in times.items():
        for name in sides[1][0]:
            one = [run[name]["us_per_step"] for run in sides[1]]
            two = [run[name]["us_per_step"] for run in sides[2]]
            out.setdefault(b, {})[name] = {
                "largest_product": sides[1][0][name]["largest_product"],
                "us_1": statistics.median(one),
                "us_2": statistics.median(two),
                "ratio": statistics.median(t / o for t, o in zip(two, one)),
                "ratios": [t / o for t, o in zip(two, one)],
            }
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.threads", description=__doc__)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--backends", default="numpy,torch")
    ap.add_argument("--burn", type=int, default=os.cpu_count() or 1,
                    help="spinning processes beside the loaded phase (0: idle phase only)")  # fmt: skip
    ap.add_argument("--output", default=None)
    ap.add_argument("--cases", default="0,1,2,3,4,5",
                    help="which cases (positions in CASES, default all)")  # fmt: skip
    ap.add_argument("--worker", nargs=2, metavar=("BACKEND", "THREADS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        cases = [int(i) for i in args.cases.split(",")]
        print(json.dumps(worker(args.worker[0], int(args.worker[1]), cases)))
        return
    out = Path(args.output) if args.output else Path(tempfile.mkdtemp(prefix="threads-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    backends = [b for b in args.backends.split(",") if b]
    result: dict = {"cpu_count": os.cpu_count(), "rounds": args.rounds, "phases": {}}
    phases = [("no burner: the machine's other jobs only", 0)] + (
        [(f"{args.burn} spinning processes", args.burn)] if args.burn else []
    )
    for label, burn in phases:
        spinners = []
        if burn:
            spinners = [multiprocessing.Process(target=_spin, args=(3600,)) for _ in range(burn)]
            for p in spinners:
                p.start()
            time.sleep(2)
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        try:
            times = phase(backends, args.rounds, args.cases)
        finally:
            for p in spinners:
                p.terminate()
                p.join()
        result["phases"][label] = {
            "load_at_start": load,
            "load_at_end": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "summary": summary(times),
            "runs": times,
        }
    lines = [
        "# Intra-op threads: 2 against 1",
        "",
        f"{os.cpu_count()} cores; `python -m bench.threads --rounds {args.rounds} --burn "
        f"{args.burn} --cases {args.cases}`: each side a "
        "fresh process with `n_jobs` threads, SGD steps, float64; medians over "
        f"{args.rounds} alternating rounds; ratio = 2 threads' time / 1 thread's in the same "
        "round (below 1: the second thread pays). Largest product: multiply-adds of the "
        "step's largest product (examples per block x widest layer's inputs x outputs).",
    ]
    for label, ph in result["phases"].items():
        lines += [
            "",
            f"## {label} (load average {ph['load_at_start']} at the start, "
            f"{ph['load_at_end']} at the end)",
            "",
            "| backend | case | largest product | us/step, 1 thread | us/step, 2 threads "
            "| ratio | ratios by round |",
            "|---|---|---|---|---|---|---|",
        ]
        for b, cases in ph["summary"].items():
            for name, s in cases.items():
                lines.append(
                    f"| {b} | {name} | {s['largest_product']:,} | {s['us_1']:,.0f} | "
                    f"{s['us_2']:,.0f} | {s['ratio']:.2f} | "
                    f"{', '.join(f'{r:.2f}' for r in s['ratios'])} |"
                )
    text = "\n".join(lines) + "\n"
    (out / "threads.md").write_text(text)
    (out / "threads.json").write_text(json.dumps(result, indent=1))
    print(text)
    print(f"written to {out}")


if __name__ == "__main__":
    main()
