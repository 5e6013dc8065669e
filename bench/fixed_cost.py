"""The fixed cost of a ``train`` call: ``python -m bench.fixed_cost [--rounds 5]``.

``train(params, X, y, steps=0)`` on the case study's net ([2, 100, 3], float64) at 30,000
and 300,000 points: the checks, the data laid out for the step and the final loss, no step.
Each side is a fresh process (``--worker``) on one library, with the library's default
threads (the run's own setting is the library's business: torch's pool, NumPy's BLAS); it
makes the data, then times ``--calls`` calls at each size and reports the first and the
median of the others. Rounds alternate the sides (NumPy, torch); the report gives medians
and the median over rounds of each side's ratio to NumPy's in the same round, with the load
average of each round. ``--baseline DIR`` adds the same sides run from another checkout of
the project (``DIR`` on ``PYTHONPATH``: the code before a change, timed in the same run).
Run from a folder that holds only ``bench/``, the sides time the installed package (its
wheel). ``--burn N`` runs N spinning processes beside the measurement. Results go to ``--output``
(default: a temporary directory; ``--output bench/results`` to keep them) as
``fixed-cost.md`` and ``fixed-cost.json`` (``fixed-cost-burn`` with ``--burn``).

``--per-step``: the same sides time a training step instead (full batch, SGD; a run of
``Trainer`` after two warm-up steps, none of its steps a logged one, which computes the loss
too; the fastest of three runs of at least 0.3 s each), results ``per-step.md`` and
``.json``. ``--sides numpy,torch,jax`` and ``--points 30000,300000,3000000`` choose the
libraries (JAX in float64, as the others) and the sizes; other choices than the defaults
name the results after them.
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
POINTS = (30_000, 300_000)
SIDES = ("numpy", "torch")
LIBRARIES = ("numpy", "torch", "jax")


def per_step(params: dict, X, y) -> float:
    """Seconds per full-batch step of the loop (the fastest of three runs)."""
    from portable_net.history import History
    from portable_net.loop import Logging, Trainer
    from portable_net.optim import SGD

    trainer = Trainer(params, X, y, optimizer=SGD(1.0), reg=1e-3)
    trainer.run(2, History(), Logging(log_every=1000))  # warm-up (JAX: the compilation)
    best = float("inf")
    for _ in range(3):
        steps, elapsed = 1, 0.0
        while elapsed < 0.3:
            steps *= 2
            t = time.perf_counter()
            # from step 1: no step of the run is a logged one (which computes the loss too)
            trainer.run(steps, History(), Logging(log_every=10**9), first=1)
            _ready(trainer.packed)
            elapsed = time.perf_counter() - t
        best = min(best, elapsed / steps)
    return best


def _ready(packed: list) -> None:
    """Wait for JAX's asynchronous dispatch to finish the steps timed."""
    for p in packed:
        getattr(p, "block_until_ready", lambda: None)()


