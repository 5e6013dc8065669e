"""Classifier: the network as a scikit-learn estimator, on any library's arrays.

The names and the behaviour follow :class:`sklearn.neural_network.MLPClassifier` wherever the
meaning is the same (docs/sklearn.md lists every difference and its reason). scikit-learn is
optional: nothing here imports it unless scikit-learn itself asks (``__sklearn_tags__``) or is
already imported (the errors and warnings then also derive from scikit-learn's classes, see
:mod:`portable_net.errors`).

All training runs through :meth:`Classifier._fit_epochs`: epoch by epoch, as MLPClassifier's
stochastic solvers do, each epoch :func:`train`'s step and batches (shuffled epochs through
:class:`portable_net.training.Epochs`: checked and prepared once per fit).
"""

from __future__ import annotations

import inspect
import math
import numbers
import sys
import warnings
from collections.abc import Callable
from typing import Any, cast

import array_api_compat
import numpy as np

from . import optim
from ._backend import (
    backend_name,
    device_label,
    float_dtype,
    from_host,
    get_namespace,
    int_dtype,
    library_name,
    resolve_device,
    to_host,
    to_namespace,
)
from ._validation import check_int, check_real
from .engines import own_loop, summarised
from .errors import (
    ConvergenceWarning,
    DataConversionWarning,
    NotFittedError,
    TrainingWarning,
    warning_category,
)
from .history import History
from .model import accuracy as _model_accuracy
from .model import predict as _model_predict
from .model import predict_proba as _model_predict_proba
from .training import Epochs, train

__all__ = ["Classifier"]

_SCHEDULES = ("constant", "invscaling", "adaptive")
_SOLVERS = ("sgd", "adam")
#: constructor names of portable_net 0.1 -> their names now (for set_params' error)
_RENAMED = {
    "hidden_sizes": "hidden_layer_sizes",
    "reg": "alpha (reg = alpha / batch size)",
    "steps": "max_iter (epochs)",
    "seed": "random_state",
    "scale": "(none: the initial weights are Glorot-uniform, as MLPClassifier's)",
    "log_every": "verbose",
    "callback": "(none: loss_curve_ records every epoch)",
}


# --- host helpers -------------------------------------------------------------------------


def _all_finite(xp: Any, X: Any) -> Any:
    """Whether every value of X is finite (0-d): one pass, where it costs least
    (:func:`portable_net.engines.summarised`)."""
    return xp.all(xp.isfinite(X))


def _random_state(seed: Any) -> np.random.RandomState:
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


def _dispatch_on() -> bool:
    """scikit-learn's ``array_api_dispatch`` setting (False when scikit-learn isn't loaded)."""
    if "sklearn" not in sys.modules:
        return False
    try:
        from sklearn import get_config
    except ImportError:
        return False
    return bool(get_config().get("array_api_dispatch", False))


def _is_sparse(x: Any) -> bool:
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and sparse.issparse(x)


def _feature_names(X: Any) -> np.ndarray | None:
    """Column names of a DataFrame when all are strings (scikit-learn's rule)."""
    columns = getattr(X, "columns", None)
    if columns is None or not hasattr(X, "shape") or isinstance(X, np.ndarray):
        return None
    names = np.asarray(list(columns), dtype=object)
    kinds = {isinstance(n, str) for n in names}
    if kinds == {True}:
        return names
    if len(kinds) > 1:
        raise TypeError(
            "Feature names are only supported if all input features have string names, "
            f"but your input has {sorted({type(n).__name__ for n in names})} as feature name "
            "/ column name types. Convert the names to strings (X.columns = "
            "X.columns.astype(str))."
        )
    return None


def _num_samples(x: Any) -> int:
    return int(x.shape[0]) if hasattr(x, "shape") and len(x.shape) else len(x)


class _HostLabels:
    """The labels as a NumPy array on the host (for encoding y and saving), kept in a box:
    scikit-learn's array API checks require every fitted NumPy attribute to follow X's
    library, and these are bookkeeping, not a fitted result."""

    def __init__(self, values: np.ndarray):
        self.values = values


class _Schedule:
    """MLPClassifier's learning-rate schedules (``SGDOptimizer``): the step size of the next
    epoch, updated at each epoch's end."""

    def __init__(self, init: float, schedule: str, power_t: float):
        self.init, self.schedule, self.power_t = init, schedule, power_t
        self.learning_rate = init

    def iteration_ends(self, t: int) -> None:
        if self.schedule == "invscaling":
            self.learning_rate = self.init / (t + 1) ** self.power_t

    def trigger_stopping(self, msg: str, verbose: bool) -> bool:
        if self.schedule != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + f" Setting learning rate to {self.learning_rate:f}")
        return False


