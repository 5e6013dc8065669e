"""``portable-net train --data``: a user's data trained through the estimators,
:class:`portable_net.Classifier` (``--task classification``) or :class:`portable_net.Regressor`
(``--task regression``): their loop, their checks, their defaults (scikit-learn's
``MLPClassifier``'s: Adam at 1e-3 on mini-batches of ``min(200, n)``, ``alpha`` 1e-4, up to 200
epochs, stopping when the loss has not improved by ``tol`` for ``n_iter_no_change`` epochs) and
their divergence rule. The command drives no loop of its own: it reads and prepares the data
(``_inputs.user_data``), makes the estimator from its options, fits it, and reports, saves
(through the estimators' writer, with the preprocessing and CSV dialect of the file) and draws
what it learnt.

The estimators' parameters are options of their own names (``--max-iter``, ``--alpha``,
``--solver``, ``--learning-rate-init``, ``--tol``, ...), their types, ranges, choices and help
from :mod:`portable_net.hyperparameters`. The spiral's options that mean the same on a file
work too (``--optimizer`` is ``--solver``, ``--lr`` is ``--learning-rate-init``, ``--patience``
is ``--n-iter-no-change``, ``--nesterov``, ``--momentum``, ``--batch-size``,
``--early-stopping``, ``--lr-schedule``); those that count otherwise are translated with a
warning (``--steps``: updates, ``--max-iter`` counts epochs; ``--reg``: ``--alpha`` divided by
the batch size) or, without a meaning here, ignored with one (``--engine``;
``--validation-fraction`` without ``--early-stopping``).
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from typing import Any

from ..constraints import ESTIMATOR, REGRESSOR
from ..hyperparameters import HYPERPARAMETERS, names
from . import _data, _inputs, _progress, _regression, _run, _training
from ._args import MAX_SEED, BadInput, Failure, given, hyperparameter
from ._training import format_loss

__all__ = ["add_estimator_options", "data_only_option", "train"]

#: the estimators' parameters (the table's keys) that the command's options shared with the
#: spiral give, and those it does not take (one fit per run, nothing printed by the estimator)
SHARED = ("hidden_layer_sizes", "activation", "learning_rate", "batch_size", "lr_schedule",
          "momentum", "early_stopping", "validation_fraction", "n_iter_no_change", "seed",
          "n_jobs")  # fmt: skip
NOT_TAKEN = ("verbose", "warm_start")


def data_only() -> list[tuple[str, str]]:
    """``(table key, entry point)`` of each parameter that only ``--data`` takes, by the
    estimators' name, in the table's order: every parameter of the estimators (and of the
    Regressor alone) but the shared ones. A row added to the table is an option here."""
    out = [(key, ESTIMATOR) for key in names(ESTIMATOR).values()
           if key not in SHARED and key not in NOT_TAKEN]  # fmt: skip
    return out + [(key, REGRESSOR) for key in names(REGRESSOR).values()]


def option_name(key: str, where: str = ESTIMATOR) -> str:
    """The option of the estimators' parameter of the table's ``key``: ``--max-iter``."""
    return "--" + HYPERPARAMETERS[key].at(where).name.replace("_", "-")


def add_estimator_options(group: argparse._ActionsContainer) -> None:
    """The estimators' parameters by their names, for ``--data`` (default None: the
    estimators' default, shown in the help)."""
    for key, where in data_only():
        use = HYPERPARAMETERS[key].at(where)
        extra = f" (default: {use.default})" + (" (--task regression)" if where == REGRESSOR
                                                 else "")  # fmt: skip
        flag: dict[str, Any] = (
            {"action": argparse.BooleanOptionalAction} if use.kind == "bool" else {}
        )
        group.add_argument(option_name(key, where), **hyperparameter(
            key, where=where, extra=extra, default=None, **flag))  # fmt: skip


def data_only_option(args: argparse.Namespace) -> str | None:
    """The first option given that only ``--data`` takes, or None."""
    for key, where in data_only():
        if getattr(args, HYPERPARAMETERS[key].at(where).name) is not None:
            return option_name(key, where)
    return None


