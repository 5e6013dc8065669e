"""The training step's own layout of the network, and the block-wise partial gradient.

The public parameters are ``W_l`` (fan_in, fan_out) and ``b_l`` (fan_out,). The step works on
a packed form in the (features, batch) layout of :mod:`layers`:

    A1 = [W1^T | b1]   (H1, D + 1)   multiplies X1 = [X^T; 1] (D + 1, N): bias folded in
    W_l^T             (H_l, H_{l-1}) and b_l as a column (H_l, 1), for l >= 2

A full-batch gradient is a sum over blocks of examples (columns). :func:`partial` computes one
block's share; blocks that fit in cache are faster than passes over arrays that do not, and
the same function serves a GPU at millions of points and one chunk of a distributed array.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from . import layers
from ._backend import device_of

# Activations per block (H * B). Batches use blocks of at most 2**14 values (128 KiB in
# float64): below glibc's mmap threshold, so a step's few temporaries are not returned to the
# system and page-faulted back every step. Large batches (over 64 large blocks, where the
# allocator settles on reusing the same chunks) use blocks of about 2**17 values (1 MiB), which
# cost fewer calls per example.
BLOCK_ELEMENTS = 2**14
LARGE_BLOCK_ELEMENTS = 2**17
# torch on the CPU: several microseconds per call, so blocks of about 2**18 values (2 MiB in
# float64) pay, but only where glibc's heap keeps such temporaries (see heap_keeps_blocks):
# 1.15-3.5x faster per step there from 300 to 300,000 points; elsewhere the default blocks.
COARSE_BLOCK_ELEMENTS = 2**18
# On devices (GPU memory, JAX): one block unless a layer's activations would exceed this many
# values (256 MiB in float32), so that a step at millions of points holds a few blocks'
# temporaries rather than several copies of a whole layer's activations.
DEVICE_BLOCK_ELEMENTS = 2**26
# never fewer examples than this: below it, per-block call overhead dominates (wide layers)
MIN_BLOCK = 64


def pack(xp: ModuleType, params: Mapping[str, Any], n_layers: int) -> list[Any]:
    """Public params -> [A1, W2^T, b2, ..., WL^T, bL] (fresh arrays, the caller's untouched)."""
    A1 = xp.concat([params["W1"].T, xp.expand_dims(params["b1"], axis=1)], axis=1)  # (H1, D+1)
    packed = [A1]
    for i in range(2, n_layers + 1):
        packed.append(xp.asarray(params[f"W{i}"].T, copy=True))  # (H_i, H_{i-1})
        packed.append(xp.expand_dims(params[f"b{i}"], axis=1) + 0.0)  # (H_i, 1), a copy
    return packed


def unpack(xp: ModuleType, packed: list[Any], n_features: int, *, copy: bool) -> dict[str, Any]:
    """[A1, W2^T, b2, ...] -> {"W1": (D, H1), "b1": (H1,), ...}; views unless ``copy``."""

    def out(x: Any) -> Any:
        return xp.asarray(x, copy=True) if copy else x

    A1 = packed[0]
    params = {"W1": out(A1[:, :n_features].T), "b1": out(A1[:, n_features])}
    for i in range(2, len(packed) // 2 + 2):
        params[f"W{i}"] = out(packed[2 * i - 3].T)
        params[f"b{i}"] = out(packed[2 * i - 2][:, 0])
    return params


@dataclass
class Data:
    """A training set in the step's layout: X1 = [X^T; 1] (D + 1, N), onehot (K, N)."""

    X1: Any
    onehot: Any

    @property
    def n(self) -> int:
        return self.X1.shape[1]


def prepare_data(xp: ModuleType, X: Any, onehot_rows: Any) -> Data:
    """X (N, D) and one-hot rows (N, K) -> the step's layout, made once per run."""
    ones = xp.ones((1, X.shape[0]), dtype=X.dtype, device=device_of(X))
    return Data(X1=xp.concat([X.T, ones], axis=0), onehot=xp.asarray(onehot_rows.T, copy=True))


def block_size(packed: list[Any], n: int, *, large: bool | None = None) -> int:
    """Examples per block for a batch of n, the blocks made equal (see BLOCK_ELEMENTS).

    ``large`` allows the 1 MiB blocks of large batches; by default they are allowed unless
    glibc's mmap threshold is frozen at 128 KiB (see :func:`_mmap_threshold_frozen`), where
    every larger temporary would be mapped and unmapped again for every block.
    """
    if large is None:
        large = not _mmap_threshold_frozen()
    widest = max(p.shape[0] for p in packed[::2])
    big = max(MIN_BLOCK, LARGE_BLOCK_ELEMENTS // widest)
    if large and n >= 64 * big:
        most = big
    else:
        most = max(MIN_BLOCK, BLOCK_ELEMENTS // widest)
    n_blocks = -(-n // most)
    return -(-n // n_blocks)


def coarse_block_size(packed: list[Any], n: int) -> int:
    """Examples per block for libraries with costly calls (torch on the CPU): equal blocks of
    at most COARSE_BLOCK_ELEMENTS values where the heap keeps them, else :func:`block_size`."""
    if not heap_keeps_blocks():
        return block_size(packed, n)
    widest = max(p.shape[0] for p in packed[::2])
    most = max(MIN_BLOCK, COARSE_BLOCK_ELEMENTS // widest)
    n_blocks = -(-n // most)
    return -(-n // n_blocks)


def heap_keeps_blocks(limit: int = 2**22) -> bool:
    """Whether glibc was told (at start-up) to keep temporaries of a few MiB in its heap:
    MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ both at least ``limit`` bytes.

    Otherwise temporaries over 128 KiB may be mapped, or trimmed from the heap's top, and
    page-faulted back at every step, whose cost then depends on the order of the frees.
    """
    try:
        return all(
            int(os.environ.get(k, "0")) >= limit
            for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
        )
    except ValueError:
        return False


def device_block_size(packed: list[Any], n: int) -> int | None:
    """Examples per block on a device: None (one block) while the widest layer's activations
    of all n examples fit in DEVICE_BLOCK_ELEMENTS, else equal blocks that do."""
    widest = max(p.shape[0] for p in packed[::2])
    if widest * n <= DEVICE_BLOCK_ELEMENTS:
        return None
    most = max(MIN_BLOCK, DEVICE_BLOCK_ELEMENTS // widest)
    n_blocks = -(-n // most)
    return -(-n // n_blocks)


def _mmap_threshold_frozen() -> bool:
    """Whether this process's glibc keeps its mmap threshold at 128 KiB or so.

    glibc raises the threshold as large blocks are freed, unless any of MALLOC_TRIM_THRESHOLD_,
    MALLOC_TOP_PAD_, MALLOC_MMAP_MAX_ or MALLOC_MMAP_THRESHOLD_ was set when the process started:
    Dask's nanny starts its workers with MALLOC_TRIM_THRESHOLD_=65536, for one.
    """
    env = os.environ
    if "MALLOC_MMAP_THRESHOLD_" in env:
        try:
            return int(env["MALLOC_MMAP_THRESHOLD_"]) < 2**21
        except ValueError:
            return True
    return any(k in env for k in ("MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_"))


def partial(
    xp: ModuleType, packed: list[Any], X1: Any, onehot: Any, scale: float, *, need_loss: bool
) -> tuple[Any | None, list[Any]]:
    """One block's share of the data loss and of its gradient, in the packed layout.

    X1 (D + 1, B), onehot (K, B) -> (summed loss of the block or None, [dA1, dW2^T, db2, ...])
    with the gradient scaled by ``scale`` (1/N of the whole batch, times the learning rate when
    the caller folds it in). No regularisation here: it is added once per step, not per block.
    """
    n_layers = (len(packed) + 1) // 2
    # forward, keeping what backward needs
    caches = []
    h, cache = layers.affine_forward(packed[0], X1, None)  # (H1, B)
    for i in range(2, n_layers + 1):
        h, relu_cache = layers.relu_forward(xp, h)  # (H_{i-1}, B)
        h, cache_i = layers.affine_forward(packed[2 * i - 3], h, packed[2 * i - 2])  # (H_i, B)
        caches.append((cache, relu_cache))
        cache = cache_i
    loss_sum, dout = layers.softmax_xent_backward(xp, h, onehot, scale, need_loss=need_loss)

    # backward, last layer first
    grads: list[Any] = [None] * len(packed)
    for i in range(n_layers, 1, -1):
        dh, dW, db = layers.affine_backward(xp, dout, cache, need_dx=True, with_bias=True)
        grads[2 * i - 3], grads[2 * i - 2] = dW, db
        cache, relu_cache = caches[i - 2]
        dout = layers.relu_backward(xp, dh, relu_cache)  # (H_{i-1}, B)
    _, grads[0], _ = layers.affine_backward(xp, dout, cache, need_dx=False, with_bias=False)
    return loss_sum, grads


def forward_scores(xp: ModuleType, packed: list[Any], X1: Any) -> Any:
    """Scores (K, B) of the columns of X1 (D + 1, B); no caches kept."""
    h = packed[0] @ X1  # (H1, B)
    for i in range(1, len(packed), 2):
        h = packed[i] @ xp.maximum(h, 0.0) + packed[i + 1]  # (H_i, B)
    return h


def loss(
    xp: ModuleType,
    packed: list[Any],
    data: Data,
    reg: float,
    n_features: int,
    block: int | None = None,
) -> Any:
    """The regularised mean loss (0-d), forward only, block by block."""
    n = data.n
    block = n if block is None else block
    total = None
    for start in range(0, n, block):
        stop = min(start + block, n)
        X1, onehot = (
            (data.X1, data.onehot)
            if block >= n
            else (data.X1[:, start:stop], data.onehot[:, start:stop])
        )
        scores = forward_scores(xp, packed, X1)  # (K, B)
        shifted = scores - xp.max(scores, axis=0, keepdims=True)
        lse = xp.log(xp.sum(xp.exp(shifted), axis=0))  # (B,)
        part = xp.sum(lse) - xp.sum(onehot * shifted)
        total = part if total is None else total + part
    return total / n + penalty(xp, packed, n_features, reg)


def data_loss_and_grads(
    xp: ModuleType, packed: list[Any], data: Data, scale: float, block: int, *, need_loss: bool
) -> tuple[Any | None, list[Any]]:
    """The whole batch's summed data loss (or None) and scaled gradient: a sum over blocks."""
    n = data.n
    if block >= n:
        return partial(xp, packed, data.X1, data.onehot, scale, need_loss=need_loss)
    loss_sum, grads = None, None
    for start in range(0, n, block):
        stop = min(start + block, n)
        part_loss, part = partial(
            xp,
            packed,
            data.X1[:, start:stop],
            data.onehot[:, start:stop],
            scale,
            need_loss=need_loss,
        )
        if grads is None:
            loss_sum, grads = part_loss, part
            continue
        for j, p in enumerate(part):
            g = grads[j]
            g += p  # in place where writable, a new array where not (JAX)
            grads[j] = g
        if need_loss:
            loss_sum = loss_sum + part_loss
    return loss_sum, grads


def penalty(xp: ModuleType, packed: list[Any], n_features: int, reg: float) -> Any:
    """0.5 * reg * sum ||W||^2, biases excluded (A1's last column is b1)."""
    total = xp.sum(packed[0][:, :n_features] ** 2)
    for W in packed[1::2]:
        total = total + xp.sum(W * W)
    return (0.5 * reg) * total


def weight_masks(xp: ModuleType, packed: list[Any], n_features: int) -> list[Any]:
    """1 where a packed entry is a weight (regularised), 0 where it is a bias."""
    A1 = packed[0]
    cols = xp.arange(A1.shape[1], device=device_of(A1))
    masks = [xp.astype(xp.expand_dims(cols < n_features, axis=0), A1.dtype)]  # (1, D+1)
    for i in range(1, len(packed)):
        masks.append(1.0 if i % 2 == 1 else 0.0)
    return masks
