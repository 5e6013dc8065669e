"""The network: parameters, forward through any depth, hand-written backprop, predictions.

A model with layer sizes ``[D, H1, ..., K]`` computes
``h_0 = X``, ``h_l = relu(h_{l-1} W_l + b_l)`` for the hidden layers (or another
``activation``: identity, logistic, tanh) and ``scores = h_{L-1} W_L + b_L``; ``[D, K]`` is
the softmax linear classifier.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

import numpy as np

from . import network
from ._backend import (
    array_namespace,
    float_dtype,
    from_host,
    namespace_and_device,
    resolve_device,
    to_namespace,
)
from ._validation import (
    array_arguments,
    check_feature_count,
    check_features,
    check_finite_params,
    check_float_dtype,
    check_floating_params,
    check_int,
    check_labels,
    check_one_hot,
    check_params,
    check_real,
    value_summary,
)
from .decision import decide, output_probabilities
from .engines import as_predictor, as_summary, is_traced, outside_autograd, summarised
from .layers import activation_pair
from .loss import one_hot, output_loss, softmax
from .loss import output as output_values
from .optim.pieces import l2_coefficients, l2_term

__all__ = [
    "accuracy",
    "init_params",
    "loss_and_grads",
    "predict",
    "predict_proba",
]

Params = dict[str, Any]


def init_params(
    layer_sizes: Sequence[int],
    *,
    seed: int = 0,
    scale: float = 0.01,
    xp: Any = None,
    device: Any = None,
    dtype: Any = None,
) -> Params:
    """Draw initial parameters ``{"W1", "b1", ..., "WL", "bL"}`` for the given layer sizes.

    ``W_l`` has shape ``(sizes[l-1], sizes[l])`` and is drawn ``scale * standard_normal`` from
    ``numpy.random.default_rng(seed)`` (layer by layer, so one seed gives the same weights on
    every backend); ``b_l`` is 1-D zeros.  ``[2, 3]`` is the softmax classifier,
    ``[2, 100, 3]`` the case study's net.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``[D, H1, ..., K]``: inputs, hidden layers (any number, none included) and classes.
    seed : int
        Seed of the NumPy generator the weights are drawn from.
    scale : float
        Standard deviation of the weights (>= 0); 0.01 as in the case study.
    xp : None, str or namespace
        Backend of the returned arrays: None for NumPy, a backend name (``"torch"``) or a
        namespace.
    device : None, str or device
        Device of the returned arrays (``"cuda:0"``); None for the backend's default.
    dtype : None, "float32" or "float64"
        The parameters' dtype: float64 by default; a backend without float64 gets its
        default float and a warning.

    Returns
    -------
    dict of str to array
        ``W1, b1, ..., WL, bL``, arrays of the chosen library, device and dtype.

    Examples
    --------
    >>> import portable_net as pn
    >>> params = pn.init_params([2, 100, 3], seed=0)
    >>> {name: tuple(p.shape) for name, p in params.items()}
    {'W1': (2, 100), 'b1': (100,), 'W2': (100, 3), 'b2': (3,)}
    """
    if isinstance(layer_sizes, (str, bytes)) or not isinstance(layer_sizes, Sequence):
        raise TypeError(
            f"layer_sizes must be a sequence of integers, not {type(layer_sizes).__name__}"
        )
    sizes = [check_int(f"layer_sizes[{i}]", s, minimum=1) for i, s in enumerate(layer_sizes)]
    if len(sizes) < 2:
        raise ValueError(
            f"layer_sizes needs at least an input and an output size, got {list(layer_sizes)}"
        )
    seed = check_int("seed", seed, minimum=0)
    scale = check_real("scale", scale, low=0.0)
    xp = to_namespace(xp)
    device = resolve_device(xp, device)
    fdtype = float_dtype(xp, device, dtype)
    rng = np.random.default_rng(seed)
    params = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        W = scale * rng.standard_normal((fan_in, fan_out))
        params[f"W{i}"] = from_host(xp, W, fdtype, device)
        params[f"b{i}"] = from_host(xp, np.zeros(fan_out), fdtype, device)
    return params


# --- public functions: check, then call the core ----------------------------------------


def scores(
    xp: ModuleType, params: Mapping[str, Any], X: Any, n_layers: int, activation: str = "relu"
) -> Any:
    """Class scores (N, K) of the rows of X (N, D), through the training step's forward."""
    packed = network.pack(xp, params, n_layers)
    Xt1 = network.inputs_with_ones(xp, X)
    return network.forward_scores(xp, packed, Xt1, activation).T  # (N, K)


