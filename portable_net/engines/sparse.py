"""Sparse inputs: scipy.sparse matrices and arrays on NumPy, torch's sparse tensors.

Text as bag-of-words, one-hot encoded categories: inputs of many columns that are mostly
zero. They are never densified whole. :func:`sparse_inputs` checks one (its shape, dtype and
stored values, as scikit-learn's ``check_array`` with ``accept_sparse=["csr", "csc"]``) and
wraps it in a :class:`Rows`, the core's :class:`portable_net.network.SparseInputs`: it takes
the place of X (N, D) in the estimators, of ``Xt1 = [X^T; 1]`` (:class:`Columns`) in the
forward and backward passes, with the first layer's product ``W1b @ Xt1`` and its weight
gradient ``dout @ Xt1^T`` computed sparse (:mod:`portable_net.layers` multiplies with ``@``:
the dense operand hands the product to these classes). Every other layer, the losses and the
optimisers see dense arrays, as always.

scipy's matrices are kept as CSR (rows: mini-batches, blocks and held-out rows are slices or
gathers of rows); torch's tensors as coalesced COO (the layout whose rows torch gathers).
Other libraries' sparse arrays are refused by the estimators with a clear error.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

import array_api_compat
import numpy as np

from ..network import SparseInputs

__all__ = ["Columns", "Rows", "is_sparse", "sparse_inputs"]


def _scipy_sparse(x: Any) -> bool:
    # scipy is looked up, not imported: a sparse matrix exists only if scipy is loaded
    module = sys.modules.get("scipy.sparse")
    return module is not None and bool(module.issparse(x))


def _torch_sparse(x: Any) -> bool:
    return array_api_compat.is_torch_array(x) and str(x.layout) != "torch.strided"


def is_sparse(x: Any) -> bool:
    """Whether ``x`` is a sparse matrix or tensor of a library (scipy.sparse, torch's sparse
    layouts, CuPy's and JAX's sparse arrays), or one wrapped already."""
    if isinstance(x, SparseInputs) or _scipy_sparse(x) or _torch_sparse(x):
        return True
    module = type(x).__module__
    return module.startswith(("cupyx.scipy.sparse", "jax.experimental.sparse"))


def sparse_inputs(X: Any, name: str) -> Rows:
    """A library's sparse X (N, D) as the core's :class:`Rows`, checked: 2-D, non-empty,
    floating (integers and booleans as float64, as scikit-learn), finite stored values;
    ``name`` is the estimator's (for messages). TypeError for a library whose sparse arrays
    are not supported here."""
    if isinstance(X, Rows):
        return X
    if _scipy_sparse(X):
        import scipy.sparse

        matrix = scipy.sparse.csr_array(X)  # rows; a copy only of another format
        if matrix.dtype.kind not in "f" or matrix.dtype.itemsize < 4:
            matrix = matrix.astype(np.float64)
        rows = Rows(matrix, np)
    elif _torch_sparse(X):
        import torch

        if X.dim() != 2:
            raise ValueError(f"Found array with dim {X.dim()}. {name} expected 2.")
        matrix = X.to_sparse_coo() if X.layout != torch.sparse_coo else X
        matrix = matrix.coalesce()
        if not matrix.dtype.is_floating_point or matrix.dtype in (torch.float16, torch.bfloat16):
            matrix = matrix.to(torch.float64 if matrix.device.type == "cpu" else torch.float32)
        rows = Rows(matrix, array_api_compat.array_namespace(matrix.values()))
    else:
        raise TypeError(
            f"{name} takes sparse input as scipy.sparse matrices or arrays (with NumPy) or "
            f"torch sparse tensors, not {type(X).__module__}.{type(X).__name__}; pass X.todense() "
            "(a dense array of its library) or a scipy.sparse matrix"
        )
    n, d = rows.shape
    if n == 0 or d == 0:
        raise ValueError(
            f"Found array with {'0 sample(s)' if n == 0 else '0 feature(s)'} (shape={(n, d)}) "
            f"while a minimum of 1 is required by {name}."
        )
    values = rows.values
    xp = rows.xp
    if not bool(xp.all(xp.isfinite(values))):
        what = "NaN" if bool(xp.any(xp.isnan(values))) else "infinity or a value too large"
        raise ValueError(f"Input X contains {what}.")
    return rows


class Rows(SparseInputs):
    """X (N, D) sparse: scipy's CSR array, or torch's coalesced COO tensor (``matrix``),
    with ``xp`` the namespace of its dense arrays."""

    # NumPy hands ``dense @ self`` to __rmatmul__ (not an array to convert)
    __array_ufunc__ = None

    def __init__(self, matrix: Any, xp: ModuleType):
        self.matrix, self.xp = matrix, xp
        self.torch = _torch_sparse(matrix)
        # torch: the transpose (a view) made here, where it may be: a view of a tensor made
        # outside torch.inference_mode cannot be made inside it (the steps run there)
        self.transposed = matrix.t() if self.torch else None
        self.shape = (int(matrix.shape[0]), int(matrix.shape[1]))
        self.ndim = 2
        self.dtype = matrix.dtype

    def __array_namespace__(self, api_version: Any = None) -> ModuleType:
        return self.xp

    @property
    def device(self) -> Any:
        return self.matrix.device if self.torch else "cpu"

    @property
    def values(self) -> Any:
        """The stored values (1-D, of X's library, device and dtype)."""
        return self.matrix.values() if self.torch else self.matrix.data

    def __getitem__(self, key: Any) -> Rows:
        """Rows a..b (``X[a:b]``, ``X[a:b, ...]``)."""
        rows = key[0] if isinstance(key, tuple) else key
        if not isinstance(rows, slice) or (isinstance(key, tuple) and key[1:] != (Ellipsis,)):
            raise TypeError(f"sparse inputs take row slices, not {key!r}")
        start, stop, _ = rows.indices(self.shape[0])
        if not self.torch:
            return Rows(self.matrix[start:stop], self.xp)
        return self.take(self.xp.arange(start, stop, device=self.device))

    def take(self, index: Any) -> Rows:
        """The rows ``index`` (an integer array of X's library), in that order."""
        if self.torch:
            return Rows(self.matrix.index_select(0, index).coalesce(), self.xp)
        return Rows(self.matrix[np.asarray(index)], self.xp)

    def with_ones(self) -> Columns:
        return Columns(self)


class Columns:
    """``Xt1 = [X^T; 1]`` (D + 1, B) of the rows of ``rows``: the first layer's inputs in the
    step's layout. Its columns (examples) slice; ``W1b @ Xt1`` is the first layer's product;
    ``Xt1.T`` the transpose its weight gradient multiplies."""

    __array_ufunc__ = None

    def __init__(self, rows: Rows):
        self.rows = rows
        self.shape = (rows.shape[1] + 1, rows.shape[0])
        self.ndim = 2
        self.dtype = rows.dtype

    def __getitem__(self, key: Any) -> Columns:
        """Columns a..b (``Xt1[:, a:b]``: a block of examples)."""
        if not (isinstance(key, tuple) and len(key) == 2 and key[0] == slice(None)):
            raise TypeError(f"sparse inputs take column slices, not {key!r}")
        return Columns(self.rows[key[1]])

    def __rmatmul__(self, W: Any) -> Any:
        """``W1b @ Xt1``: W (M, D + 1) -> (M, B), ``W[:, :D] @ X^T + W[:, D]``."""
        rows, d = self.rows, self.rows.shape[1]
        matrix = rows.matrix
        if rows.torch:
            import torch

            out = torch.sparse.mm(matrix, W[:, :d].T).T  # (M, B)
        else:  # one product of the sparse rows with each unit's weights, rows of W: no copy
            out = np.stack([matrix @ W[m, :d] for m in range(W.shape[0])])
        return out + W[:, d:]

    @property
    def T(self) -> _Transposed:
        return _Transposed(self)


class _Transposed:
    """``Xt1^T = [X, 1]`` (B, D + 1): what ``dout @ Xt1^T``, the first layer's weight
    gradient, multiplies."""

    __array_ufunc__ = None

    def __init__(self, columns: Columns):
        self.columns = columns
        self.shape = (columns.shape[1], columns.shape[0])
        self.ndim = 2

    def __rmatmul__(self, dout: Any) -> Any:
        """``dout @ [X, 1]``: dout (M, B) -> (M, D + 1), ``[dout @ X, sum(dout, axis=1)]``."""
        rows = self.columns.rows
        xp, matrix = rows.xp, rows.matrix
        bias = xp.sum(dout, axis=1, keepdims=True)  # (M, 1): the ones column's
        if rows.torch:
            import torch

            weights = torch.sparse.mm(rows.transposed, dout.T).T  # (M, D)
            return xp.concat([weights, bias], axis=1)
        out = np.empty((dout.shape[0], rows.shape[1] + 1), dtype=np.result_type(dout, rows.dtype))
        transposed = matrix.T  # CSC (D, B): each unit's row of the gradient in one product
        for m in range(dout.shape[0]):
            out[m, :-1] = transposed @ dout[m]
        out[:, -1:] = bias
        return out
