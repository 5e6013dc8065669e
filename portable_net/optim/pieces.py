"""The pieces of an optimiser's update, one line of the notes each, on one parameter's arrays:
in place where the library's arrays are writable, rebinding where they are not (JAX), and
returning the new array either way. :mod:`portable_net.optim` chains them into SGD and Adam.

- :func:`l2_term`: the L2 term's gradient, ``dW += reg * W`` (on the weights, not the biases),
  with :func:`l2_coefficients` saying which entries it reaches;
- :func:`decay`: the same term taken on the weights themselves, ``W *= 1 - lr * reg``;
- :func:`descend`: ``W -= lr * dW``, the update itself;
- :func:`velocity_step`: momentum's ``v = mu * v - lr * dW``;
- :func:`adam_moments` and :func:`adam_step`: Adam's moment estimates and its corrected step,
  with :func:`adam_corrections` its bias corrections.

Written against the array API standard only; they branch on nothing but Python values, so
they trace under ``jax.jit``.
"""

from __future__ import annotations

import math
import numbers
from types import ModuleType
from typing import Any

__all__ = [
    "adam_corrections",
    "adam_moments",
    "adam_step",
    "decay",
    "descend",
    "l2_coefficients",
    "l2_term",
    "velocity_step",
]


def l2_coefficients(masks: list[Any], reg: Any) -> list[Any]:
    """Give each parameter its L2 coefficient, for ``l2_term``.

    Parameters
    ----------
    masks : list
        Each parameter's mask: 1 on the weights, 0 on the biases, a number or an array
        (``portable_net.network.weight_masks``).
    reg : float or 0-d array
        The L2 strength (times the rate where the gradients carry it).

    Returns
    -------
    list
        ``reg`` times each mask, None where nothing decays (a bias, or ``reg == 0``).

    Examples
    --------
    >>> from portable_net.optim import pieces
    >>> pieces.l2_coefficients([1.0, 0.0], 1e-3)
    [0.001, None]
    """
    if isinstance(reg, (int, float)) and reg == 0.0:
        return [None] * len(masks)
    return [None if isinstance(m, float) and m == 0.0 else reg * m for m in masks]


def l2_term(g: Any, w: Any, c: Any, *, in_place: bool = False) -> Any:
    """``dW + reg * W``: the L2 penalty's gradient added to a parameter's data gradient.

    The penalty is ``0.5 * reg * ||W||^2``; its gradient ``reg * W`` reaches the weights, not
    the biases (their coefficient is None).

    Parameters
    ----------
    g : array
        The data gradient ``dW`` of the parameter.
    w : array
        The parameter ``W``.
    c : float, array or None
        Its coefficient: ``reg``, or ``reg`` times a mask; None adds nothing.
    in_place : bool, default False
        ``g`` is the caller's temporary, added to where the library's arrays are writable
        (else a new array is made and ``g`` is left as it was).

    Returns
    -------
    array
        ``g + c * w`` (``g`` itself when ``c`` is None).

    Examples
    --------
    >>> import numpy as np
    >>> from portable_net.optim import pieces
    >>> pieces.l2_term(np.zeros(2), np.array([1.0, -2.0]), 0.5)
    array([ 0.5, -1. ])
    """
    if c is None:
        return g
    if in_place:
        g += c * w  # dW += reg * W
        return g
    return g + c * w


def decay(w: Any, c: Any) -> Any:
    """``W *= 1 - c``: the L2 term's share of a plain gradient step, taken on ``W`` itself.

    With the rate folded into the gradient (``c = lr * reg``), ``W -= lr * (dW + reg * W)``
    is ``W *= 1 - lr * reg`` followed by ``W -= lr * dW`` (:func:`descend`).

    Parameters
    ----------
    w : array
        The parameter, updated in place where the library's arrays are writable.
    c : float, array or None
        ``lr * reg``, or that times a mask; None changes nothing.

    Returns
    -------
    array
        The new ``W``.

    Examples
    --------
    >>> import numpy as np
    >>> from portable_net.optim import pieces
    >>> pieces.decay(np.ones(2), 0.1)
    array([0.9, 0.9])
    """
    if c is None:
        return w
    w *= 1.0 - c
    return w


def descend(w: Any, step: Any) -> Any:
    """``W -= step``: the update of one parameter.

    Parameters
    ----------
    w : array
        The parameter, updated in place where the library's arrays are writable.
    step : array
        ``lr * dW`` for plain SGD (with the L2 term), or another optimiser's step.

    Returns
    -------
    array
        The new ``W``.

    Examples
    --------
    >>> import numpy as np
    >>> from portable_net.optim import pieces
    >>> pieces.descend(np.ones(2), 0.1 * np.ones(2))
    array([0.9, 0.9])
    """
    w -= step
    return w


def velocity_step(v: Any, step: Any, momentum: float) -> Any:
    """Step momentum's velocity: ``v = momentum * v - step``.

    Parameters
    ----------
    v : array
        The velocity, updated in place where the library's arrays are writable.
    step : array
        ``lr * dW`` (with the L2 term).
    momentum : float
        ``mu`` in [0, 1).

    Returns
    -------
    array
        The new velocity.

    Examples
    --------
    >>> import numpy as np
    >>> from portable_net.optim import pieces
    >>> pieces.velocity_step(np.ones(2), 0.5 * np.ones(2), 0.9)
    array([0.4, 0.4])
    """
    v *= momentum
    v -= step
    return v


