"""Regressor: the network as scikit-learn's ``sklearn.neural_network.MLPRegressor``, on
any library's arrays.

The same constructor, training loop, engines and files as :class:`portable_net.Classifier`
(:mod:`._mlp`, :mod:`._epochs`); identity outputs with half the squared error
(:func:`portable_net.loss.squared_error`), one output per target column, and ``score`` as
R^2.
"""

from __future__ import annotations

import inspect
from typing import Any, cast

from .._backend import to_host
from ..model import outputs
from ..targets import r2
from ._epochs import fit
from ._inputs import validate_X
from ._mlp import MLP, UNCHANGED, stochastic_only
from ._outputs import fit_sample_weight, regressor_targets, regressor_values

__all__ = ["Regressor"]


class Regressor(MLP):
    """A network regressor trained by hand-written backprop, MLPRegressor's way.

    The parameters, fitted attributes and methods are those of scikit-learn's
    ``MLPRegressor`` where the meaning is the same (the parameters are
    :class:`portable_net.Classifier`'s; docs/sklearn.md has the side-by-side table). Input of any supported library (NumPy, PyTorch, JAX, CuPy, array-api-strict)
    trains in that library on that device; fitted arrays and predictions stay there.

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default=(100,)
        Width of each hidden layer; ``()`` is the linear model.
    loss : {"squared_error", "poisson"}, default="squared_error"
        Half the squared error of identity outputs, or half the Poisson deviance of exp
        outputs (the log link: counts, rates; y >= 0 with a positive sum), as MLPRegressor's.
    solver : {"lbfgs", "sgd", "adam"}, default="adam"
        The optimiser: scipy's L-BFGS-B over the full batch (scipy must be installed; no
        ``partial_fit``), or SGD and Adam (:mod:`portable_net.optim`), MLPRegressor's
        formulation of each.
    alpha : float, default=1e-4
        L2 strength, scaled as MLPRegressor's: each batch's loss adds
        ``alpha / (2 * batch_size) * sum ||W||^2``.
    batch_size : int or "auto", default="auto"
        Mini-batch size, ``min(200, n_samples)`` for "auto"; clipped to ``[1, n_samples]``.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        The step-size schedule (for ``solver="sgd"``).
    learning_rate_init : float, default=1e-3
        The initial step size.
    power_t : float, default=0.5
        Exponent of the ``"invscaling"`` schedule.
    max_iter : int, default=200
        Maximum number of epochs.
    shuffle : bool, default=True
        Shuffle the samples in each epoch.
    random_state : None, int or numpy.random.RandomState, default=None
        Seeds the initial weights, the shuffling and the validation split.
    tol : float, default=1e-4
        Convergence: training stops when the loss (or the validation score) does not improve
        by ``tol`` for more than ``n_iter_no_change`` epochs.
    verbose : bool, default=False
        Print the loss of each epoch.
    warm_start : bool, default=False
        ``fit`` continues from the fitted weights.
    momentum : float, default=0.9
        SGD momentum in [0, 1).
    nesterovs_momentum : bool, default=True
        Nesterov's momentum (with ``momentum > 0``).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (not stratified) and stop when its R^2
        stops improving; the best weights are kept.
    validation_fraction : float, default=0.1
        In ``[0, 1)``.
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's parameters.
    n_iter_no_change : int or np.inf, default=10
        Epochs without improvement tolerated before stopping (``np.inf``: never).
    max_fun : int, default=15000
        L-BFGS only: the most evaluations of the loss and its gradient.
    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
        The hidden layers' activation.
    n_jobs : int or None, default=None
        Intra-op threads of the fit on the CPU, as :class:`portable_net.Classifier`'s.

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
        Each epoch's loss (not after an L-BFGS fit, as MLPRegressor).
    best_loss_ : float or None (None with early stopping)
    validation_scores_ : list of float or None
        The held-out R^2 of each epoch (with ``early_stopping``).
    best_validation_score_ : float or None
    n_iter_ : int
        Epochs (L-BFGS: iterations) of the last call of ``fit`` or ``partial_fit``.
    t_ : int
    n_layers_ : int
    n_outputs_ : int
        Number of targets (1 for a 1-D y).
    out_activation_ : str
        ``"identity"``, or ``"exp"`` for ``loss="poisson"``.

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

    def __init__(
        self, hidden_layer_sizes: Any = (100,), *, loss: str = "squared_error", **settings: Any
    ):
        # MLP's arguments (the Classifier's), and MLPRegressor's loss: the signature below
        # names each, as scikit-learn's estimators must
        super().__init__(hidden_layer_sizes, **settings)
        self.loss = loss

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
            input_tags=InputTags(two_d_array=True, sparse=True, allow_nan=False),
        )

    # --- fitting ----------------------------------------------------------------------------

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> Regressor:
        """Train on the examples X and their targets y.

        Up to ``max_iter`` epochs, fewer when the convergence test (``tol``,
        ``n_iter_no_change``) is met. With ``warm_start=True`` a fitted model continues.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            The examples, of any supported library and device (training runs there); a
            scipy.sparse matrix or a torch sparse tensor is never densified.
        y : array-like, shape (n_samples,) or (n_samples, n_outputs)
            The real targets.
        sample_weight : array-like of shape (n_samples,), number or None
            Each row's weight in the loss (its weighted mean; None: equal weights),
            non-negative, not all zero.

        Returns
        -------
        Regressor
            The fitted estimator itself.

        Examples
        --------
        >>> import numpy as np
        >>> import portable_net as pn
        >>> X = np.linspace(-1, 1, 40)[:, None]
        >>> reg = pn.Regressor(hidden_layer_sizes=(8,), tol=1e-2, random_state=0)
        >>> reg.fit(X, 2 * X[:, 0]).n_iter_ < reg.max_iter  # converged: tol met
        True
        """
        return cast(Regressor, fit(self, X, y, incremental=False, sample_weight=sample_weight))

    @stochastic_only
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> Regressor:
        """Train for one epoch over X and y.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            The examples.
        y : array-like, shape (n_samples,) or (n_samples, n_outputs)
            The real targets.
        sample_weight : array-like of shape (n_samples,), number or None
            Each row's weight in the loss, as :meth:`fit`'s.

        Returns
        -------
        Regressor
            The estimator itself.

        Examples
        --------
        >>> import numpy as np
        >>> import portable_net as pn
        >>> X = np.linspace(-1, 1, 40)[:, None]
        >>> reg = pn.Regressor(hidden_layer_sizes=(8,), random_state=0)
        >>> reg.partial_fit(X, 2 * X[:, 0]).n_iter_
        1
        """
        return cast(Regressor, fit(self, X, y, incremental=True, sample_weight=sample_weight))

    def _fit_targets(
        self, X: Any, y: Any, xp: Any, device: Any, first: bool, incremental: bool, classes: Any
    ) -> tuple[Any, Any]:
        """(the training loop's y, the labels to stratify the held-out rows by, or None)."""
        return regressor_targets(self, X, y, xp, device, first=first, fitting=True), None

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

        Examples
        --------
        >>> import numpy as np
        >>> import portable_net as pn
        >>> X = np.linspace(-1, 1, 40)[:, None]
        >>> reg = pn.Regressor(hidden_layer_sizes=(8,), random_state=0).partial_fit(X, X[:, 0])
        >>> reg.predict(X[:2]).shape
        (2,)
        """
        self._check_is_fitted()
        X, _, _ = validate_X(self, X, reset=False, method="predict")
        out = outputs(self.params_, X, activation=self.activation, output=self._output)
        return regressor_values(out, self.n_outputs_)

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """The coefficient of determination R^2 of ``predict(X)`` against ``y``.

        As scikit-learn's ``r2_score`` (outputs averaged uniformly).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            The examples.
        y : array-like, shape (n_samples,) or (n_samples, n_outputs)
            Their true targets.
        sample_weight : array-like of shape (n_samples,) or None
            Each row's weight (None: equal weights).

        Returns
        -------
        float
            1.0 for perfect predictions; 0.0 for predicting y's mean; negative below that.

        Examples
        --------
        >>> import numpy as np
        >>> import portable_net as pn
        >>> X = np.linspace(-1, 1, 40)[:, None]
        >>> reg = pn.Regressor(hidden_layer_sizes=(8,), random_state=0).partial_fit(X, X[:, 0])
        >>> reg.score(X, X[:, 0]) <= 1.0
        True
        """
        pred = self.predict(X)
        X_checked, xp, device = validate_X(self, X, reset=False, method="score")
        target = regressor_targets(self, X_checked, y, xp, device, first=False)
        weights = fit_sample_weight(sample_weight, X_checked, xp, device)
        return r2(to_host(target), to_host(pred), None if weights is None else to_host(weights))


def _signature() -> inspect.Signature:
    """MLP's constructor's signature with ``loss`` after ``hidden_layer_sizes`` (keyword-only,
    as the rest)."""
    shared = list(inspect.signature(MLP.__init__).parameters.values())
    loss = inspect.Parameter("loss", inspect.Parameter.KEYWORD_ONLY, default="squared_error",
                             annotation="str")  # fmt: skip
    return inspect.Signature([*shared[:2], loss, *shared[2:]])


Regressor.__init__.__signature__ = _signature()  # type: ignore[attr-defined]
