"""``portable-net train``: the case study's classifiers on the spiral, or on a user's data."""

from __future__ import annotations

import argparse
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any

from . import _data, _run
from ._args import (
    MODEL_DEFAULTS,
    BadInput,
    Failure,
    add_backend_options,
    add_option,
    check_spiral_size,
    hidden_sizes,
    integer,
    real,
)

NAME = "train"
HELP = "train a classifier on the spiral (or your data) and print the loss and accuracy"
DESCRIPTION = """\
Train a classifier on the spiral data set by full-batch gradient descent (or
mini-batches with --batch-size), printing the loss every --log-every steps and
the final training accuracy, as the case study does. With no options: the case
study's two-layer net (100 hidden units, 10,000 steps, learning rate 1.0, reg 1e-3)
on NumPy in float64.

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
  portable-net train --data digits.csv --label digit --test-size 0.25 --standardize \\
      --optimizer adam --steps 500 --log-every 100 --save digits.npz

A bad data file is one line on stderr and exit status 2, before any training.
Ctrl-C exits with status 130 and SIGTERM with 143; with --save, the parameters
that training had reached are saved first (and said so on stderr). --save and
--plot files are written whole or not at all (no partly written file is left
behind). A run whose loss ends more than 10% above where it started, or that
ends with a training accuracy at chance after its logged loss rose more than 10%
above the start, prints a warning and exits with status 1."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_option(
        parser,
        "--model",
        help="mlp: the ReLU network; softmax: the linear classifier "
        "(defaults to 200 steps logged every 10, as in the case study)",
    )
    add_option(parser, "--hidden")
    add_backend_options(parser)
    _add_training_options(parser)
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
        "--standardize statistics; read it with predict, evaluate or portable_net.load)",
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


def _add_training_options(parser: argparse.ArgumentParser) -> None:
    """How the weights are learnt: each option here is one keyword of portable_net.train
    (see ``_training_settings``)."""
    parser.add_argument(
        "--steps",
        type=integer(0),
        help="number of gradient steps (default: 10000 for mlp, 200 for softmax)",
    )
    parser.add_argument(
        "--optimizer",
        choices=("sgd", "adam"),
        default="sgd",
        help="the update: gradient descent (with --momentum, --nesterov) or Adam "
        "(betas 0.9, 0.999, epsilon 1e-8) (default: sgd)",
    )
    parser.add_argument(
        "--lr",
        type=real(0.0, low_open=True),
        default=None,
        help="learning rate (> 0) (default: 1.0 for sgd, 0.001 for adam)",
    )
    parser.add_argument(
        "--lr-schedule",
        choices=("constant", "invscaling", "adaptive"),
        default="constant",
        help="the rate over the run, as scikit-learn's MLPClassifier, evaluated at logged "
        "steps: invscaling lr / (t + 1) ** 0.5 (t: samples seen); adaptive divides it by 5 "
        "when the loss stops improving for --patience logged steps (default: constant)",
    )
    add_option(parser, "--reg")
    parser.add_argument(
        "--momentum",
        type=real(0.0, 1.0, high_open=True),
        default=0.0,
        help="sgd: momentum in [0, 1); 0 is plain gradient descent (default: 0.0)",
    )
    parser.add_argument(
        "--nesterov",
        action="store_true",
        help="sgd: Nesterov's momentum instead of the classical one (needs --momentum > 0)",
    )
    parser.add_argument(
        "--batch-size", type=integer(1), help="mini-batch size (default: the full batch)"
    )
    parser.add_argument(
        "--log-every",
        type=integer(1),
        help="print the loss every this many steps (default: 1000 for mlp, 10 for softmax)",
    )
    parser.add_argument(
        "--validation-fraction",
        type=real(0.0, 1.0, low_open=True, high_open=True),
        default=None,
        help="hold out this fraction of the training rows (stratified, drawn by --seed) and "
        "print its loss and accuracy at each logged step (default: none; 0.1 with "
        "--early-stopping)",
    )
    parser.add_argument(
        "--early-stopping",
        action="store_true",
        help="stop when the held-out loss has not improved (by 1e-4) for --patience logged "
        "steps, and keep the best held-out parameters",
    )
    parser.add_argument(
        "--patience",
        type=integer(1),
        default=10,
        help="logged steps without improvement before --early-stopping stops or the "
        "adaptive schedule lowers the rate (default: 10)",
    )


def _training_settings(args: argparse.Namespace) -> dict[str, Any]:
    """What portable_net.train is asked for on the command line, as plain data (also saved,
    as the model's ``training`` metadata); :func:`_train_keywords` makes train's keywords."""
    default_steps, default_log_every = MODEL_DEFAULTS[args.model]
    lr = args.lr
    if lr is None:
        lr = 1e-3 if args.optimizer == "adam" else 1.0
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
    }


def _train_keywords(settings: dict[str, Any]) -> dict[str, Any]:
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


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    _data.add_data_options(
        parser,
        data_help="train on the samples of FILE instead of the spiral",
        label_help="the label column of a CSV file, by header name or by index (0 is the "
        "first column, -1 the last) (default: the last column)",
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
    parser.add_argument(
        "--confusion",
        action="store_true",
        help="also print the confusion matrix (rows: true class, columns: predicted class)",
    )


def _progress(steps: int, enabled: bool) -> Any:
    """A tqdm bar over the steps, or None (no tqdm, not a terminal, or asked for quiet)."""
    if not enabled or steps == 0:
        return None
    if not (sys.stdout.isatty() and sys.stderr.isatty()):
        return None  # piped or redirected: no bar
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    # mininterval 0: it is redrawn at logged steps only, so every redraw is wanted
    return tqdm(total=steps, unit="step", dynamic_ncols=True, leave=False, mininterval=0)


@dataclass
class _Data:
    """What the net learns from, on the chosen backend: the training rows, and the held-out
    rows (with --test-size), plus what a model file keeps about a user's data."""

    X: Any
    y: Any
    X_test: Any = None
    y_test: Any = None
    classes: list[Any] = field(default_factory=list)
    #: saved as the model's ``data`` metadata
    record: dict[str, Any] = field(default_factory=dict)
    #: saved as the model's ``standardize`` metadata (with --standardize)
    standardize: dict[str, list[float]] | None = None


def _check_options(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Options that need --data, or the spiral, or each other: usage errors before work."""
    _data.check_data_options(args, parser)
    if args.data is None:
        _check_training_options(args, parser)
        for option, given in (
            ("--test-size", args.test_size is not None),
            ("--standardize", args.standardize),
            ("--confusion", args.confusion),
        ):
            if given:
                parser.error(f"argument {option}: applies to --data FILE only")
        args.n_per_class = 100 if args.n_per_class is None else args.n_per_class
        args.classes = 3 if args.classes is None else args.classes
        too_many = check_spiral_size(args.n_per_class, args.classes)
        if too_many:
            parser.error(f"argument --n-per-class/--classes: {too_many}")
        return
    _check_training_options(args, parser)
    for option, value in (("--n-per-class", args.n_per_class), ("--classes", args.classes)):
        if value is not None:
            parser.error(f"argument {option}: applies to the spiral; --data gives the data")
    if args.test_size is not None and args.seed >= 2**32:
        parser.error("argument --seed: must be < 2**32 to draw the --test-size split")


def _check_training_options(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    if args.nesterov and (args.optimizer != "sgd" or args.momentum == 0.0):
        parser.error("argument --nesterov: needs --optimizer sgd and --momentum > 0")
    if args.optimizer == "adam" and args.momentum != 0.0:
        parser.error("argument --momentum: applies to --optimizer sgd")
    if (args.validation_fraction is not None or args.early_stopping) and args.seed >= 2**32:
        parser.error("argument --seed: must be < 2**32 to draw the held-out rows")


def _spiral(args: argparse.Namespace, parser: argparse.ArgumentParser, xp, device) -> _Data:
    from .. import make_spiral

    try:
        X, y = make_spiral(
            args.n_per_class, args.classes, seed=args.seed, xp=xp, device=device, dtype=args.dtype
        )
    except ValueError as exc:  # e.g. float64 asked of a backend without it
        parser.error(str(exc))
    record = {"n_per_class": args.n_per_class, "classes": args.classes, "seed": args.seed}
    return _Data(X, y, classes=list(range(args.classes)), record=record)


def _user_data(args: argparse.Namespace, parser: argparse.ArgumentParser, xp, device) -> _Data:
    """--data read, its labels encoded, split (--test-size) and scaled (--standardize) on the
    host, then moved to the backend: every problem with the file is found here, before any
    training."""
    import numpy as np

    from .._backend import int_dtype
    from ..tabular import Standardizer, split

    X, labels, names = _data.read(args.data, args.label, args.delimiter)
    classes, y = _data.encode(labels, args.data)
    record: dict[str, Any] = {
        "file": args.data,
        "label": args.label,
        "feature_names": names,
        "rows": int(X.shape[0]),
    }
    X_test = y_test = None
    if args.test_size is not None:
        names_of = np.asarray(classes)  # split by the class names: its errors name them
        try:
            X, X_test, y, y_test = split(X, names_of[y], args.test_size, args.seed)
            y, y_test = np.searchsorted(names_of, y), np.searchsorted(names_of, y_test)
        except ValueError as exc:
            raise BadInput(
                f"argument --test-size: {args.data!r}: {_data.cli_words(str(exc))}"
            ) from None
        record.update(test_size=args.test_size, test_rows=int(X_test.shape[0]))
    if args.plot and X.shape[1] != 2:
        parser.error(
            f"argument --plot: draws data of 2 feature columns; {args.data!r} has {X.shape[1]}"
        )
    saved = None
    if args.standardize:
        scaler = Standardizer().fit(X)  # the training rows' statistics only
        X = scaler.transform(X)
        X_test = None if X_test is None else scaler.transform(X_test)
        saved = scaler.to_dict()

    def to_xp(a: Any, dtype: Any) -> Any:
        return None if a is None else xp.asarray(a, dtype=dtype, device=device)

    try:
        fdtype = getattr(xp, args.dtype)
        idtype = int_dtype(xp, device)
        return _Data(
            to_xp(X, fdtype),
            to_xp(y.astype(np.int64, copy=False), idtype),
            to_xp(X_test, fdtype),
            to_xp(None if y_test is None else y_test.astype(np.int64, copy=False), idtype),
            classes=classes,
            record=record,
            standardize=saved,
        )
    except (ValueError, TypeError) as exc:  # e.g. float64 asked of a backend without it
        parser.error(str(exc))


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    # imported here so that --help and argument errors stay fast
    from .. import (
        TrainingDiverged,
        TrainingInterrupted,
        TrainingWarning,
        accuracy,
        init_params,
        predict,
        save,
        train,
    )
    from .._backend import backend_name

    hidden = hidden_sizes(args, parser)
    _check_options(args, parser)
    xp, device = _run.namespace(parser, args, args.dtype == "float64")
    _run.check_plot(parser, args.plot)
    _run.check_output(parser, "--save", args.save)
    settings = _training_settings(args)

    if args.data is None:
        data = _spiral(args, parser, xp, device)
    else:
        data = _user_data(args, parser, xp, device)
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
    bar = _progress(settings["steps"], not args.quiet)

    def report(step: int, loss: float, _params) -> None:
        line = f"iteration {step} loss {format_loss(loss)}"
        if bar is not None:
            bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
            bar.update(step - bar.n)  # the bar moves at logged steps only: no extra sync
            if verbose:
                bar.write(line)
        elif verbose:
            print(line, flush=True)

    try:
        with warnings.catch_warnings(record=True) as caught:
            # numpy's overflow warnings: divergence is reported; ours are kept
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("always", TrainingWarning)
            params, history = train(
                params, data.X, data.y, **_train_keywords(settings), callback=report
            )
    except TrainingDiverged as exc:
        raise Failure(str(exc)) from None
    except TrainingInterrupted as exc:
        if bar is not None:
            bar.close()
            bar = None
        _save_interrupted(
            args, exc, settings, data, backend_name(xp), _run.describe_device(xp, device)
        )
        raise exc.__cause__ if isinstance(exc.__cause__, KeyboardInterrupt) else exc  # noqa: B904
    finally:
        if bar is not None:
            bar.close()
    acc = accuracy(params, data.X, data.y)
    trouble = [str(w.message) for w in caught if issubclass(w.category, TrainingWarning)]
    # at chance after the loss rose (by 10%) on the way: a divergence that fell back (e.g.
    # to dead units), not a slow start
    if settings["steps"] > 0 and history.loss and max(history.loss) > 1.1 * history.loss[0]:
        trouble += _at_chance(acc, data.y, len(data.classes))
    metrics: dict[str, Any] = {"training_accuracy": acc}
    table = None
    if args.data is not None:
        X_eval, y_eval = (data.X, data.y) if data.X_test is None else (data.X_test, data.y_test)
        if data.X_test is not None:
            metrics["test_accuracy"] = accuracy(params, data.X_test, data.y_test)
        table = _data.per_class(
            _run.to_host(y_eval), _run.to_host(predict(params, X_eval)), len(data.classes)
        )
    if args.save:
        extra: dict[str, Any] = {}
        if args.data is not None:
            extra = {"classes": data.classes}
            if data.standardize is not None:
                extra["standardize"] = data.standardize
        try:
            save(
                args.save,
                params,
                model=args.model,
                training=settings,
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
            "saved": args.save,
            "plot": args.plot,
        }
        if table is not None:
            document["classes"] = data.classes
            document["standardize"] = args.standardize
            document["report_on"] = "training" if data.X_test is None else "test"
            document.update(_data.report_json(data.classes, table, args.confusion))
        _run.print_json(document)
        return _warn(trouble)
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
        if args.save:
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
    return _warn(trouble)


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


def _warn(trouble: list[str]) -> int:
    """Print the warnings about the run; exit status 1 if there are any."""
    for text in trouble:
        print(f"portable-net train: warning: {text}", file=sys.stderr)
    return 1 if trouble else 0


def _save_interrupted(args, exc, settings, data, backend: str, device: str) -> None:
    """Under --save, the parameters an interrupted run reached, said on stderr."""
    from .. import save

    if not args.save:
        return
    try:
        save(
            args.save,
            exc.params,
            model=args.model,
            training=settings,
            data=data.record,
            history=exc.history,
            interrupted_at_step=exc.history.n_steps,
            backend=backend,
            device=device,
            **({"classes": data.classes} if args.data is not None else {}),
            **({"standardize": data.standardize} if data.standardize is not None else {}),
        )
    except OSError as why:
        print(
            f"portable-net train: could not save the model to {args.save!r}: {why}", file=sys.stderr
        )
        return
    print(
        f"portable-net train: interrupted at step {exc.history.n_steps}; the parameters "
        f"reached are saved to {args.save}",
        file=sys.stderr,
    )
