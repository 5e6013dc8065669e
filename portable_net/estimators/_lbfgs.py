"""How the estimators train with ``solver="lbfgs"``: MLPClassifier's and MLPRegressor's
``_fit_lbfgs``, full batch.

scipy.optimize's L-BFGS-B minimises the regularised loss over one flat vector of the weights
(the step's packed parameters ``[W1b, W2^T, b2, ...]`` row by row: the same coordinates as
scikit-learn's ``coefs_`` and ``intercepts_``, in the order that needs no copy to evaluate),
with ``maxiter=max_iter``, ``maxfun=max_fun``, ``gtol=tol`` and ``iprint`` from ``verbose``
where scipy still takes it (as scikit-learn passes it). Each evaluation is the network's own
loss and gradient on X's library and device: the forward pass, the output layer's loss and
the backward pass of :func:`portable_net.network.backprop`, the L2 penalty
(:func:`portable_net.network.penalty`) and its gradient
(:func:`portable_net.model.with_l2`, :mod:`portable_net.optim`'s ``l2_term``), at
MLPClassifier's strength ``alpha / n`` (or over the sum of the sample weights). Only the flat
vector (to the device) and the loss and flat gradient (to the host) cross between them; on
JAX the evaluation is one compiled program.

This is a driver of scipy's optimiser, not of the training loop: there are no epochs, batches
or schedules here (:mod:`._epochs` drives :class:`portable_net.loop.Trainer` for the other
solvers).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import array_api_compat
import numpy as np

from .. import engines, network
from .._backend import array_namespace, from_host, to_host
from ..errors import ConvergenceWarning, warning_category
from ..loop import diverged_message
from ..model import with_l2
from ..step import split_targets

__all__ = ["fit_lbfgs", "scipy_optimize"]


def scipy_optimize() -> Any:
    """scipy.optimize, or ImportError saying what to install (checked before any work)."""
    try:
        import scipy.optimize
    except ImportError:  # scipy is optional, as scikit-learn is
        raise ImportError(
            "solver='lbfgs' needs scipy (scipy.optimize's L-BFGS-B), which is not installed: "
            "pip install scipy (or use solver='adam' or 'sgd')"
        ) from None
    return scipy.optimize


def _layer_sizes(estimator: Any) -> tuple[int, ...]:
    return (int(estimator.coefs_[0].shape[0]), *[int(W.shape[1]) for W in estimator.coefs_])


@engines.as_program("alpha", "shapes", "activation", "output", "weighted", "block")
def _loss_and_gradient(xp, theta, Xt1, targets, masks, alpha, shapes, activation, output,
                       weighted, block):  # fmt: skip
    """MLPClassifier's ``_loss_grad_lbfgs``: the regularised mean loss (0-d) and its
    gradient as a flat vector, of the flat packed parameters ``theta``
    (:func:`portable_net.network.flat`) on the data in the step's layout (Xt1 (D + 1, N),
    targets (K, N), with the examples' weights as a last row when ``weighted``); ``masks``:
    the weights' (``network.weight_masks``)."""
    n_features = shapes[0][1] - 1
    packed = network.unflat(xp, theta, shapes)
    targets, weights = split_targets(targets, weighted)
    n = Xt1.shape[1] if weights is None else xp.sum(weights)  # or the sum of the weights
    scale = 1.0 / n if weights is None else weights / n  # each example's share of the mean
    loss_sum, grads = network.backprop(xp, packed, Xt1, targets, scale=scale, weights=weights,
                                       activation=activation, output=output, block=block)  # fmt: skip
    reg = alpha / n  # MLPClassifier's alpha, over the examples (or their weights)
    loss = loss_sum / n + network.penalty(xp, packed, n_features, reg)
    # the gradients are backprop's own arrays: the L2 term added in place where writable
    grads = with_l2(xp, packed, grads, n_features, reg, masks, in_place=True)
    return loss, network.flat(xp, grads)


def _options(settings: dict[str, Any], verbose: Any) -> dict[str, Any]:
    """scipy's L-BFGS-B options, as MLPClassifier passes them (``iprint`` only to the scipy
    releases that take it: it is deprecated from 1.15 on, where scikit-learn drops it)."""
    import scipy

    options = {"maxfun": settings["max_fun"], "maxiter": settings["max_iter"],
               "gtol": settings["tol"]}  # fmt: skip
    major, minor = (int(part) for part in scipy.__version__.split(".")[:2])
    if (major, minor) < (1, 15):
        options["iprint"] = 1 if verbose is True or verbose >= 1 else -1
    return options


