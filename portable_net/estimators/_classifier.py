"""Classifier: the network as a scikit-learn estimator, on any library's arrays.

The names and the behaviour follow :class:`sklearn.neural_network.MLPClassifier` wherever the
meaning is the same (docs/sklearn.md lists every difference and its reason). scikit-learn is
optional: nothing here imports it unless scikit-learn itself asks (``__sklearn_tags__``) or is
already imported (the errors and warnings then also derive from scikit-learn's classes, see
:mod:`portable_net.errors`).

The class reads as MLPClassifier's public surface; the work is in the package's modules:
:mod:`._base` (the parameters), :mod:`._inputs` (scikit-learn's input checks),
:mod:`._epochs` (training), :mod:`._persistence` (files).
"""

from __future__ import annotations

from typing import Any, cast

import array_api_compat
import numpy as np

from .._backend import to_host
from ..engines import is_lazy, lazy_count_equal, lazy_predict, lazy_predict_proba
from ..model import predict as model_predict
from ..model import predict_proba as model_predict_proba
from . import _persistence
from ._base import Estimator
from ._epochs import fit
from ._inputs import host_labels, validate_X

__all__ = ["Classifier"]


class Classifier(Estimator):
    """A ReLU network classifier trained by hand-written backprop, MLPClassifier's way.

    The parameters, fitted attributes and methods are those of
    :class:`sklearn.neural_network.MLPClassifier` where the meaning is the same; docs/sklearn.md
    has the side-by-side table. Input of any supported library (NumPy, PyTorch, JAX, CuPy,
    array-api-strict) trains in that library on that device; fitted arrays and results stay
    there. Lists, pandas DataFrames/Series and other array-likes are NumPy input.

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default=(100,)
        Width of each hidden ReLU layer; ``()`` is the softmax linear classifier.
    solver : {"sgd", "adam"}, default="adam"
        The optimiser (:mod:`portable_net.optim`), MLPClassifier's formulation of each.
    alpha : float, default=1e-4
        L2 strength, scaled as MLPClassifier's: each batch's loss adds
        ``alpha / (2 * batch_size) * sum ||W||^2``.
    batch_size : int or "auto", default="auto"
        Mini-batch size, ``min(200, n_samples)`` for "auto"; clipped to ``[1, n_samples]``.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        The step-size schedule (MLPClassifier's, for ``solver="sgd"``).
    learning_rate_init : float, default=1e-3
        The initial step size.
    power_t : float, default=0.5
        Exponent of the ``"invscaling"`` schedule: ``lr = init / (t + 1) ** power_t``, ``t``
        the number of samples seen.
    max_iter : int, default=200
        Maximum number of epochs.
    shuffle : bool, default=True
        Shuffle the samples in each epoch.
    random_state : None, int or numpy.random.RandomState, default=None
        Seeds the initial weights, the shuffling and the validation split.
    tol : float, default=1e-4
        Convergence: training stops when the loss (or the validation score) does not improve
        by ``tol`` for ``n_iter_no_change`` epochs.
    verbose : bool, default=False
        Print the loss of each epoch.
    warm_start : bool, default=False
        ``fit`` continues from the fitted weights.
    momentum : float, default=0.9
        SGD momentum in [0, 1) (scikit-learn also accepts 1).
    nesterovs_momentum : bool, default=True
        Nesterov's momentum (with ``momentum > 0``).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified) and stop when its accuracy
        stops improving; the best weights are kept.
    validation_fraction : float, default=0.1
        In ``[0, 1)``.
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's parameters.
    n_iter_no_change : int, default=10
        Epochs without improvement before stopping.

    Attributes
    ----------
    classes_ : array (K,)
        The labels, sorted: numeric and boolean labels in the library of X, strings as NumPy.
    n_features_in_ : int
    feature_names_in_ : NumPy array of str (only when X had string column names)
    coefs_, intercepts_ : lists of arrays
        ``coefs_[i]`` has shape ``(n_in, n_out)`` of layer ``i + 1``; X's library and device.
    loss_ : float
        The loss of the last epoch (mean of the batch losses, as MLPClassifier).
    loss_curve_ : list of float
    best_loss_ : float or None (None with early stopping)
    validation_scores_ : list of float or None
    best_validation_score_ : float or None
    n_iter_ : int
        Epochs run.
    t_ : int
        Samples seen.
    n_layers_ : int
    n_outputs_ : int
        Number of output units: K (a softmax over K >= 2 units, also for two classes).
    out_activation_ : str
        ``"softmax"``.

    Examples
    --------
    >>> import portable_net as pn
    >>> X, y = pn.make_spiral(100, 3, seed=0)
    >>> clf = pn.Classifier(hidden_layer_sizes=(100,), solver="sgd", nesterovs_momentum=False,
    ...                     learning_rate_init=0.1, max_iter=1000, random_state=0)
    >>> clf = clf.fit(X, y)
    >>> clf.classes_, clf.n_iter_  # converged before max_iter
    (array([0, 1, 2]), 687)
    >>> clf.predict(X[:3]).shape, clf.predict_proba(X[:3]).shape
    ((3,), (3, 3))
    """

    # the fitted attributes set outside the class's own methods, or whose type is not that of
    # their first assignment (declarations only: none exists before fit, so ``hasattr`` still
    # tells a fitted estimator)
    classes_: Any
    coefs_: list[Any]
    intercepts_: list[Any]
    loss_curve_: list[float]
    best_loss_: float | None
    validation_scores_: list[float] | None
    best_validation_score_: float | None

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: Any = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change

    # --- scikit-learn's estimator protocol (the parameters: Estimator) ---------------------

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's tags (called by scikit-learn only, so importing it here is free)."""
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags

        return Tags(
            estimator_type="classifier",
            target_tags=TargetTags(required=True),
            transformer_tags=None,
            classifier_tags=ClassifierTags(multi_class=True, multi_label=False),
            regressor_tags=None,
            array_api_support=True,
            input_tags=InputTags(two_d_array=True, sparse=False, allow_nan=False),
        )

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "coefs_")

    @property
    def params_(self) -> dict[str, Any]:
        """The weights as the functional API takes them: ``{"W1", "b1", ..., "WL", "bL"}``.

        Examples
        --------
        >>> import portable_net as pn
        >>> X, y = pn.make_spiral(100, 3, seed=0)
        >>> clf = pn.Classifier(solver="sgd", nesterovs_momentum=False, max_iter=1000,
        ...                     learning_rate_init=0.1, random_state=0).fit(X, y)
        >>> pn.accuracy(clf.params_, X, y) == clf.score(X, y)
        True
        """
        self._check_is_fitted()
        out = {}
        for i, (W, b) in enumerate(zip(self.coefs_, self.intercepts_), start=1):
            out[f"W{i}"], out[f"b{i}"] = W, b
        return out

    # --- fitting ----------------------------------------------------------------------------

    def fit(self, X: Any, y: Any) -> Classifier:
        """Train on the examples X and their labels y.

        Up to ``max_iter`` epochs, fewer when the convergence test (``tol``,
        ``n_iter_no_change``) is met. With ``warm_start=True`` a fitted model continues.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            The examples, of any supported library and device (training runs there).
        y : array-like, shape (n_samples,)
            Their labels, of any type (integers, strings, booleans).

        Returns
        -------
        Classifier
            The fitted estimator itself.

        Examples
        --------
        >>> import portable_net as pn
        >>> X, y = pn.make_spiral(100, 3, seed=0)
        >>> clf = pn.Classifier(solver="sgd", nesterovs_momentum=False, max_iter=1000,
        ...                     learning_rate_init=0.1, random_state=0).fit(X, y)
        >>> clf.n_iter_  # converged: no improvement by tol for n_iter_no_change epochs
        687
        """
        return cast(Classifier, fit(self, X, y, incremental=False, classes=None))

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> Classifier:
        """Train for one epoch over X and y.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            The examples.
        y : array-like, shape (n_samples,)
            Their labels.
        classes : array-like or None
            All the labels that will ever be seen; required on the first call.

        Returns
        -------
        Classifier
            The estimator itself.

        Examples
        --------
        >>> import portable_net as pn
        >>> X, y = pn.make_spiral(100, 3, seed=0)
        >>> clf = pn.Classifier(solver="sgd", nesterovs_momentum=False, random_state=0)
        >>> for _ in range(3):
        ...     clf = clf.partial_fit(X, y, classes=[0, 1, 2])
        >>> clf.n_iter_
        3
        """
        return cast(Classifier, fit(self, X, y, incremental=True, classes=classes))

    # --- predicting -------------------------------------------------------------------------

    def predict_proba(self, X: Any) -> Any:
        """Compute the class probabilities of each row.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            The examples (a Dask array gives a lazy Dask array).

        Returns
        -------
        array, shape (n_samples, K)
            Probabilities, columns in the order of ``classes_``, in X's library and device.

        Examples
        --------
        >>> import portable_net as pn
        >>> X, y = pn.make_spiral(100, 3, seed=0)
        >>> clf = pn.Classifier(solver="sgd", nesterovs_momentum=False, max_iter=1000,
        ...                     learning_rate_init=0.1, random_state=0).fit(X, y)
        >>> proba = clf.predict_proba(X)
        >>> proba.shape, bool(abs(proba.sum(axis=1) - 1).max() < 1e-12)
        ((300, 3), True)
        """
        self._check_is_fitted()
        if is_lazy(X):  # computed chunk by chunk, when asked
            return lazy_predict_proba(self.params_, X, model_predict_proba)
        X, _, _ = validate_X(self, X, reset=False, method="predict_proba")
        return model_predict_proba(self.params_, X)

    def predict_log_proba(self, X: Any) -> Any:
        """Compute the log of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            The examples.

        Returns
        -------
        array, shape (n_samples, K)
            Log-probabilities, columns in the order of ``classes_``.

        Examples
        --------
        >>> import portable_net as pn
        >>> X, y = pn.make_spiral(100, 3, seed=0)
        >>> clf = pn.Classifier(solver="sgd", nesterovs_momentum=False, max_iter=1000,
        ...                     learning_rate_init=0.1, random_state=0).fit(X, y)
        >>> bool((clf.predict_log_proba(X) <= 0).all())
        True
        """
        self._check_is_fitted()
        X, xp, _ = validate_X(self, X, reset=False, method="predict_log_proba")
        return xp.log(model_predict_proba(self.params_, X))

    def predict(self, X: Any) -> Any:
        """Predict the label of each row, one of ``classes_``.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            The examples (a Dask array gives a lazy Dask array).

        Returns
        -------
        array, shape (n_samples,)
            Labels from ``classes_`` (NumPy for string labels, else X's library).

        Examples
        --------
        >>> import portable_net as pn
        >>> X, y = pn.make_spiral(100, 3, seed=0)
        >>> clf = pn.Classifier(solver="sgd", nesterovs_momentum=False, max_iter=1000,
        ...                     learning_rate_init=0.1, random_state=0).fit(X, y)
        >>> clf.predict(X[:5]).shape
        (5,)
        """
        self._check_is_fitted()
        if is_lazy(X):  # computed chunk by chunk, when asked
            return lazy_predict(self.params_, X, self.classes_, model_predict_proba)
        X, xp, _ = validate_X(self, X, reset=False, method="predict")
        index = model_predict(self.params_, X)
        if isinstance(self.classes_, np.ndarray) and not array_api_compat.is_numpy_namespace(xp):
            return self.classes_[to_host(index)]  # string labels stay NumPy
        return xp.take(self.classes_, index, axis=0)

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Compute the mean accuracy of ``predict(X)`` against ``y``.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            The examples.
        y : array-like, shape (n_samples,)
            Their true labels.
        sample_weight : array-like of shape (n_samples,) or None
            Weights of the rows; None weighs them equally.

        Returns
        -------
        float
            The (weighted) fraction of rows predicted right.

        Examples
        --------
        >>> import portable_net as pn
        >>> X, y = pn.make_spiral(100, 3, seed=0)
        >>> clf = pn.Classifier(solver="sgd", nesterovs_momentum=False, max_iter=1000,
        ...                     learning_rate_init=0.1, random_state=0).fit(X, y)
        >>> 0.0 <= clf.score(X, y) <= 1.0
        True
        """
        pred = self.predict(X)
        if is_lazy(pred):  # one pass over the chunks
            return cast(float, lazy_count_equal(pred, y) / pred.shape[0])
        y_host = host_labels(self, y, int(pred.shape[0]))
        hits = to_host(pred) == y_host
        if sample_weight is None:
            return float(np.mean(hits))
        w = (
            to_host(sample_weight)
            if array_api_compat.is_array_api_obj(sample_weight)
            else np.asarray(sample_weight, dtype=np.float64)
        )
        return float(np.average(hits, weights=w))

    # --- files ------------------------------------------------------------------------------

    def save(self, path: Any) -> Any:
        """Save the fitted classifier to one ``.npz`` file (no pickle).

        As :func:`portable_net.save`, the file holds the weights and, as plain data, the
        constructor's arguments, the labels, the fitted attributes and the library and device
        the model was fitted on (used by :meth:`load` when ``xp`` is not given).

        Parameters
        ----------
        path : str or path-like
            The file to write, exactly as named (``.npz`` is the convention).

        Returns
        -------
        pathlib.Path
            The path written.

        Raises
        ------
        NotFittedError
            Before :meth:`fit`.

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> import portable_net as pn
        >>> X, y = pn.make_spiral(100, 3, seed=0)
        >>> clf = pn.Classifier(solver="sgd", nesterovs_momentum=False, max_iter=1000,
        ...                     learning_rate_init=0.1, random_state=0).fit(X, y)
        >>> path = clf.save(Path(tempfile.mkdtemp()) / "clf.npz")
        >>> again = pn.Classifier.load(path)
        >>> bool((again.predict(X) == clf.predict(X)).all())
        True
        """
        self._check_is_fitted()
        return _persistence.save(self, path)

    @classmethod
    def load(cls, path: Any, *, xp: Any = None, device: Any = None) -> Classifier:
        """Load a fitted Classifier from a file written by :meth:`save`.

        A file written by :func:`portable_net.save` loads too. A model saved by
        ``portable-net train --standardize`` holds its inputs' mean and scale: they are
        folded into the first layer (``W1 / scale``, ``b1 - (mean / scale) @ W1``), so that
        the Classifier takes the raw features, as the command's ``predict`` does.

        Parameters
        ----------
        path : str or path-like
            The ``.npz`` file.
        xp : None, str or namespace
            Backend of the fitted arrays. None: the library the model was saved from (NumPy
            for files that do not record it).
        device : None, str or device
            Their device. None with ``xp=None``: the saved device when it exists here (else
            the library's default device, with a warning); None with an ``xp``: that
            library's default device.

        Returns
        -------
        Classifier
            The fitted classifier, its arrays in the chosen library and device.

        Raises
        ------
        FileNotFoundError, ValueError
            As :func:`portable_net.load`, and for saved labels that do not fit the model.
        ImportError
            When ``xp`` is None and the saved library is not installed here (the message
            says which ``xp=`` to pass instead).

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> import portable_net as pn
        >>> X, y = pn.make_spiral(100, 3, seed=0)
        >>> clf = pn.Classifier(solver="sgd", nesterovs_momentum=False, max_iter=1000,
        ...                     learning_rate_init=0.1, random_state=0).fit(X, y)
        >>> path = clf.save(Path(tempfile.mkdtemp()) / "clf.npz")
        >>> pn.Classifier.load(path).n_iter_  # xp="torch", device="cuda:0": elsewhere
        687
        """
        return cast(Classifier, _persistence.load(cls, path, xp, device))
