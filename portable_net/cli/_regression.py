"""``portable-net train --task regression``: a network with identity outputs and the squared
error (the :class:`portable_net.Regressor`'s output layer) on a data file's real target
column, trained by :func:`portable_net.train` (``output="squared"``) with the command's
options, through the command's one call of it (:func:`._training.run_training`: divergence,
warnings, interrupts as for classification); and what ``predict`` and ``evaluate`` do with
such a model.

The target column is ``--label`` (by header name or index, the last by default); its values
must be numbers. The model file records its kind (a regressor: identity outputs, the
squared error), the target's name in its CSV dialect and, with --standardize, the
features' statistics (the target is not scaled).
"""

from __future__ import annotations

import argparse
from typing import Any

from . import _data, _run, _training
from ._args import BadInput
from ._inputs import recorded
from ._training import format_loss

__all__ = ["evaluate", "predict", "r2_and_mse", "real_targets", "train"]

#: options that apply to classification only, refused with --task regression
CLASSIFICATION_ONLY = {
    "validation_fraction": "--validation-fraction",
    "early_stopping": "--early-stopping",
    "confusion": "--confusion",
    "plot": "--plot",
}


def r2_and_mse(y: Any, pred: Any) -> tuple[float, float]:
    """(R^2 averaged over the outputs, as scikit-learn's ``r2_score``; the mean squared
    error) of NumPy targets and predictions."""
    import numpy as np

    from ..targets import r2

    y2, p2 = y.reshape(y.shape[0], -1), pred.reshape(pred.shape[0], -1)
    return r2(y2, p2, None), float(np.mean((y2 - p2) ** 2))


def real_targets(labels: Any, path: str) -> Any:
    """A data file's target column as float64 NumPy, or BadInput naming the file."""
    import numpy as np

    try:
        y = np.asarray(labels, dtype=np.float64)
    except (TypeError, ValueError):
        raise BadInput(
            f"argument --data: {path!r}: the target column must hold numbers for --task regression"
        ) from None
    if not np.all(np.isfinite(y)):
        raise BadInput(f"argument --data: {path!r}: the target column holds NaN or infinity")
    return y