def check_inputs(
    params: Any, X: Any, y: Any = None, *, one_hot: bool = True, values: bool = True
) -> tuple[ModuleType, Any, int, Params, Any, Any]:
    """Check params, X (and y) and return (xp, device, n_layers, params in X's dtype, X, y).

    Labels ``y`` are made one-hot targets (training, the loss) unless ``one_hot`` is False
    (the accuracy): rows x classes over ``MAX_ONE_HOT_VALUES`` are refused here, before
    anything of that size is allocated.

    ``values`` False: the kinds, shapes and dtypes only, no pass over the arrays; the caller
    checks the values with :func:`check_values` before any work (``train``, which first
    decides the run's threads from the shapes).

    Arrays that record an autograd graph come back outside it (the same memory, no graph):
    the computations are hand-written backprop, and their results do not require grad.
    """
    n_layers = check_params(params)
    # sparse X (network.SparseInputs, the estimators'): its stored values are what is checked
    sparse = isinstance(X, network.SparseInputs)
    stored = X.values if sparse else X
    arrays = array_arguments(params, X=stored, **({} if y is None else {"y": y}))
    xp, device = namespace_and_device(arrays)
    params, stored, y = outside_autograd(params, stored, y)
    X = X if sparse else stored
    check_floating_params(xp, params)
    check_float_dtype("X", X.dtype) if sparse else check_features(xp, X, finite=False)
    check_feature_count(X, params)
    n_classes = params[f"W{n_layers}"].shape[1]
    if y is not None:
        check_labels(xp, y, X.shape[0], n_classes, bounds=False)
        if one_hot:
            check_one_hot(int(X.shape[0]), int(n_classes))
    # dtype follows X
    params = {k: xp.astype(v, X.dtype, copy=False) for k, v in params.items()}
    if values:
        check_values(xp, params, X, y)
    return xp, device, n_layers, params, X, y


def check_values(xp: ModuleType, params: Mapping[str, Any], X: Any, y: Any = None) -> None:
    """The value checks of :func:`check_inputs`' results (X finite, the labels in range, the
    parameters finite in X's dtype): one reduction each, in one program where the library
    compiles; none for arrays traced into a graph (the ONNX export: no values yet)."""
    if is_traced(X):
        return
    values = X.values if isinstance(X, network.SparseInputs) else X
    finite, bounds, largest = summarised(xp, value_summary)(xp, values, y, params)
    if not bool(finite):
        raise ValueError("X holds NaN or infinite values")
    if y is not None:
        n_classes = params[f"W{len(params) // 2}"].shape[1]
        check_labels(xp, y, X.shape[0], n_classes, bounds=bounds)
    check_finite_params(xp, params, largest)  # after the cast: float64 may overflow float32


