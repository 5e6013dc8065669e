"""The case study's spiral as Dask arrays of NumPy or CuPy chunks (``make_spiral(chunks=...)``).

Each chunk is built by its own task, never the whole spiral in one process, with the values
of the in-memory spiral (:func:`portable_net.make_spiral`) for the same seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._backend import backend_name, dtype_name, to_namespace

__all__ = ["chunked_spiral"]

# The noise is one stream: the in-memory spiral draws standard_normal(n) per class in order,
# and NumPy's Generator gives the same numbers drawn in any pieces, so the noise of row r is
# the r-th normal of default_rng(seed). standard_normal (ziggurat) consumes a variable number
# of raw values, so a chunk's start cannot be reached by ``bit_generator.advance``: the client
# runs the stream once, in bounded pieces, recording the generator's state at each chunk's
# first row; each chunk's task restores its state and draws its own rows only.

_STREAM_PIECE = 1 << 20  # normals drawn at a time while recording the chunk states


def _linspace_part(start: float, stop: float, num: int, i0: int, i1: int) -> np.ndarray:
    """``np.linspace(start, stop, num)[i0:i1]`` without the other entries (NumPy's formula:
    ``i * step + start``, the last entry exactly ``stop``)."""
    if num == 1:
        return np.full(i1 - i0, float(start))
    step = (stop - start) / (num - 1)
    y = np.arange(i0, i1, dtype=np.float64) * step
    y += start
    if i1 == num:
        y[-1] = stop
    return y


def _spiral_chunk(
    state: dict[str, Any], n: int, noise: float, r0: int, r1: int, dtype: str, cupy: bool
) -> Any:
    """Rows [r0, r1) of the spiral, from the generator state at row r0."""
    rng = np.random.default_rng()
    rng.bit_generator.state = state
    z = rng.standard_normal(r1 - r0)
    X = np.empty((r1 - r0, 2), dtype=np.float64)
    r = r0
    while r < r1:
        j, i0 = divmod(r, n)
        i1 = min(n, i0 + (r1 - r))
        a, b = r - r0, r - r0 + (i1 - i0)
        radius = _linspace_part(0.0, 1.0, n, i0, i1)
        theta = _linspace_part(4.0 * j, 4.0 * (j + 1), n, i0, i1) + noise * z[a:b]
        X[a:b, 0] = radius * np.sin(theta)
        X[a:b, 1] = radius * np.cos(theta)
        r += i1 - i0
    X = X.astype(dtype, copy=False)
    if cupy:
        import cupy as cp

        return cp.asarray(X)
    return X


def chunked_spiral(
    n: int, k: int, noise: float, seed: int, xp: Any, device: Any, dtype: Any, chunks: Any
) -> tuple[Any, Any]:
    """``make_spiral(n, k, noise=noise, seed=seed, xp=xp, device=device, dtype=dtype,
    chunks=chunks)`` (its arguments checked but these): X and y as Dask arrays."""
    try:
        import dask
        import dask.array as da
    except ImportError:
        raise ImportError(
            "make_spiral(chunks=...) returns Dask arrays and needs Dask: "
            "pip install 'portable-net[dask]'"
        ) from None
    from dask.base import tokenize

    namespace = to_namespace(xp)
    name = backend_name(namespace)
    if name not in ("numpy", "cupy"):
        raise ValueError(f"make_spiral with chunks makes NumPy or CuPy chunks, not {name!r} ones")
    if device is not None and name == "numpy" and device != "cpu":
        raise ValueError(f"device {device!r} is not available for NumPy chunks; use None or 'cpu'")
    fdtype = "float64" if dtype is None else dtype_name(dtype)
    if fdtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', not {dtype!r}")
    total = n * k
    if isinstance(chunks, bool) or not isinstance(chunks, (int, str, tuple, list)):
        raise TypeError(f"chunks must be an int, a tuple of ints or 'auto', not {chunks!r}")
    if isinstance(chunks, int) and chunks < 1:
        raise ValueError(f"chunks must be >= 1 rows, got {chunks}")
    try:
        rows = da.core.normalize_chunks(
            (tuple(chunks) if isinstance(chunks, list) else chunks, 2),
            shape=(total, 2),
            dtype=np.dtype(fdtype),
        )[0]
    except ValueError as exc:
        raise ValueError(f"chunks {chunks!r} do not fit {total} rows: {exc}") from None

    # the generator's state at the first row of each chunk (bounded memory on the client)
    rng = np.random.default_rng(seed)
    states = []
    for size in rows:
        states.append(rng.bit_generator.state)
        left = size
        while left > 0:
            step = min(left, _STREAM_PIECE)
            rng.standard_normal(step)
            left -= step

    token = tokenize("portable_net-spiral", n, k, noise, seed, fdtype, name, rows)
    meta = np.empty((0, 2), dtype=fdtype)
    if name == "cupy":
        import cupy as cp

        meta = cp.empty((0, 2), dtype=fdtype)
    blocks, r0 = [], 0
    for i, (size, state) in enumerate(zip(rows, states)):
        part = dask.delayed(_spiral_chunk, pure=True)(
            state,
            n,
            noise,
            r0,
            r0 + size,
            fdtype,
            name == "cupy",
            dask_key_name=f"spiral-chunk-{token}-{i}",
        )
        blocks.append(da.from_delayed(part, shape=(size, 2), dtype=fdtype, meta=meta))
        r0 += size
    X = da.concatenate(blocks, axis=0) if len(blocks) > 1 else blocks[0]
    y = da.arange(total, chunks=(rows,), dtype=np.int64) // n
    if name == "cupy":
        y = y.map_blocks(lambda b: __import__("cupy").asarray(b), dtype=np.int64)
    return X, y
