"""The process's peak memory of training and then of predicting on the same rows:
``python -m bench.predict_memory [--n-per-class 1000000] [--hidden 100] [--steps 2]``.

One fresh process: the spiral (3 classes), ``train`` for a few steps, then ``accuracy`` and
``predict_proba`` on all the rows; the peak resident set size (``ru_maxrss``) after each, and
the ratio of the whole process's peak to the training peak (the target: at most 1.5).
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import resource
import time


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.predict_memory", description=__doc__)
    parser.add_argument("--n-per-class", type=int, default=1_000_000)
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--steps", type=int, default=2)
    args = parser.parse_args(argv)

    import portable_net as pn

    X, y = pn.make_spiral(args.n_per_class, 3, seed=0)
    params = pn.init_params([2, args.hidden, 3], seed=0)
    data = _peak_mib()
    t = time.perf_counter()
    params, _ = pn.train(params, X, y, steps=args.steps, log_every=args.steps)
    trained, train_s = _peak_mib(), time.perf_counter() - t
    t = time.perf_counter()
    acc = pn.accuracy(params, X, y)
    after_accuracy, accuracy_s = _peak_mib(), time.perf_counter() - t
    proba = pn.predict_proba(params, X)
    after_proba = _peak_mib()
    print(
        json.dumps(
            {
                "points": int(X.shape[0]),
                "hidden": args.hidden,
                "peak_mib_data": round(data, 1),
                "peak_mib_train": round(trained, 1),
                "peak_mib_accuracy": round(after_accuracy, 1),
                "peak_mib_predict_proba": round(after_proba, 1),
                "process_over_training": round(after_proba / trained, 3),
                "accuracy": acc,
                "proba_shape": list(proba.shape),
                "train_s": round(train_s, 2),
                "accuracy_s": round(accuracy_s, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
