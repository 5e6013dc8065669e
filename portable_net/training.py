"""The training loop: check once, prepare once, step without host synchronisation, log.

caller's arrays -> checks (errors here, before any work)
  -> private copies of the parameters, one-hot labels, optimiser state (or the state a
     previous run left in its History)
  -> steps; at a logged step only: held-out loss and accuracy, loss -> float, history,
     divergence check, learning-rate schedule, early stopping, callback
  -> new parameters, arrays of the caller's library on the caller's device

The steps are the portable step of :mod:`portable_net.step`, whose update is one of
:mod:`portable_net.optim`'s optimisers; an engine (:mod:`portable_net.engines`) may run them
its own way, with the same numbers.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import warnings
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

import numpy as np

from . import engines, network
from ._backend import from_host, int_dtype, to_host
from ._validation import check_int, check_real
from .errors import StopTraining, TrainingDiverged, TrainingInterrupted, TrainingWarning
from .history import History, check_final_loss, log_step
from .loss import one_hot, softmax_xent
from .model import check_inputs
from .optim import SGD, Adam, AdamState, LearningRateSchedule, SGDState
from .step import StepSettings, make_step

__all__ = ["History", "train"]

#: the names ``train(..., optimizer=...)`` accepts, and the rate each defaults to
OPTIMIZERS = {"sgd": 1.0, "adam": 1e-3}
SCHEDULES = ("constant", "invscaling", "adaptive")


def check_hyperparameters(
    steps, learning_rate, reg, momentum, batch_size, seed, log_every, callback
):
    """The hyperparameters of :func:`train`, checked (errors name the argument)."""
    steps = check_int("steps", steps, minimum=0)
    if learning_rate is not None:
        learning_rate = check_real("learning_rate", learning_rate, low=0.0, low_open=True)
    reg = check_real("reg", reg, low=0.0)
    momentum = check_real("momentum", momentum, low=0.0, high=1.0, high_open=True)
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    log_every = check_int("log_every", log_every, minimum=1)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, not {type(callback).__name__}")
    return steps, learning_rate, reg, momentum, batch_size, seed, log_every


def choose_optimizer(optimizer: Any, learning_rate: Any, momentum: Any) -> SGD | Adam:
    """``train``'s ``optimizer=``, ``learning_rate=`` and ``momentum=`` as one optimiser.

    A name takes the rate (default: 1.0 for "sgd", 1e-3 for "adam") and, for "sgd", the
    momentum; an instance carries its own, and an explicit ``learning_rate`` or ``momentum``
    that differs from it is an error (there is one source of each number)."""
    if isinstance(optimizer, (SGD, Adam)):
        if learning_rate is not None and learning_rate != optimizer.learning_rate:
            raise ValueError(
                f"learning_rate={learning_rate!r} conflicts with the optimizer's "
                f"learning_rate={optimizer.learning_rate!r}: give the rate in one place"
            )
        own = optimizer.momentum if isinstance(optimizer, SGD) else 0.0
        if momentum and momentum != own:
            raise ValueError(
                f"momentum={momentum!r} conflicts with the optimizer {optimizer!r}: give the "
                "momentum in the optimizer"
            )
        return optimizer
    if optimizer not in OPTIMIZERS:
        raise ValueError(
            "optimizer must be 'sgd', 'adam', or a portable_net.optim.SGD or Adam instance, "
            f"not {optimizer!r}"
        )
    lr = OPTIMIZERS[optimizer] if learning_rate is None else learning_rate
    lr = check_real("learning_rate", lr, low=0.0, low_open=True)
    momentum = check_real("momentum", momentum, low=0.0, high=1.0, high_open=True)
    if optimizer == "adam":
        if momentum:
            raise ValueError(
                "momentum applies to optimizer='sgd'; Adam's are beta_1 and beta_2 "
                "(pass optimizer=portable_net.optim.Adam(...) to set them)"
            )
        return Adam(lr)
    return SGD(lr, momentum)


def _engine_choice(engine: Any, jit: Any) -> Any:
    """``engine=`` checked, with the deprecated ``jit=`` translated into it."""
    if jit is not None:
        if not isinstance(jit, bool):
            raise TypeError(f"jit must be True, False or None, not {jit!r}")
        if engine != "auto":
            raise TypeError("pass engine= only (jit= is its deprecated spelling), not both")
        warnings.warn(
            "train(jit=...) is deprecated and will be removed in the next release: use "
            "engine='auto' (jit=True) or engine='portable' (jit=False)",
            DeprecationWarning,
            stacklevel=3,
        )
        return "auto" if jit else "portable"
    if not callable(engine) and engine not in engines.ENGINE_NAMES:
        raise ValueError(
            f"engine must be one of {', '.join(map(repr, engines.ENGINE_NAMES))} or an engine "
            f"factory, not {engine!r}"
        )
    return engine


class _Batches:
    """Seeded shuffled mini-batches: one permutation per epoch, drawn on the host."""

    def __init__(self, n: int, batch_size: int, seed: int):
        self.n, self.batch_size = n, batch_size
        self.rng = np.random.default_rng(seed)
        self.start = n  # forces a new epoch on first use

    def segment(self, most: int) -> tuple[np.ndarray, int, int, int, int]:
        """The next at most ``most`` batches, within one epoch: ``(perm, start, count, size,
        ragged)``: ``count`` batches of ``size`` examples from position ``start`` of the
        epoch's order ``perm`` (a NumPy array (N,), the same object for the whole epoch: the
        runner moves it to the device once), then, when ``ragged`` > 0, the epoch's smaller
        last batch (its last ``ragged`` positions). ``count + (ragged > 0)`` batches."""
        n, size = self.n, self.batch_size
        if self.start >= n:
            self.perm = self.rng.permutation(n)
            self.start = 0
        start = self.start
        count = min(most, (n - start) // size)
        end = start + count * size
        ragged = n - end if count < most and 0 < n - end < size else 0
        self.start = end + ragged
        return self.perm, start, count, size, ragged


class _HeldOut:
    """Held-out data in the step's layout, and its loss and accuracy (one forward pass)."""

    def __init__(self, xp: ModuleType, X: Any, y: Any, n_classes: int):
        self.xp, self.y = xp, y
        self.data = network.step_data(xp, X, one_hot(xp, y, n_classes, X.dtype))

    def evaluate(self, packed: list[Any]) -> tuple[float, float]:
        """(mean cross-entropy, accuracy) of the packed parameters: host floats."""
        xp, data = self.xp, self.data
        scores = network.forward_scores(xp, packed, data.Xt1)  # (K, Nv)
        loss_sum, _ = softmax_xent(xp, scores, data.onehot, 1.0, need_loss=True, need_grad=False)
        pred = xp.argmax(scores, axis=0)
        hits = xp.sum(xp.astype(pred == xp.astype(self.y, pred.dtype), data.Xt1.dtype))
        return float(loss_sum) / data.n, float(hits) / data.n