def convergence_message(status: int, message: str, n_iter: int, max_iter: int) -> str:
    """scikit-learn's warning for an L-BFGS run that stopped on a limit (``status`` != 0)."""
    text = f"lbfgs failed to converge after {n_iter} iteration(s) (status={status}):\n{message}\n"
    if n_iter == max_iter:
        text += (
            f"\nIncrease the number of iterations to improve the convergence (max_iter={max_iter})."
        )
    return text + (
        "\nYou might also want to scale the data as shown in:\n"
        "    https://scikit-learn.org/stable/modules/preprocessing.html"
    )


def fit_lbfgs(est: Any, X: Any, y_fit: Any, weights: Any, settings: dict[str, Any]) -> None:
    """Train the estimator on X and the training loop's targets ``y_fit`` (weighted by
    ``weights``, or None) from its current weights with L-BFGS-B, as MLPClassifier's
    ``_fit_lbfgs``: ``n_iter_``, ``loss_`` and the weights set as it sets them, a
    ConvergenceWarning (scikit-learn's) when scipy stops on a limit."""
    optimize = scipy_optimize()
    xp = array_namespace(est.coefs_[0])
    device = array_api_compat.device(est.coefs_[0])
    dtype = est.coefs_[0].dtype
    sizes = _layer_sizes(est)
    rows = network.target_rows(xp, y_fit, int(X.shape[0]), sizes[-1], X.dtype, est._output,
                               weights)  # fmt: skip
    data = network.step_data(xp, X, rows)
    n = int(X.shape[0])
    packed = network.pack(xp, est.params_, len(sizes) - 1)
    shapes = tuple((int(p.shape[0]), int(p.shape[1])) for p in packed)
    masks = network.weight_masks(xp, packed, sizes[0])  # made here: JAX compiles the objective
    block = engines.block_for(xp, device, packed, n, X)
    threads = engines.threads_for(xp, device, packed, block or n, est.n_jobs)
    losses: list[float] = []

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        loss, grad = _loss_and_gradient(
            xp, from_host(xp, theta, dtype, device), data.Xt1, data.onehot, masks,
            float(settings["alpha"]), shapes, est.activation, est._output,
            weights is not None, block,
        )  # fmt: skip
        losses.append(float(loss))
        # a NumPy gradient is the evaluation's own array: no copy
        host = grad if isinstance(grad, np.ndarray) else to_host(grad)
        return losses[-1], np.asarray(host, dtype=np.float64)

    theta0 = np.asarray(to_host(network.flat(xp, packed)), dtype=np.float64)
    with engines.threads_limited(xp, threads), engines.bookkeeping_off(xp)():
        result = optimize.minimize(objective, theta0, method="L-BFGS-B", jac=True,
                                   options=_options(settings, est.verbose))  # fmt: skip
    max_iter = settings["max_iter"]
    est.n_iter_ = min(int(result.nit), max_iter)
    if result.status != 0:
        warnings.warn(
            convergence_message(int(result.status), str(result.message), est.n_iter_, max_iter),
            warning_category(ConvergenceWarning),
            stacklevel=5,  # the user's call: Classifier.fit -> fit -> _train -> fit_lbfgs
        )
    est.loss_ = float(result.fun)
    theta = from_host(xp, np.asarray(result.x), dtype, device)
    fitted = network.unpack(xp, network.unflat(xp, theta, shapes), sizes[0], copy=True)
    est.coefs_ = [fitted[f"W{i}"] for i in range(1, len(sizes))]
    est.intercepts_ = [fitted[f"b{i}"] for i in range(1, len(sizes))]
    first = losses[0] if losses and math.isfinite(losses[0]) else None
    message = diverged_message(first, est.loss_, est.n_iter_)
    if message is not None:  # the rule train() and the other solvers follow
        warnings.warn(
            f"{message}; the data may need scaling",
            warning_category(ConvergenceWarning),
            stacklevel=5,
        )
