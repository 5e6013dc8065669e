"""``portable-net gradcheck``: the hand-written gradients against centred differences."""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from typing import Any

from . import PROG, _run
from ._args import (
    MAX_STEPS,
    BadInput,
    add_backend_options,
    add_option,
    hidden_sizes,
    integer,
    real,
)

NAME = "gradcheck"
HELP = "check the hand-written gradients against centred differences"
DESCRIPTION = """\
Compare the hand-written gradient of every parameter with centred differences
(f(x + h) - f(x - h)) / 2h on a few spiral points, as the CS231n notes teach, and
print the largest relative error |a - n| / max(|a|, |n|) of each parameter:
under 1e-7 is good; ReLU kinks may push it to 1e-4; over 1e-2 the gradient is
wrong. Exit status 1 when an error is above --fail-above.

The data and weights are chosen so that no point sits on a ReLU kink: every
spiral arm starts at the origin, where zero biases put each hidden unit exactly
on its kink, so those rows are dropped and the biases drawn at random
(--bias-scale). Use float64: in float32, rounding alone exceeds 1e-2."""
EPILOG = """\
examples:
  portable-net gradcheck
  portable-net gradcheck --model softmax --reg 0
  portable-net gradcheck --backend torch --hidden 20 10 --entries 0"""

#: --fail-above's default: portable_net.gradcheck.WRONG (the library's module imports NumPy,
#: which --help does without; tests/test_cli_more.py holds the two equal)
WRONG = 1e-2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_option(parser, "--model")
    add_option(parser, "--hidden", help="hidden layer sizes of the mlp (default: 100)")
    add_backend_options(parser)
    add_option(parser, "--classes")
    parser.add_argument(
        "--points",
        type=integer(2, 10_000),
        default=5,
        help="spiral points per class (each costs two forward passes per checked entry; "
        "the origin rows are dropped)",
    )
    add_option(parser, "--seed", help="seed of data and weights")
    parser.add_argument(
        "--scale",
        type=real(0.0, low_open=True),
        default=0.3,
        help="weights drawn scale * standard_normal (larger than training's 0.01, so that "
        "gradients are not lost in rounding)",
    )
    parser.add_argument(
        "--bias-scale",
        type=real(0.0),
        default=0.1,
        help="biases drawn bias_scale * standard_normal, to keep points off the kinks",
    )
    add_option(parser, "--reg")
    parser.add_argument(
        "--h",
        type=real(0.0, low_open=True),
        default=1e-5,
        help="finite-difference step (< 1, and above the rounding of the largest weight)",
    )
    parser.add_argument(
        "--entries",
        type=integer(0, MAX_STEPS),
        default=20,
        help="entries checked per parameter, chosen at random with --seed; 0 checks all",
    )
    parser.add_argument(
        "--fail-above",
        type=real(0.0, low_open=True),
        default=WRONG,
        help="exit status 1 when a relative error is above this",
    )
    add_option(parser, "--json")