def loss_and_grads(
    params: Mapping[str, Any], X: Any, y: Any, *, reg: float = 1e-3, activation: str = "relu"
) -> tuple[Any, Params]:
    """Compute the regularised loss and its gradient by hand-written backprop.

    The loss is the mean softmax cross-entropy plus ``0.5 * reg * sum_l ||W_l||^2`` (biases
    are not regularised, and the penalty is not divided by N, as in the case study).

    Parameters
    ----------
    params : dict of str to array
        ``W1, b1, ..., WL, bL`` (as :func:`init_params` makes them), of X's library and
        device.
    X : array, shape (N, D)
        The examples, real floating and finite.
    y : array of integers, shape (N,)
        Labels in ``[0, K)``.
    reg : float
        The L2 regularisation strength (>= 0).
    activation : {"relu", "tanh", "logistic", "identity"}
        The hidden layers' activation.

    Returns
    -------
    loss : 0-d array
        The loss, of X's dtype on X's device (``float(loss)`` for a number).
    grads : dict of str to array
        The gradient of the loss with respect to each parameter, with the keys and shapes of
        ``params``.

    Examples
    --------
    >>> import portable_net as pn
    >>> X, y = pn.make_spiral(100, 3, seed=0)
    >>> params = pn.init_params([2, 100, 3], seed=0)
    >>> loss, grads = pn.loss_and_grads(params, X, y, reg=1e-3)
    >>> round(float(loss), 4)  # about ln 3 = 1.0986: the weights are small
    1.0987
    >>> tuple(grads["W1"].shape)
    (2, 100)
    """
    reg = check_real("reg", reg, low=0.0)
    activation_pair(activation)  # raises for an unknown name
    xp, _, n_layers, params, X, y = check_inputs(params, X, y)
    packed = network.pack(xp, params, n_layers)
    data = network.step_data(xp, X, one_hot(xp, y, params[f"W{n_layers}"].shape[1], X.dtype))
    n, n_features = X.shape
    loss_sum, packed_grads = network.backprop(
        xp, packed, data.Xt1, data.onehot, activation=activation
    )
    loss = loss_sum / n + network.penalty(xp, packed, n_features, reg)
    return loss, network.unpack(xp, with_l2(xp, packed, packed_grads, n_features, reg),
                                n_features, copy=True)  # fmt: skip


def with_l2(xp: ModuleType, packed: list[Any], grads: list[Any], n_features: int, reg: Any,
            masks: list[Any] | None = None, *, in_place: bool = False) -> list[Any]:  # fmt: skip
    """Packed gradients with the L2 term's, ``d (0.5 reg ||W||^2) / dW = reg W``, added to
    the weights' (``portable_net.optim.pieces.l2_term``, the optimisers' own; ``in_place``
    on the caller's own gradients); ``masks``: the weights' (``network.weight_masks``),
    made by a compiled caller outside its program (None: made here)."""
    masks = network.weight_masks(xp, packed, n_features) if masks is None else masks
    coefs = l2_coefficients(masks, reg)
    return [l2_term(g, p, c, in_place=in_place) for g, p, c in zip(grads, packed, coefs)]


def predict_proba(params: Mapping[str, Any], X: Any, *, activation: str = "relu") -> Any:
    """Compute the class probabilities of each row: the softmax of the scores.

    Parameters
    ----------
    params : dict of str to array
        A model (``W1, b1, ..., WL, bL``) of X's library and device.
    X : array, shape (N, D)
        The examples.
    activation : {"relu", "tanh", "logistic", "identity"}
        The hidden layers' activation (the one the model was trained with).

    Returns
    -------
    array, shape (N, K)
        The probabilities, rows summing to 1, of X's library, device and dtype.

    Examples
    --------
    >>> import portable_net as pn
    >>> X, y = pn.make_spiral(100, 3, seed=0)
    >>> proba = pn.predict_proba(pn.init_params([2, 3], seed=0), X)
    >>> proba.shape, bool(abs(proba.sum(axis=1) - 1).max() < 1e-12)
    ((300, 3), True)
    """
    activation_pair(activation)  # raises for an unknown name
    xp, _, n_layers, params, X, _ = check_inputs(params, X)
    parts = [_probabilities(xp, params, X[a:b, ...], n_layers, activation)
             for a, b in _row_blocks(params, n_layers, X.shape[0])]  # fmt: skip
    return parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)


