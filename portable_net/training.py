""":func:`train`: its arguments checked, then one run of the training loop
(:mod:`portable_net.loop`), then the full-data loss and the check that the run did not end
worse than it started.
"""

from __future__ import annotations

import copy
import dataclasses
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from . import engines
from ._backend import backend_name, from_host, int_dtype, to_host
from .constraints import ESTIMATOR, TRAIN
from .errors import TrainingWarning
from .history import History, check_final_loss
from .hyperparameters import DEFAULT_RATES, HYPERPARAMETERS, check, check_all
from .loop import HeldOut, Logging, Trainer, diverged_message
from .model import check_inputs, check_values
from .optim import SGD, Adam, LearningRateSchedule
from .preprocessing import split_rows
from .targets import check_targets

__all__ = ["History", "train"]


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
    names = HYPERPARAMETERS["optimizer"].options
    if not (isinstance(optimizer, str) and optimizer in names):
        raise ValueError(
            f"optimizer must be {', '.join(map(repr, names))}, or a portable_net.optim.SGD or "
            f"Adam instance, not {optimizer!r}"
        )
    lr = DEFAULT_RATES[optimizer] if learning_rate is None else learning_rate
    if optimizer == "adam":
        if momentum:
            raise ValueError(
                "momentum applies to optimizer='sgd'; Adam's are beta_1 and beta_2 "
                "(pass optimizer=portable_net.optim.Adam(...) to set them)"
            )
        return Adam(lr)  # the optimiser checks its fields (named as train names them)
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
            "engine='auto' (jit=True) or engine='eager' (jit=False)",
            FutureWarning,  # shown to users by default, as scikit-learn's deprecations
            stacklevel=3,
        )
        return "auto" if jit else "eager"
    return engines.engine_name(engine)


def _held_out(xp, device, X, y, validation, validation_fraction, early_stopping, seed):
    """(X, y) to train on and the held-out (X_val, y_val) or None, checked."""
    if validation is not None and validation_fraction is not None:
        raise ValueError("pass validation=(X_val, y_val) or validation_fraction=, not both")
    if validation is None and validation_fraction is None:
        if not early_stopping:
            return X, y, None
        # as MLPClassifier
        validation_fraction = HYPERPARAMETERS["validation_fraction"].at(ESTIMATOR).default
    if validation is not None:
        if not (isinstance(validation, (tuple, list)) and len(validation) == 2):
            raise TypeError("validation must be a pair (X_val, y_val)")
        return X, y, validation
    fraction = check("validation_fraction", validation_fraction, TRAIN)
    if seed >= 2**32:
        raise ValueError(f"seed must be < 2**32 to draw the validation split, got {seed}")
    try:
        train_rows, val_rows = split_rows(to_host(y), fraction, np.random.RandomState(seed))
    except ValueError as exc:
        raise ValueError(f"validation_fraction={fraction!r}: {exc}") from None
    idx = int_dtype(xp, device)
    tr = from_host(xp, np.sort(train_rows), idx, device)
    va = from_host(xp, np.sort(val_rows), idx, device)
    return (
        xp.take(X, tr, axis=0),
        xp.take(y, tr, axis=0),
        (
            xp.take(X, va, axis=0),
            xp.take(y, va, axis=0),
        ),
    )


