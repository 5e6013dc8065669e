"""Digits against scikit-learn's MLPClassifier: ``python -m bench.digits [--rounds 3]``.

scikit-learn's digits (8x8 images, 10 classes), a stratified 75% to train on (the rest for
the test accuracy), standardised on the training rows; one hidden layer of 100 ReLU units,
Adam (rate 1e-3), batches of 200, L2 ``alpha=1e-4``, 200 epochs: MLPClassifier's
``MLPClassifier(hidden_layer_sizes=(100,), solver="adam", batch_size=200, max_iter=200)``
beside ``portable_net.train(..., optimizer="adam", batch_size=200)`` on NumPy, torch (CPU)
and JAX, and ``portable_net.Classifier`` (MLPClassifier's drop-in, its own convergence test per
epoch) with the same settings on NumPy and JAX (float64 everywhere, as MLPClassifier).

MLPClassifier stops before ``max_iter`` when its training loss stops improving; our sides run
as many epochs as it does (found by one untimed fit first; ``--epochs`` to choose), so the
times compare the same work.

Each side runs in its own fresh process (``--worker``), which loads the data from an .npz
written once by the parent, so neither pays for the other's imports. Per process: the whole
process (interpreter start, imports, the first fit with JAX's compilation, the test
accuracy), the first fit (the side's libraries imported and its arrays made beforehand,
as a user's script has them when it calls ``fit``: JAX's compilation and torch's first
operations, not the imports), and a second fit in the same process (compiled code reused:
the cost of training alone). Rounds alternate the sides; the report gives medians and ratios to
MLPClassifier's from the same run. Results go to ``--output`` (default: a temporary
directory; ``--output bench/results`` to keep them).
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

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
HIDDEN, BATCH, EPOCHS, RATE, ALPHA = 100, 200, 200, 1e-3, 1e-4
SIDES = ("sklearn", "numpy", "torch", "jax", "Classifier numpy", "Classifier jax")


def make_data(path: Path, seed: int = 0) -> None:
    """The split and standardisation, once, for every worker."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)
    scaler = StandardScaler().fit(X_tr)
    np.savez(
        path,
        X_train=scaler.transform(X_tr),
        X_test=scaler.transform(X_te),
        y_train=y_tr.astype(np.int64),
        y_test=y_te.astype(np.int64),
    )


def glorot(sizes: list[int], seed: int) -> dict[str, np.ndarray]:
    """MLPClassifier's initialisation: uniform in +-sqrt(6 / (fan_in + fan_out))."""
    rng = np.random.default_rng(seed)
    params = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        params[f"W{i}"] = rng.uniform(-bound, bound, (fan_in, fan_out))
        params[f"b{i}"] = rng.uniform(-bound, bound, fan_out)
    return params


def fit_sklearn(d: dict, seed: int) -> tuple[float, float]:
    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier(
        hidden_layer_sizes=(HIDDEN,),
        solver="adam",
        batch_size=BATCH,
        max_iter=EPOCHS,
        learning_rate_init=RATE,
        alpha=ALPHA,
        random_state=seed,
    )
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter
        model.fit(d["X_train"], d["y_train"])
    return float(model.score(d["X_test"], d["y_test"])), float(model.n_iter_)


