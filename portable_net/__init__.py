"""portable_net: neural-network classifiers with hand-written backpropagation, written once
against the Python array API standard, so the same code trains on NumPy, CuPy, PyTorch, JAX
or array-api-strict arrays, on the CPU or a GPU, with the same numbers on each.

The public names are imported when first used (PEP 562), so that ``import portable_net``
and the ``portable-net`` command start without importing NumPy and the array libraries
before they are needed (and Ctrl-C during those imports is the command's, not a traceback).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:  # what the lazy names are, for type checkers and readers
    from . import optim
    from ._backend import available_backends, get_namespace
    from .data import make_spiral
    from .errors import (
        NotFittedError,
        StopTraining,
        TrainingDiverged,
        TrainingInterrupted,
        TrainingWarning,
    )
    from .estimators import Classifier, Regressor
    from .export import to_onnx
    from .gradcheck import gradient_check
    from .history import History
    from .io import load, save
    from .loss import softmax_cross_entropy
    from .model import accuracy, init_params, loss_and_grads, predict, predict_proba
    from .plot import plot_data, plot_decision_regions, plot_loss
    from .training import train

__all__ = [
    "Classifier",
    "History",
    "NotFittedError",
    "Regressor",
    "StopTraining",
    "TrainingDiverged",
    "TrainingInterrupted",
    "TrainingWarning",
    "__version__",
    "accuracy",
    "available_backends",
    "get_namespace",
    "gradient_check",
    "init_params",
    "load",
    "loss_and_grads",
    "make_spiral",
    "optim",
    "plot_data",
    "plot_decision_regions",
    "plot_loss",
    "predict",
    "predict_proba",
    "save",
    "softmax_cross_entropy",
    "to_onnx",
    "train",
]

# each public name -> the module that defines it
_HOMES = {
    "Classifier": ".estimators",
    "History": ".history",
    "NotFittedError": ".errors",
    "StopTraining": ".errors",
    "TrainingDiverged": ".errors",
    "TrainingInterrupted": ".errors",
    "TrainingWarning": ".errors",
    "accuracy": ".model",
    "available_backends": "._backend",
    "get_namespace": "._backend",
    "gradient_check": ".gradcheck",
    "init_params": ".model",
    "load": ".io",
    "loss_and_grads": ".model",
    "make_spiral": ".data",
    "plot_data": ".plot",
    "plot_decision_regions": ".plot",
    "plot_loss": ".plot",
    "predict": ".model",
    "predict_proba": ".model",
    "Regressor": ".estimators",
    "save": ".io",
    "softmax_cross_entropy": ".loss",
    "to_onnx": ".export",
    "train": ".training",
}


def __getattr__(name: str) -> Any:
    if name == "optim":
        return importlib.import_module(".optim", __name__)
    if name in _HOMES:
        value = getattr(importlib.import_module(_HOMES[name], __name__), name)
        globals()[name] = value  # later uses find it directly
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
