"""How :class:`portable_net.Classifier` trains: MLPClassifier's ``_fit`` and
``_fit_stochastic``, epoch by epoch.

Each epoch is one run of the training loop (:class:`portable_net.loop.Trainer`, the data
checked and prepared once per fit) over ``ceil(n / batch_size)`` mini-batches, shuffled or in
order, or one full-batch step; then the epoch's loss, the no-improvement count
(:class:`portable_net.optim.NoImprovement` of the training loss, or of minus the validation
score), the learning-rate schedule (:class:`portable_net.optim.LearningRateSchedule`) and the
stopping test. This module is the estimator's only caller of the loop.

An estimator given an ``_on_epoch`` attribute (a function; ``portable-net train`` sets it for
its progress and log lines) has it called with the estimator at the end of each epoch, after
the epoch's loss and validation score are recorded.

The state that outlives one ``fit`` lives on the estimator, as MLPClassifier keeps it: the
no-improvement count and the best loss or score (``warm_start`` and ``partial_fit`` carry
them on), the schedule and the optimiser's state (``partial_fit`` carries them on, ``fit``
starts them anew).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any, cast

import array_api_compat
import numpy as np

from .. import engines, optim
from .._backend import array_namespace, from_host, int_dtype
from .._validation import largest_magnitude
from ..engines import is_lazy, keep_compiled_programs, summarised
from ..errors import ConvergenceWarning, warning_category
from ..loop import Trainer, diverged_message
from ..model import outputs
from ..network import SparseInputs
from ..preprocessing import split_rows
from ..schedule import end_epoch
from ._inputs import check_finite_X, validate_X
from ._lbfgs import fit_lbfgs, scipy_optimize
from ._outputs import fit_sample_weight, lazy_sample_weight, validation_score
from ._settings import checked_settings, optimizer_factory, random_state

__all__ = ["fit"]


def fit(
    estimator: Any, X: Any, y: Any, *, incremental: bool, classes: Any = None,
    sample_weight: Any = None,
) -> Any:  # fmt: skip
    """``fit`` (``incremental=False``) and ``partial_fit`` of either estimator, as
    MLPClassifier's and MLPRegressor's ``_fit``: the settings and inputs checked, the
    targets and output layer learnt (``estimator._fit_targets``) and fresh weights on a
    first fit, then the epochs. Returns the estimator."""
    settings = checked_settings(estimator)
    optimizer = optimizer_factory(estimator, settings)
    fitted = estimator.__sklearn_is_fitted__()
    first = not fitted or (not estimator.warm_start and not incremental)
    if incremental and not fitted and classes is None and estimator._classes_required:
        raise ValueError("classes must be passed on the first call to partial_fit.")
    if incremental and estimator.early_stopping:  # MLPClassifier's rule, before any work
        raise ValueError("partial_fit does not support early_stopping=True")
    if estimator.solver == "lbfgs":
        scipy_optimize()  # installed, or ImportError before any work
    lazy = is_lazy(X, y)
    if lazy:
        if estimator.solver == "lbfgs":
            raise NotImplementedError(
                "solver='lbfgs' trains in-memory arrays (full batch); compute the Dask arrays "
                "first (X.compute()) or use solver='adam' or 'sgd'"
            )
        X, y_fit, y_strata = estimator._lazy_targets(X, y, first)
        xp, device, threads = np, None, None  # the chunks' threads are the workers'
        weights = lazy_sample_weight(sample_weight, int(X.shape[0]))
    else:
        # JAX: a later process loads the programs instead; on before the checks, whose
        # first operations compile too
        keep_compiled_programs(X)
        # X's kind and shape here; its values inside the fit's threads, decided by them
        X, xp, device = validate_X(estimator, X, reset=first, method="fit", values=False)
        y_fit, y_strata = estimator._fit_targets(X, y, xp, device, first, incremental, classes)
        threads = _fit_threads(estimator, settings, X, xp, device)
    # every later pass of the fit (X's values, the data laid out for the step, the epochs,
    # the held-out scores, the weights' check) on the fit's intra-op threads
    with engines.threads_limited(xp, threads):
        if not lazy:
            if not isinstance(X, SparseInputs):
                check_finite_X(xp, X)
            weights = fit_sample_weight(sample_weight, X, xp, device)
        rng = random_state(estimator.random_state)
        if first:
            _initialize(estimator, settings, X, xp, device, rng)
        if estimator.solver == "lbfgs":  # full batch, scipy's optimiser (no epochs)
            fit_lbfgs(estimator, X, y_fit, weights, settings)
        else:
            _fit_epochs(estimator, X, y_fit, y_strata, weights, settings, optimizer, rng,
                        incremental=incremental)  # fmt: skip
        _check_finite_weights(estimator)
    return estimator


def _fit_threads(est: Any, settings: dict[str, Any], X: Any, xp: Any, device: Any) -> Any:
    """The fit's intra-op threads: those of its training loop's runs
    (:func:`portable_net.engines.threads_for_sizes`), decided from the shapes alone."""
    sizes = [int(X.shape[1]), *settings["hidden"], int(est.n_outputs_)]
    n = int(X.shape[0])
    batch = None if est.solver == "lbfgs" else _batch_of(settings["batch_size"], n)
    return engines.threads_for_sizes(xp, device, sizes, batch, X, est.n_jobs)


def _finite_weights(estimator: Any) -> bool:
    """Whether the weights are all finite (their largest magnitude: one reduction where it
    costs least)."""
    xp = array_namespace(estimator.coefs_[0])
    return math.isfinite(float(summarised(xp, largest_magnitude)(xp, estimator.params_)))


def _check_finite_weights(estimator: Any) -> None:
    """MLPClassifier's end of a fit: weights that are not all finite are its ValueError."""
    if not _finite_weights(estimator):
        raise ValueError(
            "Solver produced non-finite parameter weights. The input data may contain large "
            "values and need to be preprocessed."
        )