def fit_ours(backend: str, d: dict, seed: int, epochs: int) -> tuple[float, float]:
    if backend == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)
        cache = os.environ.get("PORTABLE_NET_JAX_CACHE", "off")
        if cache != "off":  # train leaves the cache to its caller: on, as the guide says
            from portable_net.engines.jax_engine import use_compilation_cache

            use_compilation_cache(cache)
    import portable_net as pn
    from portable_net._backend import get_namespace

    xp = get_namespace(backend)
    X = xp.asarray(d["X_train"])
    y = xp.asarray(d["y_train"])
    n, n_features = d["X_train"].shape
    sizes = [n_features, HIDDEN, int(np.asarray(d["y_train"]).max()) + 1]
    params = {k: xp.asarray(v) for k, v in glorot(sizes, seed).items()}
    per_epoch = -(-n // BATCH)
    new, _ = pn.train(
        params,
        X,
        y,
        steps=int(epochs) * per_epoch,
        batch_size=BATCH,
        optimizer="adam",
        learning_rate=RATE,
        reg=ALPHA / BATCH,  # MLPClassifier's penalty per batch: alpha / (2 B) ||W||^2
        seed=seed,
        log_every=per_epoch,  # one logged loss per epoch, as MLPClassifier's loss curve
    )
    acc = pn.accuracy(new, xp.asarray(d["X_test"]), xp.asarray(d["y_test"]))
    return float(acc), float(epochs)


def fit_classifier(backend: str, d: dict, seed: int) -> tuple[float, float]:
    """portable_net.Classifier with MLPClassifier's settings: its own convergence test
    decides the epochs, as MLPClassifier's does (the shuffles differ)."""
    if backend == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)
    import warnings

    from portable_net import Classifier
    from portable_net._backend import get_namespace

    xp = get_namespace(backend)
    model = Classifier(
        hidden_layer_sizes=(HIDDEN,),
        solver="adam",
        batch_size=BATCH,
        max_iter=EPOCHS,
        learning_rate_init=RATE,
        alpha=ALPHA,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(xp.asarray(d["X_train"]), xp.asarray(d["y_train"]))
    acc = model.score(xp.asarray(d["X_test"]), xp.asarray(d["y_test"]))
    return float(acc), float(model.n_iter_)


def prepare(side: str, d: dict) -> dict:
    """What a user's script has done before it calls ``fit``: imported the library of its
    arrays (and the estimator's module) and made its arrays with it (which starts JAX's CPU
    client), so that the first fit holds the first call's own costs (JAX's compilation,
    torch's first operations), not the imports, which ``process s`` counts. Returns the
    data in the side's library (``xp.asarray`` of them in the fits is then a no-op)."""
    if side == "sklearn":
        import sklearn.neural_network  # noqa: F401

        return d
    backend = side.split()[-1]
    if backend == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)
    import portable_net  # noqa: F401
    from portable_net._backend import get_namespace

    xp = get_namespace(backend)
    keys = ("X_train", "y_train", "X_test", "y_test")
    return {**d, **{k: xp.asarray(d[k]) for k in keys}}


def run_worker(side: str, data: str, seed: int, epochs: int) -> dict:
    """In a fresh process: fit twice, time each, and the test accuracy of the first."""
    d = dict(np.load(data))
    if side == "sklearn":
        fit = fit_sklearn
    elif side.startswith("Classifier "):
        fit = lambda dd, s: fit_classifier(side.split()[1], dd, s)  # noqa: E731
    else:
        fit = lambda dd, s: fit_ours(side, dd, s, epochs)  # noqa: E731
    d = prepare(side, d)
    t0 = time.perf_counter()
    acc, epochs = fit(d, seed)
    t1 = time.perf_counter()
    fit(d, seed)
    t2 = time.perf_counter()
    return {"first_fit_s": t1 - t0, "second_fit_s": t2 - t1, "accuracy": acc, "epochs": epochs}


def measure(
    side: str, data: Path, seed: int, epochs: int, threads: int | None = None, cache: str = "off"
) -> dict:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "PORTABLE_NET_JAX_CACHE": cache}
    if threads is not None:
        for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[k] = str(threads)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    t0 = time.perf_counter()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.digits",
            *("--worker", side, "--data", str(data), "--epochs", str(epochs)),
            *("--seed", str(seed)),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=900,
    )
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"{side} failed: {out.stderr.strip().splitlines()[-3:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    # the whole process less the second fit: start, imports, data, first fit, accuracy
    result["process_s"] = wall - result["second_fit_s"]
    return result


