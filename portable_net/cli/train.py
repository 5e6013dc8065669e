"""``portable-net train``: the case study's classifiers on the spiral, or on a user's data."""

from __future__ import annotations

import argparse
from typing import Any

from . import _categorical, _data, _inputs, _regression, _run, _training
from ._args import (
    Failure,
    add_backend_options,
    add_option,
    hidden_sizes,
)
from ._training import format_loss

NAME = "train"
HELP = "train a classifier on the spiral (or your data) and print the loss and accuracy"
DESCRIPTION = """\
Train a classifier on the spiral data set by full-batch gradient descent (or
mini-batches with --batch-size), printing the loss every --log-every steps and
the final training accuracy, as the case study does. With no options: the case
study's two-layer net (100 hidden units, 10,000 steps, learning rate 1.0, reg 1e-3)
on NumPy in float64.

The defaults are the case study's (10,000 full-batch steps of plain gradient
descent at learning rate 1.0, reg 1e-3), not scikit-learn's MLPClassifier's
(Adam at 1e-3 on mini-batches of 200, alpha 1e-4, up to 200 epochs). On your own
data, give --standardize, and for many rows --batch-size and --optimizer adam
with a smaller --lr.

With --data FILE, train on your own data instead: a CSV file (one row per sample,
a header line optional; the label column is the last one unless --label names
another), an .npz archive with arrays X and y, or two .npy files given as
X.npy,y.npy. Labels of any kind (names or numbers) become the classes; the net
has one input per feature column and one output per class. --test-size holds out
a stratified test set (drawn by --seed, the rows scikit-learn's train_test_split
draws) and reports the test accuracy and a per-class table (precision, recall,
f1, support) of it; --confusion adds the confusion matrix. --standardize scales
each feature to zero mean and unit variance on the training rows; the class
names and those statistics are saved in the --save file, and predict and evaluate
apply them.

On a terminal, a progress bar (with tqdm installed) moves at each logged step;
it is off when the output is piped and with --quiet."""
EPILOG = """\
examples:
  portable-net train --model softmax
  portable-net train --plot net.png --save net.npz
  portable-net train --backend torch --device cuda:0 --dtype float32
  portable-net train --json --steps 2000 > run.json
  portable-net train --data iris.csv --label species --test-size 0.3 --standardize
  portable-net train --data houses.csv --label price --task regression --standardize
  portable-net train --data sales.csv --label bought --categorical region,kind --standardize
  portable-net train --data digits.csv --label digit --test-size 0.25 --standardize \\
      --optimizer adam --steps 500 --log-every 100 --save digits.npz

A bad data file is one line on stderr and exit status 2, before any training, as
is a --save file that cannot be written (read-only) or is the --data file itself.
Ctrl-C exits with status 130 and SIGTERM with 143; with --save, the parameters
that training had reached are saved first (and said so on stderr). --save and
--plot files are written whole or not at all (no partly written file is left
behind); a device or FIFO is written through. A run whose loss ends more than 10%
above where it started, or that ends with a training accuracy at chance after its
logged loss rose more than 10% above the start, prints a warning and exits with
status 1; a run that ended worse than it started saves no model unless
--save-anyway is given."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_option(
        parser,
        "--model",
        help="mlp: the ReLU network; softmax: the linear classifier "
        "(defaults to 200 steps logged every 10, as in the case study)",
    )
    add_option(parser, "--hidden")
    add_backend_options(parser)
    _training.add_training_options(parser)
    add_option(
        parser,
        "--seed",
        help="seed of the spiral, the initial weights, the batch order and the --test-size split",
    )
    add_option(parser, "--n-per-class", default=None, help="spiral points per class (default: 100)")
    add_option(
        parser, "--classes", default=None, help="number of classes (spiral arms) (default: 3)"
    )
    _add_data_options(parser)
    parser.add_argument(
        "--task",
        choices=("classification", "regression"),
        default="classification",
        help="classification: the label column's values are classes; regression: the "
        "--label column is a real target, fitted with identity outputs and the squared error "
        "(needs --data; reports R^2) (default: classification)",
    )
    add_option(
        parser,
        "--plot",
        what="the decision regions (of data with 2 feature columns) and the loss curve (log scale)",
    )
    parser.add_argument(
        "--save",
        metavar="FILE",
        default=None,
        help="also save the trained model to FILE (.npz: the weights, the layer sizes, "
        "the settings and the loss history, and with --data the class names and the "
        "--standardize statistics; read it with predict, evaluate or portable_net.load); "
        "not when the run ended worse than it started (see --save-anyway)",
    )
    parser.add_argument(
        "--save-anyway",
        action="store_true",
        help="with --save, save the model even when the run ended worse than it started "
        "(its loss more than 10%% above the first logged one)",
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="print only the training (and test) accuracy: no loss lines, no table, "
        "no progress bar",
    )
    add_option(
        parser,
        "--json",
        help="print one JSON object instead (settings, loss history, final loss, "
        "training accuracy; with --data the classes, test accuracy and per-class table), "
        "for scripts",
    )


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    _data.add_data_options(
        parser,
        data_help="train on the samples of FILE instead of the spiral",
        label_help="the label column of a CSV file, by header name or by index (0 is the "
        "first column, -1 the last) (default: the last column)",
        missing=True,
    )
    parser.add_argument(
        "--test-size",
        metavar="SIZE",
        type=_data.held_out_size,
        default=None,
        help="hold out a stratified test set of SIZE rows (a count) or of this fraction of "
        "them (in (0, 1)), drawn by --seed; report its accuracy and per-class table "
        "(default: train on every row, report on the training rows)",
    )
    parser.add_argument(
        "--standardize",
        action="store_true",
        help="scale each feature to zero mean and unit variance (statistics of the training "
        "rows, saved in the model for predict and evaluate)",
    )
    _categorical.add_categorical_option(parser)
    parser.add_argument(
        "--confusion",
        action="store_true",
        help="also print the confusion matrix (rows: true class, columns: predicted class)",
    )


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    # imported here so that --help and argument errors stay fast
    from .. import TrainingInterrupted, accuracy, init_params, predict, save
    from .._backend import backend_name

    hidden = hidden_sizes(args, parser)
    _inputs.check_options(args, parser)
    if args.save_anyway and not args.save:
        parser.error("argument --save-anyway: needs --save FILE")
    if args.task == "regression":
        return _regression.train(args, parser, hidden)
    xp, device = _run.namespace(parser, args, args.dtype == "float64")
    _run.check_plot(parser, args.plot)
    _run.check_output(parser, "--save", args.save, inputs=(args.data,))
    settings = _training.training_settings(args)

    if args.data is None:
        data = _inputs.spiral_data(args, parser, xp, device)
    else:
        data = _inputs.user_data(args, parser, xp, device)
    sizes = [data.X.shape[1], *hidden, len(data.classes)]
    params = init_params(sizes, seed=args.seed, xp=xp, device=device, dtype=data.X.dtype)

    verbose = not (args.quiet or args.json)
    if verbose and args.data is not None:
        rows = f"{data.X.shape[0]} to train" + (
            "" if data.X_test is None else f", {data.X_test.shape[0]} to test"
        )
        print(
            f"data: {args.data}: {data.record['rows']} rows ({rows}), {sizes[0]} features, "
            f"{sizes[-1]} classes" + (", standardized" if args.standardize else ""),
            flush=True,
        )
    bar = _inputs.progress_bar(settings["steps"], not args.quiet)

    def report(step: int, loss: float, _params) -> None:
        line = f"iteration {step} loss {format_loss(loss)}"
        if bar is not None:
            bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
            bar.update(step - bar.n)  # the bar moves at logged steps only: no extra sync
            if verbose:
                bar.write(line)
        elif verbose:
            print(line, flush=True)

    def hint() -> str | None:
        if args.data is None or args.standardize:
            return None
        return _data.scale_hint(_run.to_host(data.X), data.record["feature_names"])

    def on_interrupt(exc: TrainingInterrupted) -> None:
        meta = {"model": args.model, "training": settings, "data": data.record,
                "backend": backend_name(xp), "device": _run.describe_device(xp, device),
                **({"classes": data.classes} if args.data is not None else {}),
                **({"standardize": data.standardize} if data.standardize is not None else {}),
                **({"categorical": data.categorical} if data.categorical is not None else {})}  # fmt: skip
        _training.save_interrupted(args.save, exc, meta)

    params, history, trouble = _training.run_training(
        params, data.X, data.y, settings, report=report, bar=bar, output="softmax", hint=hint,
        on_interrupt=on_interrupt,
    )  # fmt: skip
    act = {"activation": settings["activation"]}
    acc = accuracy(params, data.X, data.y, **act)
    # the run ended worse than it started (TrainingWarning): a confident model of nothing
    unsaved = bool(trouble) and bool(args.save) and not args.save_anyway
    # at chance after the loss rose (by 10%) on the way: a divergence that fell back (e.g.
    # to dead units), not a slow start
    if settings["steps"] > 0 and history.loss and max(history.loss) > 1.1 * history.loss[0]:
        trouble += _at_chance(acc, data.y, len(data.classes))
    _training.explain(trouble, hint, args.save if unsaved else None)
    metrics: dict[str, Any] = {"training_accuracy": acc}
    table = None
    if args.data is not None:
        X_eval, y_eval = (data.X, data.y) if data.X_test is None else (data.X_test, data.y_test)
        if data.X_test is not None:
            metrics["test_accuracy"] = accuracy(params, data.X_test, data.y_test, **act)
        table = _data.per_class(
            _run.to_host(y_eval), _run.to_host(predict(params, X_eval, **act)), len(data.classes)
        )
    if args.save and not unsaved:
        extra: dict[str, Any] = {}
        if args.data is not None:
            extra = {"classes": data.classes}
            if data.standardize is not None:
                extra["standardize"] = data.standardize
            if data.categorical is not None:
                extra["categorical"] = data.categorical
        try:
            save(
                args.save,
                params,
                model=args.model,
                training=settings,
                activation=settings["activation"],
                data=data.record,
                history=history,
                **metrics,
                **extra,
                backend=backend_name(xp),
                device=_run.describe_device(xp, device),
            )
        except OSError as exc:
            raise Failure(f"could not save the model to {args.save!r}: {exc}") from None
    if args.plot:
        from ..plot import training_figure

        name = "softmax classifier" if args.model == "softmax" else f"net {sizes}"
        fig = training_figure(
            params, data.X, data.y, history, title=f"{name}: training accuracy {acc:.2f}"
        )
        _run.write_figure(fig, args.plot)
    if args.json:
        document: dict[str, Any] = {
            "model": args.model,
            "layer_sizes": sizes,
            "backend": backend_name(xp),
            "device": _run.describe_device(xp, device),
            "dtype": args.dtype,
            "settings": settings,
            "data": data.record,
            "history": {
                "steps": history.steps,
                "loss": history.loss,
                **(
                    {"val_loss": history.val_loss, "val_accuracy": history.val_accuracy}
                    if history.val_loss
                    else {}
                ),
                **({"stop_reason": history.stop_reason} if history.stop_reason else {}),
            },
            "final_loss": history.final_loss,
            **metrics,
            "saved": None if unsaved else args.save,
            "plot": args.plot,
        }
        if table is not None:
            document["classes"] = data.classes
            document["standardize"] = args.standardize
            document["categorical"] = data.categorical
            document["report_on"] = "training" if data.X_test is None else "test"
            document.update(_data.report_json(data.classes, table, args.confusion))
        _run.print_json(document)
        return _training.warn(trouble)
    if args.data is None:
        print(f"training accuracy: {acc:.2f}")
    else:
        print(f"training accuracy: {acc:.4f}")
        if "test_accuracy" in metrics:
            print(f"test accuracy: {metrics['test_accuracy']:.4f}")
    if not args.quiet:
        if table is not None:
            on = "training" if data.X_test is None else "test"
            print(f"per class, on the {on} rows:")
            print("\n".join(_data.report_lines(data.classes, table, args.confusion)))
        if args.save and not unsaved:
            print(f"model saved to {args.save}")
        if args.plot:
            print(f"picture saved to {args.plot}")
        if history.val_loss:
            print(
                f"held-out: loss {format_loss(history.val_loss[-1])}, accuracy "
                f"{history.val_accuracy[-1]:.4f}"
                + (
                    f" (stopped early; the parameters of step {history.best_step} kept)"
                    if history.stop_reason == "early_stopping"
                    else ""
                )
            )
    return _training.warn(trouble)


def _at_chance(acc: float, y: Any, n_classes: int) -> list[str]:
    """A warning when the training accuracy is no better than always answering the most
    frequent class."""
    import numpy as np

    counts = np.bincount(_run.to_host(y), minlength=n_classes)
    share = counts.max() / max(1, counts.sum())
    if acc <= share + 1e-12:
        return [
            f"the training accuracy {acc:.4f} is at chance (the most frequent class is "
            f"{share:.4f} of the rows); try a smaller --lr"
        ]
    return []