def _initialize(
    estimator: Any, settings: dict[str, Any], X: Any, xp: Any, device: Any, rng: Any
) -> None:
    """Fresh weights and bookkeeping, as MLPClassifier's ``_initialize``: Glorot-uniform
    weights and biases ``U(-b, b)``, ``b = sqrt(6 / (fan_in + fan_out))``, drawn layer by
    layer from ``random_state`` (the same draws as MLPClassifier's and MLPRegressor's; with
    ``activation="logistic"``, as theirs, every layer's bound is ``sqrt(2 / (fan_in +
    fan_out))``)."""
    est = estimator
    sizes = [int(X.shape[1]), *settings["hidden"], int(est.n_outputs_)]
    dtype = X.dtype
    est.coefs_, est.intercepts_ = [], []
    factor = 2.0 if est.activation == "logistic" else 6.0  # Glorot's, as scikit-learn's
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = math.sqrt(factor / (fan_in + fan_out))
        W = rng.uniform(-bound, bound, (fan_in, fan_out))
        b = rng.uniform(-bound, bound, fan_out)
        est.coefs_.append(from_host(xp, W, dtype, device))
        est.intercepts_.append(from_host(xp, b, dtype, device))
    est.n_iter_ = 0
    est.t_ = 0
    est.n_layers_ = len(sizes)
    for name in _STOCHASTIC_ATTRIBUTES:  # a refit: those of the fit before go
        if name in vars(est):
            delattr(est, name)
    if est.solver != "lbfgs":  # the epochs' bookkeeping (L-BFGS has none, as MLPClassifier)
        _start_bookkeeping(est)


#: the fitted attributes of the stochastic solvers only (MLPClassifier's ``_initialize``)
_STOCHASTIC_ATTRIBUTES = ("loss_curve_", "best_loss_", "validation_scores_",
                          "best_validation_score_", "_no_improvement_count")  # fmt: skip


