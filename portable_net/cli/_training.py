"""``portable-net train``'s training options (the optimiser, the rate and its schedule,
held-out data, early stopping), their checks, and on the spiral the keywords they give
:func:`train` and the command's one call of it (``run_training``); what a run that went wrong
prints, and an interrupted run's file."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable
from typing import Any

from ..constraints import ESTIMATOR
from ..hyperparameters import DEFAULT_RATES, HYPERPARAMETERS
from ._args import MODEL_DEFAULTS, OPTIONS, Failure, Given, add_hyperparameter, add_option

#: train(engine=...)'s names (portable_net.engines.ENGINE_NAMES, which imports the array
#: libraries' adapters: kept here for --help; tests hold the two equal)
ENGINE_NAMES = ("auto", "eager", "core", "fused")


def add_training_options(group: argparse._ActionsContainer) -> None:
    """How the weights are learnt. On --data the estimators' parameters by their names come
    first (``_fit.add_estimator_options``), then the options both runs take, then the
    spiral's own (each one keyword of portable_net.train: ``training_settings``); types,
    ranges, defaults and meanings from :mod:`portable_net.hyperparameters`."""
    from ._fit import add_estimator_options

    row = HYPERPARAMETERS
    add_estimator_options(group)
    rates = ", ".join(f"{rate} for {name}" for name, rate in DEFAULT_RATES.items())
    data_rate = row["learning_rate"].at(ESTIMATOR).default
    add_hyperparameter(group, "learning_rate", "--learning-rate-init",
                       extra=f" (default: {data_rate} with --data; on the spiral {rates})")  # fmt: skip
    add_hyperparameter(group, "batch_size",
                       extra=" (default: min(200, rows) with --data; the full batch on the "
                       "spiral)")  # fmt: skip
    add_hyperparameter(
        group,
        "lr_schedule",
        help="the rate over the run, as scikit-learn's MLPClassifier (--solver sgd), at each "
        f"epoch (logged step on the spiral): invscaling lr / (t + 1) ** "
        f"{row['power_t'].default} (t: samples seen); adaptive divides it by 5 when the loss "
        "has not improved for more than --patience epochs (logged steps)",
    )
    momentum = row["momentum"].at(ESTIMATOR).default
    add_hyperparameter(group, "momentum", action=Given,
                       extra=f" (default: {momentum} with --data, 0 on the spiral)")  # fmt: skip
    add_hyperparameter(group, "n_iter_no_change", "--n-iter-no-change",
                       help="epochs (logged steps on the spiral) without an improvement of the "
                       "loss by --tol tolerated: one more and the run stops (--data, or "
                       "--early-stopping) or the adaptive schedule lowers the rate (>= 1)")  # fmt: skip
    fraction = row["validation_fraction"].at(ESTIMATOR).default
    add_hyperparameter(
        group,
        "early_stopping",
        help="hold out --validation-fraction of the training rows (stratified for classes) "
        f"and stop when their score (the spiral: their loss, by {row['tol'].default:g}) has "
        "not improved for more than --patience epochs (logged steps) in a row, keeping the "
        "best parameters",
    )
    add_hyperparameter(
        group, "validation_fraction",
        help="the share of the training rows --early-stopping holds out (stratified for "
        "classes, drawn by --seed); on the spiral also without it, their loss and accuracy "
        f"printed at each logged step (in (0, 1)) (default: {fraction} with --early-stopping)",
    )  # fmt: skip


def add_spiral_training_options(group: argparse._ActionsContainer) -> None:
    """The spiral's own training options: keywords of portable_net.train."""
    row = HYPERPARAMETERS
    (mlp_steps, _), (softmax_steps, _) = MODEL_DEFAULTS.values()
    add_hyperparameter(group, "steps", extra=(
        f" (the spiral; default: {mlp_steps} for mlp, {softmax_steps} for softmax; with --data "
        "deprecated: give --max-iter, which counts epochs)"))  # fmt: skip
    adam = "betas {}, {}, epsilon {}".format(
        *(row[k].default for k in ("beta_1", "beta_2", "epsilon"))
    )
    add_hyperparameter(
        group,
        "optimizer",
        action=Given,
        help=f"the spiral's update: gradient descent (with --momentum, --nesterov) or Adam "
        f"({adam}); with --data the same as --solver",
    )
    add_option(group, "--reg", action=Given, help=OPTIONS["--reg"]["help"]
               + " (the spiral; with --data deprecated: give --alpha, which is per batch)")  # fmt: skip
    add_hyperparameter(group, "nesterov", extra="; with --data the same as --nesterovs-momentum")
    group.add_argument(
        "--engine",
        choices=ENGINE_NAMES,
        default="auto",
        help="the spiral: how the steps run, every choice the same step: auto (the library's "
        "own way: compiled on JAX), eager (the step called step by step), core (without the "
        "faster arrangement: the reference), fused (CuPy's fused CUDA kernels, not yet proven "
        "on a GPU) (default: auto)",
    )


def training_settings(args: argparse.Namespace) -> dict[str, Any]:
    """What portable_net.train is asked for on the command line, as plain data (also saved,
    as the model's ``training`` metadata); :func:`train_keywords` makes train's keywords."""
    default_steps, default_log_every = MODEL_DEFAULTS[args.model]
    lr = DEFAULT_RATES[args.optimizer] if args.lr is None else args.lr
    return {
        "steps": default_steps if args.steps is None else args.steps,
        "optimizer": args.optimizer,
        "learning_rate": lr,
        "lr_schedule": args.lr_schedule,
        "reg": args.reg,
        "momentum": args.momentum,
        "nesterov": args.nesterov,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "log_every": default_log_every if args.log_every is None else args.log_every,
        "validation_fraction": args.validation_fraction,
        "early_stopping": args.early_stopping,
        "n_iter_no_change": args.patience,
        "activation": args.activation,
        "n_jobs": args.threads,
        "engine": args.engine,
    }


