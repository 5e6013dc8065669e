"""The exported graph against the library's and scikit-learn's predict: ``python -m bench.deploy``.

One model, three ways to predict with it, in one process, the same run: the Classifier's
``to_onnx`` graph in onnxruntime (float64 and float32 graphs), ``Classifier.predict`` (NumPy)
and ``MLPClassifier.predict`` (scikit-learn, the same settings, its own fit). Data:
``make_classification(20_000, 20 features, 12 informative, 5 classes, random_state=0)``,
standardised, hidden (100,), Adam, 20 epochs; float64. Two measures:

- latency: the seconds of one call on one row (the median of ``--calls`` calls per round);
- throughput: rows per second of one call on 100,000 rows (the median of
  ``--large-calls`` calls per round).

Rounds rotate the sides; the report gives each side's median over rounds, and its ratio to
MLPClassifier's in the same round (median over rounds), with the load average at the start
and the end. Every side's labels are checked against ``Classifier.predict`` (the graph's) or
counted (MLPClassifier, another fit). ``--output DIR`` (default: a temporary directory)
receives ``deploy.md`` and ``deploy.json``; nothing is written into the checkout otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

SIDES = (
    "MLPClassifier.predict",
    "Classifier.predict",
    "onnxruntime float64",
    "onnxruntime float32",
)
SETTINGS = dict(hidden_layer_sizes=(100,), solver="adam", max_iter=20, random_state=0)
MANY = 100_000


def models():
    """(the fitted MLPClassifier and Classifier, rows to predict)."""
    from sklearn.datasets import make_classification
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    import portable_net as pn

    X, y = make_classification(
        n_samples=20_000, n_features=20, n_informative=12, n_classes=5, random_state=0
    )
    X = StandardScaler().fit_transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning after max_iter epochs
        sk = MLPClassifier(**SETTINGS).fit(X, y)
        clf = pn.Classifier(**SETTINGS).fit(X, y)
    rows = np.random.default_rng(1).standard_normal((MANY, X.shape[1]))
    return sk, clf, rows


def predictors(sk, clf):
    """Each side's ``predict(rows) -> labels``."""
    import onnxruntime as ort

    def session(dtype):
        graph = ort.InferenceSession(clf.to_onnx(dtype=dtype).SerializeToString())
        return lambda X: graph.run(["label"], {"X": X.astype(dtype, copy=False)})[0]

    return {
        "MLPClassifier.predict": sk.predict,
        "Classifier.predict": clf.predict,
        "onnxruntime float64": session("float64"),
        "onnxruntime float32": session("float32"),
    }


def seconds(predict, rows, calls: int) -> float:
    """The median seconds of one call of ``predict(rows)``, over ``calls`` calls."""
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        predict(rows)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def versions() -> dict[str, str]:
    from importlib.metadata import version

    names = ("portable-net", "numpy", "scikit-learn", "onnxruntime", "onnx", "ndonnx")
    return {n: version(n) for n in names}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.deploy", description=__doc__)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--calls", type=int, default=300, help="one-row calls per round")
    ap.add_argument("--large-calls", type=int, default=5, help="100,000-row calls per round")
    ap.add_argument("--output", default=None)
    args = ap.parse_args(argv)
    out = Path(args.output) if args.output else Path(tempfile.mkdtemp(prefix="deploy-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    sk, clf, rows = models()
    sides = predictors(sk, clf)
    reference = clf.predict(rows)
    agreement = {}
    for name, predict in sides.items():  # warm, and the labels checked once
        agreement[name] = float(np.mean(np.asarray(predict(rows)) == reference))
    one: dict[str, list[float]] = {s: [] for s in SIDES}
    many: dict[str, list[float]] = {s: [] for s in SIDES}
    for r in range(args.rounds):
        for s in SIDES[r % len(SIDES) :] + SIDES[: r % len(SIDES)]:
            one[s].append(seconds(sides[s], rows[:1], args.calls))
            many[s].append(rows.shape[0] / seconds(sides[s], rows, args.large_calls))
        print(r, {s: f"{one[s][-1] * 1e6:.0f} us, {many[s][-1]:,.0f} rows/s" for s in SIDES},
              flush=True)  # fmt: skip
    load_end = " ".join(f"{x:.2f}" for x in os.getloadavg())
    base = SIDES[0]
    lines = [
        "# Deploying: the exported graph in onnxruntime against predict",
        "",
        f"`python -m bench.deploy --rounds {args.rounds} --calls {args.calls} --large-calls "
        f"{args.large_calls}`: one fitted "
        "Classifier (20 standardised features, 5 classes, hidden (100,), Adam, 20 epochs, "
        "float64) predicting through its `to_onnx` graph in onnxruntime (float64, and the "
        "float32 graph of the same weights) and through `Classifier.predict` (NumPy); "
        "`MLPClassifier.predict` with the same settings (its own fit), the baseline. One "
        "process, default threads; rounds rotate the sides. Latency: the median seconds of "
        f"one call on one row ({args.calls} calls a round); throughput: rows per second of "
        f"one call on {MANY:,} rows (the median of {args.large_calls} calls a round); each the "
        "median over rounds, and the median over rounds "
        f"of the ratio to {base}'s in the same round (latency: its time / the baseline's; "
        "throughput: its rows per second / the baseline's). "
        f"{os.cpu_count()} cores ({platform.machine()}); load average {load} at the start, "
        f"{load_end} at the end.",
        "",
        "| side | one-row latency | ratio | rows per second (100,000 rows) | ratio | "
        "labels as Classifier.predict's |",
        "|---|---|---|---|---|---|",
    ]
    for s in SIDES:
        lat = statistics.median(one[s]) * 1e6
        lat_ratio = statistics.median(a / b for a, b in zip(one[s], one[base]))
        rate = statistics.median(many[s])
        rate_ratio = statistics.median(a / b for a, b in zip(many[s], many[base]))
        lines.append(
            f"| {s} | {lat:.1f} us | {lat_ratio:.2f} | {rate:,.0f} | {rate_ratio:.2f} | "
            f"{agreement[s]:.4f} |"
        )
    lines += ["", "Versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()) + "."]
    text = "\n".join(lines) + "\n"
    (out / "deploy.md").write_text(text)
    record = {"load": [load, load_end], "latency_s": one, "rows_per_s": many,
              "agreement": agreement, "versions": versions()}  # fmt: skip
    (out / "deploy.json").write_text(json.dumps(record, indent=1))
    print(text)
    print(f"written to {out}")


if __name__ == "__main__":
    main()