def _start_bookkeeping(est: Any) -> None:
    """The loss curve, the no-improvement count and the best loss or validation score of a
    first fit (or of a warm start from an L-BFGS fit, which has none)."""
    est.loss_curve_ = []
    est._no_improvement_count = 0
    if est.early_stopping:
        est.validation_scores_ = []
        est.best_validation_score_ = -np.inf
        est.best_loss_ = None
    else:
        est.best_loss_ = np.inf
        est.validation_scores_ = None
        est.best_validation_score_ = None


def _validation_split(
    X: Any, y_fit: Any, weights: Any, fraction: float, strata: np.ndarray | None, rng: Any
) -> tuple[Any, ...]:
    """(X_train, y_train, w_train, X_val, y_val, w_val) in X's library and device:
    MLPClassifier's rows, in its order (``train_test_split`` drawing from ``random_state``,
    stratified by ``strata``, the labels, when it has one output: two classes)."""
    xp = array_namespace(X)
    device = array_api_compat.device(X)
    rows = strata if strata is not None else np.zeros(int(X.shape[0]))
    train_idx, val_idx = split_rows(rows, fraction, rng, stratify=strata is not None)
    if val_idx.shape[0] < 2:
        raise ValueError(
            "The validation set is too small. Increase 'validation_fraction' or the size "
            "of your dataset."
        )

    def take(a: Any, idx: np.ndarray) -> Any:
        if a is None:
            return None
        index = from_host(xp, idx, int_dtype(xp, device), device)
        return a.take(index) if isinstance(a, SparseInputs) else xp.take(a, index, axis=0)

    return tuple(take(a, idx) for idx in (train_idx, val_idx) for a in (X, y_fit, weights))


def _batch_of(setting: Any, n: int) -> int:
    """The examples of a batch: MLPClassifier's ``batch_size`` ("auto": 200) clipped to n."""
    return min(200 if setting == "auto" else int(setting), n)


def _batch_size(setting: Any, n: int) -> int:
    if setting != "auto" and setting > n:
        warnings.warn(
            "Got `batch_size` less than 1 or larger than sample size. It is going to be clipped",
            UserWarning,
            stacklevel=5,  # the user's call: Classifier.fit -> fit -> _fit_epochs -> here
        )
    return _batch_of(setting, n)


#: the bound of each epoch's shuffle seed drawn from random_state (MLPClassifier's draw)
_SEEDS = int(np.iinfo(np.int32).max)


def _set_weights(estimator: Any, params: dict[str, Any]) -> None:
    n_layers = len(params) // 2
    estimator.coefs_ = [params[f"W{i}"] for i in range(1, n_layers + 1)]
    estimator.intercepts_ = [params[f"b{i}"] for i in range(1, n_layers + 1)]


def _trainer(est: Any, X: Any, y_fit: Any, weights: Any, batch_size: int, alpha: float,
             lr: float, optimizer: Callable[[float], Any]) -> Trainer:  # fmt: skip
    """The fit's training set, checked and prepared once: mini-batches of ``batch_size``
    (shuffled unless ``shuffle=False``), or the full batch; MLPClassifier's L2 term,
    ``alpha / B`` for a batch of B examples (``alpha`` over the batch's weights' sum with
    sample weights); the optimiser's state carried on; the estimator's activation and
    output layer."""
    n = int(X.shape[0])
    full = batch_size >= n
    return Trainer(
        est.params_, X, y_fit, optimizer=optimizer(lr), reg=alpha, reg_over_batch=True,
        activation=est.activation, output=est._output, sample_weight=weights,
        batch_size=None if full else batch_size, shuffle=bool(est.shuffle),
        optimizer_state=est._optimizer_state,
        # one step an epoch: compiling it would cost more than it saves
        engine="eager" if full else "auto",
        n_jobs=est.n_jobs,
    )  # fmt: skip