def worker(backend: str, calls: int, steps: bool = False, points_list=POINTS) -> dict:
    import numpy as np

    import portable_net as pn

    out: dict = {}
    for points in points_list:
        X, y = pn.make_spiral(points // 3, 3, seed=0)
        params = pn.init_params([2, 100, 3], seed=0)
        if backend == "torch":
            import torch

            X, y = torch.asarray(X), torch.asarray(y)
            params = {k: torch.asarray(v) for k, v in params.items()}
        elif backend == "jax":
            import jax

            jax.config.update("jax_enable_x64", True)  # float64, as the other sides
            X, y = jax.numpy.asarray(X), jax.numpy.asarray(y)
            params = {k: jax.numpy.asarray(v) for k, v in params.items()}
        if steps:
            step = per_step(params, X, y)
            out[str(points)] = {"first": step, "median": step, "times": [step]}
            continue
        times = []
        for _ in range(calls):
            t = time.perf_counter()
            _, history = pn.train(params, X, y, steps=0)
            times.append(time.perf_counter() - t)
        assert np.isfinite(history.final_loss)  # type: ignore[arg-type]
        out[str(points)] = {"first": times[0], "median": statistics.median(times[1:]),
                            "times": times}  # fmt: skip
    return {**out, "package": pn.__file__}


def _spin(seconds: float) -> None:
    end = time.time() + seconds
    while time.time() < end:
        pass


def side(backend: str, tree: Path, calls: int, steps: bool, points: tuple = POINTS) -> dict:
    """One fresh process of ``backend`` on the checkout ``tree`` (this file run as a script:
    its directory, not the checkout's root, on ``sys.path``, and ``tree`` before the
    installed package)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "PYTHON"))}
    env["PYTHONPATH"] = str(tree)
    cmd = [sys.executable, __file__, "--worker", backend, "--calls", str(calls)]
    cmd += ["--per-step"] if steps else []
    cmd += ["--points", ",".join(map(str, points))]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=tree, env=env)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    package = Path(result.pop("package")).resolve().parent.parent
    # a checkout's code is its own; from a folder holding only bench/, the installed wheel's
    if (tree / "portable_net").is_dir() and package != tree.resolve():
        raise RuntimeError(f"the worker imported portable_net from outside {tree}")
    return result


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.fixed_cost", description=__doc__)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calls", type=int, default=5, help="train calls per size and process")
    ap.add_argument("--baseline", default=None,
                    help="another checkout of the project, timed beside this one")  # fmt: skip
    ap.add_argument("--burn", type=int, default=0, help="spinning processes beside the runs")
    ap.add_argument("--output", default=None)
    ap.add_argument("--per-step", action="store_true", help="time a training step instead")
    ap.add_argument("--sides", default=",".join(SIDES),
                    help=f"comma-separated libraries, of {', '.join(LIBRARIES)}; numpy always")  # fmt: skip
    ap.add_argument("--points", default=",".join(map(str, POINTS)),
                    help="comma-separated sizes of the spiral (points)")  # fmt: skip
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    points = tuple(int(p) for p in args.points.split(","))
    libraries = ["numpy", *[b for b in args.sides.split(",") if b and b != "numpy"]]
    if set(libraries) - set(LIBRARIES):
        ap.error(f"argument --sides: choose from {', '.join(LIBRARIES)}")
    if args.worker:
        print(json.dumps(worker(args.worker, args.calls, args.per_step, points)))
        return
    out = Path(args.output) if args.output else Path(tempfile.mkdtemp(prefix="fixed-cost-"))
    out.mkdir(parents=True, exist_ok=True)
    trees = {"": ROOT}
    if args.baseline:
        trees["baseline "] = Path(args.baseline).resolve()
    sides = {f"{label}{b}": (b, tree) for label, tree in trees.items() for b in libraries}
    spinners = [multiprocessing.Process(target=_spin, args=(3600,)) for _ in range(args.burn)]
    for p in spinners:
        p.start()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    runs: dict[str, list[dict]] = {name: [] for name in sides}
    loads = []
    try:
        for r in range(args.rounds):
            loads.append(os.getloadavg()[0])
            for name in sides if r % 2 == 0 else list(sides)[::-1]:
                runs[name].append(side(*sides[name], args.calls, args.per_step, points))
                print(r, name, {k: round(v["median"], 3) for k, v in runs[name][-1].items()},
                      flush=True)  # fmt: skip
    finally:
        for p in spinners:
            p.terminate()
            p.join()
    end_load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    if args.per_step:
        title = (
            f"# A training step of the case study's net: {', '.join(libraries[1:])} against NumPy"
        )
        what = ("a full-batch SGD step of the loop on the case study's net ([2, 100, 3], "
                "float64), the fastest of three runs per process")  # fmt: skip
        columns = "| side | points | ms per step | ratio to NumPy | all rounds (ms) |\n|---|---|---|---|---|"
    else:
        title = "# The fixed cost of a train call: torch against NumPy"
        what = (f"`train(params, X, y, steps=0)` on the case study's net ([2, 100, 3], "
                f"float64): the checks, the data laid out for the step and the final loss; "
                f"{args.calls} calls per size and process, the call's time the median of all "
                "but the first (which is shown apart)")  # fmt: skip
        columns = ("| side | points | seconds per call | ratio to NumPy | first call | all rounds |"
                   "\n|---|---|---|---|---|---|")  # fmt: skip
    lines = [
        title,
        "",
        f"{what} (see `bench/fixed_cost.py`). Each side a fresh process with its library's "
        f"default threads; medians over {args.rounds} alternating rounds; ratio: the median "
        "over rounds of the ratio to NumPy's (of the same checkout) in the same round. "
        + (f"Beside {args.burn} spinning processes. " if args.burn else "")
        + f"{os.cpu_count()} cores; load average {load} at the start, {end_load} at the end; "
        f"1-minute load average at each round: {', '.join(f'{x:.1f}' for x in loads)}.",
        "",
        columns,
    ]
    summary: dict = {}
    for name, rounds in runs.items():
        label = name[: -len(sides[name][0])]
        base = runs[f"{label}numpy"]
        for size in map(str, points):
            calls = [run[size]["median"] for run in rounds]
            ratio = statistics.median(
                run[size]["median"] / ref[size]["median"] for run, ref in zip(rounds, base)
            )
            first = statistics.median(run[size]["first"] for run in rounds)
            summary.setdefault(name, {})[size] = {
                "seconds": statistics.median(calls), "ratio_to_numpy": ratio, "first": first,
            }  # fmt: skip
            if args.per_step:
                lines.append(
                    f"| {name} | {int(size):,} | {statistics.median(calls) * 1e3:.1f} | "
                    f"{ratio:.2f} | {', '.join(f'{c * 1e3:.1f}' for c in calls)} |"
                )
                continue
            lines.append(
                f"| {name} | {int(size):,} | {statistics.median(calls):.3f} | {ratio:.2f} "
                f"| {first:.3f} | {', '.join(f'{c:.3f}' for c in calls)} |"
            )
    text = "\n".join(lines) + "\n"
    stem = ("per-step" if args.per_step else "fixed-cost") + ("-burn" if args.burn else "")
    if libraries != ["numpy", *SIDES[1:]] or points != POINTS:
        stem += "-" + "-".join([*libraries[1:], *(f"{p // 1000}k" for p in points)])
    (out / f"{stem}.md").write_text(text)
    (out / f"{stem}.json").write_text(json.dumps(
        {"load": load, "end_load": end_load, "round_loads": loads, "calls": args.calls,
         "burn": args.burn, "summary": summary, "runs": runs}, indent=1))  # fmt: skip
    print(text)
    print(f"written to {out}")


if __name__ == "__main__":
    main()
