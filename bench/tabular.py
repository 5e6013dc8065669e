"""A larger tabular fit against scikit-learn's MLPClassifier: ``python -m bench.tabular``.

``make_classification(200_000, 50 features, 30 informative, 5 classes, random_state=0)``,
80% to train (standardised on the training rows), the rest for the test accuracy; hidden
layers (256, 128), Adam (rate 1e-3), batches of 256, L2 ``alpha=1e-4``, 5 epochs, float64:
``MLPClassifier`` beside ``portable_net.Classifier`` (its drop-in, the same settings) on
NumPy and on torch (CPU). Each side runs in a fresh process (``--worker``) that loads the
data from an .npz written once, fits once and scores the test rows; it reports the fit's
seconds (the epochs only, as a user's ``fit`` call) and the process's. Rounds rotate the
sides; the report gives medians and the median over rounds of each side's ratio to
MLPClassifier's fit in the same round, with the load average. A side whose name ends in
``float32`` (``"Classifier numpy float32"``, ``"sklearn float32"``) fits the same data as
float32 (both estimators keep a float32 X float32). ``"keras float32"``: Keras 3 on JAX
(``KERAS_BACKEND=jax``), the same network, loss and optimiser (Adam with MLPClassifier's
epsilon; the L2 term as MLPClassifier adds it to a batch's mean loss, ``alpha / 2`` over the
batch size), ``fit(batch_size=256, epochs=5)`` in float32, its own default; skipped, with a
note in the report, where Keras or JAX is not installed. ``"bound"`` (``"bound float32"``,
``"bound torch"``): the fit's matrix products alone, as plain products of the same shapes
(each batch's three forward products and five backward ones, ``X_b @ W1`` to ``X_b^T @
dH1``), every batch of every epoch, timed once on one thread and once on every core; its
seconds are the faster of the two (its thread count in the results). Each side's ``to
bound`` is the median over rounds of its fit / the bound of its dtype (and library, for
torch) in the same round. ``--output DIR`` (default: a
temporary directory) receives ``tabular.md`` and ``.json`` (``--stem``: another name).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SIDES = ("sklearn", "Classifier numpy", "Classifier torch")
#: also available: "sklearn 1 thread" (MLPClassifier with its BLAS on one thread, as
#: OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 give it)
SETTINGS = dict(hidden_layer_sizes=(256, 128), solver="adam", batch_size=256, max_iter=5,
                learning_rate_init=1e-3, alpha=1e-4, random_state=0)  # fmt: skip


def make_data(path: Path, n: int) -> None:
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(
        n_samples=n, n_features=50, n_informative=30, n_classes=5, random_state=0
    )
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, random_state=0)
    scaler = StandardScaler().fit(X_tr)
    np.savez(path, X_train=scaler.transform(X_tr), X_test=scaler.transform(X_te),
             y_train=y_tr, y_test=y_te)  # fmt: skip


def run_worker(side: str, data: str) -> dict:
    d = dict(np.load(data))
    if side.endswith(" float32"):
        d = {k: v.astype(np.float32) if k.startswith("X") else v for k, v in d.items()}
    if side.startswith("bound"):
        return _bound_worker(d["X_train"], int(d["y_train"].max()) + 1, "torch" in side)
    if side.startswith("keras"):
        return _keras_worker(d)
    if side.startswith("sklearn"):
        from sklearn.neural_network import MLPClassifier

        model = MLPClassifier(**SETTINGS)
        X_tr, y_tr, X_te, y_te = d["X_train"], d["y_train"], d["X_test"], d["y_test"]
    else:
        from portable_net import Classifier
        from portable_net._backend import get_namespace

        xp = get_namespace(side.split()[1])
        model = Classifier(**SETTINGS)
        X_tr, y_tr, X_te, y_te = (xp.asarray(d[k]) for k in ("X_train", "y_train", "X_test",
                                                             "y_test"))  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning after max_iter epochs
        t = time.perf_counter()
        model.fit(X_tr, y_tr)
        fit_s = time.perf_counter() - t
    return {"fit_s": fit_s, "accuracy": float(model.score(X_te, y_te)),
            "epochs": int(model.n_iter_), "dtype": str(model.coefs_[0].dtype)}  # fmt: skip


def _bound_worker(X: np.ndarray, n_classes: int, torch: bool) -> dict:
    """The fit's products alone: every batch of every epoch, on one thread and on every
    core (threadpoolctl; torch's own pool), the faster."""
    from threadpoolctl import threadpool_limits

    h1, h2 = SETTINGS["hidden_layer_sizes"]
    rng = np.random.default_rng(0)
    shapes = [(X.shape[1], h1), (h1, h2), (h2, n_classes)]
    W1, W2, W3 = (0.05 * rng.standard_normal(s).astype(X.dtype) for s in shapes)
    if torch:
        import torch as lib

        X, W1, W2, W3 = (lib.asarray(a) for a in (X, W1, W2, W3))
    batch, epochs = SETTINGS["batch_size"], SETTINGS["max_iter"]

    def products() -> None:
        for _ in range(epochs):
            for i in range(0, X.shape[0], batch):
                xb = X[i : i + batch]
                a1 = xb @ W1  # forward
                a2 = a1 @ W2
                s = a2 @ W3
                a2.T @ s  # dW3, dA2, dW2, dA1, dW1
                d2 = s @ W3.T
                a1.T @ d2
                d1 = d2 @ W2.T
                xb.T @ d1

    seconds = {}
    for threads in (1, os.cpu_count() or 1):
        if torch:
            before = lib.get_num_threads()
            lib.set_num_threads(threads)
        with threadpool_limits(limits=threads, user_api="blas"):
            t = time.perf_counter()
            products()
            seconds[threads] = time.perf_counter() - t
        if torch:
            lib.set_num_threads(before)
    best = min(seconds, key=lambda k: seconds[k])
    return {"fit_s": seconds[best], "accuracy": float("nan"), "epochs": epochs,
            "dtype": str(X.dtype).replace("torch.", ""), "threads": best,
            "by_threads": seconds}  # fmt: skip


def _keras_worker(d: dict) -> dict:
    """Keras 3 on JAX, float32: MLPClassifier's network, loss, Adam and L2 term."""
    import keras

    n_classes = int(d["y_train"].max()) + 1
    l2 = keras.regularizers.L2(0.5 * SETTINGS["alpha"] / SETTINGS["batch_size"])
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((d["X_train"].shape[1],))]
        + [keras.layers.Dense(h, activation="relu", kernel_regularizer=l2)
           for h in SETTINGS["hidden_layer_sizes"]]
        + [keras.layers.Dense(n_classes, activation="softmax", kernel_regularizer=l2)]
    )  # fmt: skip
    model.compile(
        optimizer=keras.optimizers.Adam(SETTINGS["learning_rate_init"], epsilon=1e-8),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    t = time.perf_counter()
    model.fit(d["X_train"], d["y_train"], batch_size=SETTINGS["batch_size"],
              epochs=SETTINGS["max_iter"], shuffle=True, verbose=0)  # fmt: skip
    fit_s = time.perf_counter() - t
    _, accuracy = model.evaluate(d["X_test"], d["y_test"], batch_size=4096, verbose=0)
    return {"fit_s": fit_s, "accuracy": float(accuracy), "epochs": SETTINGS["max_iter"],
            "dtype": str(model.weights[0].dtype)}  # fmt: skip


def _missing(side: str) -> str | None:
    """What a side needs that is not installed here (None: nothing)."""
    needs = {"keras": ("keras", "jax"), "Classifier torch": ("torch",),
             "bound torch": ("torch", "threadpoolctl"), "bound": ("threadpoolctl",),
             "Classifier jax": ("jax",)}  # fmt: skip
    for prefix, modules in needs.items():
        if side.startswith(prefix):
            absent = [m for m in modules if importlib.util.find_spec(m) is None]
            if absent:
                return f"{side!r} skipped: {', '.join(absent)} not installed"
    return None


def _bound_of(side: str, runs: dict[str, list[dict]]) -> list[dict] | None:
    """The bound side's rounds for ``side`` (its dtype; torch's for torch), if measured."""
    name = "bound" + (" torch" if "torch" in side else "")
    name += " float32" if side.endswith(" float32") else ""
    return runs.get(name)


def measure(side: str, data: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "PYTHON"))}
    env["PYTHONPATH"] = str(ROOT)
    env["KERAS_BACKEND"] = "jax"
    if side == "sklearn 1 thread":
        env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "bench.tabular", "--worker", side, "--data", str(data)],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=1800,
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"{side} failed: {out.stderr.strip().splitlines()[-3:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - t
    return result


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.tabular", description=__doc__)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--samples", type=int, default=200_000)
    ap.add_argument("--sides", default=",".join(SIDES))
    ap.add_argument("--output", default=None)
    ap.add_argument("--stem", default="tabular", help="the results' file name")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--data", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(run_worker(args.worker, args.data)))
        return
    out = Path(args.output) if args.output else Path(tempfile.mkdtemp(prefix="tabular-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    sides = [s for s in args.sides.split(",") if s]
    notes = [note for note in map(_missing, sides) if note]
    sides = [s for s in sides if _missing(s) is None]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "tabular.npz"
        make_data(data, args.samples)
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        runs: dict[str, list[dict]] = {s: [] for s in sides}
        for r in range(args.rounds):
            for s in sides[r % len(sides) :] + sides[: r % len(sides)]:
                runs[s].append(measure(s, data))
                print(r, s, runs[s][-1], flush=True)
    load_end = " ".join(f"{x:.2f}" for x in os.getloadavg())
    base = runs[sides[0]]
    lines = [
        f"# Tabular, {args.samples:,} x 50, 5 classes: "
        + (
            "Classifier against MLPClassifier"
            if "sklearn" in sides[0]
            else "the fit against its products alone"
            if sides[0].startswith("bound")
            else "float32 and float64"
        ),
        "",
        f"`python -m bench.tabular --rounds {args.rounds} --sides {args.sides}`: "
        f"{args.samples:,} samples (80% to train), hidden (256, 128), Adam, batches of 256, 5 "
        "epochs, float64 unless the side says float32 (the parameters' dtype after the fit: "
        f"{', '.join(sorted({x['dtype'] for rs in runs.values() for x in rs}))}), each side a "
        "fresh process; fit: seconds of `fit`; ratio: the median over rounds of the side's fit "
        f"/ {sides[0]}'s in the same round. {os.cpu_count()} cores; load average {load} at "
        f"the start, {load_end} at the end.",
        "",
        *([" ".join(notes) + ".", ""] if notes else []),
        "| side | fit seconds | ratio | to bound | process seconds | test accuracy | "
        "fits (all rounds) |",
        "|---|---|---|---|---|---|---|",
    ]
    for s, rs in runs.items():
        fits = [x["fit_s"] for x in rs]
        ratio = statistics.median(a / b["fit_s"] for a, b in zip(fits, base))
        bound = _bound_of(s, runs)
        to_bound = (
            ""
            if bound is None
            else f"{statistics.median(a / b['fit_s'] for a, b in zip(fits, bound)):.2f}"
        )
        threads = sorted({x["threads"] for x in rs if "threads" in x})
        lines.append(
            f"| {s} | {statistics.median(fits):.2f} | {ratio:.2f} | {to_bound} | "
            f"{statistics.median(x['process_s'] for x in rs):.2f} | "
            f"{statistics.median(x['accuracy'] for x in rs):.4f} | "
            f"{', '.join(f'{v:.2f}' for v in fits)}"
            + (f" (best on {', '.join(map(str, threads))} threads)" if threads else "")
            + " |"
        )
    text = "\n".join(lines) + "\n"
    (out / f"{args.stem}.md").write_text(text)
    (out / f"{args.stem}.json").write_text(
        json.dumps({"load": [load, load_end], "runs": runs}, indent=1)
    )
    print(text)
    print(f"written to {out}")


if __name__ == "__main__":
    main()