def _epoch(est: Any, trainer: Trainer, lr: float, rng: Any) -> float:
    """One epoch at the rate ``lr``; its loss, the mean of the batch losses weighted by
    batch size (as MLPClassifier)."""
    n, batch_size = trainer.n, trainer.batch_size or trainer.n
    # a new shuffle each epoch, drawn from random_state
    seed = int(rng.randint(_SEEDS)) if est.shuffle and batch_size < n else 0
    # a NaN or infinite loss goes on, as MLPClassifier's epochs do (the weights are judged
    # at the end of the fit, the held-out scores of early stopping keep the best)
    losses = trainer.epoch(seed, lr, finite_only=False)
    last = n - (len(losses) - 1) * batch_size
    return float((batch_size * sum(losses[:-1]) + last * losses[-1]) / n)


def _epoch_value(estimator: Any, held_out: Any) -> float:
    """What the no-improvement count judges an epoch by, as MLPClassifier's
    ``_update_no_improvement_count``: the training loss, or minus the validation score (which
    is recorded, and printed when verbose)."""
    est = estimator
    if held_out is None:
        return float(est.loss_curve_[-1])
    X_val, y_val, w_val = held_out
    if _finite_weights(est):
        out = outputs(est.params_, X_val, activation=est.activation, output=est._output)
    else:  # a diverged epoch's outputs: NaN, scored as MLPClassifier scores them
        out = np.full((int(X_val.shape[0]), int(est.n_outputs_)), np.nan)
    score = validation_score(est._output, out, y_val, w_val)
    cast("list[float]", est.validation_scores_).append(score)
    if est.verbose:
        print(f"Validation score: {score:f}")
    return -score


def _tell(schedule: optim.LearningRateSchedule, outcome: str, what: str,
          settings: dict[str, Any]) -> None:  # fmt: skip
    """A plateau's outcome, told as MLPClassifier's ``trigger_stopping`` tells it."""
    msg = (
        f"{what} did not improve more than tol={settings['tol']:f} for "
        f"{settings['n_iter_no_change']} consecutive epochs."
    )
    if outcome == "lowered":
        print(msg + f" Setting learning rate to {schedule.learning_rate:f}")
    elif schedule.kind == "adaptive":
        print(msg + " Learning rate too small. Stopping.")
    else:
        print(msg + " Stopping.")


def _fit_epochs(
    estimator: Any,
    X: Any,
    y_fit: Any,
    strata: np.ndarray | None,
    weights: Any,
    settings: dict[str, Any],
    optimizer: Callable[[float], Any],
    rng: np.random.RandomState,
    *,
    incremental: bool,
) -> None:
    """Train the estimator on X and the training loop's targets ``y_fit`` (indices into
    the labels, or real targets), weighted by ``weights`` (or None): ``max_iter`` epochs at
    most, one with ``incremental`` (``partial_fit``), as MLPClassifier's
    ``_fit_stochastic``; ``strata``: the labels the held-out rows are stratified by (or
    None); ``optimizer(learning_rate)`` makes an epoch's optimiser."""
    est = estimator
    if not hasattr(est, "loss_curve_"):  # a warm start from an L-BFGS fit
        _start_bookkeeping(est)
    est.n_iter_ = 0  # the epochs of this call, as MLPClassifier counts them
    if not incremental or not hasattr(est, "_schedule"):
        # Adam: a constant rate (MLPClassifier's schedules are SGD's)
        kind = "constant" if est.solver == "adam" else est.learning_rate
        est._schedule = optim.LearningRateSchedule(
            settings["learning_rate_init"], kind, settings["power_t"]
        )
        est._optimizer_state = None  # a new optimiser (fit), kept by partial_fit
    schedule = est._schedule
    early_stopping = est.early_stopping and not incremental
    held_out = None
    if early_stopping:
        X, y_fit, weights, *held_out = _validation_split(
            X, y_fit, weights, settings["validation_fraction"], strata, rng
        )
    n = int(X.shape[0])
    batch_size = _batch_size(settings["batch_size"], n)
    if early_stopping and est.validation_scores_ is None:  # warm start, switched on
        est.validation_scores_, est.best_validation_score_ = [], -np.inf
    if early_stopping:  # the weights kept if no epoch beats the best score so far
        est._best_coefs, est._best_intercepts = list(est.coefs_), list(est.intercepts_)
    if not early_stopping and est.best_loss_ is None:  # warm start, switched off
        est.best_loss_ = np.inf
    rule = optim.NoImprovement(settings["tol"], settings["n_iter_no_change"])
    rule.count = est._no_improvement_count
    rule.best = -est.best_validation_score_ if early_stopping else est.best_loss_
    alpha = float(settings["alpha"])

    trainer = _trainer(est, X, y_fit, weights, batch_size, alpha, schedule.learning_rate, optimizer)
    try:
        _epochs(est, trainer, schedule, rule, held_out, settings, rng, incremental)
    finally:  # interrupted too (a warning raised as an error among them): the steps made
        _set_weights(est, trainer.params())
        est._optimizer_state = trainer.state
    if early_stopping:  # the best weights seen, as MLPClassifier
        est.coefs_, est.intercepts_ = est._best_coefs, est._best_intercepts
        del est._best_coefs, est._best_intercepts


