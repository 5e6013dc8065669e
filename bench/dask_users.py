"""Dask as users start it: a LocalCluster with its defaults against in-memory NumPy.

    python -m bench.dask_users [--points 3000000] [--rounds 5] [--steps 3] [--output DIR]

Each side is a fresh process (``--side``) that builds the spiral (``--points``, the net
[2, 100, 3], float64, SGD rate 1, L2 1e-3; Dask: 8 row chunks), makes a
:class:`portable_net.loop.Trainer` (checks, data persisted where the steps run), runs one
warm-up step and then times ``--steps`` full-batch steps, and reports the seconds per step
and the full-data loss after them. Sides:

- ``numpy``: the arrays in memory;
- ``user``: ``LocalCluster()`` with its defaults (only the dashboard on a free port), in an
  environment without any ``MALLOC_*`` variable: what a user gets;
- ``untuned``: the same cluster with ``MALLOC_MMAP_THRESHOLD_=131072`` (glibc's default value)
  in the environment: the workers' heap as distributed's nanny leaves it, which the library
  then keeps (its behaviour before it set the workers' heap itself);
- ``tuned``: the workers started with ``MALLOC_TRIM_THRESHOLD_=16777216
  MALLOC_MMAP_THRESHOLD_=33554432`` (the guide's advice).

Rounds rotate the order of the sides; the report gives medians, the median over rounds of
each side's ratio to NumPy's time in the same round, and each side's largest loss
difference from NumPy's (same data, weights and steps). ``--output`` (default: a temporary
directory) receives ``dask-users.md`` and ``.json`` with the load average of the run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIDES = ("numpy", "user", "untuned", "tuned")
SIDE_ENV = {
    "numpy": {},
    "user": {},
    "untuned": {"MALLOC_MMAP_THRESHOLD_": "131072"},
    "tuned": {"MALLOC_TRIM_THRESHOLD_": str(16 * 2**20), "MALLOC_MMAP_THRESHOLD_": str(32 * 2**20)},
}
REG = 1e-3


def run_side(side: str, points: int, steps: int) -> dict:
    import portable_net as pn
    from portable_net.history import History
    from portable_net.loop import Logging, Trainer
    from portable_net.optim import SGD

    params = pn.init_params([2, 100, 3], seed=0)
    per_class = points // 3
    cluster = client = None
    t_start = time.perf_counter()
    if side == "numpy":
        X, y = pn.make_spiral(per_class, 3, seed=0)
        trainer = Trainer(params, X, y, optimizer=SGD(1.0), reg=REG)
    else:
        from distributed import Client, LocalCluster

        cluster = LocalCluster(dashboard_address=":0")
        client = Client(cluster)
        X, y = pn.make_spiral(per_class, 3, seed=0, chunks=-(-3 * per_class // 8))
        trainer = Trainer(params, X, y, optimizer=SGD(1.0), reg=REG, scheduler=client)
    prepare_s = time.perf_counter() - t_start
    trainer.run(1, History(), Logging(log_every=10**9))  # warm-up (logs step 0)
    t = time.perf_counter()
    trainer.run(steps, History(), Logging(log_every=10**9), first=1)
    step_s = (time.perf_counter() - t) / steps
    loss = trainer.final_loss(REG)
    out = {"step_s": step_s, "loss": loss, "prepare_s": prepare_s}
    if client is not None:
        info = client.run(lambda: (os.environ.get("MALLOC_TRIM_THRESHOLD_"),
                                   os.environ.get("MALLOC_MMAP_THRESHOLD_")))  # fmt: skip
        out["workers"] = len(info)
        out["worker_env"] = sorted(set(map(str, info.values())))
        client.close()
        cluster.close()
    return out


def side_process(side: str, points: int, steps: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.update(SIDE_ENV[side])
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-m", "bench.dask_users", "--side", side,
           "--points", str(points), "--steps", str(steps)]  # fmt: skip
    t = time.perf_counter()
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT, env=env)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["process_s"] = time.perf_counter() - t
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.dask_users", description=__doc__)
    ap.add_argument("--points", type=int, default=3_000_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--sides", default=",".join(SIDES))
    ap.add_argument("--output", default=None)
    ap.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    points = 3 * (args.points // 3)
    if args.side:
        print(json.dumps(run_side(args.side, points, args.steps)))
        return
    out = Path(args.output) if args.output else Path(tempfile.mkdtemp(prefix="dask-users-"))
    out.mkdir(parents=True, exist_ok=True)
    sides = [s for s in args.sides.split(",") if s]
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    runs: dict[str, list[dict]] = {s: [] for s in sides}
    for r in range(args.rounds):
        order = sides[r % len(sides) :] + sides[: r % len(sides)]
        for s in order:
            runs[s].append(side_process(s, points, args.steps))
            print(r, s, f"{runs[s][-1]['step_s']:.3f} s/step", flush=True)
    load_end = " ".join(f"{x:.2f}" for x in os.getloadavg())
    base = runs.get("numpy")
    lines = [
        f"# Dask as users start it: {points:,} points, net [2, 100, 3], float64",
        "",
        f"`python -m bench.dask_users --points {points} --rounds {args.rounds} --steps "
        f"{args.steps}`: each side a fresh process, seconds per full-batch step (mean of "
        f"{args.steps} after a warm-up step), medians over {args.rounds} rounds of rotating "
        "order; ratio: the median over rounds of the side's time / NumPy's in the same round; "
        "loss difference: the largest over rounds of |loss - NumPy's| / NumPy's after the "
        f"same steps. {os.cpu_count()} cores; load average {load} at the start, {load_end} at "
        "the end.",
        "",
        "| side | workers' MALLOC_TRIM/MMAP | s per step | ratio to NumPy | loss difference "
        "| all rounds |",
        "|---|---|---|---|---|---|",
    ]
    for s, rs in runs.items():
        times = [x["step_s"] for x in rs]
        ratio = statistics.median(x / b["step_s"] for x, b in zip(times, base)) if base else None
        diff = max(abs(x["loss"] - b["loss"]) / abs(b["loss"]) for x, b in zip(rs, base))
        lines.append(
            f"| {s} | {', '.join(rs[0].get('worker_env', ['-']))} | "
            f"{statistics.median(times):.3f} | {ratio:.2f} | {diff:.1e} | "
            f"{', '.join(f'{t:.3f}' for t in times)} |"
        )
    text = "\n".join(lines) + "\n"
    (out / "dask-users.md").write_text(text)
    (out / "dask-users.json").write_text(
        json.dumps({"load": [load, load_end], "points": points, "runs": runs}, indent=1)
    )
    print(text)
    print(f"written to {out}")


if __name__ == "__main__":
    main()