def _held_out(xp, device, X, y, validation, validation_fraction, early_stopping, seed):
    """(X, y) to train on and the held-out (X_val, y_val) or None, checked."""
    if validation is not None and validation_fraction is not None:
        raise ValueError("pass validation=(X_val, y_val) or validation_fraction=, not both")
    if validation is None and validation_fraction is None:
        if not early_stopping:
            return X, y, None
        validation_fraction = 0.1  # as MLPClassifier
    if validation is not None:
        if not (isinstance(validation, (tuple, list)) and len(validation) == 2):
            raise TypeError("validation must be a pair (X_val, y_val)")
        return X, y, validation
    fraction = check_real(
        "validation_fraction", validation_fraction, low=0.0, high=1.0, low_open=True, high_open=True
    )
    from .tabular import split

    if seed >= 2**32:
        raise ValueError(f"seed must be < 2**32 to draw the validation split, got {seed}")
    y_host = to_host(y)
    rows = np.arange(y_host.shape[0])[:, None]
    try:
        train_rows, val_rows, _, _ = split(rows, y_host, fraction, seed)
    except ValueError as exc:
        raise ValueError(f"validation_fraction={fraction!r}: {exc}") from None
    idx = int_dtype(xp, device)
    tr = from_host(xp, np.sort(train_rows[:, 0]), idx, device)
    va = from_host(xp, np.sort(val_rows[:, 0]), idx, device)
    return (
        xp.take(X, tr, axis=0),
        xp.take(y, tr, axis=0),
        (
            xp.take(X, va, axis=0),
            xp.take(y, va, axis=0),
        ),
    )


def _copy_state(xp: ModuleType, state: Any) -> Any:
    """A private copy of an optimiser state (the loop updates its arrays in place): one
    program where the library compiles."""
    return engines.compiled(xp, _copies, static_argnums=(0,))(xp, state)


