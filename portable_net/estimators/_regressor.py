"""Regressor: the network as scikit-learn's :class:`sklearn.neural_network.MLPRegressor`, on
any library's arrays.

The same constructor, training loop, engines and files as :class:`portable_net.Classifier`
(:mod:`._mlp`, :mod:`._epochs`); identity outputs with half the squared error
(:func:`portable_net.loss.squared_error`), one output per target column, and ``score`` as
R^2.
"""

from __future__ import annotations

from typing import Any, cast

from .._backend import to_host
from ..model import outputs
from ..targets import r2
from ._epochs import fit
from ._inputs import validate_X
from ._mlp import MLP, UNCHANGED
from ._outputs import fit_sample_weight, regressor_targets

__all__ = ["Regressor"]


class Regressor(MLP):
    """A network regressor trained by hand-written backprop, MLPRegressor's way.

    The parameters, fitted attributes and methods are those of
    :class:`sklearn.neural_network.MLPRegressor` where the meaning is the same (the
    parameters are :class:`portable_net.Classifier`'s; docs/sklearn.md has the side-by-side
    table). Input of any supported library (NumPy, PyTorch, JAX, CuPy, array-api-strict)
    trains in that library on that device; fitted arrays and predictions stay there.

    Parameters
    ----------
    hidden_layer_sizes, solver, alpha, batch_size, learning_rate, learning_rate_init, \
power_t, max_iter, shuffle, random_state, tol, verbose, warm_start, momentum, \
nesterovs_momentum, early_stopping, validation_fraction, beta_1, beta_2, epsilon, \
n_iter_no_change, activation
        As :class:`portable_net.Classifier`'s (MLPRegressor's defaults). With
        ``early_stopping``, the held-out rows (not stratified) are scored by R^2.

    Attributes
    ----------
    n_features_in_ : int
    feature_names_in_ : NumPy array of str (only when X had string column names)
    coefs_, intercepts_ : lists of arrays
        ``coefs_[i]`` has shape ``(n_in, n_out)`` of layer ``i + 1``; X's library and device.
    loss_ : float
        Half the mean squared error (over examples and outputs) of the last epoch, plus the
        L2 term, as MLPRegressor's.
    loss_curve_ : list of float
    best_loss_ : float or None (None with early stopping)
    validation_scores_ : list of float or None
        The held-out R^2 of each epoch (with ``early_stopping``).
    best_validation_score_ : float or None
    n_iter_ : int
    t_ : int
    n_layers_ : int
    n_outputs_ : int
        Number of targets (1 for a 1-D y).
    out_activation_ : str
        ``"identity"``.

    Examples
    --------
    >>> import numpy as np
    >>> import portable_net as pn
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-1, 1, (200, 2))
    >>> y = np.sin(3 * X[:, 0]) + X[:, 1] ** 2
    >>> reg = pn.Regressor(hidden_layer_sizes=(32,), max_iter=500, learning_rate_init=0.01,
    ...                    random_state=0).fit(X, y)
    >>> reg.predict(X[:3]).shape, reg.out_activation_
    ((3,), 'identity')
    >>> reg.score(X, y) > 0.9
    True
    """

    _default_out_activation = "identity"

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's tags (called by scikit-learn only, so importing it here is free)."""
        from sklearn.utils import InputTags, RegressorTags, Tags, TargetTags

        return Tags(
            estimator_type="regressor",
            target_tags=TargetTags(required=True, multi_output=True, single_output=True),
            transformer_tags=None,
            classifier_tags=None,
            regressor_tags=RegressorTags(),
            array_api_support=True,
            input_tags=InputTags(two_d_array=True, sparse=False, allow_nan=False),
        )

    # --- fitting ----------------------------------------------------------------------------

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> Regressor:
        """Train on the examples X and their targets y.

        Up to ``max_iter`` epochs, fewer when the convergence test (``tol``,
        ``n_iter_no_change``) is met. With ``warm_start=True`` a fitted model continues.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            The examples, of any supported library and device (training runs there).
        y : array-like, shape (n_samples,) or (n_samples, n_outputs)
            The real targets.
        sample_weight : array-like of shape (n_samples,), number or None
            Each row's weight in the loss (its weighted mean; None: equal weights),
            non-negative, not all zero.

        Returns
        -------
        Regressor
            The fitted estimator itself.
        """
        return cast(Regressor, fit(self, X, y, incremental=False, sample_weight=sample_weight))

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> Regressor:
        """Train for one epoch over X and y (arguments as :meth:`fit`'s).

        Returns
        -------
        Regressor
            The estimator itself.
        """
        return cast(Regressor, fit(self, X, y, incremental=True, sample_weight=sample_weight))

    def _fit_targets(
        self, X: Any, y: Any, xp: Any, device: Any, first: bool, incremental: bool, classes: Any
    ) -> tuple[Any, Any]:
        """(the training loop's y, the labels to stratify the held-out rows by, or None)."""
        return regressor_targets(self, X, y, xp, device, first=first), None

    def _lazy_targets(self, X: Any, y: Any, first: bool) -> Any:
        raise NotImplementedError(
            "Regressor trains in-memory arrays; compute a Dask array first (X.compute())"
        )

    def set_partial_fit_request(self, *, sample_weight: Any = UNCHANGED) -> Regressor:
        """Request ``sample_weight`` for ``partial_fit``, as scikit-learn's
        ``set_partial_fit_request``."""
        return cast(Regressor, self._set_request("partial_fit", sample_weight=sample_weight))

    # --- predicting -------------------------------------------------------------------------

    def predict(self, X: Any) -> Any:
        """Predict the targets of each row.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            The examples.

        Returns
        -------
        array, shape (n_samples,) or (n_samples, n_outputs)
            The predictions (1-D for one output, as MLPRegressor's), in X's library and
            device.
        """
        self._check_is_fitted()
        X, _, _ = validate_X(self, X, reset=False, method="predict")
        out = outputs(self.params_, X, activation=self.activation, output="squared")
        return out[:, 0] if out.shape[1] == 1 else out

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """The coefficient of determination R^2 of ``predict(X)`` against ``y``, as
        scikit-learn's ``r2_score`` (outputs averaged uniformly).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
        y : array-like, shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,) or None

        Returns
        -------
        float
            1.0 for perfect predictions; 0.0 for predicting y's mean; negative below that.
        """
        pred = self.predict(X)
        X_checked, xp, device = validate_X(self, X, reset=False, method="score")
        target = regressor_targets(self, X_checked, y, xp, device, first=False)
        weights = fit_sample_weight(sample_weight, X_checked, xp, device)
        return r2(to_host(target), to_host(pred), None if weights is None else to_host(weights))
