"""``portable-net evaluate``: a saved model's accuracy and loss on a spiral."""

from __future__ import annotations

import argparse
import math
import warnings
from typing import Any

from . import _run
from ._args import (
    MAX_PER_CLASS,
    MAX_SEED,
    BadInput,
    Failure,
    add_backend_options,
    add_model_argument,
    add_option,
    add_spiral_options,
    check_spiral_size,
    one_line,
)

NAME = "evaluate"
HELP = "print a saved model's accuracy and loss on a spiral"
DESCRIPTION = """\
Load a saved model and print its accuracy and its loss (the mean cross-entropy,
without the L2 penalty) on a spiral. By default the spiral it was trained on, as
recorded by 'portable-net train --save'; choose another with --seed."""
EPILOG = """\
examples:
  portable-net evaluate net.npz
  portable-net evaluate net.npz --seed 1 --n-per-class 1000"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser)
    add_spiral_options(parser, from_model=True)
    add_option(parser, "--noise")
    add_option(parser, "--json")
    add_backend_options(parser, dtype=False)


def _recorded(path: str, data: Any, key: str, default: int, low: int, high: int) -> int:
    """A spiral setting recorded in the model file, checked as its option is."""
    value = data.get(key, default) if isinstance(data, dict) else default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadInput(
            f"{path!r}: its recorded {key} {one_line(repr(value), 60)} is not an integer in "
            f"[{low}, {high:,}] (give --{key.replace('_', '-')})"
        )
    return value


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .. import accuracy, loss_and_grads, make_spiral

    xp, device = _run.namespace(parser, args, True)
    params, meta = _run.load_model(args.model, xp, device)
    sizes = meta["layer_sizes"]
    n_classes = sizes[-1]
    if sizes[0] != 2:
        raise BadInput(f"{args.model!r}: the model has {sizes[0]} inputs; the spiral has 2")
    data = meta.get("data")
    n_per_class = args.n_per_class
    if n_per_class is None:
        n_per_class = _recorded(args.model, data, "n_per_class", 100, 1, MAX_PER_CLASS)
    seed = args.seed
    if seed is None:
        seed = _recorded(args.model, data, "seed", 0, 0, MAX_SEED)
    too_many = check_spiral_size(n_per_class, n_classes)
    if too_many:  # checked before anything is drawn
        parser.error(f"argument --n-per-class: {too_many} (the model's classes)")
    try:
        X, y = make_spiral(
            n_per_class,
            n_classes,
            noise=args.noise,
            seed=seed,
            xp=xp,
            device=device,
            dtype=meta["dtype"] if params["W1"].dtype == xp.float64 else "float32",
        )
    except (ValueError, TypeError) as exc:
        parser.error(str(exc))
    with warnings.catch_warnings():  # numpy's overflow warnings: non-finite results are reported
        warnings.simplefilter("ignore", RuntimeWarning)
        acc = accuracy(params, X, y)
        loss = float(loss_and_grads(params, X, y, reg=0.0)[0])
    if not math.isfinite(loss):  # finite weights can still overflow the scores
        raise Failure(f"the model's loss on the spiral is {loss}: its scores overflow")
    if args.json:
        _run.print_json(
            {
                "accuracy": acc,
                "loss": loss,
                "n_per_class": n_per_class,
                "classes": n_classes,
                "seed": seed,
                "noise": args.noise,
            }
        )
    else:
        print(f"spiral: seed {seed}, {n_per_class} points per class, {n_classes} classes")
        print(f"accuracy: {acc:.4f}")
        print(f"loss: {loss:.6f}")
    return 0
