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
    """max(0, x), elementwise, as ``x * mask``; the cache is the mask (1.0 where x > 0, else
    0.0, of x's dtype). Overwrites ``x``, which must be the caller's own temporary.

    Multiplying by a 0/1 mask runs without data-dependent branches (NumPy's ``maximum`` and
    ``where`` branch on each element's sign, which is slow when the signs are mixed, as a
    hidden layer's are), and the backward pass is then one multiplication. (Only the sign of zero differs from ``maximum``: -0.0 for
    negative inputs, which no later sum or product can tell from 0.0.)
    """
    mask = xp.astype(x > 0, x.dtype)
    x *= mask  # in place on our own temporary (rebinds on immutable arrays)
    return x, mask


def relu_backward(xp: ModuleType, dout: Any, cache: Any) -> Any:
    """Pass the gradient where the unit was active, zero elsewhere: ``dout * mask`` (no mask
    assignment). Overwrites ``dout``, which must be the caller's own temporary."""
    dout *= cache
    return dout
