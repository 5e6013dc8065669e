"""Classifier: the network with scikit-learn's conventions, on any library's arrays."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import array_api_compat
import numpy as np

from ._backend import float_dtype, namespace_and_device
from ._validation import check_features, check_int, is_floating
from .errors import NotFittedError
from .history import History
from .model import init_params, predict_proba
from .model import predict as predict_indices
from .training import check_hyperparameters, train

__all__ = ["Classifier"]


def _as_array(x: Any, name: str) -> Any:
    """Arrays pass through; lists and tuples become NumPy arrays, as scikit-learn does."""
    if array_api_compat.is_array_api_obj(x):
        return x
    if isinstance(x, (list, tuple)):
        try:
            return np.asarray(x)
        except ValueError as exc:
            raise ValueError(f"{name} could not be made into an array: {exc}") from None
    raise TypeError(f"{name} must be an array or a list, not {type(x).__name__}")


class Classifier:
    """A ReLU network classifier trained by hand-written backprop and gradient descent.

    Parameters
    ----------
    hidden_sizes : sequence of int
        Width of each hidden layer: ``(100,)`` is the case study's net, ``()`` the softmax
        linear classifier.
    steps, learning_rate, reg, momentum, batch_size, seed, log_every, callback
        As in :func:`train`; ``seed`` also seeds the initial weights.
    scale : float
        Initial weights are ``scale * standard_normal``.

    Attributes (after :meth:`fit`)
    ------------------------------
    params_ : dict of arrays, in the library and on the device of the training data
    history_ : History
    classes_ : array of the distinct labels seen in ``fit``, sorted
    n_features_in_ : int

    ``fit`` accepts any supported library's arrays (and lists, as NumPy); ``predict``,
    ``predict_proba`` and ``score`` take arrays of the same library and device and return
    that library's arrays on that device.
    """

    def __init__(
        self,
        hidden_sizes: Sequence[int] = (100,),
        *,
        steps: int = 10_000,
        learning_rate: float = 1.0,
        reg: float = 1e-3,
        momentum: float = 0.0,
        batch_size: int | None = None,
        seed: int = 0,
        scale: float = 0.01,
        log_every: int = 1000,
        callback: Callable[[int, float, dict[str, Any]], Any] | None = None,
    ):
        self.hidden_sizes = hidden_sizes
        self.steps = steps
        self.learning_rate = learning_rate
        self.reg = reg
        self.momentum = momentum
        self.batch_size = batch_size
        self.seed = seed
        self.scale = scale
        self.log_every = log_every
        self.callback = callback

    _PARAM_NAMES = (
        "hidden_sizes",
        "steps",
        "learning_rate",
        "reg",
        "momentum",
        "batch_size",
        "seed",
        "scale",
        "log_every",
        "callback",
    )

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's arguments, as scikit-learn's ``get_params``."""
        return {name: getattr(self, name) for name in self._PARAM_NAMES}

    def set_params(self, **params: Any) -> Classifier:
        """Set constructor arguments, as scikit-learn's ``set_params``."""
        for name, value in params.items():
            if name not in self._PARAM_NAMES:
                raise ValueError(
                    f"unknown parameter {name!r}; valid: {', '.join(self._PARAM_NAMES)}"
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = Classifier()
        args = [
            f"{name}={getattr(self, name)!r}"
            for name in self._PARAM_NAMES
            if getattr(self, name) != getattr(defaults, name)
        ]
        return f"Classifier({', '.join(args)})"

    def fit(self, X: Any, y: Any) -> Classifier:
        """Train on features X (N, D) and integer labels y (N,); returns self."""
        dask_input = array_api_compat.is_dask_array(X) or array_api_compat.is_dask_array(y)
        if not dask_input:
            X, y = _as_array(X, "X"), _as_array(y, "y")
            xp, device = namespace_and_device({"X": X, "y": y})
        hidden = self.hidden_sizes
        if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
            raise TypeError(f"hidden_sizes must be a sequence of integers, not {hidden!r}")
        hidden = [check_int(f"hidden_sizes[{i}]", h, minimum=1) for i, h in enumerate(hidden)]
        check_hyperparameters(
            self.steps,
            self.learning_rate,
            self.reg,
            self.momentum,
            self.batch_size,
            self.seed,
            self.log_every,
            self.callback,
        )
        if dask_input:  # Dask arrays: classes in one pass, the rest checked by train
            from .engines import dask_engine as _dask

            X, y_index, classes = _dask.classifier_inputs(X, y)
            xp, device = array_api_compat.array_namespace(classes), None
        else:
            if X.ndim == 2 and xp.isdtype(X.dtype, ("integral", "bool")):
                X = xp.astype(X, float_dtype(xp, device))  # integer features: the default float
            check_features(xp, X)
            if y.ndim != 1 or y.shape[0] != X.shape[0]:
                raise ValueError(
                    f"y must be 1-D with one label per row of X: X has shape {tuple(X.shape)}, "
                    f"y has shape {tuple(y.shape)}"
                )
            if not xp.isdtype(y.dtype, "integral"):
                raise TypeError(f"y must hold integer class labels, got dtype {y.dtype}")
            classes = xp.unique_values(y)  # (K,) sorted
            if classes.shape[0] < 2:
                raise ValueError(
                    f"y must hold at least 2 classes to learn from, got {classes.shape[0]}"
                )
            y_index = xp.searchsorted(classes, y)  # labels -> 0..K-1

        params = init_params(
            [X.shape[1], *hidden, classes.shape[0]],
            seed=self.seed,
            scale=self.scale,
            xp=xp,
            device=device,
            dtype=X.dtype,
        )
        params, history = train(
            params,
            X,
            y_index,
            steps=self.steps,
            learning_rate=self.learning_rate,
            reg=self.reg,
            momentum=self.momentum,
            batch_size=self.batch_size,
            seed=self.seed,
            log_every=self.log_every,
            callback=self.callback,
        )
        self.params_: dict[str, Any] = params
        self.history_: History = history
        self.classes_ = classes
        self.n_features_in_ = int(X.shape[1])
        return self

    def save(self, path: Any) -> Any:
        """Save the fitted classifier to one ``.npz`` file (see :func:`portable_net.save`).

        The file holds the weights and, as plain data, the constructor's arguments (all but
        ``callback``), ``classes_``, ``n_features_in_`` and the loss history.

        Parameters
        ----------
        path : str or path-like
            The file to write.

        Returns
        -------
        pathlib.Path
            The path written.

        Raises
        ------
        NotFittedError
            Before :meth:`fit`.
        """
        from ._backend import to_host
        from .io import save

        if not hasattr(self, "params_"):
            raise NotFittedError("this Classifier is not fitted yet; call fit(X, y) before save")
        settings = {name: getattr(self, name) for name in self._PARAM_NAMES if name != "callback"}
        settings["hidden_sizes"] = [int(h) for h in settings["hidden_sizes"]]
        return save(
            path,
            self.params_,
            estimator="Classifier",
            settings=settings,
            classes=to_host(self.classes_).tolist(),
            n_features_in=self.n_features_in_,
            history=self.history_,
        )

    @classmethod
    def load(cls, path: Any, *, xp: Any = None, device: Any = None) -> Classifier:
        """A fitted Classifier from a file written by :meth:`save` (or :func:`portable_net.save`).

        Parameters
        ----------
        path : str or path-like
            The ``.npz`` file.
        xp : None, str or namespace
            Backend of ``params_`` and ``classes_``: None for NumPy, a name or a namespace.
        device : None, str or device
            Their device; None for the backend's default.

        Returns
        -------
        Classifier
            With ``params_``, ``classes_``, ``n_features_in_`` and ``history_`` restored. A
            model saved by :func:`portable_net.save` has classes ``0 .. K-1`` and the
            default settings.

        Raises
        ------
        FileNotFoundError, ValueError
            As :func:`portable_net.load`, and for saved classes that do not fit the model.
        """
        from ._backend import int_dtype, resolve_device, to_namespace
        from .io import load

        namespace = to_namespace(xp)
        device = resolve_device(namespace, device)
        params, meta = load(path, xp=namespace, device=device)
        sizes = meta["layer_sizes"]
        settings = meta.get("settings") if isinstance(meta.get("settings"), dict) else {}
        known = {k: v for k, v in settings.items() if k in cls._PARAM_NAMES and k != "callback"}
        if "hidden_sizes" not in known:
            known["hidden_sizes"] = tuple(sizes[1:-1])
        else:
            known["hidden_sizes"] = tuple(known["hidden_sizes"])
        model = cls(**known)
        classes = meta.get("classes", list(range(sizes[-1])))
        if (
            not isinstance(classes, list)
            or len(classes) != sizes[-1]
            or not all(isinstance(c, int) and not isinstance(c, bool) for c in classes)
            or classes != sorted(set(classes))
        ):
            raise ValueError(
                f"{str(path)!r}: its classes {classes!r} are not {sizes[-1]} distinct sorted "
                "integer labels, one per output of the model"
            )
        model.params_ = params
        model.classes_ = namespace.asarray(
            classes, dtype=int_dtype(namespace, device), device=device
        )
        model.n_features_in_ = int(sizes[0])
        history = meta.get("history") if isinstance(meta.get("history"), dict) else {}
        model.history_ = History(
            steps=list(history.get("steps", [])),
            loss=list(history.get("loss", [])),
            final_loss=history.get("final_loss"),
        )
        return model

    def _check_fitted(self, X: Any) -> Any:
        if not hasattr(self, "params_"):
            raise NotFittedError(
                "this Classifier is not fitted yet; call fit(X, y) before predict, "
                "predict_proba or score"
            )
        X = _as_array(X, "X")
        xp, _ = namespace_and_device({"X": X, "classes_": self.classes_})
        if X.ndim == 2 and not is_floating(xp, X):
            X = xp.astype(X, self.params_["W1"].dtype)
        return X

    def predict_proba(self, X: Any) -> Any:
        """Class probabilities (N, K), columns in the order of ``classes_``."""
        if array_api_compat.is_dask_array(X):  # Dask: lazy, chunk by chunk
            from .engines import dask_engine as _dask

            if not hasattr(self, "params_"):
                self._check_fitted(X)  # raises NotFittedError
            return _dask.predict_proba(self.params_, X)
        X = self._check_fitted(X)
        return predict_proba(self.params_, X)

    def predict(self, X: Any) -> Any:
        """The predicted label of each row, from ``classes_``."""
        if array_api_compat.is_dask_array(X):  # Dask: lazy, chunk by chunk
            proba = self.predict_proba(X)
            classes = self.classes_
            return proba.map_blocks(
                lambda p: classes[p.argmax(axis=1)], drop_axis=1, dtype=classes.dtype
            )
        X = self._check_fitted(X)
        xp = array_api_compat.array_namespace(X)
        return xp.take(self.classes_, predict_indices(self.params_, X), axis=0)

    def score(self, X: Any, y: Any) -> float:
        """Mean accuracy of ``predict(X)`` against ``y``."""
        pred = self.predict(X)
        if array_api_compat.is_dask_array(pred):  # Dask: one pass
            import dask

            if y.ndim != 1 or y.shape[0] != pred.shape[0]:
                raise ValueError(
                    f"y must be 1-D with {pred.shape[0]} labels, got shape {tuple(y.shape)}"
                )
            (hits,) = dask.compute((pred == y).sum())
            return int(hits) / pred.shape[0]
        y = _as_array(y, "y")
        xp, _ = namespace_and_device(
            {"X": X if array_api_compat.is_array_api_obj(X) else pred, "y": y}
        )
        if y.ndim != 1 or y.shape[0] != pred.shape[0]:
            raise ValueError(
                f"y must be 1-D with {pred.shape[0]} labels, got shape {tuple(y.shape)}"
            )
        hits = xp.sum(xp.astype(pred == xp.astype(y, pred.dtype), pred.dtype))
        return int(hits) / pred.shape[0]  # exact: the same float on every backend
