"""The network's forward pass and backprop, in the training step's layout.

The public parameters are ``W_l`` (fan_in, fan_out) and ``b_l`` (fan_out,). The step works on
them packed in the (features, batch) layout of :mod:`portable_net.layers`, one column per
example:

    W1b = [W1^T | b1]   (H1, D + 1)  the first layer with its bias folded in: it multiplies
    Xt1 = [X^T; 1]      (D + 1, N)   the inputs, transposed, with a row of ones under them
    W_l^T               (H_l, H_{l-1}) and b_l as a column (H_l, 1), for l >= 2

so ``packed = [W1b, W2^T, b2, ..., WL^T, bL]``. A full-batch gradient is a sum over blocks of
examples (columns) in the fast engine (:mod:`portable_net.engines.fast`); here a batch is
one pass.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any, cast

from . import layers
from ._backend import device_of, from_host
from .loss import l2_penalty, one_hot, output_loss


def pack(xp: ModuleType, params: Mapping[str, Any], n_layers: int) -> list[Any]:
    """Public params -> [W1b, W2^T, b2, ..., WL^T, bL] (fresh arrays, the caller's untouched)."""
    W1b = xp.concat([params["W1"].T, xp.expand_dims(params["b1"], axis=1)], axis=1)  # (H1, D+1)
    packed = [row_major(xp, W1b)]
    for i in range(2, n_layers + 1):
        packed.append(row_major(xp, params[f"W{i}"].T))  # (H_i, H_{i-1})
        packed.append(xp.expand_dims(params[f"b{i}"], axis=1) + 0.0)  # (H_i, 1), a copy
    return packed


def row_major(xp: ModuleType, a: Any) -> Any:
    """A fresh copy of the 2-D ``a`` whose entries lie row by row where the library has a
    memory layout: NumPy and torch copy a transposed array column by column (as its view
    lies), and an update that mixes such a parameter with a row-major gradient (every product
    makes one) steps through memory with a stride. Reshaping to 1-D
    copies row by row; reshaping back is a view."""
    return xp.reshape(xp.reshape(a, (-1,)) + 0.0, a.shape)


def unpack(xp: ModuleType, packed: list[Any], n_features: int, *, copy: bool) -> dict[str, Any]:
    """[W1b, W2^T, b2, ...] -> {"W1": (D, H1), "b1": (H1,), ...}; views unless ``copy``."""

    def out(x: Any) -> Any:
        return xp.asarray(x, copy=True) if copy else x

    W1b = packed[0]
    params = {"W1": out(W1b[:, :n_features].T), "b1": out(W1b[:, n_features])}
    for i in range(2, len(packed) // 2 + 2):
        params[f"W{i}"] = out(packed[2 * i - 3].T)
        params[f"b{i}"] = out(packed[2 * i - 2][:, 0])
    return params


class SparseInputs:
    """Sparse inputs X (N, D), wrapped by their engine (:mod:`portable_net.engines.sparse`)
    and never densified: where the step's layout makes ``[X^T; 1]`` or ``[X, 1]``, they
    make their own. What the core asks of them: ``shape``, ``dtype``; ``X[a:b]``, rows a..b
    (sparse); ``take(index)``, rows gathered (a mini-batch, held-out rows); ``values``, the
    stored values (1-D, of X's library, device and dtype: what the checks read);
    ``with_ones()``, ``Xt1 = [X^T; 1]`` (D + 1, N) whose columns slice (blocks of
    examples) and whose ``W1b @ Xt1`` and ``dout @ Xt1.T``, the first layer's product and
    weight gradient (:func:`portable_net.layers.affine_forward`, ``affine_backward``), are
    sparse products."""

    shape: tuple[int, int]
    dtype: Any

    @property
    def values(self) -> Any:
        raise NotImplementedError

    def take(self, index: Any) -> Any:
        raise NotImplementedError

    def with_ones(self) -> Any:
        raise NotImplementedError


def inputs_with_ones(xp: ModuleType, X: Any) -> Any:
    """X (N, D) -> Xt1 = [X^T; 1] (D + 1, N): the inputs that W1b multiplies (sparse X: its
    own, sparse)."""
    if isinstance(X, SparseInputs):
        return X.with_ones()
    # like X's first column, not of X.shape[0] ones: a graph being traced (the ONNX export)
    # has rows that are known only when it runs
    ones = xp.ones_like(X[:, :1])  # (N, 1)
    return xp.concat([X.T, ones.T], axis=0)


def rows_with_ones(xp: ModuleType, X: Any) -> Any:
    """X (N, D) -> [X, 1] (N, D + 1): the inputs example by example (mini-batches gather
    rows of it; the step gets a batch transposed, ``Xt1`` of the batch). Sparse X: itself
    (a batch of its rows gets its ones with its ``Xt1``, :func:`batch_inputs`)."""
    if isinstance(X, SparseInputs):
        return X
    ones = xp.ones((X.shape[0], 1), dtype=X.dtype, device=device_of(X))
    return xp.concat([X, ones], axis=1)


def batch_inputs(xp: ModuleType, X1: Any, index: Any, take: Any = None) -> Any:
    """The rows ``index`` of [X, 1] (:func:`rows_with_ones`) in the step's layout, ``Xt1``
    of the batch (D + 1, B): gathered (contiguous) and transposed; ``take(X1, index)``
    gathers them (None: ``xp.take`` along the rows)."""
    if isinstance(X1, SparseInputs):
        return X1.take(index).with_ones()
    rows = xp.take(X1, index, axis=0) if take is None else take(X1, index)
    return xp.permute_dims(rows, (1, 0))


@dataclass
class StepData:
    """A training set in the step's layout: Xt1 = [X^T; 1] (D + 1, N), onehot (K, N)."""

    Xt1: Any
    onehot: Any

    @property
    def n(self) -> int:
        return cast(int, self.Xt1.shape[1])


def target_rows(xp: ModuleType, y: Any, n_rows: int, n_outputs: int, dtype: Any, output: str,
                sample_weight: Any = None) -> Any:  # fmt: skip
    """The targets example by example (N, K) in ``dtype``: one-hot rows of the labels y for
    ``"softmax"`` outputs, else y's real targets as (N, K); with ``sample_weight`` (N,),
    each example's weight as a last column (N, K + 1)."""
    if output == "softmax":
        rows = one_hot(xp, y, n_outputs, dtype)
    else:
        rows = xp.reshape(xp.astype(y, dtype, copy=True), (n_rows, n_outputs))
    if sample_weight is not None:
        rows = xp.concat([rows, xp.expand_dims(sample_weight, axis=1)], axis=1)
    return rows


def step_data(xp: ModuleType, X: Any, onehot_rows: Any) -> StepData:
    """X (N, D) and one-hot rows (N, K) -> the step's layout, made once per run."""
    return StepData(Xt1=inputs_with_ones(xp, X), onehot=xp.asarray(onehot_rows.T, copy=True))


def forward(
    xp: ModuleType, packed: list[Any], Xt1: Any, activation: Any = "relu"
) -> tuple[Any, list[Any]]:
    """Scores (K, B) of the columns of Xt1 (D + 1, B), and what backward needs per layer;
    ``activation`` names the hidden layers' (:data:`portable_net.layers.ACTIVATIONS`), or is
    a library's own (forward, backward) pair of it (:class:`portable_net.step.Kernels`)."""
    pair = layers.activation_pair(activation) if isinstance(activation, str) else activation
    activate = pair[0]
    n_layers = (len(packed) + 1) // 2
    caches = []
    h, cache = layers.affine_forward(packed[0], Xt1, None)  # (H1, B)
    for i in range(2, n_layers + 1):
        h, act_cache = activate(xp, h)  # (H_{i-1}, B)
        caches.append((cache, act_cache))
        h, cache = layers.affine_forward(packed[2 * i - 3], h, packed[2 * i - 2])  # (H_i, B)
    caches.append((cache, None))
    return h, caches


def backward(
    xp: ModuleType, dscores: Any, caches: list[Any], activation: Any = "relu"
) -> list[Any]:
    """d loss / d scores (K, B) -> [dW1b, dW2^T, db2, ...], last layer first; ``activation``
    as :func:`forward`'s."""
    pair = layers.activation_pair(activation) if isinstance(activation, str) else activation
    derivative = pair[1]
    n_layers = len(caches)
    grads: list[Any] = [None] * (2 * n_layers - 1)
    dout = dscores  # (H_i, B)
    cache, _ = caches[-1]
    for i in range(n_layers, 1, -1):
        dh, dW, db = layers.affine_backward(xp, dout, cache, need_dx=True, with_bias=True)
        grads[2 * i - 3], grads[2 * i - 2] = dW, db
        cache, act_cache = caches[i - 2]
        dout = derivative(xp, dh, act_cache)  # (H_{i-1}, B)
    _, grads[0], _ = layers.affine_backward(xp, dout, cache, need_dx=False, with_bias=False)
    return grads


def forward_scores(xp: ModuleType, packed: list[Any], Xt1: Any, activation: str = "relu") -> Any:
    """Scores (K, B) of the columns of Xt1 (D + 1, B)."""
    return forward(xp, packed, Xt1, activation)[0]


def blocks(targets_and_scale: tuple[Any, ...], block: int | None) -> Iterator[tuple[Any, ...]]:
    """The columns of a batch, block by block: ``targets_and_scale`` is (Xt1 (D + 1, B),
    targets (K, B), scale, weights), the scale a number or a (1, B) row and the weights a
    (1, B) row or None; yields each block's four, ``block`` examples at a time (None: one
    block, the arrays as they are). A batch's loss and gradient are sums over its examples,
    so they are sums over its blocks (whose temporaries stay in cache)."""
    Xt1 = targets_and_scale[0]
    n = Xt1.shape[1]
    if block is None or block >= n:
        yield targets_and_scale
        return
    for start in range(0, n, block):
        stop = min(start + block, n)  # the standard leaves slices past the end unspecified
        yield tuple(
            [a[:, start:stop] if getattr(a, "ndim", 0) == 2 else a for a in targets_and_scale]
        )


def add_block(
    total: tuple[Any, list[Any]], loss_sum: Any, grads: list[Any]
) -> tuple[Any, list[Any]]:
    """(loss sum, gradients) of the blocks so far, ``total``, plus one block's: the first
    block's own arrays, then added to in place where writable (a new array where not)."""
    if not total[1]:
        return loss_sum, grads
    summed = total[1]
    for j, g in enumerate(grads):
        part = summed[j]
        part += g
        summed[j] = part
    return (None if loss_sum is None else total[0] + loss_sum), summed


def backprop(
    xp: ModuleType,
    packed: list[Any],
    Xt1: Any,
    targets: Any,
    *,
    scale: Any = None,
    need_loss: bool = True,
    weights: Any = None,
    activation: str = "relu",
    output: str = "softmax",
    block: int | None = None,
) -> tuple[Any | None, list[Any]]:
    """The summed data loss (0-d, or None) and the scaled gradient, in the packed layout: Xt1
    (D + 1, N), targets (K, N) -> (loss sum, [dW1b, dW2^T, db2, ...]), as the training step
    computes them (:mod:`portable_net.step`): forward, loss and backward over blocks of
    ``block`` examples (None: one block). No L2 term (the update adds it). For callers that
    want the gradient alone: :func:`portable_net.loss_and_grads`, the gradient check, the
    chunks of a Dask array.

    ``scale``: the factor of each example's gradient, a number or a (1, N) row (None: 1/N,
    the mean); ``weights`` (1, N) or None: each example's weight in the loss's sum (the loss
    functions of :mod:`portable_net.loss`); ``activation``: the hidden layers'; ``output``:
    the output layer and its loss (:data:`portable_net.loss.OUTPUT_LOSSES`)."""
    scale = 1.0 / Xt1.shape[1] if scale is None else scale
    loss_of = output_loss(output)
    total: tuple[Any, list[Any]] = (None, [])
    for Xb, tb, sb, wb in blocks((Xt1, targets, scale, weights), block):
        scores, caches = forward(xp, packed, Xb, activation)  # (K, B)
        part, dscores = loss_of(xp, scores, tb, sb, need_loss=need_loss, weights=wb)
        total = add_block(total, part, backward(xp, dscores, caches, activation))
    return total


def loss_sum(
    xp: ModuleType,
    packed: list[Any],
    Xt1: Any,
    targets: Any,
    *,
    activation: str = "relu",
    output: str = "softmax",
    weighted: bool = False,
    block: int | None = None,
) -> Any:
    """The summed data loss (0-d), forward only, over blocks of ``block`` examples;
    ``weighted``: the targets' last row holds each example's weight (the weighted sum)."""
    loss_of = output_loss(output)
    total: Any = None
    for part_x, part_y in blocks((Xt1, targets), block):
        part_t, part_w = (part_y[:-1, :], part_y[-1:, :]) if weighted else (part_y, None)
        scores = forward_scores(xp, packed, part_x, activation)  # (K, B)
        part, _ = loss_of(xp, scores, part_t, 1.0, need_loss=True, need_grad=False,
                          weights=part_w)  # fmt: skip
        total = part if total is None else total + part
    return total


def mean_loss(xp: ModuleType, packed: list[Any], Xt1: Any, targets: Any, reg: float,
              n_features: int, **options: Any) -> Any:  # fmt: skip
    """The regularised mean loss (0-d), forward only: :func:`loss_sum` (``options``:
    ``activation``, ``output``, ``weighted``, ``block``) over the examples' count or, with
    ``weighted``, over the sum of their weights, plus the L2 penalty."""
    total = loss_sum(xp, packed, Xt1, targets, **options)
    count = xp.sum(targets[-1, :]) if options.get("weighted") else Xt1.shape[1]
    return total / count + penalty(xp, packed, n_features, reg)


def weights(packed: list[Any], n_features: int) -> list[Any]:
    """The regularised entries of the packed parameters: W1^T (W1b without its bias column),
    W2^T, ..., WL^T."""
    return [packed[0][:, :n_features], *packed[1::2]]


def penalty(xp: ModuleType, packed: list[Any], n_features: int, reg: float) -> Any:
    """0.5 * reg * sum ||W||^2, biases excluded (W1b's last column is b1)."""
    return l2_penalty(xp, weights(packed, n_features), reg)


@functools.lru_cache(maxsize=16)
def _mask_row(xp: ModuleType, device: Any, dtype: Any, width: int, n_features: int) -> Any:
    """(1, width): 1 for the first n_features columns, 0 after; from a Python list (no
    computation: a library that compiles would compile each operation), made once per
    library, device, dtype and sizes (never modified: the updates only multiply by it)."""
    ones = [[1.0] * n_features + [0.0] * (width - n_features)]
    return from_host(xp, ones, dtype, device)


def weight_masks(xp: ModuleType, packed: list[Any], n_features: int) -> list[Any]:
    """1 where a packed entry is a weight (regularised), 0 where it is a bias."""
    W1b = packed[0]
    masks = [_mask_row(xp, device_of(W1b), W1b.dtype, W1b.shape[1], n_features)]  # (1, D+1)
    for i in range(1, len(packed)):
        masks.append(1.0 if i % 2 == 1 else 0.0)
    return masks


def flat(xp: ModuleType, packed: list[Any]) -> Any:
    """The packed parameters ``[W1b, W2^T, b2, ...]`` (:mod:`portable_net.network`), each
    row by row, as one 1-D array (a new array): the vector L-BFGS moves; the update's
    vector where the step keeps the parameters as one (``StepSettings.flat``)."""
    return xp.concat([xp.reshape(p, (-1,)) for p in packed], axis=0)


def unflat(xp: ModuleType, theta: Any, shapes: tuple[tuple[int, int], ...]) -> list[Any]:
    """:func:`flat` undone: the packed parameters of ``shapes`` as views of ``theta``."""
    packed, start = [], 0
    for rows, cols in shapes:
        packed.append(xp.reshape(theta[start : start + rows * cols], (rows, cols)))
        start += rows * cols
    return packed
