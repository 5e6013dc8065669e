"""The held-out rows of ``early_stopping``: a stratified split, seeded by the estimator's
``random_state``."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["stratified_split"]


def stratified_split(
    y: np.ndarray, n_classes: int, fraction: float, rng: np.random.RandomState
) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, validation rows), each sorted, of labels ``y`` in ``0..n_classes-1``.

    ``ceil(fraction * n)`` rows are held out, each class in proportion to its count (the
    rounding remainders go to the classes with the largest ones, the first class on ties);
    each class's held-out rows are the first of a permutation of its rows drawn from
    ``rng``, class after class.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    >>> train, val = stratified_split(y, 2, 0.2, np.random.RandomState(0))
    >>> np.bincount(y[val]).tolist(), sorted(train.tolist() + val.tolist()) == list(range(10))
    ([1, 1], True)
    """
    n = y.shape[0]
    n_val = math.ceil(fraction * n)
    counts = np.bincount(y, minlength=n_classes)
    exact = n_val * counts / n
    per_class = np.floor(exact).astype(int)
    for k in np.argsort(-(exact - per_class), kind="stable")[: n_val - per_class.sum()]:
        per_class[k] += 1
    val = [rng.permutation(np.flatnonzero(y == k))[: per_class[k]] for k in range(counts.shape[0])]
    val_idx = np.sort(np.concatenate(val))
    if val_idx.shape[0] < 2:
        raise ValueError(
            "The validation set is too small. Increase 'validation_fraction' or the size "
            "of your dataset."
        )
    return np.setdiff1d(np.arange(n), val_idx), val_idx