def adam_moments(
    g: Any, m: Any, v: Any, beta_1: float, beta_2: float, *, in_place: bool = False
) -> tuple[Any, Any]:
    """Update Adam's moment estimates by the gradient ``g``.

    ``m = beta_1 m + (1 - beta_1) g`` and ``v = beta_2 v + (1 - beta_2) g^2``.

    Parameters
    ----------
    g : array
        The gradient (with the L2 term).
    m, v : array
        The first and second moment estimates, updated in place where writable.
    beta_1, beta_2 : float
        Their decays, in [0, 1).
    in_place : bool, default False
        ``g`` is the caller's temporary, overwritten with ``(1 - beta_1) g`` instead of a
        new array.

    Returns
    -------
    m : array
        The new first moment estimate.
    v : array
        The new second moment estimate.

    Examples
    --------
    >>> import numpy as np
    >>> from portable_net.optim import pieces
    >>> pieces.adam_moments(np.array([2.0]), np.zeros(1), np.zeros(1), 0.9, 0.99)
    (array([0.2]), array([0.04]))
    """
    u = g * g  # g^2
    u *= 1.0 - beta_2
    v *= beta_2
    v += u  # v = b2 v + (1 - b2) g^2
    if in_place:
        g *= 1.0 - beta_1
    else:
        g = (1.0 - beta_1) * g
    m *= beta_1
    m += g  # m = b1 m + (1 - b1) g
    return m, v


def adam_step(
    xp: ModuleType,
    m: Any,
    v: Any,
    step_size: Any,
    bc2_sqrt: Any,
    epsilon: float,
    after_correction: bool,
    *,
    out: Any = None,
) -> Any:
    """Compute Adam's step from its moments.

    ``step_size * m / (sqrt(v) / bc2_sqrt + epsilon)`` (torch's placement of epsilon) or
    ``step_size * m / (sqrt(v) + epsilon)`` (scikit-learn's).

    Parameters
    ----------
    xp : module
        The arrays' namespace.
    m, v : array
        The moment estimates.
    step_size, bc2_sqrt : float or 0-d array
        From the bias corrections (:func:`adam_corrections`); ``bc2_sqrt`` is
        ``sqrt(1 - beta_2**t)``.
    epsilon : float
        Added to the denominator.
    after_correction : bool
        True: torch's placement of epsilon; False: scikit-learn's.
    out : array or None, default None
        An array of ``m``'s shape the caller no longer needs (the step's own gradient),
        written instead of a new array (writable libraries only).

    Returns
    -------
    array
        The step, to subtract from the parameter (:func:`descend`).

    Examples
    --------
    >>> import numpy as np
    >>> from portable_net.optim import pieces
    >>> pieces.adam_step(np, np.array([0.2]), np.array([0.04]), 1.0, 1.0, 0.0, True)
    array([1.])
    """
    d = xp.sqrt(v)  # the denominator
    if after_correction:
        d /= bc2_sqrt
    d += epsilon
    if out is None:
        out = m * step_size
    else:
        out[...] = m
        out *= step_size
    out /= d
    return out


def adam_corrections(
    opt: Any, xp: ModuleType, learning_rate: Any, t: Any, dtype: Any
) -> tuple[Any, Any]:
    """Compute Adam's bias corrections at step ``t`` (1 at the first update).

    Python floats for a Python int ``t``, as torch and scikit-learn compute them from a
    host-side count; for a traced 0-d ``t`` (a compiled loop), on the device in ``dtype``.

    Parameters
    ----------
    opt : Adam
        The optimiser (its betas and its placement of epsilon).
    xp : module
        The arrays' namespace.
    learning_rate : float or 0-d array
        The rate of this step.
    t : int or 0-d array
        The step count, 1 at the first update.
    dtype : dtype
        Where ``t`` is an array, the dtype of the corrections.

    Returns
    -------
    step_size : float or 0-d array
        ``lr / (1 - beta_1**t)``, times ``sqrt(1 - beta_2**t)`` too where epsilon goes
        before the correction (scikit-learn's placement).
    bc2_sqrt : float or 0-d array
        ``sqrt(1 - beta_2**t)``.

    Examples
    --------
    >>> from portable_net.optim import pieces
    >>> from portable_net.optim import Adam
    >>> pieces.adam_corrections(Adam(0.1, beta_1=0.5), None, 0.1, 1, None)[0]
    0.2
    """
    b1, b2 = opt.beta_1, opt.beta_2
    after = opt.epsilon_after_correction
    if isinstance(t, numbers.Integral):
        n = int(t)
        bc2_sqrt = math.sqrt(1.0 - b2**n)
        if after:
            return learning_rate / (1.0 - b1**n), bc2_sqrt
        return learning_rate * bc2_sqrt / (1.0 - b1**n), bc2_sqrt
    tf = xp.astype(t, dtype)
    step_size, bc2_sqrt = learning_rate / (1.0 - b1**tf), xp.sqrt(1.0 - b2**tf)
    return (step_size if after else step_size * bc2_sqrt), bc2_sqrt