def _copies(xp: ModuleType, state: Any) -> Any:
    own = lambda arrays: [xp.asarray(a, copy=True) for a in arrays]  # noqa: E731
    if isinstance(state, SGDState):
        return SGDState(own(state.velocity))
    step = state.step
    if not isinstance(step, int):
        step = xp.asarray(step, copy=True)
    return AdamState(step, own(state.m), own(state.v))


def _start_state(xp, fresh, opt, previous: History | None) -> Any:
    """The optimiser state: ``fresh``, or a copy of what the previous run left (checked)."""
    if previous is None or previous.optimizer_state is None:
        return fresh
    state = previous.optimizer_state
    kind = type(fresh).__name__
    if type(state) is not type(fresh):
        raise ValueError(
            f"history holds a {type(state).__name__} but the optimizer {opt!r} needs a {kind}: "
            "continue with the optimiser that made the history"
        )
    arrays = state.velocity if isinstance(state, SGDState) else state.m
    wanted = fresh.velocity if isinstance(fresh, SGDState) else fresh.m
    if len(arrays) != len(wanted) or any(
        tuple(a.shape) != tuple(b.shape) for a, b in zip(arrays, wanted)
    ):
        raise ValueError(
            f"history's optimizer state does not fit these parameters and {opt!r} (another "
            "net, or another momentum)"
        )
    return _copy_state(xp, state)


def _check_stopping(tol, n_iter_no_change, power_t, lr_schedule, early_stopping, restore_best):
    if lr_schedule not in SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {', '.join(SCHEDULES)}, not {lr_schedule!r}")
    tol = check_real("tol", tol)
    n_iter_no_change = check_int("n_iter_no_change", n_iter_no_change, minimum=1)
    power_t = check_real("power_t", power_t, low=0.0)
    for name, value in (("early_stopping", early_stopping), ("restore_best", restore_best)):
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be True or False, not {value!r}")
    return tol, n_iter_no_change, power_t


