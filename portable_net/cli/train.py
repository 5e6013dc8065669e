"""``portable-net train``: the case study's classifiers on the spiral."""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Any

from . import _run
from ._args import (
    MODEL_DEFAULTS,
    Failure,
    add_backend_options,
    add_option,
    check_spiral_size,
    hidden_sizes,
    integer,
    real,
)

NAME = "train"
HELP = "train a classifier on the spiral and print the loss and training accuracy"
DESCRIPTION = """\
Train a classifier on the spiral data set by full-batch gradient descent (or
mini-batches with --batch-size), printing the loss every --log-every steps and
the final training accuracy, as the case study does. With no options: the case
study's two-layer net (100 hidden units, 10,000 steps, learning rate 1.0, reg 1e-3)
on NumPy in float64.

On a terminal, a progress bar (with tqdm installed) moves at each logged step;
it is off when the output is piped and with --quiet."""
EPILOG = """\
examples:
  portable-net train --model softmax
  portable-net train --plot net.png --save net.npz
  portable-net train --backend torch --device cuda:0 --dtype float32
  portable-net train --json --steps 2000 > run.json

Ctrl-C exits with status 130 and SIGTERM with 143; --save and --plot files are
written whole or not at all (no partly written file is left behind)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_option(
        parser,
        "--model",
        help="mlp: the ReLU network; softmax: the linear classifier "
        "(defaults to 200 steps logged every 10, as in the case study)",
    )
    add_option(parser, "--hidden")
    add_backend_options(parser)
    parser.add_argument(
        "--steps",
        type=integer(0),
        help="number of gradient steps (default: 10000 for mlp, 200 for softmax)",
    )
    parser.add_argument(
        "--lr", type=real(0.0, low_open=True), default=1.0, help="learning rate (> 0)"
    )
    add_option(parser, "--reg")
    parser.add_argument(
        "--momentum",
        type=real(0.0, 1.0, high_open=True),
        default=0.0,
        help="classical momentum in [0, 1); 0 is plain gradient descent",
    )
    parser.add_argument(
        "--batch-size", type=integer(1), help="mini-batch size (default: the full batch)"
    )
    add_option(parser, "--seed", help="seed of the data, the initial weights and the batch order")
    add_option(parser, "--n-per-class")
    add_option(parser, "--classes")
    parser.add_argument(
        "--log-every",
        type=integer(1),
        help="print the loss every this many steps (default: 1000 for mlp, 10 for softmax)",
    )
    add_option(parser, "--plot", what="the decision regions and the loss curve (log scale)")
    parser.add_argument(
        "--save",
        metavar="FILE",
        default=None,
        help="also save the trained model to FILE (.npz: the weights, the layer sizes, "
        "the settings and the loss history; read it with predict, evaluate or "
        "portable_net.load)",
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="print only the training accuracy: no loss lines, no progress bar",
    )
    add_option(
        parser,
        "--json",
        help="print one JSON object instead (settings, loss history, final loss, "
        "training accuracy), for scripts",
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


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    # imported here so that --help and argument errors stay fast
    from .. import TrainingDiverged, accuracy, init_params, make_spiral, save, train
    from .._backend import backend_name

    hidden = hidden_sizes(args, parser)
    too_many = check_spiral_size(args.n_per_class, args.classes)
    if too_many:
        parser.error(f"argument --n-per-class/--classes: {too_many}")
    xp, device = _run.namespace(parser, args, args.dtype == "float64")
    _run.check_plot(parser, args.plot)
    _run.check_output(parser, "--save", args.save)
    default_steps, default_log_every = MODEL_DEFAULTS[args.model]
    steps = default_steps if args.steps is None else args.steps
    log_every = default_log_every if args.log_every is None else args.log_every

    try:
        X, y = make_spiral(
            args.n_per_class, args.classes, seed=args.seed, xp=xp, device=device, dtype=args.dtype
        )
    except ValueError as exc:  # e.g. float64 asked of a backend without it
        parser.error(str(exc))
    sizes = [X.shape[1], *hidden, args.classes]
    params = init_params(sizes, seed=args.seed, xp=xp, device=device, dtype=X.dtype)

    verbose = not (args.quiet or args.json)
    bar = _progress(steps, not args.quiet)

    def report(step: int, loss: float, _params) -> None:
        line = f"iteration {step} loss {loss:f}"
        if bar is not None:
            bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
            bar.update(step - bar.n)  # the bar moves at logged steps only: no extra sync
            if verbose:
                bar.write(line)
        elif verbose:
            print(line, flush=True)

    try:
        with warnings.catch_warnings():  # numpy's overflow warnings: divergence is reported
            warnings.simplefilter("ignore", RuntimeWarning)
            params, history = train(
                params,
                X,
                y,
                steps=steps,
                learning_rate=args.lr,
                reg=args.reg,
                momentum=args.momentum,
                batch_size=args.batch_size,
                seed=args.seed,
                log_every=log_every,
                callback=report,
            )
    except TrainingDiverged as exc:
        raise Failure(str(exc)) from None
    finally:
        if bar is not None:
            bar.close()
    acc = accuracy(params, X, y)
    settings = {
        "steps": steps,
        "learning_rate": args.lr,
        "reg": args.reg,
        "momentum": args.momentum,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "log_every": log_every,
    }
    data = {"n_per_class": args.n_per_class, "classes": args.classes, "seed": args.seed}
    if args.save:
        try:
            save(
                args.save,
                params,
                model=args.model,
                training=settings,
                data=data,
                history=history,
                training_accuracy=acc,
                backend=backend_name(xp),
                device=_run.describe_device(xp, device),
            )
        except OSError as exc:
            raise Failure(f"could not save the model to {args.save!r}: {exc}") from None
    if args.plot:
        from ..plot import training_figure

        name = "softmax classifier" if args.model == "softmax" else f"net {sizes}"
        fig = training_figure(params, X, y, history, title=f"{name}: training accuracy {acc:.2f}")
        _run.write_figure(fig, args.plot)
    if args.json:
        _run.print_json(
            {
                "model": args.model,
                "layer_sizes": sizes,
                "backend": backend_name(xp),
                "device": _run.describe_device(xp, device),
                "dtype": args.dtype,
                "settings": settings,
                "data": data,
                "history": {"steps": history.steps, "loss": history.loss},
                "final_loss": history.final_loss,
                "training_accuracy": acc,
                "saved": args.save,
                "plot": args.plot,
            }
        )
        return 0
    print(f"training accuracy: {acc:.2f}")
    if not args.quiet:
        if args.save:
            print(f"model saved to {args.save}")
        if args.plot:
            print(f"picture saved to {args.plot}")
    return 0
