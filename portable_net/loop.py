"""The training loop, written once: batches, logged steps, schedule, held-out data, early
stopping, interrupts.

caller's arrays -> checks (errors here, before any work)
  -> :class:`Trainer`: private copies of the parameters, the data in the step's layout, the
     optimiser state (fresh, or the one a previous run left), the step, the engine
  -> :meth:`Trainer.run`: steps; at a logged step only: held-out loss and accuracy, loss ->
     float, history, divergence check, learning-rate schedule, early stopping, callback
  -> new parameters, arrays of the caller's library on the caller's device

:func:`portable_net.train` and :class:`portable_net.Classifier` are callers of it: ``train``
makes one :class:`Trainer` and runs it once; the estimator makes one per fit and runs it
an epoch at a time. Full batches, shuffled or ordered mini-batches and chunked lazy arrays
go through the same :meth:`Trainer.run`; how a stretch of steps runs is the engine's
(:mod:`portable_net.engines`): the step called here, one by one, or a compiled, fused or
chunked runner with the same numbers.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from . import engines, network
from ._backend import array_namespace, device_of, from_host, int_dtype
from .errors import StopTraining, TrainingInterrupted
from .history import History, log_step
from .loss import one_hot, softmax_xent
from .optim import SGD, Adam, AdamState, SGDState
from .schedule import LearningRateSchedule, NoImprovement, end_epoch
from .step import StepSettings


class Batches:
    """The order of the examples: seeded shuffled mini-batches (one permutation per epoch,
    drawn on the host), mini-batches in order (``shuffle=False``), or the full batch
    (``batch_size=None``: every step sees all of the data, as it is laid out)."""

    def __init__(self, n: int, batch_size: int | None, seed: int, shuffle: bool = True):
        self.n, self.batch_size, self.shuffle = n, batch_size, shuffle
        self.rng = np.random.default_rng(seed) if shuffle else None
        self.start = n  # forces a new epoch on first use
        self.perm: np.ndarray | None = None

    def segment(self, most: int) -> tuple[Any, int, int, int, int]:
        """The next at most ``most`` steps, within one epoch: ``(perm, start, count, size,
        ragged)``: ``count`` batches of ``size`` examples from position ``start`` of the
        epoch's order ``perm`` (a NumPy array (N,), the same object for the whole epoch),
        then, when ``ragged`` > 0, the epoch's smaller last batch (its last ``ragged``
        positions). The full batch: ``(None, 0, most, N, 0)``."""
        n, size = self.n, self.batch_size
        if size is None:
            return None, 0, most, n, 0
        if self.start >= n:
            self.perm = self.rng.permutation(n) if self.rng is not None else np.arange(n)
            self.start = 0
        start = self.start
        count = min(most, (n - start) // size)
        end = start + count * size
        ragged = n - end if count < most and 0 < n - end < size else 0
        self.start = end + ragged
        return self.perm, start, count, size, ragged


class HeldOut:
    """Held-out data in the step's layout, and its loss and accuracy (one forward pass)."""

    def __init__(self, xp: ModuleType, X: Any, y: Any, n_classes: int, activation: str = "relu"):
        self.xp, self.y, self.activation = xp, y, activation
        self.data = network.step_data(xp, X, one_hot(xp, y, n_classes, X.dtype))

    def evaluate(self, packed: list[Any]) -> tuple[float, float]:
        """(mean cross-entropy, accuracy) of the packed parameters: host floats."""
        xp, data = self.xp, self.data
        scores = network.forward_scores(xp, packed, data.Xt1, self.activation)  # (K, Nv)
        loss_sum, _ = softmax_xent(xp, scores, data.onehot, 1.0, need_loss=True, need_grad=False)
        pred = xp.argmax(scores, axis=0)
        hits = xp.sum(xp.astype(pred == xp.astype(self.y, pred.dtype), data.Xt1.dtype))
        return float(loss_sum) / data.n, float(hits) / data.n


