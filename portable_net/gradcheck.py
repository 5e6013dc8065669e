"""Gradient checking: hand-written gradients against centred finite differences.

As the CS231n notes teach it: ``(f(x + h) - f(x - h)) / 2h`` and the relative error
``|a - n| / max(|a|, |n|)`` (both zero counts as a pass). Below 1e-7 is good, above 1e-2 the
gradient is wrong. Two things make the plain recipe report correct gradients as wrong, and
both are handled here:

* ReLU kinks. A point whose hidden unit has a pre-activation within the step of zero sees a
  different slope on each side: the centred difference averages them, the gradient takes one.
  The spiral's first point of every arm is the origin, which zero biases put exactly on every
  kink. For each checked entry the pre-activations of every row are compared at ``x - h`` and
  ``x + h``; rows where any unit changes side are left out of *both* the difference and the
  analytic gradient of that entry (the loss is then a mean over the other rows, smooth on the
  whole step), so the entry is still checked on the rows away from the kink.
* Rounding. float32 losses carry about 1e-7 of relative rounding, which the difference divides
  by ``2h``. The differences are taken in float64 (from the float32 values of the parameters
  and data) wherever the backend has float64; the hand-written gradient is the one computed in
  the caller's dtype. Without float64 the differences run in the caller's dtype with a larger
  step (``1e-2``), and a warning says the verdict is approximate.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import numpy as np

from . import network
from ._backend import dtype_name
from ._validation import check_int, check_real
from .layers import activation_pair
from .loss import one_hot, softmax_xent
from .model import check_inputs, loss_and_grads, with_l2

__all__ = ["GradientCheck", "gradient_check"]

#: the default step of the differences: in float64 (where they are taken when possible) ...
H_FLOAT64 = 1e-5
#: ... and in float32, on backends without float64
H_FLOAT32 = 1e-2
#: relative errors below this are good, below the second acceptable, above the third wrong
GOOD, ACCEPTABLE, WRONG = 1e-7, 1e-4, 1e-2


def verdict(error: float) -> str:
    """``"good"``, ``"acceptable"``, ``"suspicious"`` or ``"WRONG"`` for a relative error."""
    if not error < math.inf or error != error:
        return "WRONG"
    if error < GOOD:
        return "good"
    if error < ACCEPTABLE:
        return "acceptable"
    if error <= WRONG:
        return "suspicious"
    return "WRONG"


class GradientCheck(float):
    """The largest relative error of a gradient check, a float with the details attached.

    It compares and formats as the float it is (``gradient_check(...) < 1e-7``), and also
    carries:

    Attributes
    ----------
    errors : dict of str to float
        The largest relative error of each parameter's checked entries (0.0 where none could
        be checked).
    checked : dict of str to int
        How many entries of each parameter were compared.
    at_kinks : dict of str to int
        How many of those entries had rows on a ReLU kink within the step, left out of that
        entry's comparison (see the module's notes).
    skipped : dict of str to int
        Entries not compared at all: every row sat on a kink for them.
    h : float
        The finite-difference step used.
    dtype : str
        The dtype of the hand-written gradient (the data's).
    reference_dtype : str
        The dtype the differences were taken in (float64 wherever the backend has it).
    passed : bool
        Whether every checked entry's relative error is at most :data:`WRONG` (1e-2).
    """

    errors: dict[str, float]
    checked: dict[str, int]
    at_kinks: dict[str, int]
    skipped: dict[str, int]
    h: float
    dtype: str
    reference_dtype: str

    def __new__(cls, worst: float, **details: Any) -> GradientCheck:
        result = super().__new__(cls, worst)
        for name, value in details.items():
            setattr(result, name, value)
        return result

    @property
    def passed(self) -> bool:
        return float(self) <= WRONG

    @property
    def verdicts(self) -> dict[str, str]:
        """:func:`verdict` of each parameter's error."""
        return {k: verdict(v) for k, v in self.errors.items()}

    def __repr__(self) -> str:
        return f"GradientCheck({float(self)!r}, errors={self.errors!r})"

    def __reduce__(self) -> Any:  # pickles as the plain float it is
        return (float, (float(self),))


def _forward(xp: ModuleType, params: Mapping[str, Any], n_layers: int, data: Any, weights: Any,
             reg: float, activation: str = "relu") -> tuple[Any, list[Any]]:  # fmt: skip
    """The loss, rows weighted by ``weights`` (1, N) (1/N: the mean), and which hidden
    pre-activations of each row are > 0 (ReLU's kinks; the other activations are smooth)."""
    packed = network.pack(xp, params, n_layers)
    h, caches = network.forward(xp, packed, data.Xt1, activation)  # the step's forward, (K, N)
    sides = [mask > 0 for _, mask in caches[:-1]] if activation == "relu" else []  # (H, N)
    # sum of weights * -log p[y], the step's loss function (it overwrites h: not used after)
    loss_sum, _ = softmax_xent(xp, h, data.onehot, 1.0, need_loss=True, need_grad=False,
                               weights=weights)  # fmt: skip
    n_features = data.Xt1.shape[0] - 1
    return loss_sum + network.penalty(xp, packed, n_features, reg), sides


def _weighted_grads(xp: ModuleType, params: Mapping[str, Any], n_layers: int, data: Any,
                    weights: Any, reg: float, activation: str = "relu") -> dict[str, Any]:  # fmt: skip
    """The hand-written gradient of the loss with rows weighted by ``weights`` (1, N): the
    training step's own backward pass, each row's gradient scaled by its weight."""
    packed = network.pack(xp, params, n_layers)
    _, packed_grads = network.backprop(
        xp, packed, data.Xt1, data.onehot, scale=weights, need_loss=False, activation=activation
    )
    n_features = data.Xt1.shape[0] - 1
    return network.unpack(xp, with_l2(xp, packed, packed_grads, n_features, reg), n_features,
                          copy=True)  # fmt: skip


def _reference_dtype(xp: ModuleType, device: Any, dtype: Any) -> Any | None:
    """float64 on this backend and device, or None where it has none."""
    if dtype == xp.float64:
        return dtype
    try:
        available = xp.__array_namespace_info__().dtypes(device=device, kind="real floating")
    except Exception:  # an incomplete namespace info: assume none
        return None
    return available.get("float64")


def _check(
    params: Mapping[str, Any],
    X: Any,
    y: Any,
    *,
    reg: float,
    h: float | None,
    max_entries: int | None,
    seed: int,
    activation: str = "relu",
) -> GradientCheck:
    reg = check_real("reg", reg, low=0.0)
    activation_pair(activation)  # raises for an unknown name
    if h is not None:
        h = check_real("h", h, low=0.0, low_open=True)
    if max_entries is not None:
        max_entries = check_int("max_entries", max_entries, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    xp, device, n_layers, params, X, y = check_inputs(params, X, y)
    dtype = X.dtype
    ref = _reference_dtype(xp, device, dtype)
    if ref is None:
        warnings.warn(
            f"gradient checking in {dtype} (this backend has no float64 here) is dominated by "
            "rounding: the verdict is approximate; use float64",
            UserWarning,
            stacklevel=3,
        )
        ref = dtype
        h = H_FLOAT32 if h is None else h
    elif dtype != ref:
        warnings.warn(
            f"gradient checking in {dtype}: the differences are taken in float64, the "
            "hand-written gradient in float32 carries its rounding; use float64",
            UserWarning,
            stacklevel=3,
        )
    h = H_FLOAT64 if h is None else h
    _, grads = loss_and_grads(params, X, y, reg=reg, activation=activation)
    n_classes = params[f"W{n_layers}"].shape[1]
    rparams = {k: xp.astype(v, ref) for k, v in params.items()}
    data = network.step_data(xp, xp.astype(X, ref), one_hot(xp, y, n_classes, ref))
    n = X.shape[0]
    mean = xp.full((1, n), 1.0 / n, dtype=ref, device=device)
    data_x = None  # the data in X's dtype, made if a row sits on a kink

    rng = np.random.default_rng(seed)
    errors, checked, at_kinks, skipped = {}, {}, {}, {}
    for key, p in rparams.items():
        size = math.prod(p.shape)
        entries: range | list[int] = range(size)
        if max_entries is not None and size > max_entries:
            entries = sorted(rng.choice(size, size=max_entries, replace=False).tolist())
        flat_index = xp.reshape(xp.arange(size, device=device), p.shape)
        flat_grad = xp.reshape(grads[key], (-1,))
        worst, n_checked, n_kinks, n_skipped = 0.0, 0, 0, 0
        for i in entries:
            # perturb one entry without mutating: where(index == i, p +- h, p)
            mask = flat_index == i
            plus = {**rparams, key: xp.where(mask, p + h, p)}
            minus = {**rparams, key: xp.where(mask, p - h, p)}
            f_plus, sides_plus = _forward(xp, plus, n_layers, data, mean, reg, activation)
            f_minus, sides_minus = _forward(xp, minus, n_layers, data, mean, reg, activation)
            crossed = None
            for a, b in zip(sides_plus, sides_minus):
                rows = xp.any(a != b, axis=0, keepdims=True)  # (1, N)
                crossed = rows if crossed is None else xp.logical_or(crossed, rows)
            analytic = float(flat_grad[i])
            if crossed is not None and bool(xp.any(crossed)):
                # rows on a kink within the step: compare on the mean over the others only
                n_kinks += 1
                keep = xp.astype(xp.logical_not(crossed), ref)
                n_keep = float(xp.sum(keep))
                if n_keep == 0.0:
                    n_skipped += 1
                    continue
                weights = keep / n_keep
                f_plus, _ = _forward(xp, plus, n_layers, data, weights, reg, activation)
                f_minus, _ = _forward(xp, minus, n_layers, data, weights, reg, activation)
                if data_x is None:
                    data_x = network.step_data(xp, X, one_hot(xp, y, n_classes, X.dtype))
                sub_grads = _weighted_grads(
                    xp, params, n_layers, data_x, xp.astype(weights, X.dtype), reg, activation
                )
                analytic = float(xp.reshape(sub_grads[key], (-1,))[i])
            numeric = (float(f_plus) - float(f_minus)) / (2.0 * h)
            n_checked += 1
            scale = max(abs(analytic), abs(numeric))
            if not math.isfinite(scale):
                worst = math.inf
            elif scale > 0.0:
                worst = max(worst, abs(analytic - numeric) / scale)
        errors[key], checked[key] = worst, n_checked
        at_kinks[key], skipped[key] = n_kinks, n_skipped
    return GradientCheck(
        max(errors.values()),
        errors=errors,
        checked=checked,
        at_kinks=at_kinks,
        skipped=skipped,
        h=h,
        dtype=dtype_name(dtype),
        reference_dtype=dtype_name(ref),
    )


def relative_errors(params: Mapping[str, Any], X: Any, y: Any, **options: Any) -> dict[str, float]:
    """The largest relative error of each parameter's checked entries: the ``errors`` of
    :func:`gradient_check` (which takes the same ``options``)."""
    return gradient_check(params, X, y, **options).errors


def gradient_check(
    params: Mapping[str, Any],
    X: Any,
    y: Any,
    *,
    reg: float = 1e-3,
    h: float | None = None,
    max_entries: int | None = 20,
    seed: int = 0,
    activation: str = "relu",
) -> GradientCheck:
    """The largest relative error between hand-written gradients and centred differences.

    Kink-aware and precise in any dtype (see the module's notes): rows that sit on a ReLU
    kink within the step are left out of the comparison of the entries they affect, and the
    differences are taken in float64 wherever the backend has it.

    Parameters
    ----------
    params : dict of str to array
        The model (``W1, b1, ..., WL, bL``), of X's library and device.
    X : array, shape (N, D)
        The examples.  Use a few rows: each checked entry costs two forward passes (and two
        more and a backward pass when rows sit on a kink).
    y : array of integers, shape (N,)
        Their labels, in ``[0, K)``.
    reg : float
        The L2 regularisation strength, as in :func:`loss_and_grads`.
    h : float or None
        The finite-difference step; None for 1e-5 (1e-2 on a backend without float64).
    max_entries : int or None
        Entries checked per parameter, chosen at random with ``seed``; None checks all.
    seed : int
        Seed of the choice of entries.
    activation : {"relu", "tanh", "logistic", "identity"}
        The hidden layers' activation (only ReLU has kinks).

    Returns
    -------
    GradientCheck
        A float, ``max |a - n| / max(|a|, |n|)`` over the checked entries (0 where both are
        0), that also carries the details: ``errors``, ``checked``, ``at_kinks`` and
        ``skipped`` per parameter, ``h``, ``dtype``, ``reference_dtype``, ``passed`` (the
        error at most 1e-2) and ``verdicts``. Below 1e-7 is good, above 1e-2 wrong.

    Warns
    -----
    UserWarning
        When the hand-written gradient is not float64 (its rounding shows in the errors).

    Examples
    --------
    >>> import portable_net as pn
    >>> X, y = pn.make_spiral(10, 3, seed=0)
    >>> params = pn.init_params([2, 20, 3], seed=0, scale=0.5)
    >>> result = pn.gradient_check(params, X[1:], y[1:], max_entries=5)
    >>> bool(result < 1e-7), result.passed
    (True, True)
    """
    return _check(
        params, X, y, reg=reg, h=h, max_entries=max_entries, seed=seed, activation=activation
    )
