"""The scikit-learn estimators: :class:`Classifier` and :class:`Regressor`, drop-ins for
:class:`sklearn.neural_network.MLPClassifier` and :class:`~sklearn.neural_network.MLPRegressor`
on any library's arrays (see :mod:`._classifier`, :mod:`._regressor`)."""

from ._classifier import Classifier
from ._regressor import Regressor

__all__ = ["Classifier", "Regressor"]
