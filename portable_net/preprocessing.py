"""A user's data prepared for training: labels encoded, rows split, features standardised.

Everything here runs on the host, in NumPy (the arrays move to the chosen library afterwards):

- :func:`encode_labels` / :func:`decode_labels`: labels of any kind <-> ``0..C-1`` (as
  scikit-learn's ``LabelEncoder``).
- :func:`split`: a stratified, seeded train/test split, drawing the same rows as
  ``sklearn.model_selection.train_test_split(..., stratify=y, random_state=seed)``.
- :class:`Standardizer`: zero mean, unit variance per feature, fitted on the training rows
  (as ``sklearn.preprocessing.StandardScaler``), saved as plain lists.
- :func:`standardized` and :func:`filled_in`: the standardisation's formula and a missing
  value's, on any library's arrays (the host's, and the ONNX export's graph).

Reading the files these arrays come from is :mod:`portable_net.tabular`'s work.
"""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np

__all__ = [
    "Standardizer",
    "decode_labels",
    "encode_labels",
    "filled_in",
    "split",
    "standardized",
]


# ---- labels -------------------------------------------------------------------------------


def _as_labels(labels: Any, name: str) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.shape[0] < 1:
        raise ValueError(f"{name} must be a non-empty 1-D array of labels, got shape {arr.shape}")
    if arr.dtype.kind not in "biufUS":
        raise ValueError(
            f"{name} must hold numbers, booleans or strings (one kind), got dtype {arr.dtype}"
        )
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"{name} holds non-finite labels (NaN or infinity)")
    return arr


def encode_labels(labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """Labels of any kind -> ``(classes, y)``, as scikit-learn's ``LabelEncoder``.

    Parameters
    ----------
    labels : array_like, shape (N,)
        Numbers, booleans or strings.

    Returns
    -------
    classes : ndarray, shape (C,)
        The sorted distinct labels.
    y : ndarray of int64, shape (N,)
        ``classes[y] == labels``.
    """
    arr = _as_labels(labels, "labels")
    classes, y = np.unique(arr, return_inverse=True)
    return classes, y.reshape(-1).astype(np.int64)


def decode_labels(classes: Any, y: Any) -> np.ndarray:
    """Class indices back to labels: ``classes[y]``.

    Parameters
    ----------
    classes : array_like, shape (C,)
        As :func:`encode_labels` returned them.
    y : array_like of int, shape (N,)
        Indices in ``0..C-1``.
    """
    classes = np.asarray(classes)
    y = np.asarray(y)
    if classes.ndim != 1 or classes.shape[0] < 1:
        raise ValueError(f"classes must be a non-empty 1-D array, got shape {classes.shape}")
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise ValueError(
            f"y must be a 1-D array of class indices (ints), got shape {y.shape}, dtype {y.dtype}"
        )
    if y.size and (y.min() < 0 or y.max() >= classes.shape[0]):
        raise ValueError(
            f"y must hold class indices in 0..{classes.shape[0] - 1}, "
            f"got values from {y.min()} to {y.max()}"
        )
    return cast(np.ndarray, classes[y])


# ---- splitting ----------------------------------------------------------------------------


def _split_sizes(n: int, test_size: Any) -> tuple[int, int]:
    """(n_train, n_test) as scikit-learn's ``_validate_shuffle_split`` with train_size None."""
    if isinstance(test_size, bool) or not isinstance(
        test_size, (int, float, np.integer, np.floating)
    ):
        raise TypeError(
            f"test_size must be a float in (0, 1) or an int, not {type(test_size).__name__}"
        )
    if isinstance(test_size, (float, np.floating)):
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"test_size as a fraction must be in (0, 1), got {test_size!r}")
        n_test = math.ceil(test_size * n)
    else:
        if not 0 < test_size < n:
            raise ValueError(
                f"test_size as a count must be in 1..{n - 1} (the data has {n} rows), "
                f"got {test_size!r}"
            )
        n_test = int(test_size)
    n_train = n - n_test
    if n_train <= 0:
        raise ValueError(f"test_size={test_size!r} of {n} rows leaves no training rows")
    return n_train, n_test


def _approximate_mode(
    class_counts: np.ndarray, n_draws: int, rng: np.random.RandomState
) -> np.ndarray:
    """Rows drawn per class, as ``sklearn.utils.extmath._approximate_mode`` (BSD-3-Clause):
    the floor of the proportional share, then the rows left over to the largest remainders,
    ties broken at random."""
    continuous = class_counts / class_counts.sum() * n_draws
    floored = np.floor(continuous)
    need_to_add = int(n_draws - floored.sum())
    if need_to_add > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (inds,) = np.where(remainder == value)
            add_now = min(len(inds), need_to_add)
            inds = rng.choice(inds, size=add_now, replace=False)
            floored[inds] += 1
            need_to_add -= add_now
            if need_to_add == 0:
                break
    return cast(np.ndarray, floored.astype(int))