@dataclasses.dataclass
class Logging:
    """What happens at logged steps (host-side; the only synchronisation of the loop)."""

    log_every: int = 1
    callback: Callable[[int, float, dict[str, Any]], Any] | None = None
    schedule: LearningRateSchedule | None = None
    held_out: HeldOut | None = None
    early_stopping: bool = False
    restore_best: bool = False
    tol: float = 1e-4
    n_iter_no_change: int = 10
    #: a NaN or infinite loss is TrainingDiverged (else recorded, and the run goes on)
    finite_only: bool = True

    @property
    def quiet(self) -> bool:
        """Nothing host-side at a logged step but reading its loss."""
        return self.callback is None and self.schedule is None and self.held_out is None


class Trainer:
    """One training set, prepared once, and the loop over it.

    The caller checks the arguments at its door (:func:`portable_net.train`, the estimators'
    ``fit``) and passes checked values; nothing here checks them again. Chunked lazy arrays
    are checked where their engine persists them (:func:`portable_net.engines.lazy_inputs`).

    Parameters
    ----------
    params, X, y
        As :func:`portable_net.train` takes them, checked: the parameters of X's library and
        device (never modified), X real floating (N, D), y labels in ``[0, K)`` for
        ``"softmax"`` outputs, else real targets (N,) or (N, K) of X's dtype.
    optimizer : SGD or Adam
    reg : float
        L2 strength; with ``reg_over_batch`` the strength per example (a batch of B gets
        ``reg / B``, scikit-learn's ``alpha``).
    batch_size : int or None
        None: the full batch. Otherwise mini-batches, shuffled unless ``shuffle=False``.
    optimizer_state : SGDState, AdamState or None
        A previous run's optimiser state to continue from (copied), or None.
    engine : "auto", "eager", "core", "fused" or an engine factory (see
        :func:`portable_net.train`)
    scheduler : chunked lazy arrays only: where their steps run
    n_jobs : None (each run's intra-op threads chosen by its size: one where more do not
        pay), -1 (one per core) or the number of threads (:mod:`portable_net.engines.threads`)
    activation : the hidden layers' (:data:`portable_net.layers.ACTIVATIONS`)
    output : the output layer and its loss (:data:`portable_net.loss.OUTPUT_LOSSES`)
    sample_weight : None, or (N,) non-negative weights of X's library, device and dtype: the
        loss becomes the weighted mean, each example's gradient scaled by its weight, and with
        ``reg_over_batch`` a batch's L2 strength is ``reg`` over its weights' sum
        (scikit-learn's ``sample_weight``)
    """

    def __init__(self, params, X, y, *, optimizer: SGD | Adam, reg: float,
                 batch_size: int | None = None, shuffle: bool = True,
                 reg_over_batch: bool = False, optimizer_state: Any = None,
                 engine: Any = "auto", scheduler: Any = None, activation: str = "relu",
                 output: str = "softmax", sample_weight: Any = None,
                 n_jobs: int | None = None):  # fmt: skip
        weighted = sample_weight is not None
        self.optimizer, self.batch_size, self.shuffle = optimizer, batch_size, shuffle
        by_rows = batch_size is not None
        lazy = engines.lazy_inputs(params, X, y, scheduler, sample_weight)
        self.data: Any  # the data in the step's layout (None: the engine holds it)
        if lazy is not None:  # chunked lazy arrays: the engine holds the data
            xp, device, n_layers, params, data = lazy
            n, n_features = data.n, int(params["W1"].shape[0])
            packed = network.pack(xp, params, n_layers)
            fresh, self.data = optimizer.init(xp, packed), None
        else:
            xp, device = array_namespace(X), device_of(X)
            n_layers = len(params) // 2
            n, n_features = X.shape
            n_outputs = params[f"W{n_layers}"].shape[1]
            packed, self.data, fresh = _prepare(xp, params, X, y, sample_weight, n_layers,
                                                n_outputs, optimizer, by_rows, output)  # fmt: skip
        if batch_size is None and reg_over_batch and not weighted:  # every batch is all N
            reg, reg_over_batch = reg / n, False
        self.xp, self.device, self.n, self.n_features = xp, device, n, n_features
        self.n_layers = n_layers
        self.packed = packed
        self.state = _start_state(xp, fresh, optimizer, optimizer_state)
        self.settings = StepSettings(
            n_features=n_features,
            learning_rate=optimizer.learning_rate,
            reg=reg,
            block=engines.block_for(
                xp, device, packed, batch_size or n, X, minibatch=(batch_size or n) < n
            ),
            optimizer=optimizer,
            reg_over_batch=reg_over_batch,
            activation=activation,
            output=output,
            weighted=weighted,
        )
        self.step, self.runner = engines.step_and_runner(
            xp, device, self.settings, packed, self.state, self.data, engine,
            batch_size=batch_size, shuffle=shuffle, lazy=None if lazy is None else data,
        )  # fmt: skip
        self.quiet = engines.bookkeeping_off(xp)
        # the intra-op threads of each run: a product holds one block of examples at most
        # (train and the estimators decide the same for the whole call: threads_for_sizes)
        examples = self.settings.block or batch_size or n
        self.threads = engines.threads_for(xp, device, packed, examples, n_jobs)
        # large per-batch steps time their threads (one, or the library's own: whichever is
        # faster on this machine now); the run sets them within its own setting, restored after
        self.chooser = None if self.runner is not None else engines.thread_chooser(
            xp, device, packed, examples, n_jobs, self.threads)  # fmt: skip
        self.index_perm: tuple[Any, Any] = (None, None)
        self.take: Any = None  # a mini-batch's rows: engines.take_rows, made at the first
        self.best: list[Any] | None = None  # restore_best: the best held-out parameters
        self.first_loss: float | None = None  # the last run's first logged loss
        self.steps_made = 0  # by all runs

    def run(self, steps: int, record: History, logging: Logging, *, seed: int = 0,
            first: int = 0, learning_rate: float | None = None) -> int:  # fmt: skip
        """``steps`` steps from global step ``first``, logged into ``record``, at the
        optimiser's rate (or ``learning_rate``; a schedule's own when there is one); returns
        the global step reached (fewer steps when a callback, the schedule or early stopping
        ends the run). On Ctrl-C: :class:`~portable_net.TrainingInterrupted` with copies of
        the parameters reached and the record (to continue from)."""
        # the run's intra-op threads (a context manager: the steps stay in this frame)
        # (with a chooser, an int even where the library's own: the run restores its setting)
        threads = self.threads if self.chooser is None else self.chooser.candidates[0]
        with engines.threads_limited(self.xp, threads):
            xp, log_every = self.xp, logging.log_every
            lr = self.optimizer.learning_rate if learning_rate is None else learning_rate
            hooks = _Hooks(xp, record, logging, self.n_features, lr)
            batches = Batches(self.n, self.batch_size, seed, self.shuffle)
            if self.runner is not None:
                self.runner.begin(seed)
            self.first_loss = None
            # mini-batches without host-side work at logged steps run on to the end of the epoch,
            # the logged steps' losses read at the end (one call per epoch on a compiled engine)
            extend = logging.quiet and self.batch_size is not None
            lay_out = getattr(self.step, "lay_out", None)
            if lay_out is not None:  # the update's own layout (views of its vectors)
                self.packed, self.state = lay_out(self.packed, self.state)
            step, runner, data = self.step, self.runner, self.data
            if self.chooser is not None and step is not None:
                step = self.chooser.timed(step)
            packed, state = self.packed, self.state
            g, end = first, first + steps
            reached = g  # the steps made so far (an interrupt may come in the middle of a stretch)
            try:
                while g < end:
                    logged = g % log_every == 0
                    if logged:
                        hooks.before_logged_step(packed, g)
                    if extend:
                        most = end - g
                    else:
                        most = 1 if logged else min(end, (g // log_every + 1) * log_every) - g
                    perm, start, count, size, ragged = batches.segment(most)
                    k = count + (ragged > 0)  # the steps of this stretch
                    want = tuple([j for j in range(k) if (g + j) % log_every == 0])
                    lr = hooks.lr
                    if runner is not None:  # compiled, fused or chunked: the engine's own run
                        packed, state, losses = runner.run(
                            packed, state, perm, start, count, size, ragged, want, lr
                        )
                        reached = g + k
                    else:  # the step, one call per batch
                        assert step is not None  # engines give a step wherever no runner
                        losses = []
                        with self.quiet():
                            for j in range(k):
                                Xt1, onehot = self._batch(data, perm, start, j, count, size, ragged)
                                packed, state, loss = step(
                                    packed, state, Xt1, onehot, j in want, lr
                                )
                                reached = g + j + 1
                                if j in want:
                                    losses.append(loss)
                    self.packed, self.state = packed, state
                    examples = count * size + ragged
                    stop = False
                    for j, loss in zip(want, losses):
                        batch = size if j < count else ragged  # the logged step's batch
                        stop = hooks.after_logged_step(packed, g + j, loss, batch)
                        examples -= batch
                        if stop:
                            break
                    g = reached
                    hooks.samples += examples
                    if stop:
                        break
            except KeyboardInterrupt as exc:
                if isinstance(exc, TrainingInterrupted):
                    raise
                self.packed, self.state = packed, state
                record.n_steps, record.optimizer_state = reached, state
                record.schedule = logging.schedule
                raise TrainingInterrupted(self.params(), record) from exc
            record.n_steps, record.optimizer_state = g, state
            record.schedule = logging.schedule
            self.best, self.first_loss = hooks.best, hooks.first_loss
            self.steps_made += g - first
            return g

    def _batch(self, data, perm, start, j, count, size, ragged):
        """Batch j of a stretch in the step's layout, (D + 1, B) and (K, B): the full batch as
        it is; a mini-batch gathered row by row (contiguous) and transposed."""
        if perm is None:
            return data
        xp = self.xp
        if self.take is None:
            self.take = engines.take_rows(xp)
        if self.index_perm[0] is not perm:  # once per epoch, moved to the device
            self.index_perm = (perm, from_host(xp, perm, int_dtype(xp, self.device), self.device))
        lo = start + j * size if j < count else perm.shape[0] - ragged
        idx = self.index_perm[1][lo : lo + (size if j < count else ragged)]
        X1, onehot_rows = data
        return (
            network.batch_inputs(xp, X1, idx, self.take),
            xp.permute_dims(self.take(onehot_rows, idx), (1, 0)),
        )

    def epoch(self, seed: int, learning_rate: float, *, finite_only: bool = True) -> list[float]:
        """One epoch of mini-batches (the order drawn by ``seed`` when shuffled) at this
        rate; the loss of each batch (before its update), in order, as Python floats (a
        non-finite one: TrainingDiverged, unless not ``finite_only``)."""
        n_batches = -(-self.n // (self.batch_size or self.n))
        record = History()
        self.run(n_batches, record, Logging(finite_only=finite_only), seed=seed,
                 learning_rate=learning_rate)  # fmt: skip
        return record.loss

    def params(self, packed: list[Any] | None = None) -> dict[str, Any]:
        """Copies of the current parameters (or of ``packed``), in the public layout."""
        out: dict[str, Any] = _unpacked_copies(
            self.xp, self.packed if packed is None else packed, self.n_features
        )
        return out

    def final_loss(self, reg: float) -> float:
        """The full-data regularised loss of the current parameters (a host float)."""
        if self.runner is not None and hasattr(self.runner, "mean_loss"):
            return float(self.runner.mean_loss(self.packed, reg))
        assert self.data is not None  # in-memory data (lazy data has a runner's mean_loss)
        s, (Xt1, onehot) = self.settings, self.data
        by_rows = self.batch_size is not None
        block = engines.block_for(self.xp, self.device, self.packed, self.n)
        return float(_full_data_loss(self.xp, self.packed, Xt1, onehot, reg, self.n_features,
                                     block, by_rows, s.activation, s.output,
                                     s.weighted))  # fmt: skip


class _Hooks:
    """The logged steps of one run: held-out results, the log, the schedule, early
    stopping, the callback. Each logged step ends one of the schedule's "epochs"
    (:func:`portable_net.schedule.end_epoch`, the estimators' end of an epoch too)."""

    def __init__(self, xp, history: History, logging: Logging, n_features: int, lr: float):
        self.xp, self.history, self.logging, self.n_features = xp, history, logging, n_features
        self.schedule = schedule = logging.schedule
        self.lr = float(schedule.learning_rate) if schedule is not None else lr
        self.samples = 0  # examples used since the schedule's last evaluation
        self.best: list[Any] | None = None  # packed copies of the best held-out parameters
        self.best_val = min(history.val_loss, default=math.inf)
        self.val_loss = math.nan  # of the parameters of the current logged step
        # a plateau ends a run with early stopping (of the held-out loss) or lowers the
        # adaptive rate (of the training loss, or the held-out loss with early stopping);
        # constant and invscaling rates run on: train's steps are the caller's
        self.plateaus = logging.early_stopping or (
            schedule is not None and schedule.kind == "adaptive"
        )
        self.rule = NoImprovement(logging.tol, logging.n_iter_no_change)
        if schedule is not None:
            self.rule = schedule.rule  # carried on by a history that continues the run
        elif logging.early_stopping:
            self.rule.best = self.best_val
        self.first_loss: float | None = None

    def before_logged_step(self, packed: list[Any], step: int) -> None:
        """Held-out results of the parameters of this step (before its update)."""
        held_out = self.logging.held_out
        if held_out is None:
            return
        self.val_loss, val_acc = held_out.evaluate(packed)
        self.history.val_loss.append(self.val_loss)
        self.history.val_accuracy.append(val_acc)
        if self.val_loss < self.best_val:
            self.best_val = self.val_loss
            self.history.best_step = step
            if self.logging.restore_best:
                self.best = [self.xp.asarray(p, copy=True) for p in packed]

    def after_logged_step(self, packed: list[Any], step: int, loss: Any, n: int) -> bool:
        """Log the step's loss; True when training should stop."""
        xp, history, logging, schedule = self.xp, self.history, self.logging, self.schedule
        view = None
        if logging.callback is not None:
            view = _views(xp, packed, self.n_features)
        loss = float(loss)
        if self.first_loss is None:
            self.first_loss = loss
        stop = None
        try:
            log_step(history, step, loss, self.lr, logging.callback, view,
                     finite_only=logging.finite_only)  # fmt: skip
        except StopTraining:
            stop = "callback"
        # the schedule's "epoch": the steps since its last evaluation (the loss logged here
        # is of the parameters they reached); its new rate applies from the next step on
        # (the held-out loss is judged at every logged step, the first one too)
        due = self.samples > 0 or (self.plateaus and logging.early_stopping)
        if due and (schedule is not None or self.plateaus):
            t = (0 if schedule is None else schedule.t) + self.samples
            if self.plateaus:
                value = self.val_loss if logging.early_stopping else loss
                _, outcome = end_epoch(self.rule, schedule, value, t)
                if outcome == "stop":
                    stop = stop or ("early_stopping" if logging.early_stopping else "learning_rate")
            else:
                schedule.iteration_ends(t)  # type: ignore[union-attr]
            if schedule is not None:
                self.lr = float(schedule.learning_rate)
            self.samples = 0
        self.samples += n  # this step's examples
        history.stop_reason = stop
        return stop is not None


def diverged_message(first: float | None, final: float, n_steps: int) -> str | None:
    """The one rule for a run that ended worse than it started: at least 2 steps, and the
    final loss more than 10% above the first logged one. The message, or None."""
    if n_steps >= 2 and first is not None and final > 1.1 * first:
        return (
            f"training ended worse than it started: the loss went from {first:.6g} to "
            f"{final:.6g} in {n_steps} steps"
        )
    return None


def _start_state(xp, fresh, opt, previous: Any) -> Any:
    """The optimiser state: ``fresh``, or a copy of ``previous`` (checked against it)."""
    if previous is None:
        return fresh
    kind = type(fresh).__name__
    if type(previous) is not type(fresh):
        raise ValueError(
            f"history holds a {type(previous).__name__} but the optimizer {opt!r} needs a "
            f"{kind}: continue with the optimiser that made the history"
        )
    arrays = previous.velocity if isinstance(previous, SGDState) else previous.m
    wanted = fresh.velocity if isinstance(fresh, SGDState) else fresh.m
    if len(arrays) != len(wanted) or any(
        tuple(a.shape) != tuple(b.shape) for a, b in zip(arrays, wanted)
    ):
        raise ValueError(
            f"history's optimizer state does not fit these parameters and {opt!r} (another "
            "net, or another momentum)"
        )
    return _state_copies(xp, previous)


# what runs once per run: each one compiled program on libraries that compile
@engines.as_program()
def _state_copies(xp: ModuleType, state: Any) -> Any:
    """A private copy of an optimiser state (the loop updates its arrays in place)."""
    own = lambda arrays: [xp.asarray(a, copy=True) for a in arrays]  # noqa: E731
    if isinstance(state, SGDState):
        return SGDState(own(state.velocity))
    step = state.step
    if not isinstance(step, int):
        step = xp.asarray(step, copy=True)
    return AdamState(step, own(state.m), own(state.v))


@engines.as_program("n_layers", "n_outputs", "opt", "by_rows", "output")
def _prepare(xp, params, X, y, sample_weight, n_layers, n_outputs, opt, by_rows, output):
    """Private packed copies of the parameters, in X's dtype; the data in the step's layout
    (Xt1, targets), or ``by_rows`` example by example ([X, 1] (N, D + 1), target rows (N,
    K)); the optimiser's fresh state. The targets: :func:`portable_net.network.target_rows`."""
    rows = network.target_rows(xp, y, X.shape[0], n_outputs, X.dtype, output, sample_weight)
    if by_rows:
        data = (network.rows_with_ones(xp, X), rows)
    else:
        step_data = network.step_data(xp, X, rows)
        data = (step_data.Xt1, step_data.onehot)
    packed = network.pack(xp, {k: xp.astype(v, X.dtype, copy=False) for k, v in params.items()},
                          n_layers)  # fmt: skip
    return packed, data, opt.init(xp, packed)


@engines.as_program("n_features")
def _unpacked_copies(xp, packed, n_features):
    return network.unpack(xp, packed, n_features, copy=True)


@engines.as_program("n_features")
def _views(xp, packed, n_features):
    """The callback's parameters: views of the packed ones (one program on JAX)."""
    return network.unpack(xp, packed, n_features, copy=False)


@engines.as_summary("reg", "n_features", "block", "by_rows", "activation", "output", "weighted")
def _full_data_loss(xp, packed, Xt1, targets, reg, n_features, block, by_rows, activation,
                    output, weighted):  # fmt: skip
    """The full-data loss (0-d) of the data as :func:`_prepare` made it (``by_rows``: example
    by example), where it costs least."""
    if by_rows:
        Xt1, targets = xp.permute_dims(Xt1, (1, 0)), xp.permute_dims(targets, (1, 0))
    return network.mean_loss(xp, packed, Xt1, targets, reg, n_features, activation=activation,
                             output=output, weighted=weighted, block=block)  # fmt: skip
