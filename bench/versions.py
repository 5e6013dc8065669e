"""Two installed versions of portable_net side by side: ``python -m bench.versions --before
PYTHON --after PYTHON [--rounds 5]``.

"Nothing gets slower" is checked here: each PYTHON is the interpreter of an environment with
one version installed (from its wheel), and each workload runs in a fresh process of each,
the two alternating round by round, so both see the same machine. The workloads are the
ones users run most:

- ``case study``: ``portable_net.train`` on the case study's spiral (300 points, its net,
  10,000 steps of full-batch gradient descent, float64 on NumPy), the seconds of the run;
- ``step 30k numpy`` and ``step 30k torch``: the same net on 30,000 spiral points, the seconds
  per step over 100 steps after 5 untimed ones (NumPy; torch on the CPU, if installed);
- ``digits``: ``Classifier(max_iter=100)`` (Adam, batches of 200) on scikit-learn's digits,
  standardised, the seconds of ``fit`` (if scikit-learn is installed);
- ``tabular``: ``Classifier(hidden_layer_sizes=(256, 128), batch_size=256, max_iter=5)``
  on ``make_classification(50_000, 50 features, 5 classes)``, standardised, the seconds of
  ``fit`` (a large mini-batch fit, if scikit-learn is installed);
- ``tabular torch`` and ``digits torch``: the same two fits on torch tensors (CPU, if torch
  is installed);
- ``dask 300k``: the case study's net on 300,000 spiral points in 8 Dask chunks (threads
  scheduler), the seconds per step over 10 after a one-step call (if Dask is installed);
- ``command``: the whole process of ``portable-net train --quiet`` (imports included).

Each process also prints its final loss, so a version that got faster by computing something
else shows it. The report gives each side's median, the ratio after/before and the load
average per round. Results go to ``--output`` (default: a temporary directory;
``--output bench/results`` to keep them).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORKLOADS = (
    "case study",
    "step 30k numpy",
    "step 30k torch",
    "digits",
    "tabular",
    "tabular torch",
    "digits torch",
    "dask 300k",
    "command",
)

#: the code each worker process runs: it prints one JSON line, {"seconds": s, "loss": l}
_WORKER = r"""
import json, sys, time
workload = sys.argv[1]
import numpy as np
import portable_net as pn

def spiral_run(n_per_class, steps, xp_name, warm):
    X, y = pn.make_spiral(n_per_class, 3, seed=0)
    if xp_name == "torch":
        import torch
        X, y = torch.asarray(X), torch.asarray(y)
    params = pn.init_params([2, 100, 3], seed=0)
    if xp_name == "torch":
        params = {k: torch.asarray(v) for k, v in params.items()}
    if warm:
        pn.train(params, X, y, steps=warm, learning_rate=1.0, reg=1e-3, log_every=warm)
    t = time.perf_counter()
    params, history = pn.train(params, X, y, steps=steps, learning_rate=1.0, reg=1e-3,
                               log_every=steps)
    seconds = time.perf_counter() - t
    return seconds, float(history.final_loss)

if workload == "case study":
    seconds, loss = spiral_run(100, 10_000, "numpy", 0)
elif workload.startswith("step 30k"):
    seconds, loss = spiral_run(10_000, 100, workload.split()[-1], 5)
    seconds /= 100
elif workload.startswith("tabular"):
    from sklearn.datasets import make_classification
    X, y = make_classification(n_samples=50_000, n_features=50, n_informative=30,
                               n_classes=5, random_state=0)
    clf = pn.Classifier(hidden_layer_sizes=(256, 128), batch_size=256, max_iter=5,
                        random_state=0)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        X = (X - X.mean(axis=0)) / X.std(axis=0)
        if workload.endswith("torch"):
            import torch
            X, y = torch.asarray(X), torch.asarray(y)
        t = time.perf_counter()
        clf.fit(X, y)
        seconds = time.perf_counter() - t
    loss = float(clf.loss_)
elif workload == "dask 300k":
    import dask.array as da
    X, y = pn.make_spiral(100_000, 3, seed=0)
    X, y = da.from_array(X, chunks=(37_500, 2)), da.from_array(y, chunks=37_500)
    params = pn.init_params([2, 100, 3], seed=0)
    pn.train(params, X, y, steps=1, learning_rate=1.0, reg=1e-3, scheduler="threads")
    t = time.perf_counter()
    params, history = pn.train(params, X, y, steps=10, learning_rate=1.0, reg=1e-3,
                               log_every=10, scheduler="threads")
    seconds, loss = (time.perf_counter() - t) / 10, float(history.final_loss)
