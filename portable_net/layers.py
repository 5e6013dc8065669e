"""Layers as forward/backward pairs, in the (features, batch) layout.

Activations are stored transposed, one column per example: ``h`` is (H, B). Then the
softmax reduces over a short leading axis of K rows (fast on every library), a bias is a
column (H, 1), and the first layer folds its bias into its weights by a row of ones under X.

forward -> (out, cache); backward(dout, cache) -> gradients. The loss layer (softmax
cross-entropy) is in :mod:`portable_net.loss`; the chain through the layers in
:mod:`portable_net.network`.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any


def affine_forward(W: Any, x: Any, b: Any | None) -> tuple[Any, tuple[Any, Any]]:
    """W (M, D) @ x (D, B) (+ b (M, 1)) -> out (M, B)."""
    out = W @ x  # (M, B)
    if b is not None:
        out += b  # in place on our own fresh array (rebinds on immutable arrays)
    return out, (W, x)


def affine_backward(
    xp: ModuleType, dout: Any, cache: tuple[Any, Any], *, need_dx: bool, with_bias: bool
) -> tuple[Any | None, Any, Any | None]:
    """dout (M, B) -> dx (D, B) or None, dW (M, D), db (M, 1) or None."""
    W, x = cache
    dW = dout @ x.T  # (M, D)
    db = xp.sum(dout, axis=1, keepdims=True) if with_bias else None  # (M, 1)
    dx = W.T @ dout if need_dx else None  # (D, B)
    return dx, dW, db


def relu_forward(xp: ModuleType, x: Any) -> tuple[Any, Any]:
    """max(0, x), elementwise; the output is its own cache (out > 0 exactly where x > 0)."""
    out = xp.maximum(x, 0.0)
    return out, out


def relu_backward(xp: ModuleType, dout: Any, cache: Any) -> Any:
    """Pass the gradient where the unit was active, zero elsewhere (no mask assignment)."""
    return xp.where(cache > 0, dout, 0.0)