def train_keywords(settings: dict[str, Any]) -> dict[str, Any]:
    """The keywords of portable_net.train for the settings (Nesterov: an optim.SGD)."""
    from ..optim import SGD

    kw = dict(settings)
    if kw.pop("nesterov"):
        kw["optimizer"] = SGD(kw.pop("learning_rate"), kw.pop("momentum"), nesterov=True)
    elif kw["optimizer"] == "adam":
        kw.pop("momentum")
    if kw["early_stopping"]:
        kw["restore_best"] = True
    return kw


def format_loss(loss: float) -> str:
    """A loss for a line of output: 6 decimals, or 6 significant digits when large (a
    diverging run's loss must not print hundreds of digits)."""
    return f"{loss:f}" if abs(loss) < 1e6 else f"{loss:.6g}"


def check_training_options(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    if args.engine == "fused" and args.backend != "cupy":
        parser.error("argument --engine: fused runs CuPy's kernels: it needs --backend cupy")
    if args.nesterov and (args.optimizer != "sgd" or args.momentum == 0.0):
        parser.error("argument --nesterov: needs --optimizer sgd and --momentum > 0")
    if args.optimizer == "adam" and args.momentum != 0.0:
        parser.error("argument --momentum: applies to --optimizer sgd")
    if args.threads == 0:
        parser.error("argument --threads: must be -1 (one per core) or at least 1")
    if (args.validation_fraction is not None or args.early_stopping) and args.seed >= 2**32:
        parser.error("argument --seed: must be < 2**32 to draw the held-out rows")


def run_training(params: Any, X: Any, y: Any, settings: dict[str, Any], *,
                 report: Callable[[int, float, Any], None], bar: Any, output: str,
                 hint: Callable[[], str | None],
                 on_interrupt: Callable[[Any], None]) -> tuple[Any, Any, list[str]]:  # fmt: skip
    """The command's one call of :func:`portable_net.train` (the spiral): its settings,
    ``report`` at the logged steps, ``output`` the output layer. Returns the parameters, the
    history and the texts of the TrainingWarnings it raised (the run ended worse than it
    started). A diverged run is a :class:`Failure` (with ``hint()``, when there is one);
    Ctrl-C calls ``on_interrupt`` with the :class:`~portable_net.TrainingInterrupted` (the
    parameters reached) and ends as Ctrl-C. The progress ``bar`` (or None) is closed."""
    from .. import TrainingDiverged, TrainingInterrupted, TrainingWarning, train

    try:
        with warnings.catch_warnings(record=True) as caught:
            # numpy's overflow warnings: divergence is reported; ours are kept
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("always", TrainingWarning)
            params, history = train(params, X, y, **train_keywords(settings), callback=report,
                                    output=output)  # fmt: skip
    except TrainingDiverged as exc:
        why = hint()
        raise Failure(str(exc) + (f"; {why}" if why else "")) from None
    except TrainingInterrupted as exc:
        if bar is not None:
            bar.close()
            bar = None
        on_interrupt(exc)
        raise exc.__cause__ if isinstance(exc.__cause__, KeyboardInterrupt) else exc  # noqa: B904
    finally:
        if bar is not None:
            bar.close()
    trouble = [str(w.message) for w in caught if issubclass(w.category, TrainingWarning)]
    return params, history, trouble


def explain(trouble: list[str], hint: Callable[[], str | None], unsaved: str | None) -> None:
    """The run's warnings completed: the data's scaling ``hint()`` when there are any, and
    why the ``unsaved`` model file (or None) was not written."""
    if trouble and (why := hint()):
        trouble.append(why)
    if unsaved:
        trouble.append(
            f"the model was not saved to {unsaved!r} (the run ended worse than it started); "
            "give --save-anyway to save it regardless"
        )


def at_chance(acc: float, y: Any, n_classes: int, option: str) -> list[str]:
    """A warning when the training accuracy ``acc`` is no better than always answering the
    most frequent class of the class indices ``y`` (NumPy); ``option``: the rate's option."""
    import numpy as np

    counts = np.bincount(y, minlength=n_classes)
    share = counts.max() / max(1, counts.sum())
    if acc <= share + 1e-12:
        return [
            f"the training accuracy {acc:.4f} is at chance (the most frequent class is "
            f"{share:.4f} of the rows); try a smaller {option}"
        ]
    return []


def warn(trouble: list[str]) -> int:
    """Print the warnings about the run; exit status 1 if there are any."""
    for text in trouble:
        print(f"portable-net train: warning: {text}", file=sys.stderr)
    return 1 if trouble else 0


def save_interrupted(path: str | None, write: Callable[[], None], at: str) -> None:
    """Under --save (``path``), the parameters an interrupted run reached, written by
    ``write()`` (the same file as a finished run's, and where it stopped, ``at``: "step 40",
    "epoch 3"), said on stderr."""
    if not path:
        return
    try:
        write()
    except Failure as why:  # the file cannot be written: said, and the run ends as Ctrl-C
        print(f"portable-net train: error: {why}", file=sys.stderr)
        return
    print(f"portable-net train: interrupted at {at}; the parameters reached are saved to "
          f"{path}", file=sys.stderr)  # fmt: skip
