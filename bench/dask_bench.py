"""Dask benchmark: time per full-batch step on Dask arrays against in-memory NumPy, same run.

    python -m bench.dask_bench                   # 3,000,000 points, the net [2, 100, 3]
    python -m bench.dask_bench --points 300000   # smaller and quicker

Measures, for the two-layer net (hidden 100, float64):
  * in-memory NumPy: the portable step (cache-sized blocks), in this process;
  * Dask, local threaded scheduler (no cluster);
  * Dask on a ``LocalCluster`` of 1 and of 2 single-threaded worker processes (loopback);
  * on 2 workers, the number of chunks swept at a fixed number of points.
For the distributed runs the task stream gives the workers' compute time; the rest of the
step's wall time (scheduler, communication, graph building and the update on the client) is
reported as the overhead's share. Writes ``bench/results/dask-<cpu>.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import time
from pathlib import Path

import numpy as np

import portable_net as pn
from portable_net import network
from portable_net.engines.blocks import block_size
from portable_net.loss import one_hot
from portable_net.optim import SGDState
from portable_net.step import StepSettings, make_step, make_update

HIDDEN = 100
LR, REG = 1.0, 1e-3


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "cpu"


def numpy_step_time(X, y, params, steps: int) -> float:
    import array_api_compat.numpy as xp

    packed = network.pack(xp, params, 2)
    data = network.step_data(xp, X, one_hot(xp, y, 3, X.dtype))
    settings = StepSettings(
        n_features=2, learning_rate=LR, reg=REG, momentum=0.0, block=block_size(packed, data.n)
    )
    step = make_step(xp, packed, settings)
    packed, _, _ = step(packed, SGDState([]), data.Xt1, data.onehot, False)  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        packed, _, _ = step(packed, SGDState([]), data.Xt1, data.onehot, False)
    return (time.perf_counter() - t0) / steps


def dask_step_time(points: int, chunks: int, params, steps: int, scheduler, client=None) -> dict:
    """Seconds per step (data persisted beforehand), and the workers' compute share."""
    from portable_net.engines import dask_engine

    per_class = points // 3
    X, y = pn.make_spiral(per_class, 3, seed=0, chunks=-(-3 * per_class // chunks))
    t0 = time.perf_counter()
    xp, n_layers, p, data = dask_engine.check_and_persist(params, X, y, scheduler)
    prepare_s = time.perf_counter() - t0
    packed = network.pack(xp, p, n_layers)
    update = make_update_for(xp, packed)
    _, grads = data.grads(packed, LR / data.n, True)  # warm-up (and the loss path)
    update(packed, SGDState([]), grads)
    compute_s = None
    if client is not None:
        from distributed import get_task_stream

        with get_task_stream(client) as ts:
            t0 = time.perf_counter()
            for _ in range(steps):
                _, grads = data.grads(packed, LR / data.n, False)
                update(packed, SGDState([]), grads)
            wall = time.perf_counter() - t0
        busy = sum(
            ss["stop"] - ss["start"]
            for task in ts.data
            for ss in task.get("startstops", ())
            if ss.get("action") == "compute"
        )
        threads = sum(client.nthreads().values())
        compute_s = busy / threads / steps
    else:
        t0 = time.perf_counter()
        for _ in range(steps):
            _, grads = data.grads(packed, LR / data.n, False)
            update(packed, SGDState([]), grads)
        wall = time.perf_counter() - t0
    step_s = wall / steps
    out = {
        "points": data.n,
        "chunks": len(data.sizes),
        "points_per_chunk": max(data.sizes),
        "step_s": step_s,
        "prepare_s": prepare_s,
    }
    if compute_s is not None:
        out["worker_compute_s"] = compute_s
        out["overhead_share"] = max(0.0, 1.0 - compute_s / step_s)
    del data
    return out


def make_update_for(xp, packed):
    settings = StepSettings(n_features=2, learning_rate=LR, reg=REG, momentum=0.0)
    return make_update(xp, packed, settings)


# distributed's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536: glibc then hands the
# heap's top back to the OS after each step's 100-KiB temporaries and page-faults them in again;
# and any MALLOC_* setting freezes glibc's mmap threshold at 128 KiB, so larger temporaries are
# mapped and unmapped for every block. The "tuned" rows raise both for the workers.
DEFAULT_ENV = {"MALLOC_TRIM_THRESHOLD_": "65536"}
TUNED_ENV = {"MALLOC_TRIM_THRESHOLD_": str(16 * 2**20), "MALLOC_MMAP_THRESHOLD_": str(32 * 2**20)}
TUNED_LABEL = "trim 16 MiB, mmap 32 MiB"


def cluster(n_workers: int, tuned: bool):
    """A LocalCluster of single-threaded worker processes, with glibc's settings of
    TUNED_ENV (or distributed's default, DEFAULT_ENV).

    The nanny writes its ``pre-spawn-environ`` into this process's own environment, and an
    existing environment variable takes precedence over the Dask setting: after a first
    cluster, ``distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_`` is ignored. So the
    values are set in ``os.environ`` here, before each cluster starts, and checked on the
    workers.
    """
    from distributed import Client, LocalCluster

    env = TUNED_ENV if tuned else DEFAULT_ENV
    for key in ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_"):
        os.environ.pop(key, None)
    os.environ.update(env)
    c = LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    client = Client(c, set_as_default=False)
    client.wait_for_workers(n_workers, timeout=120)
    keys = sorted(env)
    seen = set(client.run(lambda: tuple(os.environ.get(k) for k in keys)).values())
    if seen != {tuple(env[k] for k in keys)}:
        client.close()
        c.close()
        raise RuntimeError(f"workers started with {keys} = {seen}, not {env}")
    return c, client


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--points", type=int, default=3_000_000, help="points (default 3,000,000)")
    ap.add_argument("--steps", type=int, default=3, help="timed steps per row (default 3)")
    ap.add_argument(
        "--chunks",
        default="2,8,32,128",
        help="numbers of chunks swept on 2 workers (default 2,8,32,128)",
    )
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    ap.add_argument("--base-chunks", type=int, default=8, help="chunks of the other rows (8)")
    args = ap.parse_args(argv)
    try:
        import dask
        import distributed  # noqa: F401
    except ImportError:
        print("needs dask and distributed: pip install '.[dask]'", file=sys.stderr)
        return 2
    sweep = [int(c) for c in args.chunks.split(",") if c.strip()]
    points = 3 * (args.points // 3)
    params = pn.init_params([2, HIDDEN, 3], seed=0)
    started = time.perf_counter()
    rows: list[dict] = []

    def report(row):
        rows.append(row)
        share = row.get("overhead_share")
        print(
            f"{row['setup']:<28} chunks {row.get('chunks', '-')!s:>4}  "
            f"{row['step_s'] * 1e3:9.1f} ms/step"
            + (f"  overhead {share:6.1%}" if share is not None else ""),
            flush=True,
        )

    X, y = pn.make_spiral(points // 3, 3, seed=0)
    report(
        {
            "setup": "numpy (in memory)",
            "points": points,
            "step_s": numpy_step_time(X, y, params, args.steps),
        }
    )
    del X, y

    base_chunks = args.base_chunks
    with dask.config.set(scheduler="threads"):
        r = dask_step_time(points, base_chunks, params, args.steps, "threads")
        report({"setup": "dask threads (local)", **r})
    for n_workers, tuned in ((1, False), (2, False), (1, True), (2, True)):
        c, client = cluster(n_workers, tuned)
        label = f"dask distributed, {n_workers} worker(s)" + (f", {TUNED_LABEL}" if tuned else "")
        try:
            chunk_list = sweep if (n_workers == 2 and tuned) else [base_chunks]
            for chunks in chunk_list:
                r = dask_step_time(points, chunks, params, args.steps, client, client)
                report({"setup": label, **r})
        finally:
            client.close()
            c.close()

    numpy_s = rows[0]["step_s"]
    for row in rows:
        row["vs_numpy"] = row["step_s"] / numpy_s
    sweep_rows = [r for r in rows if r["setup"] == f"dask distributed, 2 worker(s), {TUNED_LABEL}"]
    negligible = [r["chunks"] for r in sweep_rows if r.get("overhead_share", 1.0) < 0.05]
    summary = {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "dask": dask.__version__,
        "distributed": __import__("distributed").__version__,
        "points": points,
        "hidden": HIDDEN,
        "dtype": "float64",
        "timed_steps": args.steps,
        "rows": rows,
        "overhead_below_5pct_at_chunks": negligible,
        "total_s": time.perf_counter() - started,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"dask-{slug(cpu_model())}"
    stem.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
    stem.with_suffix(".md").write_text(markdown(summary))
    print(f"wrote {stem}.md and .json ({summary['total_s']:.0f} s)")
    return 0


def markdown(s: dict) -> str:
    lines = [
        f"# Dask: time per full-batch step, {s['points']:,} points, net [2, {s['hidden']}, 3], "
        f"{s['dtype']}",
        "",
        f"{s['cpu']} ({s['cpu_count']} CPUs), Python {s['python']}, NumPy {s['numpy']}, "
        f"Dask {s['dask']}, distributed {s['distributed']}; mean of {s['timed_steps']} steps "
        "after a warm-up step, the data persisted beforehand. Workers are single-threaded "
        "processes on loopback. Overhead = 1 - (workers' compute time per worker thread) / "
        "(step wall time): the scheduler, communication, graph building and the update on "
        "the client.",
        "",
        "| setup | chunks | points per chunk | ms per step | vs NumPy | overhead |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in s["rows"]:
        share = r.get("overhead_share")
        lines.append(
            f"| {r['setup']} | {r.get('chunks', '-')} | {r['points_per_chunk']:,} | "
            if "points_per_chunk" in r
            else f"| {r['setup']} | - | - | "
        )
        lines[-1] += (
            f"{r['step_s'] * 1e3:.1f} | {r['vs_numpy']:.2f}x | "
            f"{'-' if share is None else f'{share:.1%}'} |"
        )
    neg = s["overhead_below_5pct_at_chunks"]
    lines += [
        "",
        f"Overhead below 5% of the step on 2 workers ({TUNED_LABEL}) at "
        + (f"{', '.join(map(str, neg))} chunks." if neg else "none of the chunk counts tried."),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
