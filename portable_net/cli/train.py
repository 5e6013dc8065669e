"""``portable-net train``: a network on a user's data (through the estimators: ``_fit``), or
the case study's classifiers on the spiral (through :func:`portable_net.train`)."""

from __future__ import annotations

import argparse
from typing import Any

from . import _categorical, _data, _fit, _inputs, _progress, _run, _training
from ._args import add_backend_options, add_hyperparameter, add_option, hidden_sizes
from ._training import format_loss

NAME = "train"
HELP = "train a network on your data file (or on the spiral); print its scores, save it"
DESCRIPTION = """\
Train a network on your own data, a CSV file (or the case study's spiral, with
no --data), and print how well it learnt; save it for predict, evaluate, inspect
and export.

With --data FILE: a CSV file (one row per sample, a header line optional, the
label column the last one unless --label names another; --delimiter, --decimal
and --missing for files from spreadsheets; --categorical for text columns), an
.npz archive with arrays X and y, or two .npy files given as X.npy,y.npy. With
--task classification (the default) the labels, of any kind, are the classes;
with --task regression the label column is a real target. The network is
trained by portable_net.Classifier or portable_net.Regressor, with their
defaults: scikit-learn's MLPClassifier's and MLPRegressor's (Adam at 1e-3 on
mini-batches of min(200, rows), alpha 1e-4, up to --max-iter 200 epochs, stopping
when the loss has not improved by --tol for --n-iter-no-change epochs); every
option of the training group names the estimators' parameter of the same name.
--test-size holds out test rows (stratified for classes, drawn by --seed, the rows
of scikit-learn's train_test_split) and reports on them; --standardize scales each
feature on the training rows. The model file keeps what predict and evaluate need
to read files as this one was read: the feature and class names, the
standardisation, the categorical encoding, the missing-value policy (with the
training means) and the CSV dialect.

Without --data, the CS231n case study: its two-layer net (100 hidden units,
10,000 full-batch steps of gradient descent at learning rate 1.0, reg 1e-3,
--steps and --log-every) on the spiral, printing the loss every 1000 steps and
the training accuracy, as the case study does.

On a terminal, a progress bar shows on stderr once a run has lasted two seconds
(none when stderr is piped, nor with --quiet); it moves at each epoch (logged
step on the spiral)."""
EPILOG = """\
examples:
  portable-net train --data iris.csv --label species --test-size 0.3 --standardize \\
      --save iris.npz
  portable-net train --data houses.csv --label price --task regression --standardize \\
      --plot houses.png
  portable-net train --data sales.csv --label bought --categorical auto --standardize
  portable-net train --data wells.csv --delimiter ';' --decimal , --missing mean
  portable-net train --data digits.csv --label digit --solver sgd \\
      --learning-rate-init 0.01 --max-iter 500 --early-stopping
  portable-net train                      the case study on the spiral
  portable-net train --model softmax      its linear classifier
  portable-net train --backend torch --device cuda:0 --dtype float32
  portable-net train --json --steps 2000 > run.json

A bad data file is one line on stderr and exit status 2, before any training, as
is a --save file that cannot be written (read-only) or is the --data file itself.
Ctrl-C exits with status 130 and SIGTERM with 143; with --save, the parameters
that training had reached are saved first (and said so on stderr). --save and
--plot files are written whole or not at all (no partly written file is left
behind); a device or FIFO is written through. A run that diverges (its loss not
finite) is one line and exit status 1; one whose loss ends more than 10% above
where it started, or that ends with a training accuracy at chance after its
loss rose more than 10% above the start, prints a warning and exits with status
1, and saves no model unless --save-anyway is given."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group(
        "data", "what the network learns from: your file (--data), else the spiral"
    )
    _add_data_options(data)
    model = parser.add_argument_group("model")
    add_option(
        model,
        "--model",
        help="mlp: the network of --hidden layers; softmax: the linear classifier (no hidden "
        "layer; on the spiral 200 steps logged every 10, as in the case study)",
    )
    add_option(model, "--hidden")
    add_hyperparameter(model, "activation")
    training = parser.add_argument_group(
        "training",
        "the estimators' parameters, by their names (scikit-learn's); the spiral takes\n"
        "some of them too (--lr, --batch-size, --momentum, --early-stopping, ...)",
    )
    _training.add_training_options(training)
    add_backend_options(training)
    add_hyperparameter(training, "n_jobs", "--n-jobs")
    output = parser.add_argument_group("output")
    _add_output_options(output)
    spiral = parser.add_argument_group(
        "the spiral", "without --data: the case study's data and its training by portable_net.train"
    )
    add_option(spiral, "--n-per-class", default=None, help="spiral points per class (default: 100)")
    add_option(
        spiral, "--classes", default=None, help="number of classes (spiral arms) (default: 3)"
    )
    _training.add_spiral_training_options(spiral)


def _add_data_options(group: argparse._ActionsContainer) -> None:
    _data.add_data_options(
        group,
        data_help="train on the samples of FILE instead of the spiral",
        label_help="the label (or --task regression: target) column of a CSV file, by "
        "header name or by index (0 is the first column, -1 the last) (default: the last "
        "column)",
        missing=True,
    )
    group.add_argument(
        "--task",
        choices=("classification", "regression"),
        default="classification",
        help="classification: the label column's values are classes (a Classifier); "
        "regression: the --label column is a real target (a Regressor, of --loss "
        "squared_error or poisson; reports R^2) (default: classification)",
    )
    _categorical.add_categorical_option(group)
    group.add_argument(
        "--test-size",
        metavar="SIZE",
        type=_data.held_out_size,
        default=None,
        help="hold out a test set of SIZE rows (a count) or of this fraction of them (in (0, "
        "1)), stratified for classes, drawn by --seed; report its scores (and per-class "
        "table) (default: train on every row, report on the training rows)",
    )
    group.add_argument(
        "--standardize",
        action="store_true",
        help="scale each feature to zero mean and unit variance (statistics of the training "
        "rows, saved in the model for predict and evaluate)",
    )
    add_option(
        group,
        "--seed",
        help="seed of the --test-size split, the initial weights, the batch order and the "
        "held-out rows (the estimators' random_state); on the spiral, also its points",
    )


def _add_output_options(group: argparse._ActionsContainer) -> None:
    add_hyperparameter(
        group,
        "log_every",
        help="print the loss every this many epochs (default: a tenth of --max-iter; the "
        "first and the last always) or, on the spiral, steps (default: 1000 for mlp, 10 "
        "for softmax) (>= 1)",
    )
    group.add_argument(
        "--quiet",
        action="store_true",
        help="print only the scores (training, test): no loss lines, no table, no notes, "
        "no progress bar",
    )
    add_option(
        group,
        "--json",
        help="print one JSON object instead (settings, loss history, final loss, scores; "
        "with --data the classes, the per-class table), for scripts",
    )
    group.add_argument(
        "--save",
        metavar="FILE",
        default=None,
        help="also save the trained model to FILE (.npz: the weights and what the model is, "
        "the settings and the loss history, and with --data the names of the features and "
        "classes, the standardisation, the categorical encoding, the missing-value policy and "
        "the CSV dialect; read it with predict, evaluate, inspect, export or "
        "portable_net.load); not when the run ended worse than it started (see --save-anyway)",
    )
    group.add_argument(
        "--save-anyway",
        action="store_true",
        help="with --save, save the model even when the run ended worse than it started "
        "(its loss more than 10%% above the first one)",
    )
    add_option(
        group,
        "--plot",
        what="the loss curve (and the held-out score), with the decision regions of data of "
        "2 features, or the predicted against the true values of a regression",
    )
    group.add_argument(
        "--confusion",
        action="store_true",
        help="also print the confusion matrix (rows: true class, columns: predicted class)",
    )


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    hidden = hidden_sizes(args, parser)
    _inputs.check_options(args, parser)
    if args.save_anyway and not args.save:
        parser.error("argument --save-anyway: needs --save FILE")
    if args.data is not None:
        return _fit.train(args, parser, hidden)
    option = _fit.data_only_option(args)
    if option is not None:
        parser.error(
            f"argument {option}: applies to --data FILE (an estimator's parameter); the "
            "spiral's run takes --steps, --lr, --reg, --optimizer"
        )
    if args.confusion:
        parser.error("argument --confusion: applies to --data FILE only")
    return _spiral(args, parser, hidden)


def _spiral(args: argparse.Namespace, parser: argparse.ArgumentParser, hidden: list[int]) -> int:
    """The case study: the spiral, trained by portable_net.train."""
    # imported here so that --help and argument errors stay fast
    from .. import TrainingInterrupted, accuracy, init_params
    from .._backend import backend_name

    xp, device = _run.backend_namespace(parser, args, args.dtype == "float64")
    _run.check_plot(parser, args.plot)
    _run.check_outputs(parser, {"--save": args.save, "--plot": args.plot})
    settings = _training.training_settings(args)
    data = _inputs.spiral_data(args, parser, xp, device)
    sizes = [data.X.shape[1], *hidden, len(data.classes)]
    _run.check_model_size("--hidden", sizes, args.dtype)
    params = init_params(sizes, seed=args.seed, xp=xp, device=device, dtype=data.X.dtype)

    verbose = not (args.quiet or args.json)
    bar = _progress.progress(settings["steps"], "step", args.quiet)

    def report(step: int, loss: float, _params) -> None:
        bar.update(step, loss)  # the bar moves at logged steps only: no extra sync
        if verbose:
            bar.write(f"iteration {step} loss {format_loss(loss)}")

    # what the model file says, for a finished run and an interrupted one alike
    meta = {**_description(args, data, settings), "backend": backend_name(xp),
            "device": _run.describe_device(xp, device)}  # fmt: skip

    def on_interrupt(exc: TrainingInterrupted) -> None:
        steps = exc.history.n_steps
        _training.save_interrupted(
            args.save, lambda: _run.save_model(args.save, exc.params, history=exc.history,
                                               interrupted_at_step=steps, **meta),
            f"step {steps}",
        )  # fmt: skip

    params, history, trouble = _training.run_training(
        params, data.X, data.y, settings, report=report, bar=bar, output="softmax",
        hint=lambda: None, on_interrupt=on_interrupt,
    )  # fmt: skip
    acc = accuracy(params, data.X, data.y, activation=settings["activation"])
    # the run ended worse than it started (TrainingWarning): a confident model of nothing
    unsaved = bool(trouble) and bool(args.save) and not args.save_anyway
    # at chance after the loss rose (by 10%) on the way: a divergence that fell back (e.g.
    # to dead units), not a slow start
    if settings["steps"] > 0 and history.loss and max(history.loss) > 1.1 * history.loss[0]:
        trouble += _training.at_chance(acc, _run.to_host(data.y), len(data.classes), "--lr")
    _training.explain(trouble, lambda: None, args.save if unsaved else None)
    metrics: dict[str, Any] = {"training_accuracy": acc}
    if args.save and not unsaved:
        _run.save_model(args.save, params, history=history, **meta, **metrics)
    if args.plot:
        from ..plot import training_figure

        name = "softmax classifier" if args.model == "softmax" else f"net {sizes}"
        fig = training_figure(params, data.X, data.y, history,
                              title=f"{name}: training accuracy {acc:.2f}",
                              activation=settings["activation"])  # fmt: skip
        _run.write_figure(fig, args.plot)
    if args.json:
        _run.print_json(
            {
                **_run.run_record(args, sizes, xp, device),
                "settings": settings,
                "data": data.record,
                "history": _history(history),
                "final_loss": history.final_loss,
                **metrics,
                "saved": None if unsaved else args.save,
                "plot": args.plot,
            }
        )
        return _training.warn(trouble)
    print(f"training accuracy: {acc:.2f}")
    if not args.quiet:
        if args.save and not unsaved:
            print(f"model saved to {args.save}")
        if args.plot:
            print(f"picture saved to {args.plot}")
        if history.val_loss:
            stopped = history.stop_reason == "early_stopping"
            print(f"held-out: loss {format_loss(history.val_loss[-1])}, accuracy "
                  f"{history.val_accuracy[-1]:.4f}" + (f" (stopped early; the parameters of "
                  f"step {history.best_step} kept)" if stopped else ""))  # fmt: skip
    return _training.warn(trouble)


def _history(history: Any) -> dict[str, Any]:
    """The run's logged steps as JSON."""
    out: dict[str, Any] = {"steps": history.steps, "loss": history.loss}
    if history.val_loss:
        out.update(val_loss=history.val_loss, val_accuracy=history.val_accuracy)
    if history.stop_reason:
        out["stop_reason"] = history.stop_reason
    return out


def _description(args: argparse.Namespace, data: Any, settings: dict[str, Any]) -> dict[str, Any]:
    """What the model file says of a classifier trained on the spiral: the kind, the
    activation, the classes; and the run's records (the model, the settings, the data)."""
    return {
        "kind": "classifier",
        "activation": settings["activation"],
        "output": "softmax",
        "classes": data.classes,
        "model": args.model,
        "training": settings,
        "data": data.record,
    }
