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

from .._backend import int_dtype, to_host
from ..engines import is_lazy, lazy_count_equal, lazy_predict, lazy_predict_proba
from ..model import class_probabilities, decided_labels, outputs
from ..model import predict_proba as model_predict_proba
from ._epochs import fit
from ._inputs import HostLabels, classes_array, host_labels, lazy_fit_inputs, validate_X
from ._mlp import MLP, UNCHANGED, stochastic_only
from ._outputs import (
    classifier_targets,
    label_indicator,
    multilabel_indicator,
    set_output,
)

__all__ = ["Classifier"]


class Classifier(MLP):
    """A network classifier trained by hand-written backprop, MLPClassifier's way.

    The parameters, fitted attributes and methods are those of
    :class:`sklearn.neural_network.MLPClassifier` where the meaning is the same; docs/sklearn.md
    has the side-by-side table. Input of any supported library (NumPy, PyTorch, JAX, CuPy,
    array-api-strict) trains in that library on that device; fitted arrays and results stay
    there. Lists, pandas DataFrames/Series and other array-likes are NumPy input; scipy.sparse
    matrices (NumPy) and torch's sparse tensors are taken sparse, never densified.

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default=(100,)
        Width of each hidden layer; ``()`` is the linear classifier.
    solver : {"lbfgs", "sgd", "adam"}, default="adam"
        The optimiser: scipy's L-BFGS-B over the full batch (scipy must be installed; no
        ``partial_fit``), or SGD and Adam (:mod:`portable_net.optim`), MLPClassifier's
        formulation of each.
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
        Hold out ``validation_fraction`` of the data (MLPClassifier's rows: stratified for
        two classes) and stop when its accuracy stops improving; the best weights are kept.
    validation_fraction : float, default=0.1
        In ``[0, 1)``.
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's parameters.
    n_iter_no_change : int or np.inf, default=10
        Epochs without improvement before stopping (``np.inf``: never).
    max_fun : int, default=15000
        L-BFGS only: the most evaluations of the loss and its gradient.
    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
        The hidden layers' activation (``portable_net.layers.ACTIVATIONS``).
    n_jobs : int or None, default=None
        Intra-op threads of the fit on the CPU (torch's, and NumPy's BLAS through
        threadpoolctl), restored afterwards: None chooses by the problem's size (one
        thread where more do not pay; a large mini-batch fit times its own batches on one
        thread and on the library's own setting, and takes the faster), -1 one per core.
        Not one of MLPClassifier's.

    Attributes
    ----------
    classes_ : array (K,)
        The labels, sorted: numeric and boolean labels in the library of X, strings as NumPy
        (``<U``, as MLPClassifier's; one class is fitted too, as MLPClassifier fits it).
    n_features_in_ : int
    feature_names_in_ : NumPy array of str (only when X had string column names)
    coefs_, intercepts_ : lists of arrays
        ``coefs_[i]`` has shape ``(n_in, n_out)`` of layer ``i + 1``; X's library and device.
    loss_ : float
        The loss of the last epoch (mean of the batch losses, as MLPClassifier).
    loss_curve_ : list of float
        Each epoch's loss (not after an L-BFGS fit, as MLPClassifier).
    best_loss_ : float or None (None with early stopping)
    validation_scores_ : list of float or None
    best_validation_score_ : float or None
    n_iter_ : int
        Epochs (L-BFGS: iterations) of the last call of ``fit`` or ``partial_fit``, as
        MLPClassifier counts them.
    t_ : int
        Samples seen.
    n_layers_ : int
    n_outputs_ : int
        Number of output units: 1 for two classes, K for K > 2 classes or K labels.
    out_activation_ : str
        ``"softmax"`` (K > 2 classes) or ``"logistic"`` (two classes: one output; a
        multilabel indicator y: one output per label), as MLPClassifier's.

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

    _classes_required = True

    # --- scikit-learn's estimator protocol (the parameters: Estimator) ---------------------

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's tags (called by scikit-learn only, so importing it here is free)."""
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags

        return Tags(
            estimator_type="classifier",
            target_tags=TargetTags(required=True),
            transformer_tags=None,
            classifier_tags=ClassifierTags(multi_class=True, multi_label=True),
            regressor_tags=None,
            array_api_support=True,
            input_tags=InputTags(two_d_array=True, sparse=True, allow_nan=False),
        )

    # --- fitting ----------------------------------------------------------------------------

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> Classifier:
        """Train on the examples X and their labels y.

        Up to ``max_iter`` epochs, fewer when the convergence test (``tol``,
        ``n_iter_no_change``) is met. With ``warm_start=True`` a fitted model continues.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            The examples, of any supported library and device (training runs there); a
            scipy.sparse matrix or a torch sparse tensor is never densified.
        y : array-like, shape (n_samples,) or (n_samples, n_labels)
            Their labels, of any type (integers, strings, booleans); or a multilabel
            indicator matrix of 0 and 1.
        sample_weight : array-like of shape (n_samples,), number or None
            Each row's weight in the loss (its weighted mean; None: equal weights),
            non-negative, not all zero.

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
        return cast(Classifier, fit(self, X, y, incremental=False, sample_weight=sample_weight))

    @stochastic_only
    def partial_fit(
        self, X: Any, y: Any, sample_weight: Any = None, classes: Any = None
    ) -> Classifier:
        """Train for one epoch over X and y.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            The examples.
        y : array-like, shape (n_samples,) or (n_samples, n_labels)
            Their labels (or a multilabel indicator matrix).
        sample_weight : array-like of shape (n_samples,), number or None
            Each row's weight in the loss, as for :meth:`fit`.
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
        >>> clf.n_iter_, len(clf.loss_curve_)  # this call's epochs, as MLPClassifier counts
        (1, 3)
        """
        return cast(
            Classifier,
            fit(self, X, y, incremental=True, classes=classes, sample_weight=sample_weight),
        )

    def _fit_targets(
        self, X: Any, y: Any, xp: Any, device: Any, first: bool, incremental: bool, classes: Any
    ) -> tuple[Any, Any]:
        """(the training loop's y, the labels to stratify the held-out rows by, or None)."""
        return classifier_targets(
            self, X, y, xp, device, first=first, incremental=incremental, classes=classes
        )

    def _lazy_targets(self, X: Any, y: Any, first: bool) -> tuple[Any, Any, Any]:
        """Chunked lazy inputs (Dask): softmax outputs for any number of classes."""
        X, y_index, labels = lazy_fit_inputs(self, X, y, first)
        if first:
            if labels.shape[0] < 2:
                raise ValueError(
                    f"{type(self).__name__} can't train when only one class is present"
                )
            self.classes_ = classes_array(labels, np, None)
            self._labels = HostLabels(labels)
            set_output(self, "softmax", int(labels.shape[0]))
        return X, y_index, None

    def set_partial_fit_request(
        self, *, classes: Any = UNCHANGED, sample_weight: Any = UNCHANGED
    ) -> Classifier:
        """Request ``classes`` and ``sample_weight`` for ``partial_fit``, as
        scikit-learn's ``set_partial_fit_request``."""
        return cast(
            Classifier,
            self._set_request("partial_fit", classes=classes, sample_weight=sample_weight),
        )

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
            Probabilities, columns in the order of ``classes_``, in X's library and device
            (two classes: ``[1 - p, p]`` of the one logistic output; multilabel: each
            label's probability).

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
            return lazy_predict_proba(self.params_, X, self._lazy_proba)
        X, xp, _ = validate_X(self, X, reset=False, method="predict_proba")
        return self._proba(X, xp)

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
        return xp.log(self._proba(X, xp))

    def predict(self, X: Any) -> Any:
        """Predict the label of each row, one of ``classes_``.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            The examples (a Dask array gives a lazy Dask array).

        Returns
        -------
        array, shape (n_samples,) or (n_samples, n_labels)
            Labels from ``classes_`` (NumPy for string labels, else X's library); for a
            multilabel fit, the indicator matrix (1 where a label's probability > 0.5).

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
            return lazy_predict(self.params_, X, self.classes_, self._lazy_proba)
        X, xp, device = validate_X(self, X, reset=False, method="predict")
        if self._multilabel:
            out = outputs(self.params_, X, activation=self.activation, output=self._output)
            return label_indicator(xp, out, int_dtype(xp, device))
        # two classes: the one logistic output above 0.5 is class 1; else the largest
        classes = self.classes_
        on_host = isinstance(classes, np.ndarray) and not array_api_compat.is_numpy_namespace(xp)
        found = decided_labels(self.params_, X, None if on_host else classes,
                               activation=self.activation, output=self._output)  # fmt: skip
        if not on_host:
            return found
        # string labels stay NumPy; a one-class fit's index 1 is its one class too
        return classes[np.minimum(to_host(found), classes.shape[0] - 1)]

    def _lazy_proba(self, params: Any, chunk: Any) -> Any:
        """One chunk's probabilities (Dask: softmax outputs)."""
        return model_predict_proba(params, chunk, activation=self.activation)

    def _proba(self, X: Any, xp: Any) -> Any:
        """The class (or label) probabilities of the checked X."""
        return class_probabilities(self.params_, X, activation=self.activation,
                                   output=self._output, multilabel=self._multilabel)  # fmt: skip

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
        indicator = multilabel_indicator(y) if self._multilabel else None
        if indicator is not None:  # every label of a row right (scikit-learn's accuracy)
            hits = np.all(to_host(pred) == indicator, axis=1)
        else:
            hits = to_host(pred) == host_labels(self, y, int(pred.shape[0]))
        if sample_weight is None:
            return float(np.mean(hits))
        w = (
            to_host(sample_weight)
            if array_api_compat.is_array_api_obj(sample_weight)
            else np.asarray(sample_weight, dtype=np.float64)
        )
        return float(np.average(hits, weights=w))
