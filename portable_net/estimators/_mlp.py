"""What :class:`portable_net.Classifier` and :class:`portable_net.Regressor` share, as
scikit-learn's ``BaseMultilayerPerceptron``: the constructor's arguments (MLPClassifier's and
MLPRegressor's, the same), the fitted check, the weights as the functional API takes them,
files, and scikit-learn's metadata routing (``set_fit_request``, ``get_metadata_routing``)
when scikit-learn is installed."""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import MethodType
from typing import Any, cast

from . import _persistence
from ._base import Estimator

__all__ = ["MLP", "STOCHASTIC", "UNCHANGED", "stochastic_only"]

#: scikit-learn's "leave this request as it is" (``sklearn.utils.metadata_routing.UNCHANGED``)
UNCHANGED = "$UNCHANGED$"
#: the solvers that train epoch by epoch (``partial_fit`` is theirs)
STOCHASTIC = ("sgd", "adam")


class _StochasticOnly:
    """A method that exists only for a stochastic solver, as scikit-learn's
    ``available_if(_check_solver)``: ``hasattr(est, "partial_fit")`` is False with
    ``solver="lbfgs"``, and reading it raises MLPClassifier's AttributeError."""

    def __init__(self, method: Callable[..., Any]):
        self.method = method
        functools.update_wrapper(cast(Any, self), method)

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self.method
        if obj.solver not in STOCHASTIC:
            name = self.method.__name__
            raise AttributeError(
                f"This {type(obj).__name__!r} has no attribute {name!r}"
            ) from AttributeError(
                f"{name} is only available for stochastic optimizers. {obj.solver} is not "
                "stochastic."
            )
        return MethodType(self.method, obj)


def stochastic_only(method: Callable[..., Any]) -> Any:
    """Decorator: ``method`` exists only while the estimator's solver is stochastic."""
    return _StochasticOnly(method)


class MLP(Estimator):
    """The shared part of the two estimators (not itself an estimator)."""

    #: partial_fit's first call needs ``classes`` (the Classifier's)
    _classes_required = False
    #: the output layer of files that do not record one
    _default_out_activation = "softmax"

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
    n_outputs_: int
    _output: str  # the output layer (portable_net.loss.OUTPUT_LOSSES)
    _multilabel: bool

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
        n_iter_no_change: Any = 10,
        max_fun: int = 15000,
        activation: str = "relu",
        n_jobs: int | None = None,
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
        self.max_fun = max_fun
        self.activation = activation
        self.n_jobs = n_jobs

    # --- scikit-learn's estimator protocol (the parameters: Estimator) ---------------------

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
    def load(cls, path: Any, *, xp: Any = None, device: Any = None) -> Any:
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
        return _persistence.load(cls, path, xp, device)

    def to_onnx(
        self, path: Any = None, *, dtype: str | None = None, opset: int | None = None
    ) -> Any:
        """Export the fitted estimator as an ONNX graph, which onnxruntime runs anywhere.

        The graph is traced from the forward pass that :meth:`predict` runs (on ndonnx's
        lazy arrays), not written anew: it gives ``predict``'s answers, to the rounding of
        its products, for any number of rows. It takes ``X`` (N, n_features) and gives
        ``label`` and ``probabilities`` (a Classifier: ``predict`` and ``predict_proba``)
        or ``values`` (a Regressor: ``predict``). It needs the ``onnx`` extra (``pip
        install 'portable-net[onnx]'``: ndonnx, onnx and onnxruntime); see
        :func:`portable_net.to_onnx` and the deployment guide.

        Parameters
        ----------
        path : None, str or path-like
            Also write the graph to this file (replaced whole or not at all).
        dtype : {"float64", "float32"}, optional
            The graph's floating type (default: that of the fitted weights).
        opset : int, optional
            The ONNX opset (default: ndonnx's own, 21), 20 or newer.

        Returns
        -------
        onnx.ModelProto
            The model.

        Raises
        ------
        NotFittedError
            Before :meth:`fit`.
        ImportError
            When ndonnx or onnx is not installed (the message says what to install).

        Examples
        --------
        >>> import onnxruntime as ort
        >>> import portable_net as pn
        >>> X, y = pn.make_spiral(100, 3, seed=0)
        >>> clf = pn.Classifier(learning_rate_init=0.05, random_state=0).fit(X, y)
        >>> graph = clf.to_onnx()  # clf.to_onnx("spiral.onnx") also writes it
        >>> label, proba = ort.InferenceSession(graph.SerializeToString()).run(None, {"X": X})
        >>> bool((label == clf.predict(X)).all()), proba.shape
        (True, (300, 3))
        """
        self._check_is_fitted()
        from ..export import estimator_graph, export

        return export(estimator_graph(self), path, dtype=dtype, opset=opset)

    # --- scikit-learn's metadata routing (scikit-learn's own machinery, imported when asked) --

    def get_metadata_routing(self) -> Any:
        """The metadata each method consumes (``sample_weight``; ``classes`` of the
        Classifier's ``partial_fit``), as scikit-learn's ``get_metadata_routing``: a
        ``MetadataRequest`` of scikit-learn, which must be installed."""
        return self._get_metadata_request()

    def _get_metadata_request(self) -> Any:
        from sklearn.utils._metadata_requests import _MetadataRequester

        return _MetadataRequester._get_metadata_request(self)

    @classmethod
    def _get_class_level_metadata_request_values(
        cls, method_name: str, method: Any = None, ignore_params: Any = None
    ) -> Any:
        from sklearn.utils._metadata_requests import _MetadataRequester

        values = _MetadataRequester._get_class_level_metadata_request_values.__func__
        return values(cls, method_name, method, ignore_params)

    def _set_request(self, method: str, **requests: Any) -> Any:
        """scikit-learn's ``set_{method}_request`` (its ``RequestMethod``): only with
        metadata routing enabled (``sklearn.set_config(enable_metadata_routing=True)``)."""
        from sklearn.utils._metadata_requests import RequestMethod

        return RequestMethod(method, sorted(requests)).__get__(self, type(self))(**requests)

    def set_fit_request(self, *, sample_weight: Any = UNCHANGED) -> Any:
        """Request ``sample_weight`` for ``fit`` (True, False, None or an alias), as
        scikit-learn's ``set_fit_request`` (with scikit-learn's metadata routing enabled:
        ``sklearn.set_config(enable_metadata_routing=True)``); returns the estimator."""
        return self._set_request("fit", sample_weight=sample_weight)

    def set_score_request(self, *, sample_weight: Any = UNCHANGED) -> Any:
        """Request ``sample_weight`` for ``score``, as scikit-learn's ``set_score_request``."""
        return self._set_request("score", sample_weight=sample_weight)