def train(
    params: Mapping[str, Any],
    X: Any,
    y: Any,
    *,
    steps: int = 10_000,
    learning_rate: float | None = None,
    reg: float = 1e-3,
    momentum: float = 0.0,
    optimizer: str | SGD | Adam = "sgd",
    lr_schedule: str = "constant",
    power_t: float = 0.5,
    batch_size: int | None = None,
    seed: int = 0,
    log_every: int = 1000,
    callback: Callable[[int, float, dict[str, Any]], Any] | None = None,
    validation: tuple[Any, Any] | None = None,
    validation_fraction: float | None = None,
    early_stopping: bool = False,
    n_iter_no_change: int = 10,
    tol: float = 1e-4,
    restore_best: bool = False,
    history: History | None = None,
    final_loss: bool = True,
    engine: str | engines.EngineFactory = "auto",
    jit: bool | None = None,
    scheduler: Any = None,
) -> tuple[dict[str, Any], History]:
    """Train by gradient descent; return new parameters and the logged history.

    Parameters
    ----------
    params : dict
        ``W1, b1, ..., WL, bL`` (see :func:`init_params`), of X's library and device. They
        are copied, never modified; the result has X's dtype.
    X : array, shape (N, D)
        Real floating, finite features.
    y : array of integers, shape (N,)
        Labels in ``[0, K)``, K the number of outputs of the last layer.
    steps : int
        Number of updates (>= 0).
    learning_rate : float or None
        Step size (> 0). None: 1.0 for ``optimizer="sgd"`` (the case study's), 1e-3 for
        ``"adam"``, the instance's own rate for an optimiser instance (an explicit rate that
        differs from the instance's is an error).
    reg : float
        L2 strength (>= 0): the loss adds ``0.5 * reg * sum ||W||^2``; the gradient that the
        optimiser sees holds ``reg * W`` on the weights (not on the biases).
    momentum : float
        For ``optimizer="sgd"``: classical momentum in ``[0, 1)``,
        ``v = momentum * v - lr * g; W += v``. 0 is plain gradient descent.
    optimizer : "sgd", "adam", or a :class:`portable_net.optim.SGD` or ``Adam`` instance
        The update (:mod:`portable_net.optim`). Nesterov's momentum:
        ``optimizer=optim.SGD(lr, momentum, nesterov=True)``; Adam's betas and epsilon:
        ``optim.Adam(lr, beta_1, beta_2, epsilon)``.
    lr_schedule : {"constant", "invscaling", "adaptive"}
        The rate over the run, as scikit-learn's ``MLPClassifier`` defines them
        (:class:`portable_net.optim.LearningRateSchedule`), evaluated at the logged steps
        only: for ``train``, an "epoch" of the schedule is the stretch between two logged
        steps, its loss the loss logged at its end (with mini-batches, that step's batch
        loss; choose ``log_every`` = the steps of one pass over the data to follow
        MLPClassifier), its samples the examples the stretch's steps used. ``invscaling``:
        ``lr = lr0 / (t + 1) ** power_t``, t the samples seen. ``adaptive``: the rate is
        divided by 5 after ``n_iter_no_change`` + 1 logged steps in a row without the loss
        improving by ``tol``, and training stops (``stop_reason "learning_rate"``) when it
        would fall to 1e-6 or below. ``constant`` and ``invscaling`` never stop training.
    power_t : float
        Exponent of ``invscaling``.
    batch_size : int or None
        None: full-batch gradient descent (the case study). Otherwise seeded shuffled
        mini-batches of this size (the last of an epoch may be smaller).
    seed : int
        Seed of the mini-batch order and of the ``validation_fraction`` split.
    log_every : int
        The loss is recorded (and turned into a Python float, the only host synchronisation
        of the loop) at steps 0, log_every, 2 * log_every, ... (counted on from a
        ``history``'s ``n_steps``).
    callback : callable or None
        ``callback(step, loss, params)`` at each logged step; ``params`` are the current
        parameters (not copies: do not modify them, copy what you keep). To end training
        there, raise :class:`portable_net.StopTraining` in it: ``train`` then returns the
        parameters reached, with ``history.stop_reason == "callback"``.
    validation : (X_val, y_val) or None
        Held-out data of X's library and device: its loss and accuracy are recorded at each
        logged step (``history.val_loss``, ``history.val_accuracy``), of the parameters of
        that step (before its update).
    validation_fraction : float in (0, 1) or None
        Hold out this fraction of (X, y) instead, stratified and drawn by ``seed`` (the rows
        that the command line's ``--validation-fraction`` holds out); training uses the rest. With
        ``early_stopping`` and no held-out data: 0.1.
    early_stopping : bool
        Stop when the held-out loss has not improved on its best by more than ``tol`` at
        ``n_iter_no_change`` logged steps in a row (``stop_reason "early_stopping"``).
    n_iter_no_change : int
        The patience of early stopping and of the adaptive schedule, in logged steps.
    tol : float
        The improvement that counts, for early stopping and the adaptive schedule.
    restore_best : bool
        Return the parameters of the logged step with the lowest held-out loss
        (``history.best_step``) instead of the last ones (needs held-out data).
        ``history.optimizer_state`` stays the last step's.
    history : History or None
        A previous run's history, to continue it: the steps count on from its ``n_steps``,
        the optimiser continues from its ``optimizer_state`` (copied, never modified) and the
        schedule from its ``schedule``; pass the parameters that run returned. The result is
        a new History holding both runs' records. Mini-batch orders are not carried over:
        a continued run draws its own from ``seed``.
    final_loss : bool
        Compute ``history.final_loss``, the full-data loss of the returned parameters (one
        forward pass over all of X), and check the run against it (``TrainingDiverged``,
        ``TrainingWarning``). False skips that pass (``history.final_loss`` stays None): for
        loops of many short runs, such as :class:`portable_net.Classifier`'s one run per
        epoch. Chunked lazy arrays always compute it.
    engine : "auto", "portable" or an engine factory
        What runs full-batch steps. ``"auto"`` (the default): the array library's own engine
        where it has one, the same step with the same numbers (a compiled loop of the steps
        between two logged steps, any optimiser; fused GPU kernels for nets with one hidden
        layer and SGD without Nesterov, with a RuntimeWarning and the portable step if they
        cannot be built; see the guides on performance and GPUs), else the portable
        step. ``"portable"``: the portable step, run eagerly. A callable
        ``engine(xp, step, settings, packed, state, data)`` returning an engine
        (experiments). Mini-batches: on JAX with ``"auto"``, the steps between two logged
        steps as one compiled loop over the batches (the same numbers); else the portable
        step.
    jit : bool or None
        Deprecated spelling of ``engine``: True is ``"auto"``, False ``"portable"``
        (DeprecationWarning; to be removed in the next release).
    scheduler : None, str or distributed.Client
        Chunked lazy arrays only (others ignore it): where the steps run, a ``Client`` or a
        scheduler name (``"threads"``); None is the active ``Client`` if there is one, else
        the default scheduler. See the README's section on chunked arrays.

    Returns
    -------
    params : dict of arrays
        Chunked lazy ``X``: arrays of the chunks' library, held on the client.
    history : History
        What was logged: the losses, held-out results, why the run stopped, and the
        optimiser's state to continue from.

    Raises
    ------
    ValueError, TypeError
        For bad arguments, before any work.
    TrainingDiverged
        When the loss is NaN or infinite at a logged step or at the end.
    TrainingInterrupted
        On Ctrl-C (a KeyboardInterrupt, so uncaught it still ends the program), with
        ``.params`` (copies of the parameters reached) and ``.history`` (to continue from).

    Warns
    -----
    TrainingWarning
        When the run ends worse than it started: ``history.final_loss`` (the full-data loss
        of the returned parameters) more than 10% above the loss logged at the run's first
        logged step
        (full batch: of the parameters it started from; mini-batches: of that step's batch),
        for a run of at least 2 steps. The rate is probably too large.

    Examples
    --------
    >>> import portable_net as pn
    >>> X, y = pn.make_spiral(20, 3)
    >>> params = pn.init_params([2, 10, 3])
    >>> new, history = pn.train(params, X, y, steps=20, log_every=5)
    >>> new["W1"].shape, history.steps
    ((2, 10), [0, 5, 10, 15])

    Adam, with a held-out fifth of the data and early stopping, then 10 steps more:

    >>> new, history = pn.train(
    ...     params, X, y, steps=20, optimizer="adam", learning_rate=1e-2, log_every=5,
    ...     validation_fraction=0.2, early_stopping=True,
    ... )
    >>> len(history.val_loss) == len(history.loss)
    True
    >>> new, history = pn.train(new, X, y, steps=10, optimizer="adam", learning_rate=1e-2,
    ...                         log_every=5, history=history)
    >>> history.n_steps
    30
    """
    steps, learning_rate, reg, momentum, batch_size, seed, log_every = check_hyperparameters(
        steps, learning_rate, reg, momentum, batch_size, seed, log_every, callback
    )
    opt = choose_optimizer(optimizer, learning_rate, momentum)
    tol, n_iter_no_change, power_t = _check_stopping(
        tol, n_iter_no_change, power_t, lr_schedule, early_stopping, restore_best
    )
    if history is not None and not isinstance(history, History):
        raise TypeError(f"history must be a History or None, not {type(history).__name__}")
    choice = _engine_choice(engine, jit)
    if not isinstance(final_loss, bool):
        raise TypeError(f"final_loss must be True or False, not {final_loss!r}")

    # arrays that bring their own loop (lazy, chunked): before the in-memory checks
    own_loop = engines.own_loop(X, y)
    if own_loop is not None:
        held = validation is not None or validation_fraction is not None
        if held or early_stopping or restore_best:
            raise NotImplementedError("held-out data and early stopping: not for Dask arrays")
        if lr_schedule != "constant":
            raise NotImplementedError("learning-rate schedules: not for Dask arrays")
        dask_result: tuple[dict[str, Any], History] = own_loop(
            params,
            X,
            y,
            steps=steps,
            optimizer=opt,
            reg=reg,
            batch_size=batch_size,
            seed=seed,
            log_every=log_every,
            callback=callback,
            history=history,
            scheduler=scheduler,
        )
        return dask_result

    xp, device, n_layers, params, X, y = check_inputs(params, X, y)
    n_classes = params[f"W{n_layers}"].shape[1]
    X, y, validation = _held_out(
        xp, device, X, y, validation, validation_fraction, early_stopping, seed
    )
    held_out = None
    if validation is not None:
        _, _, _, _, X_val, y_val = check_inputs(params, *validation)
        held_out = _HeldOut(xp, X_val, y_val, n_classes)
    elif restore_best:
        raise ValueError("restore_best needs held-out data: validation= or validation_fraction=")

    # prepare once: private packed copies, the data in the step's layout, optimiser state
    n, n_features = X.shape
    packed, data, state, settings, step = _setup(
        xp, device, params, X, y, n_layers, opt, reg, batch_size, history
    )
    by_rows = batch_size is not None  # mini-batches: the data example by example
    schedule = None
    if history is not None and history.schedule is not None:
        schedule = copy.copy(history.schedule)
        if schedule.kind != lr_schedule:
            raise ValueError(
                f"history's schedule is {schedule.kind!r}, not lr_schedule={lr_schedule!r}"
            )
    elif lr_schedule != "constant":
        schedule = LearningRateSchedule(
            opt.learning_rate, lr_schedule, power_t, tol, n_iter_no_change
        )
    first = 0 if history is None else history.n_steps
    record = (
        History()
        if history is None
        else dataclasses.replace(
            history,
            steps=list(history.steps),
            loss=list(history.loss),
            learning_rate=list(history.learning_rate),
            val_loss=list(history.val_loss),
            val_accuracy=list(history.val_accuracy),
            final_loss=None,
            stop_reason=None,
        )
    )
    run = _Run(xp, record, schedule, held_out, callback, restore_best, early_stopping,
               tol, n_iter_no_change, n_features, opt.learning_rate)  # fmt: skip
    g, end = first, first + steps  # the global step count
    try:
        if batch_size is None:
            steps_data = network.StepData(*data)
            runner = engines.engine_for(xp, step, settings, packed, state, steps_data, choice)
            while g < end:
                if g % log_every == 0:
                    run.before_logged_step(packed, g)
                    packed, state, loss = runner.logged_step(packed, state, run.lr)
                    g += 1
                    if run.after_logged_step(packed, g - 1, loss, n):
                        break
                stretch = min(end, -(-g // log_every) * log_every) - g
                if stretch > 0:
                    packed, state = runner.stretch(packed, state, stretch, run.lr)
                    g += stretch
                    run.samples += stretch * n
        else:
            # runs of batches within an epoch (one compiled call on JAX). With host-side
            # work at logged steps (a callback, a schedule, held-out data), a logged step
            # runs alone and a run ends before the next one; without (quiet), a run goes on
            # to the end of the epoch (or of training), its logged losses read at its end
            batches = _Batches(n, batch_size, seed)
            runner = engines.batch_runner(xp, device, step, settings, packed, choice)
            quiet = callback is None and schedule is None and held_out is None
            while g < end:
                logged = g % log_every == 0
                if logged:
                    run.before_logged_step(packed, g)
                if quiet:
                    most = end - g
                else:
                    most = 1 if logged else min(end, (g // log_every + 1) * log_every) - g
                perm, start, count, size, ragged = batches.segment(most)
                k = count + (ragged > 0)  # the run's steps
                want = tuple(j for j in range(k) if (g + j) % log_every == 0)
                packed, state, losses = runner.run(
                    packed, state, *data, perm, start, count, size, ragged, want, run.lr
                )
                examples = count * size + ragged
                stop = False
                for j, loss in zip(want, losses):
                    batch = size if j < count else ragged  # the logged step's batch
                    stop = run.after_logged_step(packed, g + j, loss, batch)
                    examples -= batch
                    if stop:
                        break
                g += k
                run.samples += examples
                if stop:
                    break
    except KeyboardInterrupt as exc:
        if isinstance(exc, TrainingInterrupted):
            raise
        record.n_steps, record.optimizer_state = g, state
        record.schedule = schedule
        raise TrainingInterrupted(
            network.unpack(xp, packed, n_features, copy=True), record
        ) from exc

    record.n_steps, record.optimizer_state, record.schedule = g, state, schedule
    if run.best is not None:
        packed = run.best
    result = _public_copies(xp, packed, n_features)
    if not final_loss:
        return result, record
    loss = engines.summarised(xp, _final_loss, static_argnums=(0, 4, 5, 6, 7))
    block = engines.block_for(xp, device, packed, n)
    final = float(loss(xp, packed, *data, reg, n_features, block, by_rows))
    check_final_loss(record, final, g, run.lr)
    # "far above": more than 10% (mini-batches: the first logged loss is one batch's)
    if g - first >= 2 and run.first_loss is not None and final > 1.1 * run.first_loss:
        warnings.warn(
            f"training ended worse than it started: the loss went from {run.first_loss:.6g} "
            f"to {final:.6g} in {g - first} steps; try a smaller learning rate "
            f"(learning_rate={opt.learning_rate:g})",
            TrainingWarning,
            stacklevel=2,
        )
    return result, record


def _setup(xp, device, params, X, y, n_layers, opt, reg, batch_size, previous):
    """A run's preparation, once: ``(packed, data, state, settings, step)``: private packed
    copies of the (checked) parameters, the data in the step's layout (mini-batches: example
    by example), the optimiser's state (fresh, or a copy of what ``previous``, a History,
    left), the step's settings and the step."""
    n, n_features = X.shape
    n_classes = params[f"W{n_layers}"].shape[1]
    by_rows = batch_size is not None
    prepare = engines.compiled(xp, _prepare, static_argnums=(0, 4, 5, 6, 7))
    packed, data, fresh = prepare(xp, params, X, y, n_layers, n_classes, opt, by_rows)
    state = _start_state(xp, fresh, opt, previous)
    settings = StepSettings(
        n_features=n_features,
        learning_rate=opt.learning_rate,
        reg=reg,
        momentum=opt.momentum if isinstance(opt, SGD) else 0.0,
        block=engines.block_for(xp, device, packed, batch_size or n),
        optimizer=opt,
    )
    return packed, data, state, settings, make_step(xp, packed, settings)


class Epochs:
    """Shuffled mini-batch epochs on one training set, checked and prepared once.

    What :class:`portable_net.Classifier` runs (MLPClassifier's loop: an epoch, then its own
    convergence test and schedule). :meth:`run` is ``train(params, X, y, steps=<an epoch>,
    batch_size=batch_size, seed=seed, reg=reg, log_every=1, optimizer=<optimizer at this
    rate>, history=<the optimiser state so far>, final_loss=False)``: the same step, batches
    and numbers, without repeating each call's checks, preparation and copies.

    Parameters
    ----------
    params, X, y
        As :func:`train` (checked as it checks them; never modified).
    optimizer : SGD or Adam
        The optimiser (its rate is the default of :meth:`run`).
    reg : float
        L2 strength (>= 0), as :func:`train`'s.
    batch_size : int
        Examples per batch (>= 1); an epoch is ``ceil(N / batch_size)`` batches, the last
        one smaller when ``batch_size`` does not divide N.
    optimizer_state : SGDState, AdamState or None
        A previous run's optimiser state to continue from (copied), or None for a fresh one.
    """

    def __init__(self, params, X, y, *, optimizer, reg, batch_size, optimizer_state=None):
        if not isinstance(optimizer, (SGD, Adam)):
            raise TypeError(f"optimizer must be an SGD or Adam, not {type(optimizer).__name__}")
        reg = check_real("reg", reg, low=0.0)
        batch_size = check_int("batch_size", batch_size, minimum=1)
        xp, device, n_layers, params, X, y = check_inputs(params, X, y)
        previous = None if optimizer_state is None else History(optimizer_state=optimizer_state)
        self.xp, (self.n, self.n_features) = xp, X.shape
        self.batch_size, self.learning_rate, self.reg = batch_size, optimizer.learning_rate, reg
        self.packed, self.data, self.state, settings, step = _setup(
            xp, device, params, X, y, n_layers, optimizer, reg, batch_size, previous
        )
        self.runner = engines.batch_runner(xp, device, step, settings, self.packed)
        self.steps = -(-self.n // batch_size)  # an epoch's batches

    def run(self, seed: int, learning_rate: float | None = None) -> list[float]:
        """One epoch, its order drawn by ``seed`` (as ``train(..., seed=seed)``); the loss
        of each batch (before its update), in order, as Python floats. A NaN or infinite
        loss raises :class:`~portable_net.TrainingDiverged`."""
        lr = self.learning_rate if learning_rate is None else float(learning_rate)
        perm, start, count, size, ragged = _Batches(self.n, self.batch_size, seed).segment(
            self.steps
        )
        self.packed, self.state, losses = self.runner.run(
            self.packed, self.state, *self.data, perm, start, count, size, ragged,
            tuple(range(self.steps)), lr,
        )  # fmt: skip
        out = [float(loss) for loss in losses]
        for j, loss in enumerate(out):
            if not math.isfinite(loss):
                raise TrainingDiverged(j, loss, lr)
        return out

    def params(self) -> dict[str, Any]:
        """Copies of the current parameters (arrays of X's library, on its device)."""
        return _public_copies(self.xp, self.packed, self.n_features)


# the preparation and the end of a run: each one compiled program on libraries that compile
def _prepare(xp, params, X, y, n_layers, n_classes, opt, by_rows):
    """Private packed copies of the parameters; the data in the step's layout (Xt1, onehot),
    or ``by_rows`` example by example ([X, 1] (N, D + 1), one-hot rows (N, K)); the
    optimiser's fresh state."""
    onehot_rows = one_hot(xp, y, n_classes, X.dtype)
    if by_rows:
        data = (network.rows_with_ones(xp, X), onehot_rows)
    else:
        step_data = network.step_data(xp, X, onehot_rows)
        data = (step_data.Xt1, step_data.onehot)
    packed = network.pack(xp, params, n_layers)
    return packed, data, opt.init(xp, packed)


def _public_copies(xp: ModuleType, packed: list[Any], n_features: int) -> dict[str, Any]:
    """The packed parameters' public copies (one program where the library compiles)."""
    copies = engines.compiled(xp, _unpacked_copies, static_argnums=(0, 2))
    params: dict[str, Any] = copies(xp, packed, n_features)
    return params


def _unpacked_copies(xp, packed, n_features):
    return network.unpack(xp, packed, n_features, copy=True)


def _final_loss(xp, packed, Xt1, onehot, reg, n_features, block, by_rows):
    """The full-data loss (0-d) of the packed parameters (the data as :func:`_prepare` made
    it); on JAX arrays in the host's memory, by NumPy (:func:`engines.summarised`)."""
    if by_rows:
        Xt1, onehot = xp.permute_dims(Xt1, (1, 0)), xp.permute_dims(onehot, (1, 0))
    data = network.StepData(Xt1, onehot)
    return network.mean_loss(xp, packed, data, reg, n_features, block)


def _views(xp, packed, n_features):
    """The callback's parameters: views of the packed ones (one program on JAX)."""
    return network.unpack(xp, packed, n_features, copy=False)


class _Run:
    """What happens at a logged step: held-out results, the log, the schedule, early
    stopping, the callback (host-side; the only synchronisation of the loop)."""

    def __init__(self, xp, history, schedule, held_out, callback, restore_best,
                 early_stopping, tol, patience, n_features, lr):  # fmt: skip
        self.xp, self.history, self.schedule = xp, history, schedule
        self.held_out, self.callback = held_out, callback
        self.restore_best, self.early_stopping = restore_best, early_stopping
        self.tol, self.patience, self.n_features = tol, patience, n_features
        self.lr = float(schedule.learning_rate) if schedule is not None else lr
        self.samples = 0  # examples used since the schedule's last evaluation
        self.best = None  # packed copies of the best held-out parameters (restore_best)
        self.best_val = min(history.val_loss) if history.val_loss else math.inf
        self.no_improvement = 0
        self.first_loss = None

    def before_logged_step(self, packed: list[Any], step: int) -> None:
        """Held-out results of the parameters of this step (before its update)."""
        if self.held_out is None:
            return
        val_loss, val_acc = self.held_out.evaluate(packed)
        self.history.val_loss.append(val_loss)
        self.history.val_accuracy.append(val_acc)
        if val_loss < self.best_val - self.tol:
            self.no_improvement = 0
        else:
            self.no_improvement += 1
        if val_loss < self.best_val:
            self.best_val = val_loss
            self.history.best_step = step
            if self.restore_best:
                self.best = [self.xp.asarray(p, copy=True) for p in packed]

    def after_logged_step(self, packed: list[Any], step: int, loss: Any, n: int) -> bool:
        """Log the step's loss; True when training should stop."""
        xp, history = self.xp, self.history
        view = None
        if self.callback is not None:
            view = engines.compiled(xp, _views, static_argnums=(0, 2))(xp, packed, self.n_features)
        loss = float(loss)
        if self.first_loss is None:
            self.first_loss = loss
        stop = None
        try:
            log_step(history, step, loss, self.lr, self.callback, view)
        except StopTraining:
            stop = "callback"
        # the schedule's "epoch": the steps since its last evaluation (the loss logged here
        # is of the parameters they reached); its new rate applies from the next step on
        if self.schedule is not None and self.samples > 0:
            if self.schedule.end_epoch(loss, self.samples) and self.schedule.kind == "adaptive":
                stop = stop or "learning_rate"
            self.lr = float(self.schedule.learning_rate)
            self.samples = 0
        self.samples += n  # this step's examples
        if self.early_stopping and self.no_improvement >= self.patience:
            stop = stop or "early_stopping"
        history.stop_reason = stop
        return stop is not None