def predict(params: Mapping[str, Any], X: Any, *, activation: str = "relu") -> Any:
    """Predict the most probable class of each row.

    Parameters
    ----------
    params : dict of str to array
        A model (``W1, b1, ..., WL, bL``) of X's library and device.
    X : array, shape (N, D)
        The examples.
    activation : {"relu", "tanh", "logistic", "identity"}
        The hidden layers' activation (the one the model was trained with).

    Returns
    -------
    array of integers, shape (N,)
        Labels in ``[0, K)``, of X's library and device.

    Examples
    --------
    >>> import portable_net as pn
    >>> X, y = pn.make_spiral(100, 3, seed=0)
    >>> pn.predict(pn.init_params([2, 3], seed=0), X).shape
    (300,)
    """
    activation_pair(activation)  # raises for an unknown name
    xp, _, n_layers, params, X, _ = check_inputs(params, X)
    parts = [_predictions(xp, params, X[a:b, ...], n_layers, activation)
             for a, b in _row_blocks(params, n_layers, X.shape[0])]  # fmt: skip
    return parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)


def accuracy(params: Mapping[str, Any], X: Any, y: Any, *, activation: str = "relu") -> float:
    """Compute the fraction of rows whose predicted class equals ``y``.

    Parameters
    ----------
    params : dict of str to array
        A model (``W1, b1, ..., WL, bL``) of X's library and device.
    X : array, shape (N, D)
        The examples.
    y : array of integers, shape (N,)
        Their labels, in ``[0, K)``.
    activation : {"relu", "tanh", "logistic", "identity"}
        The hidden layers' activation (the one the model was trained with).

    Returns
    -------
    float
        The accuracy, a Python float in ``[0, 1]``, the same on every backend.

    Examples
    --------
    >>> import portable_net as pn
    >>> X, y = pn.make_spiral(100, 3, seed=0)
    >>> params, _ = pn.train(pn.init_params([2, 3]), X, y, steps=200)
    >>> round(pn.accuracy(params, X, y), 2)  # the softmax classifier: about half
    0.53
    """
    activation_pair(activation)  # raises for an unknown name
    xp, _, n_layers, params, X, y = check_inputs(params, X, y, one_hot=False)
    hits = sum(
        int(_hits(xp, params, X[a:b, ...], y[a:b], n_layers, activation))
        for a, b in _row_blocks(params, n_layers, X.shape[0])
    )
    return float(hits / X.shape[0])  # exact: the same float on every backend


def outputs(
    params: Mapping[str, Any], X: Any, *, activation: str = "relu", output: str = "softmax"
) -> Any:
    """The output layer's values (N, K) of the rows of X: softmax probabilities, logistic
    probabilities of each output, or the identity's scores (regression); params and X
    checked as :func:`predict_proba` checks them."""
    activation_pair(activation)  # raises for an unknown name
    output_loss(output)
    xp, _, n_layers, params, X, _ = check_inputs(params, X)
    parts = [_outputs(xp, params, X[a:b, ...], n_layers, activation, output)
             for a, b in _row_blocks(params, n_layers, X.shape[0])]  # fmt: skip
    return parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)


def class_probabilities(
    params: Mapping[str, Any], X: Any, *, activation: str, output: str, multilabel: bool = False
) -> Any:
    """Each class's probability (N, K) of the rows of X: the output layer's values, and for
    one logistic output of two classes ``P(class 0) = 1 - P(class 1)`` beside it (a
    multilabel classifier's outputs are each label's own)."""
    out = outputs(params, X, activation=activation, output=output)
    return output_probabilities(array_namespace(out), out, output, multilabel)


def mean_loss(
    params: Mapping[str, Any], X: Any, y: Any, *, activation: str = "relu", output: str = "softmax"
) -> Any:
    """The mean data loss (0-d, no L2 term) of the output layer ``output`` on the rows of X,
    as training computes it: ``y`` holds class indices for softmax outputs, the real targets
    (N, K) of the others. ``loss_and_grads(..., reg=0)``'s loss, for any output layer."""
    from .targets import check_targets

    activation_pair(activation)  # raises for an unknown name
    output_loss(output)
    labels = output == "softmax"
    xp, _, n_layers, params, X, checked = check_inputs(params, X, y if labels else None)
    k = params[f"W{n_layers}"].shape[1]
    rows = one_hot(xp, checked, k, X.dtype) if labels else check_targets(xp, X, y, k)
    data = network.step_data(xp, X, rows)
    packed = network.pack(xp, params, n_layers)
    return network.mean_loss(
        xp, packed, data.Xt1, data.onehot, 0.0, int(X.shape[1]), activation=activation,
        output=output,
    )  # fmt: skip


