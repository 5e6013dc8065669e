"""Regression on the command line: the real targets of ``train --task regression`` (the
``--label`` column, numbers; the model is a :class:`portable_net.Regressor`, trained by
``_fit``), its scores (R^2 averaged over the outputs, as scikit-learn's ``r2_score``, and the
mean squared error), and what ``predict`` and ``evaluate`` do with a regression model.
"""

from __future__ import annotations

from typing import Any

from . import _run
from ._args import BadInput

__all__ = ["evaluate", "predict_values", "r2_and_mse", "real_targets", "report"]


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


def report(est: Any, data: Any) -> tuple[dict[str, Any], None, Any]:
    """A fitted Regressor's R^2 and mean squared error on the training (and test) rows, no
    per-class table, and the report's rows ``(X, y, predicted)`` on the host (the test rows,
    else the training rows)."""
    import warnings

    def scores(X: Any, y: Any) -> tuple[tuple[float, float], Any]:
        with warnings.catch_warnings():  # overflow: the scores say so
            warnings.simplefilter("ignore", RuntimeWarning)
            predicted = _run.to_host(est.predict(X)).reshape(-1)
        return r2_and_mse(_run.to_host(y), predicted), predicted

    (r2, mse), predicted = scores(data.X, data.y)
    metrics: dict[str, Any] = {"training_r2": r2, "training_mse": mse}
    shown = (data.X, _run.to_host(data.y), predicted)
    if data.X_test is not None:
        (metrics["test_r2"], metrics["test_mse"]), predicted = scores(data.X_test, data.y_test)
        shown = (data.X_test, _run.to_host(data.y_test), predicted)
    return metrics, None, shown


def predict_values(params: dict[str, Any], meta: dict[str, Any], X: Any) -> list[float]:
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