def _check_scales(args: argparse.Namespace, xp: Any, params: Any, X: Any, y: Any) -> None:
    """BadInput unless the check can measure anything: a finite loss and gradients at the
    drawn weights (--scale, --bias-scale), and a step --h that moves the largest weight by
    more than its rounding (else the differences are rounding, and correct gradients would
    be reported wrong)."""
    import numpy as np

    from .. import loss_and_grads
    from .._backend import to_host

    with np.errstate(all="ignore"):
        try:
            loss, grads = loss_and_grads(params, X, y, reg=args.reg)
        except ValueError:  # weights that overflow the dtype themselves
            finite = False
        else:
            finite = math.isfinite(float(loss)) and all(
                bool(np.isfinite(to_host(g)).all()) for g in grads.values()
            )
    if not finite:
        raise BadInput(
            f"argument --scale: weights drawn at scale {args.scale:g} (biases "
            f"{args.bias_scale:g}) make the loss or its gradients overflow {args.dtype}: "
            "there is nothing to check; use a smaller --scale"
        )
    largest = max(float(np.abs(to_host(p)).max()) for p in params.values())
    resolution = 16 * float(xp.finfo(X.dtype).eps) * largest
    if args.h < resolution:
        raise BadInput(
            f"argument --h: {args.h:g} is within the rounding of weights as large as "
            f"{largest:.3g} in {args.dtype} (steps under {resolution:.3g} measure rounding, "
            "not the gradient); use a smaller --scale or a larger --h"
        )


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import numpy as np

    from .. import gradcheck, init_params, make_spiral
    from .._backend import backend_name

    if args.h >= 1.0:
        parser.error(
            f"argument --h: must be < 1, got {args.h:g} (centred differences need a small step; "
            "1e-5 is usual)"
        )
    hidden = hidden_sizes(args, parser)
    xp, device = _run.backend_namespace(parser, args, args.dtype == "float64")
    sizes = [2, *hidden, args.classes]
    _run.check_model_size("--hidden", sizes, args.dtype)

    # the spiral's first point of every arm is the origin: with zero biases it sits exactly
    # on every ReLU's kink, so drop it and give the biases small random values
    X_np, y_np = make_spiral(args.points, args.classes, seed=args.seed)
    away = np.linalg.norm(X_np, axis=1) > 0.0
    X_np, y_np = X_np[away], y_np[away]
    try:
        X = xp.asarray(X_np, dtype=getattr(xp, args.dtype), device=device)
    except (TypeError, ValueError, AttributeError) as exc:
        parser.error(f"argument --dtype: {args.dtype} is not available here ({exc})")
    y = xp.asarray(y_np, device=device)
    with np.errstate(over="ignore", invalid="ignore"):
        params = init_params(
            sizes, seed=args.seed, scale=args.scale, xp=xp, device=device, dtype=X.dtype
        )
    rng = np.random.default_rng(args.seed + 1)
    for i in range(1, len(sizes)):
        b = args.bias_scale * rng.standard_normal(sizes[i])
        params[f"b{i}"] = xp.asarray(b, dtype=X.dtype, device=device)
    _check_scales(args, xp, params, X, y)
    entries = None if args.entries == 0 else args.entries
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        # looked up at the call: the module's relative_errors, as tests may replace it
        errors = gradcheck.relative_errors(
            params, X, y, reg=args.reg, h=args.h, max_entries=entries, seed=args.seed
        )
    notes = [str(w.message) for w in caught]
    worst = max(errors.values())
    failed = not worst <= args.fail_above  # a NaN error fails too
    if args.json:
        _run.print_json(
            {
                "layer_sizes": sizes,
                "backend": backend_name(xp),
                "dtype": args.dtype,
                "points": int(X_np.shape[0]),
                "reg": args.reg,
                "h": args.h,
                "relative_errors": errors,
                "verdicts": {k: gradcheck.verdict(v) for k, v in errors.items()},
                "largest": worst,
                "passed": not failed,
            }
        )
    else:
        print(
            f"gradient check of the {args.model} {sizes} on {backend_name(xp)} "
            f"({_run.describe_device(xp, device)}), {args.dtype}: {X_np.shape[0]} spiral "
            f"points (origin rows dropped), reg {args.reg:g}, h {args.h:g}, "
            f"{'every entry' if entries is None else f'up to {entries} entries'} per parameter"
        )
        print(f"{'parameter':<10} {'shape':<12} {'checked':>7}  {'relative error':>14}  verdict")
        for key, err in errors.items():
            shape = tuple(params[key].shape)
            size = math.prod(shape)
            checked = size if entries is None else min(size, entries)
            print(f"{key:<10} {shape!s:<12} {checked:>7}  {err:>14.2e}  {gradcheck.verdict(err)}")
        print(
            f"largest relative error {worst:.2e}: {gradcheck.verdict(worst)} "
            f"(under 1e-7 good; ReLU kinks may reach 1e-4; over 1e-2 wrong)"
        )
    for note in notes:
        print(f"{PROG} gradcheck: warning: {note}", file=sys.stderr)
    if failed:
        print(
            f"{PROG} gradcheck: error: the largest relative error {worst:.2e} is above "
            f"{args.fail_above:g}: a gradient is wrong",
            file=sys.stderr,
        )
        return 1
    return 0
