"""``portable-net train``'s training options (the optimiser, the rate and its schedule,
held-out data, early stopping), their checks, and the keywords they give :func:`train`."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable
from typing import Any

from ..constraints import ESTIMATOR
from ..hyperparameters import DEFAULT_RATES, HYPERPARAMETERS
from ._args import MODEL_DEFAULTS, Failure, add_hyperparameter, add_option


def add_training_options(parser: argparse.ArgumentParser) -> None:
    """How the weights are learnt: each option here is one keyword of portable_net.train
    (see ``training_settings``); types, ranges, defaults and meanings from
    :mod:`portable_net.hyperparameters`."""
    row = HYPERPARAMETERS
    (mlp_steps, mlp_log), (softmax_steps, softmax_log) = MODEL_DEFAULTS.values()
    steps = f" (default: {mlp_steps} for mlp, {softmax_steps} for softmax)"
    log_every = f" (default: {mlp_log} for mlp, {softmax_log} for softmax)"
    add_hyperparameter(parser, "steps", extra=steps)
    adam = "betas {}, {}, epsilon {}".format(
        *(row[k].default for k in ("beta_1", "beta_2", "epsilon"))
    )
    add_hyperparameter(
        parser,
        "optimizer",
        help=f"the update: gradient descent (with --momentum, --nesterov) or Adam ({adam})",
    )
    rates = ", ".join(f"{rate} for {name}" for name, rate in DEFAULT_RATES.items())
    add_hyperparameter(parser, "learning_rate", extra=f" (default: {rates})")
    add_hyperparameter(
        parser,
        "lr_schedule",
        help="the rate over the run, as scikit-learn's MLPClassifier, evaluated at logged "
        f"steps: invscaling lr / (t + 1) ** {row['power_t'].default} (t: samples seen); "
        "adaptive divides it by 5 when the loss has not improved for more than --patience "
        "logged steps",
    )
    add_option(parser, "--reg")
    add_hyperparameter(parser, "momentum")
    add_hyperparameter(parser, "nesterov")
    add_hyperparameter(parser, "batch_size", extra=" (default: the full batch)")
    add_hyperparameter(parser, "log_every", extra=log_every)
    fraction = row["validation_fraction"].at(ESTIMATOR).default
    add_hyperparameter(
        parser, "validation_fraction", extra=f" (default: none; {fraction} with --early-stopping)"
    )
    add_hyperparameter(
        parser,
        "early_stopping",
        help=f"stop when the held-out loss has not improved (by {row['tol'].default:g}) for more "
        "than --patience logged steps in a row (scikit-learn's rule), and keep the best "
        "held-out parameters",
    )
    add_hyperparameter(parser, "n_iter_no_change")
    add_hyperparameter(parser, "activation")
    add_hyperparameter(parser, "n_jobs")


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
    """The command's one call of :func:`portable_net.train` (every task): its settings,
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


def warn(trouble: list[str]) -> int:
    """Print the warnings about the run; exit status 1 if there are any."""
    for text in trouble:
        print(f"portable-net train: warning: {text}", file=sys.stderr)
    return 1 if trouble else 0


def save_interrupted(path: str | None, exc: Any, meta: dict[str, Any]) -> None:
    """Under --save (``path``), the parameters an interrupted run reached, with the model's
    metadata ``meta``, said on stderr."""
    from .. import io

    if not path:
        return
    try:
        io.save(path, exc.params, history=exc.history, interrupted_at_step=exc.history.n_steps,
                **meta)  # fmt: skip
    except OSError as why:
        print(f"portable-net train: could not save the model to {path!r}: {why}",
              file=sys.stderr)  # fmt: skip
        return
    print(f"portable-net train: interrupted at step {exc.history.n_steps}; the parameters "
          f"reached are saved to {path}", file=sys.stderr)  # fmt: skip