elif workload.startswith("digits"):
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    X = (X - X.mean(axis=0)) / np.maximum(X.std(axis=0), 1e-12)
    if workload.endswith("torch"):
        import torch
        X, y = torch.asarray(X), torch.asarray(y)
    clf = pn.Classifier(max_iter=100, random_state=0)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        clf.fit(X, y)
        seconds = time.perf_counter() - t
    loss = float(clf.loss_)
print(json.dumps({"seconds": seconds, "loss": loss}))
"""


def available(python: str, workload: str) -> bool:
    """Whether ``python``'s environment has what ``workload`` needs."""
    needs = {
        "step 30k torch": "torch",
        "digits": "sklearn",
        "tabular": "sklearn",
        "tabular torch": "sklearn, torch",
        "digits torch": "sklearn, torch",
        "dask 300k": "dask",
    }.get(workload)
    if needs is None:
        return True
    done = subprocess.run([python, "-c", f"import {needs}"], capture_output=True, check=False)
    return done.returncode == 0


def measure(python: str, workload: str, cwd: str) -> dict[str, float]:
    """One fresh process of ``python`` running ``workload``."""
    if workload == "command":
        command = str(Path(python).with_name("portable-net"))
        t = time.perf_counter()
        subprocess.run([command, "train", "--quiet"], cwd=cwd, check=True,
                       capture_output=True)  # fmt: skip
        return {"seconds": time.perf_counter() - t, "loss": float("nan")}
    done = subprocess.run([python, "-c", _WORKER, workload], cwd=cwd, check=True,
                          capture_output=True, text=True)  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(results: dict, rounds: int, loads: list[float]) -> str:
    lines = [
        "# Two versions side by side",
        "",
        f"`python -m bench.versions --rounds {rounds}` on {platform.machine()} "
        f"({os.cpu_count()} cores), {time.strftime('%Y-%m-%d')}; load average (1 min) per "
        f"round: {', '.join(f'{x:.2f}' for x in loads)}.",
        "",
        f"before: `{results['before']}`  ",
        f"after: `{results['after']}`",
        "",
        "| workload | before (median s) | after (median s) | after / before | final loss "
        "before | final loss after |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for workload, sides in results["workloads"].items():
        before, after = (statistics.median(r["seconds"] for r in sides[s])
                         for s in ("before", "after"))  # fmt: skip
        loss_b, loss_a = (sides[s][0]["loss"] for s in ("before", "after"))
        lines.append(f"| {workload} | {before:.4g} | {after:.4g} | {after / before:.2f}x | "
                     f"{loss_b:.9g} | {loss_a:.9g} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.versions", description=__doc__)
    parser.add_argument("--before", required=True, help="the older version's python")
    parser.add_argument("--after", default=sys.executable, help="the newer version's python")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--output", default=None, help="directory for the results")
    args = parser.parse_args(argv)
    workloads = [w.strip() for w in args.workloads.split(",")]
    unknown = set(workloads) - set(WORKLOADS)
    if unknown:
        parser.error(f"argument --workloads: unknown {sorted(unknown)}; choose from {WORKLOADS}")
    # absolute, not resolved: a virtual environment's python is a link out of it
    sides = {"before": os.path.abspath(args.before), "after": os.path.abspath(args.after)}
    workloads = [w for w in workloads if all(available(p, w) for p in sides.values())]
    results: dict = {**sides,
                     "workloads": {w: {"before": [], "after": []} for w in workloads}}  # fmt: skip
    loads = []
    with tempfile.TemporaryDirectory() as cwd:
        for workload in workloads:  # an untimed run of each: bytecode compiled, caches warm
            for python in sides.values():
                measure(python, workload, cwd)
        for r in range(args.rounds):
            loads.append(os.getloadavg()[0])
            order = ("before", "after") if r % 2 == 0 else ("after", "before")
            for workload in workloads:
                for side in order:
                    results["workloads"][workload][side].append(measure(sides[side], workload, cwd))
    output = Path(args.output or tempfile.mkdtemp(prefix="bench-versions-"))
    output.mkdir(parents=True, exist_ok=True)
    text = report(results, args.rounds, loads)
    (output / "versions.md").write_text(text, encoding="utf-8")
    (output / "versions.json").write_text(json.dumps({**results, "loads": loads}, indent=1),
                                          encoding="utf-8")  # fmt: skip
    print(text)
    print(f"written to {output}")


if __name__ == "__main__":
    main()