def estimator_settings(
    args: argparse.Namespace, parser: argparse.ArgumentParser, hidden: list[int], n: int
) -> tuple[dict[str, Any], list[str]]:
    """The estimator's constructor arguments from the options (those not given left to its
    defaults), for ``n`` training rows; and the warnings about spiral options translated or
    ignored."""
    notes: list[str] = []
    kw: dict[str, Any] = {
        "hidden_layer_sizes": tuple(hidden),
        "activation": args.activation,
        "random_state": args.seed,
        "n_iter_no_change": args.patience,
        "early_stopping": args.early_stopping,
        "learning_rate": args.lr_schedule,
        "n_jobs": args.threads,
    }
    solver = _solver(args, parser)
    regression = args.task == "regression"
    for key, where in data_only():  # the options of the estimators' own names, as given
        name = HYPERPARAMETERS[key].at(where).name
        if getattr(args, name) is not None and (where != REGRESSOR or regression):
            kw[name] = getattr(args, name)
    if solver is not None:
        kw["solver"] = solver
    if args.lr is not None:
        kw["learning_rate_init"] = args.lr
    if args.batch_size is not None:
        kw["batch_size"] = args.batch_size
    batch = min(200 if args.batch_size is None else args.batch_size, n)
    if args.alpha is None and given(args, "reg"):
        kw["alpha"] = args.reg * batch
        notes.append(
            f"--reg is deprecated with --data: it is train's L2 strength per example, and the "
            f"estimators' --alpha is per batch; --reg {args.reg:g} is --alpha "
            f"{kw['alpha']:g} (--reg x the batch size {batch}): give --alpha"
        )
    if args.max_iter is None and args.steps is not None:
        per_epoch = -(-n // batch)
        kw["max_iter"] = max(1, -(-args.steps // per_epoch))
        notes.append(
            f"--steps is deprecated with --data: it counts updates, and the estimators count "
            f"epochs (passes over the data, {per_epoch} batch{'es' if per_epoch > 1 else ''} "
            f"of up to {batch} rows); --steps "
            f"{args.steps} is --max-iter {kw['max_iter']}: give --max-iter"
        )
    if given(args, "momentum"):
        kw["momentum"] = args.momentum
    if args.nesterovs_momentum is None and args.nesterov:
        kw["nesterovs_momentum"] = True
    if args.validation_fraction is not None:
        kw["validation_fraction"] = args.validation_fraction
        if not args.early_stopping:
            notes.append(
                "--validation-fraction without --early-stopping holds out nothing with --data "
                "(it is the share --early-stopping holds out); ignored"
            )
    if args.engine != "auto":
        notes.append(f"--engine {args.engine} applies to the spiral; ignored with --data")
    return kw, notes


#: the largest --seed the estimators take (their random_state, NumPy's RandomState)
MAX_SEED_OF_ESTIMATORS = min(MAX_SEED, 2**32 - 1)


def _solver(args: argparse.Namespace, parser: argparse.ArgumentParser) -> str | None:
    """--solver, or --optimizer (its other name), or None (the estimators' default)."""
    if given(args, "optimizer"):
        if args.solver is not None and args.solver != args.optimizer:
            parser.error(f"argument --optimizer: {args.optimizer} is not --solver {args.solver}")
        return str(args.optimizer)
    return None if args.solver is None else str(args.solver)


def check_estimator_options(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Usage errors of --data's options, before any work."""
    if args.seed > MAX_SEED_OF_ESTIMATORS:
        parser.error(f"argument --seed: must be < 2**32 with --data (the estimators' "
                     f"random_state), got {args.seed}")  # fmt: skip
    if (_solver(args, parser) or "adam") != "sgd":
        for option, on in (("--momentum", given(args, "momentum")),
                           ("--nesterov", args.nesterov or args.nesterovs_momentum)):  # fmt: skip
            if on:
                parser.error(f"argument {option}: applies to --solver sgd")
    if args.task != "regression":
        for key, where in data_only():
            if (
                where == REGRESSOR
                and getattr(args, HYPERPARAMETERS[key].at(where).name) is not None
            ):
                parser.error(f"argument {option_name(key, where)}: applies to --task regression")
    if args.confusion and args.task == "regression":
        parser.error("argument --confusion: applies to --task classification")
    if args.threads == 0:
        parser.error("argument --threads: must be -1 (one per core) or at least 1")


# --- the run -----------------------------------------------------------------------------------


def train(args: argparse.Namespace, parser: argparse.ArgumentParser, hidden: list[int]) -> int:
    """``train --data``: read, split, scale, fit the estimator, report, save, draw. Returns
    the exit status."""
    from .. import Classifier, Regressor
    from .._backend import backend_name

    regression = args.task == "regression"
    check_estimator_options(args, parser)
    xp, device = _run.backend_namespace(parser, args, args.dtype == "float64")
    _run.check_plot(parser, args.plot)
    _run.check_outputs(parser, {"--save": args.save, "--plot": args.plot}, inputs=(args.data,))
    data = _inputs.user_data(args, parser, xp, device)
    n, n_features = int(data.X.shape[0]), int(data.X.shape[1])
    settings, notes = estimator_settings(args, parser, hidden, n)
    n_outputs = 1 if regression or len(data.classes) == 2 else len(data.classes)
    sizes = [n_features, *hidden, n_outputs]
    _run.check_model_size("--hidden", sizes, args.dtype)
    for note in notes:  # deprecations: also with --quiet and --json
        print(f"portable-net train: warning: {note}", file=sys.stderr, flush=True)
    est: Any = (Regressor if regression else Classifier)(**settings)
    verbose = not (args.quiet or args.json)
    if verbose:
        rows = f"{n} to train" + (
            "" if data.X_test is None else f", {data.X_test.shape[0]} to test"
        )
        target = "a real target" if regression else f"{len(data.classes)} classes"
        print(f"data: {args.data}: {data.record['rows']} rows ({rows}), {n_features} features, "
              f"{target}" + (", standardized" if args.standardize else ""), flush=True)  # fmt: skip
    max_iter = est.get_params()["max_iter"]
    log_every = args.log_every or max(1, max_iter // 10)
    bar = _progress.progress(max_iter, "epoch", args.quiet)
    printed = [0]

    def on_epoch(fitted: Any) -> None:
        epoch, loss = fitted.n_iter_, fitted.loss_curve_[-1]
        if not math.isfinite(loss):  # the rest of the run would learn nothing: stop it here
            raise Diverged(epoch, loss)
        bar.update(epoch, loss)
        if verbose and (epoch == 1 or epoch % log_every == 0):
            bar.write(epoch_line(fitted, regression))
            printed[0] = epoch

    def hint() -> str | None:
        if args.standardize:
            return None
        return _data.scale_hint(_run.to_host(data.X), data.record["feature_names"])

    description = {"model": args.model, "data": data.record,
                   "backend": backend_name(xp), "device": _run.describe_device(xp, device),
                   "preprocessing": data.preprocessing, "dialect": data.dialect,
                   **({} if regression else {"classes": data.classes, "classes_dtype": None})}  # fmt: skip
    est._on_epoch = on_epoch
    try:
        trouble, converged = fit_estimator(est, data, args, hint)
    except KeyboardInterrupt:
        bar.close()
        if est.__sklearn_is_fitted__() and args.save:
            del est._on_epoch
            _training.save_interrupted(
                args.save, lambda: _run.save_model(args.save, None, estimator=est,
                                                   interrupted_at_epoch=est.n_iter_, **description),
                f"epoch {est.n_iter_}",
            )  # fmt: skip
        raise
    finally:
        bar.close()
    del est._on_epoch
    if verbose and printed[0] != est.n_iter_:
        print(epoch_line(est, regression), flush=True)
    if not converged and not args.quiet and not trouble:
        print(f"portable-net train: note: stopped after --max-iter {max_iter} epochs, before "
              f"the loss stopped improving (by --tol {est.get_params()['tol']:g} for "
              f"{est.get_params()['n_iter_no_change']} epochs); a larger --max-iter may do "
              "better", file=sys.stderr, flush=True)  # fmt: skip
    report = _regression.report if regression else _classification_report
    metrics, table, shown = report(est, data)
    curve = losses(est)
    if not regression and curve and max(curve) > 1.1 * curve[0]:
        trouble += _training.at_chance(metrics["training_accuracy"], _run.to_host(data.y),
                                       len(data.classes), "--learning-rate-init")  # fmt: skip
    unsaved = bool(trouble) and bool(args.save) and not args.save_anyway
    _training.explain(trouble, hint, args.save if unsaved else None)
    if args.save and not unsaved:
        _run.save_model(args.save, None, estimator=est, **description, **metrics)
    if args.plot:
        _draw(args, est, data, shown, metrics, sizes)
    if args.json:
        _run.print_json(_json(args, est, data, metrics, table, sizes, xp, device, converged,
                              None if unsaved else args.save))  # fmt: skip
        return _training.warn(trouble)
    _print_results(args, est, data, metrics, table, regression, unsaved)
    return _training.warn(trouble)


class Diverged(Exception):
    """An epoch whose loss is not finite: the command stops the fit there."""

    def __init__(self, epoch: int, loss: float) -> None:
        super().__init__(epoch, loss)
        self.epoch, self.loss = epoch, loss


def losses(est: Any) -> list[float]:
    """The loss of each epoch, or an L-BFGS fit's final loss (it records no curve)."""
    curve = getattr(est, "loss_curve_", None)
    return list(curve) if curve is not None else [float(est.loss_)]


def counted(est: Any) -> list[int]:
    """The epochs of :func:`losses` (1, 2, ...), or an L-BFGS fit's iterations."""
    return list(range(1, len(losses(est)) + 1)) if unit(est) == "epoch" else [est.n_iter_]


def unit(est: Any) -> str:
    """What the run counts: epochs, or L-BFGS's iterations."""
    return "epoch" if hasattr(est, "loss_curve_") else "iteration"


def epoch_line(est: Any, regression: bool) -> str:
    """An epoch's line: its loss, and the held-out score of --early-stopping."""
    line = f"{unit(est)} {est.n_iter_} loss {format_loss(losses(est)[-1])}"
    scores = getattr(est, "validation_scores_", None)
    if scores:
        line += f", held-out {'R^2' if regression else 'accuracy'} {scores[-1]:.4f}"
    return line


def fit_estimator(
    est: Any, data: Any, args: argparse.Namespace, hint: Any
) -> tuple[list[str], bool]:
    """Fit ``est`` on the training rows. Returns the warnings about the run (it ended worse
    than it started: the estimators' rule) and whether it converged (stopped before
    --max-iter). A diverged run is a :class:`Failure`; an input the estimator refuses before
    training, :class:`BadInput`. NumPy's overflow warnings are not shown: the outcome is."""
    from ..errors import ConvergenceWarning, TrainingDiverged

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("always", UserWarning)
            est.fit(data.X, data.y)
    except (Diverged, TrainingDiverged) as exc:
        where = f"epoch {exc.epoch}" if isinstance(exc, Diverged) else f"step {exc.step}"
        rate = est.get_params()["learning_rate_init"]
        why = hint()
        raise Failure(
            f"training diverged: the loss is {exc.loss} at {where}; try a smaller "
            f"--learning-rate-init (now {rate:g})" + (f"; {why}" if why else "")
        ) from None
    except (ValueError, TypeError) as exc:
        if est.__sklearn_is_fitted__() and getattr(est, "n_iter_", 0):  # the run went wrong
            why = hint()
            raise Failure(f"training diverged: {_estimator_words(str(exc))}"
                          + (f"; {why}" if why else "")) from None  # fmt: skip
        raise BadInput(f"argument --data: {args.data!r}: {_estimator_words(str(exc))}") from None
    trouble, converged = [], True
    for w in caught:
        text = _estimator_words(str(w.message))
        if issubclass(w.category, ConvergenceWarning) and text.startswith("training ended"):
            trouble.append(text)
        elif issubclass(w.category, ConvergenceWarning) and "Maximum iterations" in text:
            converged = False
        elif not args.quiet:
            print(f"portable-net train: note: {text}", file=sys.stderr, flush=True)
    return trouble, converged


def _estimator_words(message: str) -> str:
    """A message of the estimators in the command's words (its options)."""
    import re

    for name in ("learning_rate_init", "validation_fraction", "batch_size", "max_iter"):
        option = "--" + name.replace("_", "-")
        message = re.sub(rf"`?'?\b{name}\b'?`?(=)?", option + r"\1", message).replace(
            option + "=", option + " "
        )
    return message


def _classification_report(est: Any, data: Any) -> tuple[dict[str, Any], Any, Any]:
    """The training (and test) accuracy, the per-class table of the report's rows, and
    those rows ``(X, y, predicted)`` on the host."""
    X, y = (data.X, data.y) if data.X_test is None else (data.X_test, data.y_test)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        metrics = {"training_accuracy": float(est.score(data.X, data.y))}
        if data.X_test is not None:
            metrics["test_accuracy"] = float(est.score(data.X_test, data.y_test))
        predicted = _run.to_host(est.predict(X))
    y_host = _run.to_host(y)
    table = _data.per_class(y_host, predicted, len(data.classes))
    return metrics, table, (X, y_host, predicted)


def _draw(args: argparse.Namespace, est: Any, data: Any, shown: Any, metrics: dict[str, Any],
          sizes: list[int]) -> None:  # fmt: skip
    """--plot: the loss per epoch (and the held-out score); the decision regions of data of
    two features; the predicted against the true values of a regression."""
    from ..plot import run_figure

    regression = args.task == "regression"
    curve = {"x": counted(est), "xlabel": unit(est), "loss": losses(est),
             "score": getattr(est, "validation_scores_", None) or None,
             "score_name": "held-out " + ("R^2" if regression else "accuracy")}  # fmt: skip
    regions = predictions = None
    names = data.record["feature_names"]
    if regression:
        _, y, predicted = shown
        rows = "training" if data.X_test is None else "test"
        predictions = {"true": y, "predicted": predicted, "rows": rows,
                       "target": str(data.record["label"] or "target")}  # fmt: skip
    elif sizes[0] == 2:
        regions = {"params": est.params_, "X": data.X, "y": data.y, "activation": est.activation,
                   "output": est._output, "n_classes": len(data.classes),
                   "labels": [f"{n} (standardized)" if args.standardize else n
                              for n in names]}  # fmt: skip
    score = metrics.get("test_r2" if regression else "test_accuracy")
    kind = "R^2" if regression else "accuracy"
    on = "test" if score is not None else "training"
    value = score if score is not None else metrics["training_r2" if regression else
                                                    "training_accuracy"]  # fmt: skip
    name = "linear model" if args.model == "softmax" else f"net {sizes}"
    fig = run_figure(curve, regions=regions, predictions=predictions,
                     title=f"{args.data}: {name}, {on} {kind} {value:.4f}")  # fmt: skip
    _run.write_figure(fig, args.plot, (args.data,))


def _json(args: argparse.Namespace, est: Any, data: Any, metrics: dict[str, Any], table: Any,
          sizes: list[int], xp: Any, device: Any, converged: bool,
          saved: str | None) -> dict[str, Any]:  # fmt: skip
    settings = est.get_params()
    settings["hidden_layer_sizes"] = list(settings["hidden_layer_sizes"])
    curve, scores = losses(est), getattr(est, "validation_scores_", None)
    document: dict[str, Any] = {
        "task": args.task,
        "estimator": type(est).__name__,
        **_run.run_record(args, sizes, xp, device),
        "settings": settings,
        "data": data.record,
        "history": {
            unit(est) + "s": counted(est),  # an L-BFGS fit: its last iteration only
            "loss": curve,
            **({"validation_scores": list(scores)} if scores else {}),
        },
        "n_iter": est.n_iter_,
        "converged": converged,
        "final_loss": curve[-1],
        **metrics,
        "saved": saved,
        "plot": args.plot,
        "standardize": args.standardize,
        "categorical": data.categorical,
        "report_on": "training" if data.X_test is None else "test",
    }
    if args.task == "classification":
        document["classes"] = data.classes
        document.update(_data.report_json(data.classes, table, args.confusion))
    return document


def _score(value: float) -> str:
    """A score for a line of output: 4 decimals, or 6 significant digits when large (the
    R^2 of a run gone wrong)."""
    return f"{value:.4f}" if abs(value) < 1e6 else f"{value:.6g}"


def _print_results(args: argparse.Namespace, est: Any, data: Any, metrics: dict[str, Any],
                   table: Any, regression: bool, unsaved: bool) -> None:  # fmt: skip
    if regression:
        for on in ("training", "test"):
            if f"{on}_r2" in metrics:
                print(f"{on} R^2: {_score(metrics[f'{on}_r2'])} (mean squared error "
                      f"{metrics[f'{on}_mse']:.6g})")  # fmt: skip
    else:
        print(f"training accuracy: {metrics['training_accuracy']:.4f}")
        if "test_accuracy" in metrics:
            print(f"test accuracy: {metrics['test_accuracy']:.4f}")
    if args.quiet:
        return
    if table is not None:
        on = "training" if data.X_test is None else "test"
        print(f"per class, on the {on} rows:")
        print("\n".join(_data.report_lines(data.classes, table, args.confusion)))
    if args.save and not unsaved:
        print(f"model saved to {args.save}")
    if args.plot:
        print(f"picture saved to {args.plot}")
    scores = getattr(est, "validation_scores_", None)
    if scores:
        what = "R^2" if regression else "accuracy"
        best = max(range(len(scores)), key=scores.__getitem__)
        stopped = " (stopped early)" if est.n_iter_ < est.get_params()["max_iter"] else ""
        print(f"held-out {what}: {est.best_validation_score_:.4f} at epoch {best + 1}, whose "
              f"parameters are kept{stopped}")  # fmt: skip