def train(
    params: Mapping[str, Any],
    X: Any,
    y: Any,
    *,
    steps: int = 10_000,
    learning_rate: float | None = None,
    reg: float = 1e-3,
    activation: str = "relu",
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
    n_jobs: int | None = None,
    output: str = "softmax",
) -> tuple[dict[str, Any], History]:
    """Train by gradient descent; return new parameters and the logged history.

    The hyperparameters' types, defaults and ranges are those of ``portable_net.hyperparameters``
    (``params.table("train")``), which checks them.

    Parameters
    ----------
    params : dict
        ``W1, b1, ..., WL, bL`` (see :func:`init_params`), of X's library and device. They
        are copied, never modified; the result has X's dtype.
    X : array, shape (N, D)
        Real floating, finite features.
    y : array of integers, shape (N,); or real targets, shape (N,) or (N, K)
        Labels in ``[0, K)``, K the number of outputs of the last layer (``output=
        "softmax"``); real floating targets for the other outputs (0/1 for ``"logistic"``).
    steps : int
        Number of updates (>= 0).
    learning_rate : float or None
        Step size (> 0). None: 1.0 for ``optimizer="sgd"`` (the case study's), 1e-3 for
        ``"adam"``, the instance's own rate for an optimiser instance (an explicit rate that
        differs from the instance's is an error).
    reg : float
        L2 strength (>= 0): the loss adds ``0.5 * reg * sum ||W||^2``; the gradient that the
        optimiser sees holds ``reg * W`` on the weights (not on the biases).
    activation : {"relu", "tanh", "logistic", "identity"}
        The hidden layers' activation (predict with the same: ``predict(...,
        activation=)``).
    momentum : float
        For ``optimizer="sgd"``: classical momentum in [0, 1),
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
        Exponent of ``invscaling`` (>= 0).
    batch_size : int or None
        None: full-batch gradient descent (the case study). Otherwise seeded shuffled
        mini-batches of this size (>= 1; the last of an epoch may be smaller).
    seed : int
        Seed of the mini-batch order and of the ``validation_fraction`` split (>= 0).
    log_every : int
        The loss is recorded (and turned into a Python float, the only host synchronisation
        of the loop) at steps 0, log_every, 2 * log_every, ... (counted on from a
        ``history``'s ``n_steps``); >= 1.
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
        more than ``n_iter_no_change`` logged steps in a row (``stop_reason
        "early_stopping"``): MLPClassifier's rule (:class:`~portable_net.optim.NoImprovement`).
    n_iter_no_change : int
        The patience of early stopping and of the adaptive schedule, in logged steps (>= 1).
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
    engine : "auto", "eager", "core", "fused" or an engine factory
        How the steps run; every choice computes the same step (``portable_net.step``), to
        the order of a few roundings. ``"core"``: the step as the notes write it (forward,
        loss, backward, ``W -= lr * (dW + reg * W)``), run eagerly: the reference.
        ``"eager"``: the same step arranged to do less work (``portable_net.engines.fast``:
        the rate folded into the gradient, the gradients reused in place, sums over
        cache-sized blocks; on torch's CPU tensors torch's own kernels for the ReLU pair and
        Adam's update, ``portable_net.engines.torch_kernels``), run eagerly, on any library
        (``"portable"`` is its earlier name, accepted with a FutureWarning). ``"auto"`` (the
        default): that step, run the array library's own way where it has one (JAX: the
        steps between two logged steps as one compiled loop, full batch or mini-batches, any
        optimiser), else eagerly.
        ``"fused"``: CuPy arrays only, three fused CUDA kernels per step for nets with one
        hidden layer and SGD without Nesterov, full batch (a RuntimeWarning and the eager step
        where they do not apply or cannot be built); not yet the default, see the GPU guide.
        A callable ``engine(xp, step, settings, packed, state, data)`` returning a
        full-batch engine (experiments; mini-batches then run the step eagerly).
    jit : bool or None
        Deprecated spelling of ``engine``: True is ``"auto"``, False ``"eager"``
        (FutureWarning; to be removed in the next release).
    scheduler : None, str or distributed.Client
        Chunked lazy arrays only (others ignore it): where the steps run, a ``Client`` or a
        scheduler name (``"threads"``); None is the active ``Client`` if there is one, else
        the default scheduler. See the README's section on chunked arrays.
    n_jobs : int or None
        Intra-op threads of the run on the CPU (torch's, and NumPy's BLAS through
        threadpoolctl when installed), restored afterwards: None chooses by the problem's
        size (one thread where more do not pay; a large mini-batch run times its own
        batches on one thread and on the library's own setting and takes the faster; see
        the performance guide), -1 one per core; an int >= -1 other than 0. JAX, CuPy and
        Dask keep their own.
    output : {"softmax", "logistic", "squared"}
        The output layer and its loss: softmax with the cross-entropy of integer labels (the
        case study's); logistic outputs with the binary log-loss of 0/1 targets (one output
        per label); identity outputs with half the squared error of real targets
        (regression, as :class:`portable_net.Regressor`). Held-out data and early stopping
        need ``"softmax"`` (they report the held-out accuracy).

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
    # every argument checked here, once, before any work; inner modules take checked values
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, not {type(callback).__name__}")
    hp = check_all(TRAIN, {
        "steps": steps, "reg": reg, "batch_size": batch_size, "seed": seed,
        "log_every": log_every, "activation": activation, "output": output, "tol": tol,
        "n_iter_no_change": n_iter_no_change, "power_t": power_t, "lr_schedule": lr_schedule,
        "early_stopping": early_stopping, "restore_best": restore_best,
    })  # fmt: skip
    steps, reg, batch_size, seed, log_every = (hp["steps"], hp["reg"], hp["batch_size"],
                                               hp["seed"], hp["log_every"])  # fmt: skip
    tol, n_iter_no_change, power_t = hp["tol"], hp["n_iter_no_change"], hp["power_t"]
    n_jobs = engines.check_n_jobs(n_jobs)
    opt = choose_optimizer(optimizer, learning_rate, momentum)
    if history is not None and not isinstance(history, History):
        raise TypeError(f"history must be a History or None, not {type(history).__name__}")
    choice = _engine_choice(engine, jit)
    if not isinstance(final_loss, bool):
        raise TypeError(f"final_loss must be True or False, not {final_loss!r}")
    schedule = None
    if history is not None and history.schedule is not None:
        schedule = copy.deepcopy(history.schedule)
        if schedule.kind != lr_schedule:
            raise ValueError(
                f"history's schedule is {schedule.kind!r}, not lr_schedule={lr_schedule!r}"
            )
    elif lr_schedule != "constant":
        schedule = LearningRateSchedule(
            opt.learning_rate, lr_schedule, power_t, tol, n_iter_no_change
        )

    labels = output == "softmax"
    held = validation is not None or validation_fraction is not None
    if not labels and (held or early_stopping or restore_best):
        raise ValueError(
            f"validation, validation_fraction, early_stopping and restore_best need "
            f"output='softmax' (they report the held-out accuracy), not output={output!r}"
        )
    lazy = engines.is_lazy(X, y)
    xp: Any = None  # chunked lazy arrays: their engine's
    threads: int | None = None
    if lazy:
        if held or early_stopping or restore_best:
            raise NotImplementedError("held-out data and early stopping: not for Dask arrays")
        if lr_schedule != "constant":
            raise NotImplementedError("learning-rate schedules: not for Dask arrays")
    else:
        # the kinds and shapes here; the values inside the run's threads, decided by them
        xp, device, n_layers, params, X, y_checked = check_inputs(
            params, X, y if labels else None, values=False
        )
        if choice == "fused" and backend_name(xp) != "cupy":
            raise ValueError(
                f"engine='fused' runs CuPy arrays on an NVIDIA GPU; X is a {backend_name(xp)} "
                "array (engine='auto' chooses the library's own)"
            )
        sizes = [int(params["W1"].shape[0])]
        for i in range(1, n_layers + 1):
            sizes.append(int(params[f"W{i}"].shape[1]))
        threads = engines.threads_for_sizes(xp, device, sizes, batch_size, X, n_jobs)
    # every pass of the call (the value checks, held-out data, the data laid out for the
    # step, the steps, the final loss) on the run's intra-op threads
    with engines.threads_limited(xp, threads):
        held_out = None
        if not lazy:
            check_values(xp, params, X, y_checked)
            if labels:
                y = y_checked
            else:
                y = check_targets(xp, X, y, params[f"W{n_layers}"].shape[1])
            n_classes = params[f"W{n_layers}"].shape[1]
            X, y, validation = _held_out(
                xp, device, X, y, validation, validation_fraction, early_stopping, seed
            )
            if validation is not None:
                _, _, _, _, X_val, y_val = check_inputs(params, *validation)
                held_out = HeldOut(xp, X_val, y_val, n_classes, activation)
            elif restore_best:
                raise ValueError(
                    "restore_best needs held-out data: validation= or validation_fraction="
                )
        # prepare once: private packed copies, the data in the step's layout, optimiser state
        trainer = Trainer(
            params, X, y, optimizer=opt, reg=reg, batch_size=batch_size, engine=choice,
            activation=activation, output=output,
            scheduler=scheduler, n_jobs=n_jobs,
            optimizer_state=None if history is None else history.optimizer_state,
        )  # fmt: skip
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
        logging = Logging(
            log_every=log_every, callback=callback, schedule=schedule, held_out=held_out,
            early_stopping=early_stopping, restore_best=restore_best, tol=tol,
            n_iter_no_change=n_iter_no_change,
        )  # fmt: skip
        g = trainer.run(steps, record, logging, seed=seed, first=first)
        lr = opt.learning_rate if schedule is None else float(schedule.learning_rate)
        result = trainer.params(trainer.best)
        if not (final_loss or lazy):
            return result, record
        if trainer.best is not None:
            trainer.packed = trainer.best
        final = trainer.final_loss(reg)
    check_final_loss(record, final, g, lr)
    message = diverged_message(trainer.first_loss, final, g - first)
    if message is not None:
        warnings.warn(
            f"{message}; try a smaller learning rate (learning_rate={opt.learning_rate:g})",
            TrainingWarning,
            stacklevel=2,
        )
    return result, record
