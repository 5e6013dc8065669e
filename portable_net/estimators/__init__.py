"""The scikit-learn estimator: :class:`Classifier`, a drop-in for
:class:`sklearn.neural_network.MLPClassifier` on any library's arrays (see
:mod:`._classifier`)."""

from ._classifier import Classifier

__all__ = ["Classifier"]