def report(results: dict[str, list[dict]], load: str) -> str:
    base_rows = results["sklearn"]

    def ratio(rows: list[dict], key: str) -> float:
        # round by round (the sides of a round run one after the other): the machine's
        # drift between rounds cancels
        return statistics.median(r[key] / b[key] for r, b in zip(rows, base_rows))

    lines = [
        "# Digits: portable_net against MLPClassifier",
        "",
        f"Adam (rate {RATE}), batches of {BATCH}, {HIDDEN} hidden units, at most {EPOCHS} "
        "epochs (MLPClassifier stops by its convergence test; `train` runs as many epochs; "
        "`Classifier` stops by its own, the same test on its own shuffles), "
        f"float64; medians of {len(results['sklearn'])} alternating rounds, each side in its "
        "own fresh process; x: the median over rounds of the ratio to MLPClassifier's time in "
        "the same round. process: start, imports, data, first fit (with compilation), test "
        "accuracy; fit 1: the first fit, its libraries imported and its arrays made "
        "beforehand (as a user's script has them); fit 2: a second fit in the same process (no "
        f"compilation). Load average at the start: {load}.",
        "",
        "| side | process s | x | fit 1 s | x | fit 2 s | x | ms/epoch (fit 2) | epochs | "
        "test accuracy |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for side, rows in results.items():
        med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        lines.append(
            f"| {side} | {med['process_s']:.2f} | {ratio(rows, 'process_s'):.2f} | "
            f"{med['first_fit_s']:.3f} | {ratio(rows, 'first_fit_s'):.2f} | "
            f"{med['second_fit_s']:.3f} | {ratio(rows, 'second_fit_s'):.2f} | "
            f"{1000 * med['second_fit_s'] / med['epochs']:.2f} | {med['epochs']:.0f} | "
            f"{med['accuracy']:.4f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.digits", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sides", default=",".join(SIDES), help="comma-separated subset")
    parser.add_argument("--output", default=None, help="directory for the results")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="epochs of our sides (default: as many as MLPClassifier runs with max_iter=200 "
        "before its convergence test stops it, found by one untimed fit)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="BLAS/OpenMP threads of every side (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, "
        "MKL_NUM_THREADS); default: each library's own choice",
    )
    parser.add_argument(
        "--jax-cache",
        choices=("off", "warm"),
        default="off",
        help="off: every process compiles (PORTABLE_NET_JAX_CACHE=off); warm: the Classifier's "
        "persistent compilation cache (its default; the train side turns it on, as the "
        "performance guide tells a train user) in a temporary directory, filled by one "
        "untimed run of each side first",
    )
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(run_worker(args.worker, args.data, args.seed, args.epochs)))
        return
    sides = [s for s in args.sides.split(",") if s]
    if "sklearn" not in sides:
        sides.insert(0, "sklearn")
    out = Path(args.output) if args.output else Path(tempfile.mkdtemp(prefix="digits-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    data = Path(tempfile.mkdtemp(prefix="digits-data-")) / "digits.npz"
    make_data(data, args.seed)
    if args.epochs is None:  # as many epochs as MLPClassifier runs (its convergence test)
        args.epochs = int(fit_sklearn(dict(np.load(data)), args.seed)[1])
    cache = "off"
    if args.jax_cache == "warm":
        cache = tempfile.mkdtemp(prefix="digits-jax-cache-")
        for side in sides:  # untimed: fills the cache
            measure(side, data, args.seed, args.epochs, args.threads, cache)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    results: dict[str, list[dict]] = {s: [] for s in sides}
    for r in range(args.rounds):
        for side in sides if r % 2 == 0 else sides[::-1]:
            results[side].append(measure(side, data, args.seed, args.epochs, args.threads, cache))
            print(side, json.dumps(results[side][-1]), flush=True)
    if args.threads is not None:
        load += f"; {args.threads} BLAS/OpenMP thread(s) per side"
    if args.jax_cache == "warm":
        load += "; JAX's persistent compilation cache warm"
    text = report(results, load)
    (out / "digits.md").write_text(text)
    (out / "digits.json").write_text(json.dumps({"load": load, "results": results}, indent=1))
    print(text)
    print(f"written to {out}")


if __name__ == "__main__":
    main()
