"""``portable-net train``'s training options (the optimiser, the rate and its schedule,
held-out data, early stopping), their checks, and the keywords they give :func:`train`."""

from __future__ import annotations

import argparse
from typing import Any

from ._args import MODEL_DEFAULTS, add_option, integer, real


def add_training_options(parser: argparse.ArgumentParser) -> None:
    """How the weights are learnt: each option here is one keyword of portable_net.train
    (see ``training_settings``)."""
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
        "when the loss has not improved for more than --patience logged steps (default: "
        "constant)",
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
        help="stop when the held-out loss has not improved (by 1e-4) for more than --patience "
        "logged steps in a row (scikit-learn's rule), and keep the best held-out parameters",
    )
    parser.add_argument(
        "--patience",
        type=integer(1),
        default=10,
        help="logged steps without improvement tolerated: one more and --early-stopping stops "
        "or the adaptive schedule lowers the rate (default: 10)",
    )


def training_settings(args: argparse.Namespace) -> dict[str, Any]:
    """What portable_net.train is asked for on the command line, as plain data (also saved,
    as the model's ``training`` metadata); :func:`train_keywords` makes train's keywords."""
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
    if (args.validation_fraction is not None or args.early_stopping) and args.seed >= 2**32:
        parser.error("argument --seed: must be < 2**32 to draw the held-out rows")