def _epochs(est: Any, trainer: Trainer, schedule: optim.LearningRateSchedule,
            rule: optim.NoImprovement, held_out: Any, settings: dict[str, Any], rng: Any,
            incremental: bool) -> None:  # fmt: skip
    """The fit's epochs (one with ``incremental``), as MLPClassifier's ``_fit_stochastic``:
    each epoch's loss recorded, the convergence rule fed, the schedule told. The weights
    become the estimator's after the last epoch (the caller's), or after each one when the
    validation score needs them."""
    n = trainer.n
    early_stopping = held_out is not None
    first_loss = None  # the fit's first batch loss (before its update)
    for _ in range(1 if incremental else settings["max_iter"]):
        loss = _epoch(est, trainer, schedule.learning_rate, rng)
        if early_stopping:  # scored on the held-out rows
            _set_weights(est, trainer.params())
        if first_loss is None:
            first_loss = trainer.first_loss
        est.n_iter_ += 1
        est.t_ += n
        est.loss_ = loss
        est.loss_curve_.append(loss)
        if est.verbose:
            print(f"Iteration {est.n_iter_}, loss = {loss:.8f}")
        # the end of the epoch: the no-improvement count, the schedule (MLPClassifier's order)
        improved, outcome = end_epoch(rule, schedule, _epoch_value(est, held_out), est.t_)
        est._no_improvement_count = rule.count
        if not early_stopping:
            est.best_loss_ = rule.best
        elif improved:  # the best validation score's weights (train returns new arrays)
            est.best_validation_score_ = -rule.best
            est._best_coefs, est._best_intercepts = list(est.coefs_), list(est.intercepts_)
        on_epoch = getattr(est, "_on_epoch", None)  # the command line's progress and log
        if on_epoch is not None:
            on_epoch(est)
        if outcome is not None:
            if est.verbose:
                what = "Validation score" if early_stopping else "Training loss"
                _tell(schedule, outcome, what, settings)
            if outcome == "stop":
                break
        if incremental:
            break
        if est.n_iter_ == settings["max_iter"]:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({settings['max_iter']}) reached "
                "and the optimization hasn't converged yet.",
                warning_category(ConvergenceWarning),
                stacklevel=5,  # the user's call: Classifier.fit -> fit -> _fit_epochs -> _epochs
            )
    message = diverged_message(first_loss, est.loss_curve_[-1], trainer.steps_made)
    if message is not None:  # the rule train() follows
        warnings.warn(
            f"{message}; try a smaller learning_rate_init "
            f"(learning_rate_init={settings['learning_rate_init']:g})",
            warning_category(ConvergenceWarning),
            stacklevel=5,  # the user's call: Classifier.fit -> fit -> _fit_epochs -> _epochs
        )
