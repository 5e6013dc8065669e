"""The ``portable-net`` command: the case study from the command line.

``portable-net train`` runs the case study's two-layer net on NumPy and prints what the case
study prints; ``portable-net backends`` lists the backends installed here and their devices.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence

from . import __version__
from ._backend import BACKENDS, available_backends, backend_name, get_namespace, resolve_device
from .errors import TrainingDiverged

# the case study's settings per model: (steps, log_every)
_MODEL_DEFAULTS = {"mlp": (10_000, 1000), "softmax": (200, 10)}


def _int_at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return parse


def _float_in(
    low: float, high: float | None = None, *, low_open: bool = False, high_open: bool = True
):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        ok = math.isfinite(value) and (value > low if low_open else value >= low)
        if high is not None:
            ok = ok and (value < high if high_open else value <= high)
        if not ok:
            lo = "(" if low_open else "["
            hi = "" if high is None else (f", {high})" if high_open else f", {high}]")
            raise argparse.ArgumentTypeError(
                f"must be finite and in {lo}{low}{hi or ', inf)'}, got {text}"
            )
        return value

    return parse


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line and exit status 2, without the usage block."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="portable-net",
        description="Train the CS231n case study's classifiers on the spiral, with "
        "hand-written backprop, on any array API backend.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_Parser
    )

    train = commands.add_parser(
        "train",
        help="train a classifier on the spiral and print the loss and training accuracy",
        description="Train a classifier on the spiral data set by full-batch gradient descent "
        "(or mini-batches with --batch-size), printing the loss every --log-every steps and "
        "the final training accuracy, as the case study does. With no options: the case "
        "study's two-layer net (100 hidden units, 10,000 steps, learning rate 1.0, reg 1e-3) "
        "on NumPy in float64.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    train.add_argument(
        "--model",
        choices=sorted(_MODEL_DEFAULTS),
        default="mlp",
        help="mlp: the ReLU network; softmax: the linear classifier "
        "(defaults to 200 steps logged every 10, as in the case study)",
    )
    train.add_argument(
        "--hidden",
        type=_int_at_least(1),
        nargs="+",
        metavar="SIZE",
        default=None,
        help="hidden layer sizes of the mlp, one or more (default: 100)",
    )
    train.add_argument(
        "--backend",
        default="numpy",
        help=f"array library: one of {', '.join(BACKENDS)} (see 'portable-net backends')",
    )
    train.add_argument(
        "--device", default=None, help="device, e.g. cpu or cuda:0 (default: the backend's default)"
    )
    train.add_argument(
        "--dtype",
        choices=("float32", "float64"),
        default="float64",
        help="floating precision of data, parameters and maths",
    )
    train.add_argument(
        "--steps",
        type=_int_at_least(0),
        default=None,
        help="number of gradient steps (default: 10000 for mlp, 200 for softmax)",
    )
    train.add_argument(
        "--lr", type=_float_in(0.0, low_open=True), default=1.0, help="learning rate (> 0)"
    )
    train.add_argument(
        "--reg", type=_float_in(0.0), default=1e-3, help="L2 regularisation strength (>= 0)"
    )
    train.add_argument(
        "--momentum",
        type=_float_in(0.0, 1.0),
        default=0.0,
        help="classical momentum in [0, 1); 0 is plain gradient descent",
    )
    train.add_argument(
        "--batch-size",
        type=_int_at_least(1),
        default=None,
        help="mini-batch size (default: full batch)",
    )
    train.add_argument(
        "--seed",
        type=_int_at_least(0),
        default=0,
        help="seed of the data, the initial weights and the batch order",
    )
    train.add_argument(
        "--n-per-class", type=_int_at_least(1), default=100, help="spiral points per class"
    )
    train.add_argument(
        "--classes", type=_int_at_least(2), default=3, help="number of classes (spiral arms)"
    )
    train.add_argument(
        "--log-every",
        type=_int_at_least(1),
        default=None,
        help="print the loss every this many steps (default: 1000 for mlp, 10 for softmax)",
    )

    commands.add_parser(
        "backends",
        help="list the array backends installed here and their devices",
        description="List the array backends usable here and their devices; the names are "
        "what --backend and --device accept.",
    )
    return parser


def _train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    # imported here so that --help and argument errors stay fast
    from .data import make_spiral
    from .model import accuracy, init_params
    from .train import train

    if args.model == "softmax" and args.hidden is not None:
        parser.error("--hidden applies to --model mlp only")
    try:
        xp = get_namespace(args.backend)
        device = resolve_device(xp, args.device)
    except (ValueError, ImportError) as exc:
        parser.error(f"argument --backend/--device: {exc}")
    if backend_name(xp) == "jax" and args.dtype == "float64":
        import jax

        jax.config.update("jax_enable_x64", True)  # this process is ours: allow float64
    default_steps, default_log_every = _MODEL_DEFAULTS[args.model]
    steps = default_steps if args.steps is None else args.steps
    log_every = default_log_every if args.log_every is None else args.log_every
    hidden = [] if args.model == "softmax" else (args.hidden or [100])

    try:
        X, y = make_spiral(
            args.n_per_class, args.classes, seed=args.seed, xp=xp, device=device, dtype=args.dtype
        )
    except ValueError as exc:  # e.g. float64 asked of a backend without it
        parser.error(str(exc))
    params = init_params(
        [X.shape[1], *hidden, args.classes], seed=args.seed, xp=xp, device=device, dtype=X.dtype
    )

    def report(step: int, loss: float, _params) -> None:
        print(f"iteration {step} loss {loss:f}", flush=True)

    try:
        params, _ = train(
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
        print(f"portable-net train: {exc}", file=sys.stderr)
        return 1
    print(f"training accuracy: {accuracy(params, X, y):.2f}")
    return 0


def _backends() -> int:
    found = available_backends()
    width = max(map(len, BACKENDS))
    for name in BACKENDS:
        devices = found.get(name)
        print(f"{name:<{width}}  {', '.join(devices) if devices else '(not available)'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    train_parser = parser._subparsers._group_actions[0].choices["train"]  # for its usage line
    if args.command == "train":
        return _train(args, train_parser)
    return _backends()


if __name__ == "__main__":
    raise SystemExit(main())