class Classifier:
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
        SGD momentum in ``[0, 1]``.
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

    # the fitted attributes whose type is not that of their first assignment (declarations
    # only: none exists before fit, so ``hasattr`` still tells a fitted estimator)
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

    # --- scikit-learn's estimator protocol ------------------------------------------------

    @classmethod
    def _get_param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return sorted(p.name for p in signature.parameters.values() if p.name != "self")

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Get the constructor's arguments, as scikit-learn's ``get_params``.

        Parameters
        ----------
        deep : bool
            Ignored (no sub-estimators); scikit-learn's signature.

        Returns
        -------
        dict of str to object
            Each constructor argument's name and value.

        Examples
        --------
        >>> import portable_net as pn
        >>> pn.Classifier(max_iter=50).get_params()["max_iter"]
        50
        """
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params: Any) -> Classifier:
        """Set constructor arguments, as scikit-learn's ``set_params``.

        Parameters
        ----------
        **params
            Constructor arguments by name; an unknown name is a ValueError.

        Returns
        -------
        Classifier
            The estimator itself.

        Examples
        --------
        >>> import portable_net as pn
        >>> pn.Classifier().set_params(alpha=1e-3).alpha
        0.001
        """
        valid = self._get_param_names()
        for name, value in params.items():
            if name not in valid:
                hint = f" (renamed: use {_RENAMED[name]})" if name in _RENAMED else ""
                raise ValueError(
                    f"Invalid parameter {name!r} for estimator {type(self).__name__}{hint}. "
                    f"Valid parameters are: {valid!r}."
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = {
            p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()
        }
        args = []
        for name in self._get_param_names():
            value, default = getattr(self, name), defaults[name]
            try:
                same = bool(value == default) and type(value) is type(default)
            except Exception:  # arrays and other odd values: show them
                same = False
            if not same:
                args.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(args)})"

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

    # --- checks ---------------------------------------------------------------------------

    def _checked_settings(self) -> dict[str, Any]:
        """The constructor's arguments, checked (scikit-learn checks them in fit, not in
        ``__init__``), as plain Python values."""
        hidden = self.hidden_layer_sizes
        if isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool):
            hidden = [hidden]
        if isinstance(hidden, (str, bytes)) or not hasattr(hidden, "__iter__"):
            raise TypeError(
                f"hidden_layer_sizes must be an int or a sequence of ints, not {hidden!r}"
            )
        hidden = [check_int(f"hidden_layer_sizes[{i}]", h, minimum=1) for i, h in enumerate(hidden)]
        if self.solver not in _SOLVERS:
            why = " (portable_net has no L-BFGS solver)" if self.solver == "lbfgs" else ""
            raise ValueError(f"solver must be 'sgd' or 'adam', got {self.solver!r}{why}")
        if self.learning_rate not in _SCHEDULES:
            raise ValueError(
                "learning_rate must be 'constant', 'invscaling' or 'adaptive' (the step size "
                f"itself is learning_rate_init), got {self.learning_rate!r}"
            )
        batch_size = self.batch_size
        if batch_size != "auto":
            if isinstance(batch_size, str):
                raise ValueError(f"batch_size must be 'auto' or an int, got {batch_size!r}")
            batch_size = check_int("batch_size", batch_size, minimum=1)
        for name in ("shuffle", "verbose", "warm_start", "nesterovs_momentum", "early_stopping"):
            value = getattr(self, name)
            if not isinstance(value, (bool, np.bool_, numbers.Integral)):
                raise TypeError(f"{name} must be a bool, not {value!r}")
        _random_state(self.random_state)  # raises for a bad one
        return {
            "hidden": hidden,
            "batch_size": batch_size,
            "alpha": check_real("alpha", self.alpha, low=0.0),
            "learning_rate_init": check_real(
                "learning_rate_init", self.learning_rate_init, low=0.0, low_open=True
            ),
            "power_t": check_real("power_t", self.power_t, low=0.0),
            "max_iter": check_int("max_iter", self.max_iter, minimum=1),
            "tol": check_real("tol", self.tol, low=0.0),
            "momentum": check_real("momentum", self.momentum, low=0.0, high=1.0),
            "validation_fraction": check_real(
                "validation_fraction", self.validation_fraction, low=0.0, high=1.0, high_open=True
            ),
            "beta_1": check_real("beta_1", self.beta_1, low=0.0, high=1.0, high_open=True),
            "beta_2": check_real("beta_2", self.beta_2, low=0.0, high=1.0, high_open=True),
            "epsilon": check_real("epsilon", self.epsilon, low=0.0, low_open=True),
            "n_iter_no_change": check_int("n_iter_no_change", self.n_iter_no_change, minimum=1),
        }

    def _optimizer(self, settings: dict[str, Any]) -> Any:
        """THE place where the optimiser is chosen: ``make(learning_rate)`` -> the
        :mod:`portable_net.optim` optimiser of one :func:`train` call (the step size comes
        per epoch from the schedule; Adam keeps ``learning_rate_init``, as MLPClassifier).

        Its state (velocities; Adam's moments and step count) is carried from call to call by
        :meth:`_fit_epochs` through ``train(..., history=...)``, kept on ``self`` between
        ``partial_fit`` calls and made anew by ``fit`` (MLPClassifier keeps its optimiser for
        ``partial_fit`` and makes a new one in ``fit``, also with ``warm_start``).
        """
        if self.solver == "adam":
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
        nesterov = bool(self.nesterovs_momentum) and momentum > 0.0
        return lambda learning_rate: optim.SGD(learning_rate, momentum, nesterov=nesterov)

    def _check_is_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )

    def _validate_X(self, X: Any, *, reset: bool, method: str) -> tuple[Any, Any, Any]:
        """X as a 2-D floating array of its library (array-likes: NumPy), checked as
        scikit-learn's ``check_array``; returns (X, xp, device)."""
        name = type(self).__name__
        if X is None:
            raise ValueError(f"{name}.{method}(): X must be an array, got None")
        if _is_sparse(X):
            raise TypeError(
                f"{name} does not accept sparse input (got {type(X).__name__}); it trains "
                "dense arrays only: convert with X.toarray()"
            )
        names = _feature_names(X)
        if not array_api_compat.is_array_api_obj(X) or isinstance(X, (int, float, complex)):
            try:
                X = np.asarray(X)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"X could not be made into an array: {exc}") from None
        if isinstance(X, np.ndarray) and X.dtype.kind in "OUS":  # object/strings -> float
            try:
                X = X.astype(np.float64)
            except (ValueError, TypeError) as exc:  # the same type, a clearer message
                raise type(exc)(
                    f"X must hold numbers; converting it to float failed: {exc}"
                ) from None
        xp = array_api_compat.array_namespace(X)
        device = array_api_compat.device(X)
        if X.ndim == 0:
            raise ValueError(
                f"Expected 2D array, got scalar array instead:\narray={X!r}.\n"
                "Reshape your data: X must be 2-D (n_samples, n_features)."
            )
        if X.ndim == 1:
            raise ValueError(
                "Expected 2D array, got 1D array instead. Reshape your data either using "
                "array.reshape(-1, 1) if your data has a single feature or "
                "array.reshape(1, -1) if it contains a single sample."
            )
        if X.ndim > 2:
            raise ValueError(f"Found array with dim {X.ndim}. {name} expected <= 2.")
        if xp.isdtype(X.dtype, "complex floating"):
            raise ValueError("Complex data not supported: X has a complex dtype")
        if X.shape[0] == 0:
            raise ValueError(
                f"Found array with 0 sample(s) (shape={tuple(X.shape)}) while a minimum of 1 "
                f"is required by {name}."
            )
        if X.shape[1] == 0:
            raise ValueError(
                f"Found array with 0 feature(s) (shape={tuple(X.shape)}) while a minimum of 1 "
                f"is required by {name}."
            )
        if not xp.isdtype(X.dtype, "real floating") or str(X.dtype).endswith("float16"):
            X = xp.astype(X, float_dtype(xp, device))  # integers, booleans: the default float
        if not bool(summarised(xp, _all_finite)(xp, X)):
            what = "NaN" if bool(xp.any(xp.isnan(X))) else "infinity or a value too large"
            raise ValueError(f"Input X contains {what}.")
        if reset:
            self.n_features_in_ = int(X.shape[1])
            if names is not None:
                self.feature_names_in_ = names
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        else:
            self._check_fitted_on(X, xp, device, method)
            self._check_feature_names(names)
            if X.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {X.shape[1]} features, but {name} is expecting "
                    f"{self.n_features_in_} features as input."
                )
        return X, xp, device

    def _check_fitted_on(self, X: Any, xp: Any, device: Any, method: str) -> None:
        W = self.coefs_[0]
        if isinstance(W, np.ndarray) and array_api_compat.is_dask_array(X):
            return
        if library_name(X) != library_name(W) or array_api_compat.device(W) != device:
            raise ValueError(
                f"Inputs passed to {type(self).__name__}.{method}() must use the same "
                "namespace and the same device as those passed to fit(): X is a "
                f"{library_name(X)} array on {device_label(device)}, the model was fitted on "
                f"{library_name(W)} arrays on {device_label(array_api_compat.device(W))} "
                "(array-likes such as lists and DataFrames count as NumPy arrays)"
            )

    def _check_feature_names(self, names: np.ndarray | None) -> None:
        fitted = getattr(self, "feature_names_in_", None)
        name = type(self).__name__
        if fitted is None:
            if names is not None:
                warnings.warn(
                    f"X has feature names, but {name} was fitted without feature names",
                    UserWarning,
                    stacklevel=4,
                )
            return
        if names is None:
            warnings.warn(
                f"X does not have valid feature names, but {name} was fitted with feature names",
                UserWarning,
                stacklevel=4,
            )
            return
        if len(names) != len(fitted) or np.any(names != fitted):
            raise ValueError(
                "The feature names should match those that were passed during fit.\n"
                f"Fitted with: {list(fitted)}\nGot: {list(names)}"
            )

    def _host_labels(self, y: Any, n_rows: int) -> np.ndarray:
        """y as a 1-D NumPy array of labels, checked as scikit-learn checks a target."""
        name = type(self).__name__
        if y is None:
            raise ValueError(f"{name} requires y to be passed, but the target y is None.")
        if _is_sparse(y):
            raise TypeError(f"{name} does not accept a sparse y; pass a dense 1-D array")
        y = to_host(y) if array_api_compat.is_array_api_obj(y) else np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected. Please change "
                "the shape of y to (n_samples, ), for example using ravel().",
                warning_category(DataConversionWarning),
                stacklevel=4,
            )
            y = y[:, 0]
        if y.ndim != 1:
            raise ValueError(
                f"y must be 1-D (n_samples,), got shape {y.shape}: {name} does not support "
                "multilabel or multi-output targets"
            )
        if y.shape[0] != n_rows:
            raise ValueError(
                "Found input variables with inconsistent numbers of samples: "
                f"[{n_rows}, {y.shape[0]}]"
            )
        if y.dtype.kind == "c":
            raise ValueError("Complex data not supported: y has a complex dtype")
        if y.dtype.kind == "f":
            if not np.all(np.isfinite(y)):
                what = "NaN" if np.any(np.isnan(y)) else "infinity or a value too large"
                raise ValueError(f"Input y contains {what}.")
            if np.any(y != np.round(y)):
                raise ValueError(
                    "Unknown label type: continuous. Maybe you are trying to fit a "
                    "classifier, which expects discrete classes on a regression target with "
                    "continuous values."
                )
        if y.dtype.kind == "O":
            kinds = {type(v) for v in y.tolist()}
            if any(v is None for v in y.tolist()):
                raise ValueError("Input y contains None (missing labels are not supported).")
            if len({k for k in kinds if not issubclass(k, numbers.Number)}) > 1 or (
                any(issubclass(k, str) for k in kinds)
                and any(issubclass(k, numbers.Number) for k in kinds)
            ):
                raise ValueError(
                    "Unknown label type: y mixes labels of different types "
                    f"({sorted(k.__name__ for k in kinds)}); use labels of one type"
                )
        return cast(np.ndarray, y)

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
        return self._fit(X, y, incremental=False, classes=None)

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
        return self._fit(X, y, incremental=True, classes=classes)

    def _fit(self, X: Any, y: Any, *, incremental: bool, classes: Any) -> Classifier:
        settings = self._checked_settings()
        optimizer = self._optimizer(settings)
        name = type(self).__name__
        first = not self.__sklearn_is_fitted__() or (not self.warm_start and not incremental)
        if incremental and not self.__sklearn_is_fitted__() and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")

        if array_api_compat.is_dask_array(X) or array_api_compat.is_dask_array(y):
            X, y_index, labels, xp, device = self._dask_inputs(X, y, first)
        else:
            X, xp, device = self._validate_X(X, reset=first, method="fit")
            y_host = self._host_labels(y, int(X.shape[0]))
            labels, y_host_index = self._encode(y_host, classes, first, incremental)
            y_index = from_host(xp, y_host_index, int_dtype(xp, device), device)
        if first:
            if labels.shape[0] < 2:
                raise ValueError(
                    f"{name} can't train when only one class is present: y holds the single "
                    f"class {labels[0]!r}; it needs at least 2 classes to learn from"
                )
            self.classes_ = self._classes_array(labels, xp, device)
            self._labels = _HostLabels(labels)  # the host copy, for encoding later calls
        rng = _random_state(self.random_state)
        if first:
            self._initialize(settings, X, xp, device, rng)
        if not incremental or not hasattr(self, "_schedule"):
            # Adam: a constant rate (MLPClassifier's schedules are SGD's)
            kind = "constant" if self.solver == "adam" else self.learning_rate
            self._schedule = _Schedule(settings["learning_rate_init"], kind, settings["power_t"])
            self._optimizer_state = None  # a new optimiser (fit), kept by partial_fit
        self._fit_epochs(X, y_index, settings, optimizer, rng, incremental=incremental)
        return self

    def _encode(
        self, y: np.ndarray, classes: Any, first: bool, incremental: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """(the sorted labels, y as indices into them) on the host."""
        if incremental and classes is not None:
            given = np.unique(
                np.asarray(
                    to_host(classes) if array_api_compat.is_array_api_obj(classes) else classes
                )
            )
            if self.__sklearn_is_fitted__() and not np.array_equal(given, self._labels.values):
                raise ValueError(
                    f"`classes={given!r}` is not the same as on last call to partial_fit, "
                    f"was: {self._labels.values!r}"
                )
        else:
            given = None
        try:
            seen = np.unique(y)
        except TypeError as exc:
            raise ValueError(f"Unknown label type: labels that cannot be sorted ({exc})") from None
        labels = given if given is not None else (seen if first else self._labels.values)
        missing = np.setdiff1d(seen, labels)
        if missing.size:
            if not first and not incremental:
                raise ValueError(
                    "warm_start can only be used where `y` has the same classes as in the "
                    f"previous call to fit. Previously got {labels!r}, `y` has {seen!r}"
                )
            raise ValueError(
                f"`y` has classes not in `self.classes_`. `self.classes_` has {labels!r}. "
                f"'y' has {seen!r}."
            )
        if not first and not incremental and not np.array_equal(seen, labels):
            raise ValueError(
                "warm_start can only be used where `y` has the same classes as in the "
                f"previous call to fit. Previously got {labels!r}, `y` has {seen!r}"
            )
        return labels, np.searchsorted(labels, y)

    @staticmethod
    def _classes_array(labels: np.ndarray, xp: Any, device: Any) -> Any:
        """Numeric and boolean labels in X's library and device; strings stay NumPy."""
        if labels.dtype.kind in "biuf" and not array_api_compat.is_numpy_namespace(xp):
            dtype = getattr(xp, labels.dtype.name, None)
            if labels.dtype.kind in "iu":
                dtype = int_dtype(xp, device)
            elif labels.dtype.kind == "f":
                dtype = float_dtype(xp, device)
            return from_host(xp, labels, dtype, device)
        return labels.copy()

    def _dask_inputs(self, X: Any, y: Any, first: bool) -> tuple[Any, Any, np.ndarray, Any, None]:
        from .engines import dask_engine as _dask

        if self.early_stopping:
            raise NotImplementedError("early_stopping is not available for Dask arrays")
        X, y_index, labels = _dask.classifier_inputs(X, y)
        if first:
            self.n_features_in_ = int(X.shape[1])
        elif X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        return X, y_index, np.asarray(labels), np, None

    def _initialize(
        self, settings: dict[str, Any], X: Any, xp: Any, device: Any, rng: np.random.RandomState
    ) -> None:
        """Fresh weights and bookkeeping, as MLPClassifier's ``_initialize``: Glorot-uniform
        weights and biases ``U(-b, b)``, ``b = sqrt(6 / (fan_in + fan_out))``, drawn layer by
        layer from ``random_state`` (the same draws as MLPClassifier's for K > 2 classes)."""
        sizes = [int(X.shape[1]), *settings["hidden"], int(self._labels.values.shape[0])]
        dtype = X.dtype
        self.coefs_, self.intercepts_ = [], []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = math.sqrt(6.0 / (fan_in + fan_out))
            W = rng.uniform(-bound, bound, (fan_in, fan_out))
            b = rng.uniform(-bound, bound, fan_out)
            self.coefs_.append(from_host(xp, W, dtype, device))
            self.intercepts_.append(from_host(xp, b, dtype, device))
        self.n_iter_ = 0
        self.t_ = 0
        self.n_layers_ = len(sizes)
        self.n_outputs_ = sizes[-1]
        self.out_activation_ = "softmax"
        self.loss_curve_ = []
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _validation_split(
        self,
        X: Any,
        y_index: Any,
        settings: dict[str, Any],
        rng: np.random.RandomState,
        xp: Any,
        device: Any,
    ) -> tuple[Any, Any, Any, Any]:
        """A stratified split (as ``train_test_split(stratify=y)``): ``ceil(fraction * n)``
        validation samples, each class in proportion; the order drawn from ``rng``."""
        y_host = to_host(y_index)
        n = y_host.shape[0]
        n_val = math.ceil(settings["validation_fraction"] * n)
        counts = np.bincount(y_host, minlength=self.n_outputs_)
        exact = n_val * counts / n
        per_class = np.floor(exact).astype(int)
        for k in np.argsort(-(exact - per_class), kind="stable")[: n_val - per_class.sum()]:
            per_class[k] += 1
        val = []
        for k in range(counts.shape[0]):
            members = np.flatnonzero(y_host == k)
            val.append(rng.permutation(members)[: per_class[k]])
        val_idx = np.sort(np.concatenate(val))
        if val_idx.shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' or the size "
                "of your dataset."
            )
        train_idx = np.setdiff1d(np.arange(n), val_idx)

        def take(a: Any, idx: np.ndarray) -> Any:
            return xp.take(a, from_host(xp, idx, int_dtype(xp, device), device), axis=0)

        return (
            take(X, train_idx),
            take(y_index, train_idx),
            take(X, val_idx),
            take(y_index, val_idx),
        )

    def _fit_epochs(
        self,
        X: Any,
        y_index: Any,
        settings: dict[str, Any],
        optimizer: Callable[[float], Any],
        rng: np.random.RandomState,
        *,
        incremental: bool,
    ) -> None:
        """All training: epochs of :func:`train`, MLPClassifier's ``_fit_stochastic`` loop.

        Each epoch is :func:`train` over ``ceil(n / batch_size)`` mini-batches (a fresh
        shuffle seed per epoch from ``random_state``), run by :class:`.training.Epochs`
        (checked and prepared once per fit; Dask arrays: one ``train`` call per epoch);
        without shuffling, one ``train`` call per batch in order; then the epoch's loss,
        the convergence test, the schedule.
        """
        xp = array_api_compat.array_namespace(X)
        device = array_api_compat.device(X)
        early_stopping = self.early_stopping and not incremental
        if early_stopping:
            X, y_index, X_val, y_val = self._validation_split(X, y_index, settings, rng, xp, device)
        n = int(X.shape[0])
        if settings["batch_size"] == "auto":
            batch_size = min(200, n)
        else:
            if settings["batch_size"] > n:
                warnings.warn(
                    "Got `batch_size` less than 1 or larger than sample size. It is going to "
                    "be clipped",
                    UserWarning,
                    stacklevel=4,
                )
            batch_size = min(settings["batch_size"], n)
        if early_stopping and self.validation_scores_ is None:  # warm start, switched on
            self.validation_scores_, self.best_validation_score_ = [], -np.inf
        if not early_stopping and self.best_loss_ is None:  # warm start, switched off
            self.best_loss_ = np.inf
        alpha = settings["alpha"]
        params = self.params_

        def run(*args, **kwargs):
            # one train call, continuing the optimiser's state; its divergence warning is
            # not for an epoch (the estimator has its own convergence warnings)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", TrainingWarning)
                out, history = train(
                    *args,
                    **kwargs,
                    history=History(optimizer_state=self._optimizer_state),
                    final_loss=False,  # the epoch's loss comes from its batches
                )
            self._optimizer_state = history.optimizer_state
            return out, history

        epochs = None
        if self.shuffle and batch_size < n and own_loop(X, y_index) is None:
            # shuffled epochs, checked and prepared once: each epoch is train(...) with
            # train's own seeded shuffle, a new seed each epoch (Epochs.run)
            epochs = Epochs(
                params,
                X,
                y_index,
                optimizer=optimizer(self._schedule.learning_rate),
                reg=alpha / batch_size,
                batch_size=batch_size,
                optimizer_state=self._optimizer_state,
            )
        for _ in range(1 if incremental else settings["max_iter"]):
            lr = self._schedule.learning_rate
            common = dict(optimizer=optimizer(lr), log_every=1)
            if batch_size >= n:  # full batch: one step (eager: compiling one step is waste)
                params, history = run(
                    params, X, y_index, steps=1, reg=alpha / n, engine="portable", **common
                )
                loss = history.loss[0]
            elif self.shuffle:
                seed = int(rng.randint(np.iinfo(np.int32).max))
                if epochs is None:  # arrays with their own loop (Dask)
                    params, history = run(
                        params, X, y_index, steps=-(-n // batch_size), batch_size=batch_size,
                        seed=seed, reg=alpha / batch_size, **common,
                    )  # fmt: skip
                    losses = history.loss
                else:
                    try:
                        losses = epochs.run(seed, lr)
                    except KeyboardInterrupt:  # the steps done, with their optimiser state
                        self._optimizer_state = epochs.state
                        self._set_weights(epochs.params())
                        raise
                    params = epochs.params()
                # the epoch's loss: the batch losses weighted by batch size, as MLPClassifier
                last = n - (len(losses) - 1) * batch_size
                loss = (batch_size * sum(losses[:-1]) + last * losses[-1]) / n
            else:  # in order: one call per batch, the optimiser's state carried along
                total = 0.0
                for start in range(0, n, batch_size):
                    stop = min(start + batch_size, n)
                    params, history = run(
                        params,
                        X[start:stop, ...],
                        y_index[start:stop],
                        steps=1,
                        reg=alpha / (stop - start),
                        **common,
                    )
                    total += history.loss[0] * (stop - start)
                loss = total / n
            self._set_weights(params)
            self.n_iter_ += 1
            self.t_ += n
            self.loss_ = loss
            self.loss_curve_.append(loss)
            if self.verbose:
                print(f"Iteration {self.n_iter_}, loss = {loss:.8f}")
            self._update_no_improvement_count(
                early_stopping,
                X_val if early_stopping else None,
                y_val if early_stopping else None,
                settings,
            )
            self._schedule.iteration_ends(self.t_)
            if self._no_improvement_count > settings["n_iter_no_change"]:
                what = "Validation score" if early_stopping else "Training loss"
                msg = (
                    f"{what} did not improve more than tol={settings['tol']:f} for "
                    f"{settings['n_iter_no_change']} consecutive epochs."
                )
                if self._schedule.trigger_stopping(msg, self.verbose):
                    break
                self._no_improvement_count = 0
            if incremental:
                break
            if self.n_iter_ == settings["max_iter"]:
                warnings.warn(
                    f"Stochastic Optimizer: Maximum iterations ({settings['max_iter']}) reached "
                    "and the optimization hasn't converged yet.",
                    warning_category(ConvergenceWarning),
                    stacklevel=4,
                )
        if epochs is not None:  # the optimiser's state after the last epoch
            self._optimizer_state = epochs.state
        if early_stopping:  # the best weights seen, as MLPClassifier
            self.coefs_, self.intercepts_ = self._best_coefs, self._best_intercepts
            del self._best_coefs, self._best_intercepts

    def _set_weights(self, params: dict[str, Any]) -> None:
        n_layers = len(params) // 2
        self.coefs_ = [params[f"W{i}"] for i in range(1, n_layers + 1)]
        self.intercepts_ = [params[f"b{i}"] for i in range(1, n_layers + 1)]

    def _update_no_improvement_count(
        self, early_stopping: bool, X_val: Any, y_val: Any, settings: dict[str, Any]
    ) -> None:
        tol = settings["tol"]
        if early_stopping:
            score = _model_accuracy(self.params_, X_val, y_val)
            # with early stopping both are set (_initialize, _fit_epochs' warm start)
            scores = cast("list[float]", self.validation_scores_)
            best_score = cast(float, self.best_validation_score_)
            scores.append(score)
            if self.verbose:
                print(f"Validation score: {score:f}")
            if score < best_score + tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > best_score:
                self.best_validation_score_ = score
                self._best_coefs = list(self.coefs_)  # train returns new arrays: no copy
                self._best_intercepts = list(self.intercepts_)
        else:
            best_loss = cast(float, self.best_loss_)  # set without early stopping
            if self.loss_curve_[-1] > best_loss - tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < best_loss:
                self.best_loss_ = self.loss_curve_[-1]

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
        if array_api_compat.is_dask_array(X):  # Dask: lazy, chunk by chunk
            from .engines import dask_engine as _dask

            return _dask.predict_proba(self.params_, X)
        X, _, _ = self._validate_X(X, reset=False, method="predict_proba")
        return _model_predict_proba(self.params_, X)

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
        X, xp, _ = self._validate_X(X, reset=False, method="predict_log_proba")
        return xp.log(_model_predict_proba(self.params_, X))

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
        if array_api_compat.is_dask_array(X):  # Dask: lazy, chunk by chunk
            proba = self.predict_proba(X)
            classes = self.classes_
            return proba.map_blocks(
                lambda p: classes[p.argmax(axis=1)], drop_axis=1, dtype=classes.dtype
            )
        X, xp, _ = self._validate_X(X, reset=False, method="predict")
        index = _model_predict(self.params_, X)
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
        if array_api_compat.is_dask_array(pred):  # Dask: one pass
            import dask

            (hits,) = dask.compute((pred == y).sum())
            return cast(float, int(hits) / pred.shape[0])
        y_host = self._host_labels(y, int(pred.shape[0]))
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
        from .io import save

        self._check_is_fitted()
        settings = self.get_params()
        hidden = settings["hidden_layer_sizes"]
        settings["hidden_layer_sizes"] = (
            [int(hidden)] if isinstance(hidden, numbers.Integral) else [int(h) for h in hidden]
        )
        if not (settings["random_state"] is None or isinstance(settings["random_state"], int)):
            settings["random_state"] = None  # a RandomState object is not plain data
        W = self.coefs_[0]
        labels = self._labels.values
        fitted = {
            "n_features_in_": self.n_features_in_,
            "feature_names_in_": (
                [str(n) for n in self.feature_names_in_]
                if hasattr(self, "feature_names_in_")
                else None
            ),
            "loss_": getattr(self, "loss_", None),
            "loss_curve_": [float(v) for v in self.loss_curve_],
            "best_loss_": (
                None
                if self.best_loss_ is None or not math.isfinite(self.best_loss_)
                else float(self.best_loss_)
            ),
            "validation_scores_": self.validation_scores_,
            "best_validation_score_": (
                None
                if self.best_validation_score_ is None
                or not math.isfinite(self.best_validation_score_)
                else float(self.best_validation_score_)
            ),
            "n_iter_": self.n_iter_,
            "t_": self.t_,
        }
        return save(
            path,
            self.params_,
            estimator=type(self).__name__,
            settings=settings,
            classes=labels.tolist(),
            classes_dtype=labels.dtype.str if labels.dtype.kind in "US" else labels.dtype.name,
            n_features_in=self.n_features_in_,
            fitted=fitted,
            backend=backend_name(array_api_compat.array_namespace(W)),
            device=device_label(array_api_compat.device(W)),
        )

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
        from .io import load

        params, meta = load(path)  # NumPy first: the metadata decides where they go
        if xp is None:
            saved = meta.get("backend") if isinstance(meta.get("backend"), str) else "numpy"
            try:
                namespace = get_namespace(saved)
            except ImportError as exc:
                raise ImportError(
                    f"{str(path)!r} holds a model fitted on {saved} arrays, and {exc}. Pass "
                    "xp='numpy' (or another backend) to Classifier.load to load it there."
                ) from None
            if device is None and isinstance(meta.get("device"), str):
                try:
                    device = resolve_device(namespace, meta["device"])
                except ValueError:
                    warnings.warn(
                        f"{str(path)!r} was saved from device {meta['device']!r} of {saved}, "
                        "which is not available here; loading onto the default device",
                        UserWarning,
                        stacklevel=2,
                    )
                    device = None
        else:
            namespace = to_namespace(xp)
        device = resolve_device(namespace, device)
        sizes = meta["layer_sizes"]
        saved_settings = meta.get("settings")
        settings: dict[str, Any] = saved_settings if isinstance(saved_settings, dict) else {}
        if "hidden_sizes" in settings and "hidden_layer_sizes" not in settings:  # 0.1 files
            settings = {"hidden_layer_sizes": settings["hidden_sizes"]}
        known = {k: v for k, v in settings.items() if k in cls._get_param_names()}
        known["hidden_layer_sizes"] = tuple(known.get("hidden_layer_sizes", sizes[1:-1]))
        model = cls(**known)
        classes = meta.get("classes", list(range(sizes[-1])))
        kind = meta.get("classes_dtype")
        try:
            labels = np.asarray(classes, dtype=kind) if isinstance(kind, str) else None
        except TypeError:
            labels = None
        if labels is None:
            labels = np.asarray(classes)
        if (
            not isinstance(classes, list)
            or labels.ndim != 1
            or labels.shape[0] != sizes[-1]
            or labels.dtype.kind not in "biufUS"
            or not np.array_equal(labels, np.unique(labels))
        ):
            raise ValueError(
                f"{str(path)!r}: its classes {classes!r} are not {sizes[-1]} distinct sorted "
                "labels, one per output of the model"
            )
        params = _fold_standardization(path, params, meta.get("standardize"), sizes[0])
        target = {k: namespace.asarray(v, device=device) for k, v in params.items()}
        n_layers = len(sizes) - 1
        model.coefs_ = [target[f"W{i}"] for i in range(1, n_layers + 1)]
        model.intercepts_ = [target[f"b{i}"] for i in range(1, n_layers + 1)]
        model._labels = _HostLabels(labels)
        model.classes_ = cls._classes_array(labels, namespace, device)
        model.n_features_in_ = int(sizes[0])
        model.n_layers_ = len(sizes)
        model.n_outputs_ = int(sizes[-1])
        model.out_activation_ = "softmax"
        saved_fitted = meta.get("fitted")
        fitted: dict[str, Any] = saved_fitted if isinstance(saved_fitted, dict) else {}
        model.loss_curve_ = list(fitted.get("loss_curve_", []))
        if fitted.get("loss_") is not None:
            model.loss_ = fitted["loss_"]
        model.n_iter_ = int(fitted.get("n_iter_", len(model.loss_curve_)))
        model.t_ = int(fitted.get("t_", 0))
        model.validation_scores_ = fitted.get("validation_scores_")
        model.best_validation_score_ = fitted.get("best_validation_score_")
        best = fitted.get("best_loss_", None)
        model.best_loss_ = best if best is not None or model.validation_scores_ else np.inf
        if fitted.get("feature_names_in_"):
            model.feature_names_in_ = np.asarray(fitted["feature_names_in_"], dtype=object)
        model._no_improvement_count = 0
        return model


def _fold_standardization(
    path: Any, params: dict[str, Any], saved: Any, n_inputs: int
) -> dict[str, Any]:
    """The parameters of a model whose inputs were standardised (``saved``: the metadata's
    ``{"mean": [...], "scale": [...]}``, checked) with the standardisation folded into the
    first layer: ``((x - mean) / scale) @ W1 + b1 = x @ (W1 / scale) + (b1 - (mean / scale)
    @ W1)``. NumPy parameters in, new NumPy parameters out; None: unchanged."""
    if saved is None:
        return params
    from .tabular import Standardizer

    try:
        scaler = Standardizer.from_dict(saved)
    except ValueError as exc:
        raise ValueError(f"{str(path)!r}: its saved standardisation is unusable: {exc}") from None
    mean, scale = scaler.mean_, scaler.scale_
    assert mean is not None and scale is not None
    if mean.shape[0] != n_inputs:
        raise ValueError(
            f"{str(path)!r}: its saved standardisation has {mean.shape[0]} features but the "
            f"model has {n_inputs} inputs"
        )
    W1, b1 = np.asarray(params["W1"]), np.asarray(params["b1"])
    dtype = W1.dtype
    folded = dict(params)
    with np.errstate(over="ignore", invalid="ignore"):
        folded["W1"] = (W1 / scale[:, None]).astype(dtype)
        folded["b1"] = (b1 - (mean / scale) @ W1).astype(dtype)
    if not (np.all(np.isfinite(folded["W1"])) and np.all(np.isfinite(folded["b1"]))):
        raise ValueError(f"{str(path)!r}: its standardisation overflows the first layer")
    return folded
