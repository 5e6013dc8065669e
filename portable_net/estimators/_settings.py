"""The constructor's arguments of :class:`portable_net.Classifier`, checked when training
starts (scikit-learn checks in ``fit``, not in ``__init__``) against the table of
:mod:`portable_net.hyperparameters`, and the optimiser they choose."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import optim
from ..constraints import ESTIMATOR, REGRESSOR
from ..hyperparameters import check, check_all

__all__ = ["checked_settings", "optimizer_factory", "random_state"]


def random_state(seed: Any) -> np.random.RandomState:
    """scikit-learn's ``check_random_state``: None, an int or a RandomState."""
    seed = check("seed", seed, ESTIMATOR)
    if seed is None:
        return np.random.mtrand._rand
    if isinstance(seed, np.random.RandomState):
        return seed
    return np.random.RandomState(seed)


def checked_settings(estimator: Any) -> dict[str, Any]:
    """The estimator's constructor arguments, checked against :mod:`portable_net.hyperparameters`,
    as plain Python values by their names (``hidden``: the hidden layer sizes as a list)."""
    values = estimator.get_params()
    settings = check_all(ESTIMATOR, values)
    settings.update(check_all(REGRESSOR, values))  # the Regressor's loss
    settings["hidden"] = settings["hidden_layer_sizes"]
    return settings


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
    nesterov = settings["nesterovs_momentum"] and momentum > 0.0
    return lambda learning_rate: optim.SGD(learning_rate, momentum, nesterov=nesterov)
