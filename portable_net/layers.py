"""Layers as forward/backward pairs: forward -> (out, cache), backward(dout, cache) -> grads."""

from __future__ import annotations

from types import ModuleType
from typing import Any


def affine_forward(x: Any, W: Any, b: Any) -> tuple[Any, tuple[Any, Any]]:
    """x (N, D) @ W (D, M) + b (M,) -> out (N, M)."""
    out = x @ W + b  # (N, M)
    return out, (x, W)


def affine_backward(
    xp: ModuleType, dout: Any, cache: tuple[Any, Any], *, need_dx: bool = True
) -> tuple[Any, Any, Any]:
    """dout (N, M) -> dx (N, D) or None, dW (D, M), db (M,)."""
    x, W = cache
    dW = x.T @ dout  # (D, M)
    db = xp.sum(dout, axis=0)  # (M,)
    dx = dout @ W.T if need_dx else None  # (N, D)
    return dx, dW, db


def relu_forward(xp: ModuleType, x: Any) -> tuple[Any, Any]:
    """max(0, x), elementwise; the output is its own cache (out > 0 exactly where x > 0)."""
    out = xp.maximum(x, 0.0)
    return out, out


def relu_backward(xp: ModuleType, dout: Any, cache: Any) -> Any:
    """Pass the gradient where the unit was active, zero elsewhere (no mask assignment)."""
    return xp.where(cache > 0, dout, 0.0)
