"""portable_net: neural-network classifiers with hand-written backpropagation, written once
against the Python array API standard, so the same code trains on NumPy, CuPy, PyTorch, JAX
or array-api-strict arrays, on the CPU or a GPU, with the same numbers on each.
"""

from . import optim
from ._backend import available_backends, get_namespace
from ._version import __version__
from .data import make_spiral
from .errors import (
    NotFittedError,
    StopTraining,
    TrainingDiverged,
    TrainingInterrupted,
    TrainingWarning,
)
from .estimators import Classifier, Regressor
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
    "train",
]