def split(
    X: Any, y: Any, test_size: float | int = 0.25, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A stratified, seeded train/test split.

    The rows are those of ``sklearn.model_selection.train_test_split(X, y,
    test_size=test_size, stratify=y, random_state=seed)`` (the same draws from
    ``numpy.random.RandomState(seed)``, in the same order): each class is split in proportion,
    ``ceil(test_size * N)`` rows go to the test set for a fraction.

    Parameters
    ----------
    X : array_like, shape (N, D)
    y : array_like, shape (N,)
        Labels of any kind (stratified by their distinct values).
    test_size : float in (0, 1) or int, default 0.25
        The test set's share of the rows, or its number of rows.
    seed : int, default 0
        In [0, 2**32).

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarray

    Raises
    ------
    ValueError
        A single class; a class with fewer than 2 rows; fewer training or test rows than
        classes; a class that would get no training row (scikit-learn allows that; a
        classifier cannot learn such a class).
    """
    X = np.asarray(X)
    y = _as_labels(y, "y")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (N, D), got shape {X.shape}")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]} labels")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an int in [0, 2**32), got {seed!r}")
    classes = np.unique(y)
    if classes.shape[0] < 2:
        raise ValueError(
            f"y holds a single class ({classes.tolist()[0]!r}); a classifier needs at least two"
        )
    train_idx, test_idx = split_rows(y, test_size, np.random.RandomState(seed))
    # scikit-learn allows a class without a training row; a classifier cannot learn it
    empty = np.setdiff1d(classes, y[train_idx])
    if empty.size:
        raise ValueError(
            f"test_size={test_size!r} leaves no training row for classes {empty.tolist()}; "
            "use a smaller test_size"
        )
    return X[train_idx], X[test_idx], y[train_idx], y[test_idx]


def split_rows(
    y: np.ndarray, test_size: float | int, rng: np.random.RandomState, *, stratify: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, test rows), in the order of scikit-learn's ``train_test_split(...,
    test_size=test_size, stratify=y if stratify else None, random_state=rng)``, drawing from
    ``rng`` as it does (the one split of the project: :func:`split`, ``train``'s
    ``validation_fraction``, the estimators' ``early_stopping``).

    Stratified: each class split in proportion (``StratifiedShuffleSplit``); else a
    permutation of all rows, the test rows first (``ShuffleSplit``).
    """
    n = y.shape[0]
    n_train, n_test = _split_sizes(n, test_size)
    if not stratify:
        permutation = rng.permutation(n)
        return permutation[n_test : n_test + n_train], permutation[:n_test]
    classes, y_indices, class_counts = np.unique(y, return_inverse=True, return_counts=True)
    y_indices = y_indices.reshape(-1)
    n_classes = classes.shape[0]
    # scikit-learn's messages first (its users match on them), then ours
    if class_counts.min() < 2:
        few = classes[class_counts < 2]
        raise ValueError(
            "The least populated classes in y have only 1 member, which is too few. The "
            "minimum number of groups for any class cannot be less than 2. Classes with too "
            f"few members are: {few} (every class needs at least 2 rows, one to train on and "
            f"one to test; these have 1: {few.tolist()})"
        )
    if n_train < n_classes:
        raise ValueError(
            f"The train_size = {n_train} should be greater or equal to the number of classes "
            f"= {n_classes} (test_size={test_size!r} leaves {n_train} training rows for "
            f"{n_classes} classes; use a smaller test_size)"
        )
    if n_test < n_classes:
        raise ValueError(
            f"The test_size = {n_test} should be greater or equal to the number of classes = "
            f"{n_classes} (test_size={test_size!r} gives {n_test} test rows for {n_classes} "
            "classes; use a larger test_size)"
        )

    # StratifiedShuffleSplit._iter_indices, first split
    class_indices = np.split(np.argsort(y_indices, kind="stable"), np.cumsum(class_counts)[:-1])
    n_i = _approximate_mode(class_counts, n_train, rng)
    t_i = _approximate_mode(class_counts - n_i, n_test, rng)
    train: list[Any] = []
    test: list[Any] = []
    for i in range(n_classes):
        permutation = rng.permutation(class_counts[i])
        rows = class_indices[i].take(permutation, mode="clip")
        train.extend(rows[: n_i[i]])
        test.extend(rows[n_i[i] : n_i[i] + t_i[i]])
    return rng.permutation(train), rng.permutation(test)


# ---- standardising ------------------------------------------------------------------------


def standardized(X: Any, mean: Any, scale: Any) -> Any:
    """``(X - mean) / scale``, per column: the standardisation's one formula, on arrays of
    any library (:meth:`Standardizer.transform`; the ONNX export's graph)."""
    return (X - mean) / scale


def filled_in(xp: Any, X: Any, means: Any) -> Any:
    """X with each missing value (NaN) replaced by its column's entry of ``means``, on
    arrays of any library (``read_table(..., missing="mean")``; the ONNX export's graph)."""
    return xp.where(xp.isnan(X), means, X)


class Standardizer:
    """Zero mean and unit variance per feature, as ``sklearn.preprocessing.StandardScaler``.

    ``mean_`` and ``scale_`` (the standard deviation, ``ddof=0``) are float64 arrays; a
    feature that is constant (to rounding, by scikit-learn's test) gets scale 1.

    Examples
    --------
    >>> import numpy as np
    >>> s = Standardizer().fit(np.array([[0.0, 5.0], [2.0, 5.0]]))
    >>> s.transform(np.array([[1.0, 6.0]]))
    array([[0., 1.]])
    >>> Standardizer.from_dict(s.to_dict()).scale_
    array([1., 1.])
    """

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    @staticmethod
    def _as_features(X: Any, what: str) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
            raise ValueError(f"{what} must be a 2-D array (N, D) with N, D >= 1, got {X.shape}")
        if X.dtype.kind not in "biuf":
            raise ValueError(f"{what} must hold numbers, got dtype {X.dtype}")
        X = X.astype(np.float64, copy=False)
        if not np.isfinite(X).all():
            raise ValueError(f"{what} holds non-finite values")
        return cast(np.ndarray, X)

    def fit(self, X: Any) -> Standardizer:
        """Learn the mean and scale of each column of X (the training rows)."""
        X = self._as_features(X, "X")
        n = X.shape[0]
        # values near the float64 limit overflow the sums: refused by name, not warned about
        with np.errstate(over="ignore", invalid="ignore"):
            mean = X.mean(axis=0)
            var = X.var(axis=0)
            # sklearn's _is_constant_feature: within the rounding error of the two-pass variance
            eps = np.finfo(np.float64).eps
            constant = var <= n * eps * var + (n * mean * eps) ** 2
        overflow = ~(np.isfinite(mean) & np.isfinite(var))
        if overflow.any():
            j = int(np.argmax(overflow))
            raise ValueError(
                f"X's column {j} cannot be standardised: its mean or variance overflows "
                f"float64 (values up to {np.abs(X[:, j]).max():.3g}); rescale it first"
            )
        self.mean_ = mean
        self.scale_ = np.where(constant, 1.0, np.sqrt(var))
        return self

    def transform(self, X: Any) -> np.ndarray:
        """``(X - mean_) / scale_`` as a new float64 array."""
        if self.mean_ is None or self.scale_ is None:
            raise ValueError("this Standardizer is not fitted yet; call fit(X_train) first")
        X = self._as_features(X, "X")
        if X.shape[1] != self.mean_.shape[0]:
            raise ValueError(
                f"X has {X.shape[1]} features but the Standardizer was fitted on "
                f"{self.mean_.shape[0]}"
            )
        with np.errstate(over="ignore", invalid="ignore"):
            out = standardized(X, self.mean_, self.scale_)
        if not np.isfinite(out).all():
            j = int(np.argmax(~np.isfinite(out).all(axis=0)))
            raise ValueError(
                f"X's column {j} is too far from the fitted mean to be standardised in "
                "float64 (the result overflows)"
            )
        return cast(np.ndarray, out)

    def to_dict(self) -> dict[str, list[float]]:
        """``{"mean": [...], "scale": [...]}`` as plain floats (for a model's metadata)."""
        if self.mean_ is None or self.scale_ is None:
            raise ValueError("this Standardizer is not fitted yet; call fit(X_train) first")
        return {"mean": self.mean_.tolist(), "scale": self.scale_.tolist()}

    @classmethod
    def from_dict(cls, d: Any) -> Standardizer:
        """The Standardizer that :meth:`to_dict` described."""
        if not isinstance(d, dict) or set(d) != {"mean", "scale"}:
            raise ValueError("expected a dict with the keys 'mean' and 'scale' (from to_dict())")
        try:
            mean = np.asarray(d["mean"], dtype=np.float64)
            scale = np.asarray(d["scale"], dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError("'mean' and 'scale' must be lists of numbers") from None
        if mean.ndim != 1 or mean.shape != scale.shape or mean.shape[0] < 1:
            raise ValueError(
                f"'mean' and 'scale' must be non-empty lists of one length, got "
                f"{mean.shape} and {scale.shape}"
            )
        if not (np.isfinite(mean).all() and np.isfinite(scale).all() and (scale > 0).all()):
            raise ValueError("'mean' must be finite and 'scale' finite and positive")
        out = cls()
        out.mean_, out.scale_ = mean, scale
        return out
