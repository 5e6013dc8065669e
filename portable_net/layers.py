"""Layers as forward/backward pairs, in the (features, batch) layout.

Activations are stored transposed, one column per example: ``h`` is (H, B). Then the
softmax reduces over a short leading axis of K rows (fast on every library), a bias is a
column (H, 1), and the first layer folds its bias into its weights by a row of ones under X.

forward -> (out, cache); backward(dout, cache) -> gradients. The hidden activations are
scikit-learn's four (``identity``, ``logistic``, ``tanh``, ``relu``), each a pair, looked up
by name in :data:`ACTIVATIONS`. The output layers with their losses are in
:mod:`portable_net.loss`; the chain through the layers in :mod:`portable_net.network`.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

__all__ = ["ACTIVATIONS", "activation_pair"]


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


def identity_forward(xp: ModuleType, x: Any) -> tuple[Any, None]:
    """x (H, B) -> x (H, B), unchanged; no cache."""
    return x, None


def identity_backward(xp: ModuleType, dout: Any, cache: None) -> Any:
    """dout (H, B) -> dout (H, B): the identity's derivative is 1."""
    return dout


def sigmoid(xp: ModuleType, x: Any) -> Any:
    """1 / (1 + exp(-x)), elementwise, without overflow: exp of minus the magnitude only
    (``exp(-|x|)`` is in (0, 1]). A new array; ``x`` untouched."""
    e = xp.exp(-xp.abs(x))  # (H, B), in (0, 1]
    return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def logistic_forward(xp: ModuleType, x: Any) -> tuple[Any, Any]:
    """x (H, B) -> s = sigmoid(x) (H, B); the cache is s (the derivative is s (1 - s))."""
    s = sigmoid(xp, x)
    return s, s


def logistic_backward(xp: ModuleType, dout: Any, cache: Any) -> Any:
    """dout (H, B) -> dout * s * (1 - s) (H, B), in scikit-learn's order (``delta *= Z;
    delta *= 1 - Z``). Overwrites ``dout``, the caller's own temporary."""
    dout *= cache
    dout *= 1.0 - cache
    return dout


def tanh_forward(xp: ModuleType, x: Any) -> tuple[Any, Any]:
    """x (H, B) -> t = tanh(x) (H, B); the cache is t (the derivative is 1 - t^2)."""
    t = xp.tanh(x)
    return t, t


def tanh_backward(xp: ModuleType, dout: Any, cache: Any) -> Any:
    """dout (H, B) -> dout * (1 - t^2) (H, B). Overwrites ``dout``, the caller's own
    temporary."""
    dout *= 1.0 - cache**2
    return dout


#: name -> (forward, backward) of a hidden layer's activation: scikit-learn's names
ACTIVATIONS: dict[str, tuple[Callable[..., tuple[Any, Any]], Callable[..., Any]]] = {
    "identity": (identity_forward, identity_backward),
    "logistic": (logistic_forward, logistic_backward),
    "tanh": (tanh_forward, tanh_backward),
    "relu": (relu_forward, relu_backward),
}


def activation_pair(name: str) -> tuple[Callable[..., tuple[Any, Any]], Callable[..., Any]]:
    """The (forward, backward) pair of the activation ``name``; ValueError naming the four."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"activation must be one of {', '.join(map(repr, ACTIVATIONS))}, got {name!r}"
        ) from None
