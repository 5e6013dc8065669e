"""The case study's spiral: K arms of N points each in the plane."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._backend import float_dtype, from_host, int_dtype, resolve_device, to_namespace
from ._validation import check_int, check_real
from .engines import chunked_spiral

__all__ = ["make_spiral"]


def make_spiral(
    n_per_class: int = 100,
    n_classes: int = 3,
    *,
    noise: float = 0.2,
    seed: int = 0,
    xp: Any = None,
    device: Any = None,
    dtype: Any = None,
    chunks: Any = None,
) -> tuple[Any, Any]:
    """Draw the case study's spiral data set.

    Class ``j`` (0-based) is the arm of points ``(r sin t, r cos t)`` with radius
    ``r = linspace(0, 1, n_per_class)`` and angle ``t = linspace(4j, 4(j + 1), n_per_class)
    + noise * standard_normal()``.  The noise comes from ``numpy.random.default_rng(seed)`` on
    the host, so one seed gives bit-identical data on every backend.

    Parameters
    ----------
    n_per_class, n_classes : int
        Points per arm (>= 1) and number of arms (>= 2).
    noise : float
        Standard deviation of the angular noise (>= 0).
    seed : int
        Seed of the NumPy generator.
    xp : None, str or namespace
        Backend of the returned arrays: None for NumPy, a backend name (``"torch"``) or a
        namespace.
    device : None, str or device
        Device of the returned arrays (``"cuda:0"``); None for the backend's default.
    dtype : None, "float32" or "float64"
        The dtype of ``X``: float64 by default (the case study's precision); a backend without
        float64 gets its default float and a warning.
    chunks : None, int, tuple of int or "auto"
        Not None: return Dask arrays (``pip install 'portable-net[dask]'``) of NumPy chunks
        (CuPy chunks with CuPy as ``xp``) with these rows per chunk, built chunk by chunk
        (never the whole spiral in one process) with the same values as the in-memory
        spiral for the same seed.

    Returns
    -------
    X : array, shape (n_per_class * n_classes, 2)
        The points, real floating, of the chosen library and device.
    y : array of integers, shape (n_per_class * n_classes,)
        Labels in ``[0, n_classes)``, class blocks in order.

    Examples
    --------
    >>> import portable_net as pn
    >>> X, y = pn.make_spiral(100, 3, seed=0)
    >>> X.shape, X.dtype, y.shape
    ((300, 2), dtype('float64'), (300,))
    >>> [int((y == k).sum()) for k in range(3)]
    [100, 100, 100]
    """
    n = check_int("n_per_class", n_per_class, minimum=1)
    k = check_int("n_classes", n_classes, minimum=2)
    noise = check_real("noise", noise, low=0.0)
    seed = check_int("seed", seed, minimum=0)
    if chunks is not None:  # Dask arrays, chunk by chunk
        return chunked_spiral(n, k, noise, seed, xp, device, dtype, chunks)
    xp = to_namespace(xp)
    device = resolve_device(xp, device)
    fdtype = float_dtype(xp, device, dtype)

    rng = np.random.default_rng(seed)
    radius = np.linspace(0.0, 1.0, n)
    X = np.empty((n * k, 2), dtype=np.float64)
    for j in range(k):
        theta = np.linspace(4.0 * j, 4.0 * (j + 1), n) + noise * rng.standard_normal(n)
        X[j * n : (j + 1) * n, 0] = radius * np.sin(theta)
        X[j * n : (j + 1) * n, 1] = radius * np.cos(theta)
    y = np.repeat(np.arange(k, dtype=np.int64), n)
    return (
        from_host(xp, X, fdtype, device),
        from_host(xp, y, int_dtype(xp, device), device),
    )
