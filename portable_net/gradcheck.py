"""Gradient checking: hand-written gradients against centred finite differences.

As the CS231n notes teach it: ``(f(x + h) - f(x - h)) / 2h`` with ``h ~ 1e-5`` in float64,
and the relative error ``|a - n| / max(|a|, |n|)`` (both zero counts as a pass). Below 1e-7
is good; ReLU kinks can push it to 1e-4; above 1e-2 the gradient is wrong.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from . import network
from ._validation import check_int, check_real
from .loss import one_hot
from .model import check_inputs, loss_and_grads

__all__ = ["gradient_check"]


def relative_errors(
    params: Mapping[str, Any],
    X: Any,
    y: Any,
    *,
    reg: float = 1e-3,
    h: float = 1e-5,
    max_entries: int | None = 20,
    seed: int = 0,
) -> dict[str, float]:
    """The largest relative error of each parameter's checked entries."""
    reg = check_real("reg", reg, low=0.0)
    h = check_real("h", h, low=0.0, low_open=True)
    if max_entries is not None:
        max_entries = check_int("max_entries", max_entries, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    xp, device, n_layers, params, X, y = check_inputs(params, X, y)
    if not xp.isdtype(X.dtype, xp.float64):
        warnings.warn(
            f"gradient checking in {X.dtype} is dominated by rounding; use float64",
            UserWarning,
            stacklevel=3,
        )
    data = network.step_data(xp, X, one_hot(xp, y, params[f"W{n_layers}"].shape[1], X.dtype))
    _, grads = loss_and_grads(params, X, y, reg=reg)

    def loss_at(trial):
        packed = network.pack(xp, trial, n_layers)
        return float(network.mean_loss(xp, packed, data, reg, X.shape[1]))

    rng = np.random.default_rng(seed)
    errors = {}
    for key, p in params.items():
        size = int(np.prod(p.shape))
        if max_entries is None or size <= max_entries:
            entries = range(size)
        else:
            entries = sorted(rng.choice(size, size=max_entries, replace=False).tolist())
        flat_index = xp.reshape(xp.arange(size, device=device), p.shape)
        flat_grad = xp.reshape(grads[key], (-1,))
        worst = 0.0
        for i in entries:
            # perturb one entry without mutating: where(index == i, p +- h, p)
            mask = flat_index == i
            plus = {**params, key: xp.where(mask, p + h, p)}
            minus = {**params, key: xp.where(mask, p - h, p)}
            f_plus, f_minus = loss_at(plus), loss_at(minus)
            numeric = (f_plus - f_minus) / (2.0 * h)
            analytic = float(flat_grad[i])
            scale = max(abs(analytic), abs(numeric))
            if scale > 0.0:
                worst = max(worst, abs(analytic - numeric) / scale)
        errors[key] = worst
    return errors


def gradient_check(
    params: Mapping[str, Any],
    X: Any,
    y: Any,
    *,
    reg: float = 1e-3,
    h: float = 1e-5,
    max_entries: int | None = 20,
    seed: int = 0,
) -> float:
    """The largest relative error between hand-written gradients and centred differences.

    Parameters
    ----------
    params, X, y, reg
        As in :func:`loss_and_grads`.  Use float64 and a few rows: each checked entry costs
        two forward passes.
    h : float
        The finite-difference step.
    max_entries : int or None
        Entries checked per parameter, chosen at random with ``seed``; None checks all.

    Returns
    -------
    float
        ``max |a - n| / max(|a|, |n|)`` over the checked entries (0 where both are 0).
    """
    return max(
        relative_errors(params, X, y, reg=reg, h=h, max_entries=max_entries, seed=seed).values()
    )