def decided_labels(
    params: Mapping[str, Any], X: Any, classes: Any, *, activation: str, output: str
) -> Any:
    """The label of each row (one output: ``classes[1]`` where it is above 0.5, else
    ``classes[0]``; softmax: the class of the largest), or its index into ``classes`` when
    ``classes`` is None: the forward pass and the decision as one program per block where
    the library compiles (the estimators' ``predict``). params and X are checked as
    :func:`outputs` checks them; ``classes`` is an array of X's library or None."""
    activation_pair(activation)  # raises for an unknown name
    output_loss(output)
    xp, _, n_layers, params, X, _ = check_inputs(params, X)
    parts = [_decided(xp, params, X[a:b, ...], classes, n_layers, activation, output)
             for a, b in _row_blocks(params, n_layers, X.shape[0])]  # fmt: skip
    return parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)


#: a forward pass over more rows than this many activations of the widest layer goes block by
#: block: predictions on any number of rows hold one block's activations at a time (about
#: 32 MiB in float64), as training does, plus the outputs themselves
PREDICTION_VALUES = 2**22


def _row_blocks(
    params: Mapping[str, Any], n_layers: int, n: int | None
) -> list[tuple[int, int | None]]:
    """The rows of each block of a forward pass over n rows (one block when they fit, or
    when n is None: rows known only when a traced graph runs)."""
    if n is None:
        return [(0, None)]
    widest = max(int(params[f"W{i}"].shape[1]) for i in range(1, n_layers + 1))
    rows = max(1, PREDICTION_VALUES // widest)
    return [(a, min(a + rows, n)) for a in range(0, max(n, 1), rows)]


@as_predictor("n_layers", "activation", "output")
def _outputs(
    xp: ModuleType,
    params: Mapping[str, Any],
    X: Any,
    n_layers: int,
    activation: str,
    output: str,
) -> Any:
    """outputs' computation, where it costs least (:func:`portable_net.engines.predictor`)."""
    return output_values(xp, output, scores(xp, params, X, n_layers, activation))


@as_predictor("n_layers", "activation", "output")
def _decided(
    xp: ModuleType,
    params: Mapping[str, Any],
    X: Any,
    classes: Any,
    n_layers: int,
    activation: str,
    output: str,
) -> Any:
    """decided_labels' computation, where it costs least (:func:`portable_net.engines.predictor`)."""
    return decide(xp, output_values(xp, output, scores(xp, params, X, n_layers, activation)),
                  classes, output)  # fmt: skip


@as_predictor("n_layers", "activation")
def _probabilities(
    xp: ModuleType, params: Mapping[str, Any], X: Any, n_layers: int, activation: str
) -> Any:
    """predict_proba's computation, where it costs least (:func:`portable_net.engines.predictor`)."""
    return softmax(xp, scores(xp, params, X, n_layers, activation))


@as_predictor("n_layers", "activation")
def _predictions(
    xp: ModuleType, params: Mapping[str, Any], X: Any, n_layers: int, activation: str
) -> Any:
    """predict's computation, where it costs least (:func:`portable_net.engines.predictor`)."""
    return xp.argmax(scores(xp, params, X, n_layers, activation), axis=1)


@as_summary("n_layers", "activation")
def _hits(
    xp: ModuleType, params: Mapping[str, Any], X: Any, y: Any, n_layers: int, activation: str
) -> Any:
    """How many rows are predicted right (0-d), where it costs least
    (:func:`portable_net.engines.summarised`)."""
    pred = xp.argmax(scores(xp, params, X, n_layers, activation), axis=1)
    return xp.sum(xp.astype(pred == xp.astype(y, pred.dtype), pred.dtype))
