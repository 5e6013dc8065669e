"""The constructor's arguments of :class:`portable_net.Classifier`, checked when training
starts (scikit-learn checks in ``fit``, not in ``__init__``), and the optimiser they choose."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import optim
from .._validation import check_int, check_real
from ..schedule import SCHEDULES

__all__ = ["SOLVERS", "checked_settings", "optimizer_factory", "random_state"]

SOLVERS = ("sgd", "adam")


def random_state(seed: Any) -> np.random.RandomState:
    """scikit-learn's ``check_random_state``: None, an int or a RandomState."""
    if seed is None:
        return np.random.mtrand._rand
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        return np.random.RandomState(int(seed))
    if isinstance(seed, np.random.RandomState):
        return seed
    raise ValueError(
        f"random_state must be None, an int or a numpy.random.RandomState, not {seed!r}"
    )


def checked_settings(estimator: Any) -> dict[str, Any]:
    """The estimator's constructor arguments, checked, as plain Python values."""
    hidden = estimator.hidden_layer_sizes
    if isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool):
        hidden = [hidden]
    if isinstance(hidden, (str, bytes)) or not hasattr(hidden, "__iter__"):
        raise TypeError(f"hidden_layer_sizes must be an int or a sequence of ints, not {hidden!r}")
    hidden = [check_int(f"hidden_layer_sizes[{i}]", h, minimum=1) for i, h in enumerate(hidden)]
    if estimator.solver not in SOLVERS:
        why = " (portable_net has no L-BFGS solver)" if estimator.solver == "lbfgs" else ""
        raise ValueError(f"solver must be 'sgd' or 'adam', got {estimator.solver!r}{why}")
    if estimator.learning_rate not in SCHEDULES:
        raise ValueError(
            "learning_rate must be 'constant', 'invscaling' or 'adaptive' (the step size "
            f"itself is learning_rate_init), got {estimator.learning_rate!r}"
        )
    batch_size = estimator.batch_size
    if batch_size != "auto":
        if isinstance(batch_size, str):
            raise ValueError(f"batch_size must be 'auto' or an int, got {batch_size!r}")
        batch_size = check_int("batch_size", batch_size, minimum=1)
    for name in ("shuffle", "verbose", "warm_start", "nesterovs_momentum", "early_stopping"):
        value = getattr(estimator, name)
        if not isinstance(value, (bool, np.bool_, numbers.Integral)):
            raise TypeError(f"{name} must be a bool, not {value!r}")
    random_state(estimator.random_state)  # raises for a bad one
    e = estimator
    return {
        "hidden": hidden,
        "batch_size": batch_size,
        "alpha": check_real("alpha", e.alpha, low=0.0),
        "learning_rate_init": check_real(
            "learning_rate_init", e.learning_rate_init, low=0.0, low_open=True
        ),
        "power_t": check_real("power_t", e.power_t, low=0.0),
        "max_iter": check_int("max_iter", e.max_iter, minimum=1),
        "tol": check_real("tol", e.tol, low=0.0),
        "momentum": check_real("momentum", e.momentum, low=0.0, high=1.0),
        "validation_fraction": check_real(
            "validation_fraction", e.validation_fraction, low=0.0, high=1.0, high_open=True
        ),
        "beta_1": check_real("beta_1", e.beta_1, low=0.0, high=1.0, high_open=True),
        "beta_2": check_real("beta_2", e.beta_2, low=0.0, high=1.0, high_open=True),
        "epsilon": check_real("epsilon", e.epsilon, low=0.0, low_open=True),
        "n_iter_no_change": check_int("n_iter_no_change", e.n_iter_no_change, minimum=1),
    }


def optimizer_factory(estimator: Any, settings: dict[str, Any]) -> Callable[[float], Any]:
    """``make(learning_rate)`` -> the :mod:`portable_net.optim` optimiser of one epoch: the
    step size comes per epoch from the schedule; Adam keeps ``learning_rate_init``, as
    MLPClassifier's Adam has no schedule.

    The optimiser's state (velocities; Adam's moments and step count) is not the
    optimiser's: the epochs carry it (``estimator._optimizer_state``), ``partial_fit`` keeps
    it and ``fit`` starts anew, also with ``warm_start``, as MLPClassifier does.
    """
    if estimator.solver == "adam":
        adam = optim.Adam(
            settings["learning_rate_init"],
            settings["beta_1"],
            settings["beta_2"],
            settings["epsilon"],
            epsilon_after_correction=False,  # MLPClassifier's placement
        )
        return lambda learning_rate: adam
    momentum = settings["momentum"]
    if momentum >= 1.0:
        raise ValueError(f"momentum must be in [0, 1) for training, got {momentum!r}")
    nesterov = bool(estimator.nesterovs_momentum) and momentum > 0.0
    return lambda learning_rate: optim.SGD(learning_rate, momentum, nesterov=nesterov)