def train(args: argparse.Namespace, parser: argparse.ArgumentParser, hidden: list[int]) -> int:
    """The regression run of ``portable-net train``: read, split, scale, train, report,
    save. Returns the exit status."""
    import numpy as np

    from .. import init_params
    from .._backend import backend_name, from_host
    from ..model import outputs
    from ..preprocessing import Standardizer, split_rows

    if args.data is None:
        parser.error("argument --task: regression needs --data FILE (a real target column)")
    for key, option in CLASSIFICATION_ONLY.items():
        if getattr(args, key, None):
            parser.error(f"argument {option}: applies to --task classification")
    if args.lr_schedule != "constant":
        parser.error("argument --lr-schedule: --task regression takes a constant rate")
    xp, device = _run.namespace(parser, args, args.dtype == "float64")
    _run.check_outputs(parser, {"--save": args.save}, inputs=(args.data,))
    settings = _training.training_settings(args)
    X, labels, names, fill = _data.read(
        args.data, args.label, args.delimiter, decimal=args.decimal, missing=args.missing
    )
    y = real_targets(labels, args.data)
    record: dict[str, Any] = {"file": args.data, "label": args.label,
                              "feature_names": names, "rows": int(X.shape[0])}  # fmt: skip
    X_test = y_test = None
    if args.test_size is not None:
        try:
            rng = np.random.RandomState(args.seed)
            train_rows, test_rows = split_rows(y, args.test_size, rng, stratify=False)
        except ValueError as exc:
            raise BadInput(f"argument --test-size: {args.data!r}: {exc}") from None
        X, X_test, y, y_test = X[train_rows], X[test_rows], y[train_rows], y[test_rows]
        record.update(test_size=args.test_size, test_rows=int(X_test.shape[0]))
    saved = None
    if args.standardize:
        try:
            scaler = Standardizer().fit(X)
            X = scaler.transform(X)
            X_test = None if X_test is None else scaler.transform(X_test)
        except ValueError as exc:
            raise BadInput(f"argument --standardize: {args.data!r}: {exc}") from None
        saved = scaler.to_dict()
    fdtype = getattr(xp, args.dtype)
    X_xp, y_xp = from_host(xp, X, fdtype, device), from_host(xp, y, fdtype, device)
    sizes = [int(X.shape[1]), *hidden, 1]
    _run.check_model_size("--hidden", sizes, args.dtype)
    params = init_params(sizes, seed=args.seed, xp=xp, device=device, dtype=X_xp.dtype)
    verbose = not (args.quiet or args.json)
    if verbose:
        rows = f"{X.shape[0]} to train" + ("" if X_test is None else f", {X_test.shape[0]} to test")
        print(f"data: {args.data}: {record['rows']} rows ({rows}), {sizes[0]} features, a real "
              "target" + (", standardized" if args.standardize else ""), flush=True)  # fmt: skip

    def report(step: int, loss: float, _params: Any) -> None:
        if verbose:
            print(f"iteration {step} loss {format_loss(loss)}", flush=True)

    def hint() -> str | None:
        return None if args.standardize else _data.scale_hint(X, names)

    preprocessing, dialect = recorded(args, names, standardize=saved, fill=fill)
    meta = {"kind": "regressor", "activation": settings["activation"],
            "preprocessing": preprocessing, "dialect": dialect, "model": args.model,
            "training": settings, "data": record,
            "backend": backend_name(xp), "device": _run.describe_device(xp, device)}  # fmt: skip

    def on_interrupt(exc: Any) -> None:
        _training.save_interrupted(args.save, exc, meta)

    params, history, trouble = _training.run_training(
        params, X_xp, y_xp, settings, report=report, bar=None, output="squared", hint=hint,
        on_interrupt=on_interrupt,
    )  # fmt: skip

    def scores(Xa: Any, ya: Any) -> tuple[float, float]:
        out = outputs(params, from_host(xp, Xa, fdtype, device),
                      activation=settings["activation"], output="squared")  # fmt: skip
        return r2_and_mse(ya, _run.to_host(out)[:, 0])

    r2_train, mse_train = scores(X, y)
    metrics: dict[str, Any] = {"training_r2": r2_train, "training_mse": mse_train}
    if X_test is not None:
        metrics["test_r2"], metrics["test_mse"] = scores(X_test, y_test)
    # the run ended worse than it started (TrainingWarning): not saved without --save-anyway
    unsaved = bool(trouble) and bool(args.save) and not args.save_anyway
    _training.explain(trouble, hint, args.save if unsaved else None)
    if args.save and not unsaved:
        _run.save_model(args.save, params, history=history, **meta, **metrics)
    if args.json:
        _run.print_json({"task": "regression", "layer_sizes": sizes, "settings": settings,
                         "data": record, "history": {"steps": history.steps,
                         "loss": history.loss}, "final_loss": history.final_loss,
                         **metrics, "saved": None if unsaved else args.save})  # fmt: skip
        return _training.warn(trouble)
    print(f"training R^2: {r2_train:.4f} (mean squared error {mse_train:.6g})")
    if X_test is not None:
        print(f"test R^2: {metrics['test_r2']:.4f} (mean squared error {metrics['test_mse']:.6g})")
    if args.save and not unsaved and not args.quiet:
        print(f"model saved to {args.save}")
    return _training.warn(trouble)


def predict(params: dict[str, Any], meta: dict[str, Any], X: Any) -> list[float]:
    """A one-output regression model's predictions of the rows of X (the backend's array),
    as floats (through its output layer: identity, or a Poisson regressor's exp)."""
    from ..model import outputs

    out = outputs(params, X, activation=meta["activation"], output=_run.output_layer(meta))
    return [float(v) for v in _run.to_host(out)[:, 0]]


def evaluate(values: list[float], y: Any) -> dict[str, float]:
    """R^2 and the mean squared error of predictions against the targets (NumPy)."""
    import numpy as np

    r2, mse = r2_and_mse(y, np.asarray(values))
    return {"r2": r2, "mse": mse}
