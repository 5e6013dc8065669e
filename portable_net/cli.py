"""The ``portable-net`` command: the case study from the command line.

``train``     the case study's classifiers on the spiral (pictures, saved models, JSON)
``data``      the spiral as CSV, or its picture
``predict``   a saved model's labels (or probabilities) for the points of a CSV file
``evaluate``  a saved model's accuracy and loss on a spiral
``gradcheck`` the hand-written gradients against centred differences
``backends``  the backends installed here and their devices

Every error is one line on stderr: exit status 2 for bad usage or input (options, files),
1 for a failure at run time (training diverged, a gradient check failed, a write failed).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import math
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import __version__
from ._backend import BACKENDS, available_backends, backend_name, get_namespace, resolve_device
from .errors import TrainingDiverged

# the case study's settings per model: (steps, log_every)
_MODEL_DEFAULTS = {"mlp": (10_000, 1000), "softmax": (200, 10)}
_PROG = "portable-net"
_PLOT_FORMATS = ("eps", "jpeg", "jpg", "pdf", "png", "ps", "svg", "svgz", "tif", "tiff", "webp")


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


class _Help(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Descriptions as written; each option's default, unless its help already says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "(default:" in text
            or not action.option_strings
            or any(action.default is v for v in (None, False, argparse.SUPPRESS))
        ):
            return text
        return text + " (default: %(default)s)"


class _Failure(Exception):
    """A run-time failure: one line on stderr and exit status 1."""


# --- options shared by several commands ------------------------------------------------


def _add_backend_options(parser: argparse.ArgumentParser, dtype: bool = True) -> None:
    parser.add_argument(
        "--backend",
        default="numpy",
        help=f"array library: one of {', '.join(BACKENDS)} (see 'portable-net backends')",
    )
    parser.add_argument(
        "--device",
        default=None,
        help="device, e.g. cpu or cuda:0 (default: the backend's default device)",
    )
    if dtype:
        parser.add_argument(
            "--dtype",
            choices=("float32", "float64"),
            default="float64",
            help="floating precision of data, parameters and maths",
        )


def _add_spiral_options(parser: argparse.ArgumentParser, from_model: bool = False) -> None:
    note = " (default: the model's training spiral, if recorded; else {})"
    parser.add_argument(
        "--n-per-class",
        type=_int_at_least(1),
        default=None if from_model else 100,
        help="spiral points per class" + (note.format(100) if from_model else ""),
    )
    parser.add_argument(
        "--seed",
        type=_int_at_least(0),
        default=None if from_model else 0,
        help="seed of the spiral's noise"
        + (note.format(0) if from_model else " (and of the initial weights and batch order)"),
    )


def _add_plot_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--plot",
        metavar="FILE",
        default=None,
        help=f"also save a picture of {what} to FILE; the format follows the suffix "
        f"(.png, .pdf, .svg, ...); needs matplotlib: pip install 'portable-net[plot]'",
    )


def _namespace(parser: argparse.ArgumentParser, args: argparse.Namespace, float64: bool) -> tuple:
    """The namespace and device object asked for, or a usage error."""
    try:
        xp = get_namespace(args.backend)
        device = resolve_device(xp, args.device)
    except (ValueError, ImportError) as exc:
        parser.error(f"argument --backend/--device: {exc}")
    if backend_name(xp) == "jax" and float64:
        import jax

        jax.config.update("jax_enable_x64", True)  # this process is ours: allow float64
    return xp, device


def _device_label(xp: Any, device: Any) -> str:
    from ._backend import device_label

    if device is None:
        device = xp.asarray(0).device
    return device_label(device)


def _check_output(parser: argparse.ArgumentParser, option: str, path: str | None) -> None:
    """An output path must be a writable file in an existing directory: a usage error if not."""
    if path is None or path == "-":
        return
    target = Path(path)
    if target.is_dir():
        parser.error(f"argument {option}: {path!r} is a directory, not a file")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        parser.error(
            f"argument {option}: cannot write {path!r}: directory {str(parent)!r} does not exist"
        )
    if not os.access(parent, os.W_OK | os.X_OK) or (
        target.exists() and not os.access(target, os.W_OK)
    ):
        parser.error(f"argument {option}: cannot write {path!r}: permission denied")


def _check_plot(parser: argparse.ArgumentParser, path: str | None) -> None:
    """--plot needs matplotlib, a known picture format and a writable path."""
    if path is None:
        return
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in _PLOT_FORMATS:
        parser.error(
            f"argument --plot: cannot tell the picture format of {path!r}; end the name "
            f"with one of {', '.join('.' + f for f in _PLOT_FORMATS)}"
        )
    _check_output(parser, "--plot", path)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        parser.error(
            "argument --plot: drawing pictures needs matplotlib, which is not installed: "
            "pip install 'portable-net[plot]'"
        )


def _write_figure(fig: Any, path: str) -> None:
    try:
        fig.savefig(path, dpi=100)
    except (OSError, ValueError) as exc:
        raise _Failure(f"could not write the picture {path!r}: {exc}") from None


@contextlib.contextmanager
def _output(path: str | None):
    """stdout, or the file at path (written whole or not at all on failure)."""
    if path is None or path == "-":
        yield sys.stdout
        return
    buffer = io.StringIO()
    yield buffer
    try:
        Path(path).write_text(buffer.getvalue(), encoding="utf-8")
    except OSError as exc:
        raise _Failure(f"could not write {path!r}: {exc}") from None


def _load_model(parser: argparse.ArgumentParser, path: str, xp: Any, device: Any) -> tuple:
    from .io import load

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # a float32 fallback is reported below
            return load(path, xp=xp, device=device)
    except (OSError, ValueError, TypeError) as exc:
        parser.error(f"argument MODEL: {exc}")


# --- train ------------------------------------------------------------------------------


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


def _train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    # imported here so that --help and argument errors stay fast
    from .data import make_spiral
    from .model import accuracy, init_params
    from .training import train

    if args.model == "softmax" and args.hidden is not None:
        parser.error("--hidden applies to --model mlp only")
    xp, device = _namespace(parser, args, args.dtype == "float64")
    _check_plot(parser, args.plot)
    _check_output(parser, "--save", args.save)
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
        raise _Failure(str(exc)) from None
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
        from .io import save

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
                device=_device_label(xp, device),
            )
        except OSError as exc:
            raise _Failure(f"could not save the model to {args.save!r}: {exc}") from None
    if args.plot:
        from .plot import _training_figure

        name = "softmax classifier" if args.model == "softmax" else f"net {sizes}"
        fig = _training_figure(params, X, y, history, title=f"{name}: training accuracy {acc:.2f}")
        _write_figure(fig, args.plot)
    if args.json:
        result = {
            "model": args.model,
            "layer_sizes": sizes,
            "backend": backend_name(xp),
            "device": _device_label(xp, device),
            "dtype": args.dtype,
            "settings": settings,
            "data": data,
            "history": {"steps": history.steps, "loss": history.loss},
            "final_loss": history.final_loss,
            "training_accuracy": acc,
            "saved": args.save,
            "plot": args.plot,
        }
        print(json.dumps(result))
        return 0
    print(f"training accuracy: {acc:.2f}")
    if not args.quiet:
        if args.save:
            print(f"model saved to {args.save}")
        if args.plot:
            print(f"picture saved to {args.plot}")
    return 0


# --- data -------------------------------------------------------------------------------


def _data(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .data import make_spiral

    _check_plot(parser, args.plot)
    _check_output(parser, "--output", args.output)
    X, y = make_spiral(args.n_per_class, args.classes, noise=args.noise, seed=args.seed)
    if args.plot:
        from .plot import _data_figure

        _write_figure(_data_figure(X, y), args.plot)
    if args.output or not args.plot:
        with _output(args.output) as out:
            out.write("x0,x1,label\n")
            for (x0, x1), label in zip(X.tolist(), y.tolist()):
                out.write(f"{x0!r},{x1!r},{label}\n")
    return 0


# --- predict ----------------------------------------------------------------------------


class _CsvError(ValueError):
    pass


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _read_points(path: str, n_features: int) -> Any:
    """The points of a CSV file (N, n_features) as float64 NumPy, or a _CsvError naming the line.

    Blank lines and lines starting with # are skipped; a first row of names is a header,
    and a column named ``label`` (as ``portable-net data`` writes) is left out.
    """
    import numpy as np

    name = "<stdin>" if path == "-" else path
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8", newline="") as f:
                text = f.read()
    except FileNotFoundError:
        raise _CsvError(f"{name!r} does not exist") from None
    except IsADirectoryError:
        raise _CsvError(f"{name!r} is a directory") from None
    except UnicodeDecodeError:
        raise _CsvError(f"{name!r} is not a UTF-8 text file") from None
    except OSError as exc:
        raise _CsvError(f"cannot read {name!r}: {exc}") from None

    rows: list[list[float]] = []
    n_columns, keep = n_features, list(range(n_features))  # without a header
    header = False
    for lineno, fields in enumerate(csv.reader(text.splitlines()), start=1):
        fields = [f.strip() for f in fields]
        if not fields or fields == [""] or fields[0].startswith("#"):
            continue
        values = [_number(f) for f in fields]
        if not rows and not header and all(v is None for v in values):  # a header row
            header = True
            n_columns = len(fields)
            keep = [i for i, f in enumerate(fields) if f.lower() != "label"]
            if len(keep) != n_features:
                raise _CsvError(
                    f"{name} line {lineno}: the header names {len(keep)} feature columns "
                    f"({', '.join(fields[i] for i in keep)}) but the model has {n_features} inputs"
                )
            continue
        if len(fields) != n_columns:
            raise _CsvError(
                f"{name} line {lineno}: expected {n_columns} comma-separated values"
                f"{'' if header else f' (the model has {n_features} inputs)'}, "
                f"got {len(fields)}"
            )
        point = [values[i] for i in keep]
        for i, v in zip(keep, point):
            if v is None:
                raise _CsvError(f"{name} line {lineno}: {fields[i]!r} is not a number")
            if not math.isfinite(v):
                raise _CsvError(f"{name} line {lineno}: {fields[i]!r} is not a finite number")
        rows.append(point)
    if not rows:
        raise _CsvError(f"{name} holds no points")
    return np.asarray(rows, dtype=np.float64)


def _predict(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .model import predict, predict_proba

    xp, device = _namespace(parser, args, True)
    _check_output(parser, "--output", args.output)
    params, meta = _load_model(parser, args.model, xp, device)
    n_features = meta["layer_sizes"][0]
    try:
        points = _read_points(args.points, n_features)
    except _CsvError as exc:
        parser.error(f"argument POINTS: {exc}")
    X = xp.asarray(points, dtype=params["W1"].dtype, device=device)
    from ._backend import to_host as _to_host

    with _output(args.output) as out:
        if args.proba:
            for row in _to_host(predict_proba(params, X)).tolist():
                out.write(",".join(f"{p:.6g}" for p in row) + "\n")
        else:
            labels = _to_host(predict(params, X)).tolist()
            classes = meta.get("classes")
            if isinstance(classes, list) and len(classes) == meta["layer_sizes"][-1]:
                labels = [classes[i] for i in labels]
            out.write("".join(f"{label}\n" for label in labels))
    return 0


# --- evaluate ---------------------------------------------------------------------------


def _evaluate(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .data import make_spiral
    from .model import accuracy, loss_and_grads

    xp, device = _namespace(parser, args, True)
    params, meta = _load_model(parser, args.model, xp, device)
    sizes = meta["layer_sizes"]
    recorded = meta.get("data") if isinstance(meta.get("data"), dict) else {}
    n_classes = sizes[-1]
    if sizes[0] != 2:
        parser.error(f"argument MODEL: the model has {sizes[0]} inputs; the spiral has 2")
    n_per_class = args.n_per_class or recorded.get("n_per_class", 100)
    seed = args.seed if args.seed is not None else recorded.get("seed", 0)
    try:
        X, y = make_spiral(
            int(n_per_class),
            n_classes,
            noise=args.noise,
            seed=int(seed),
            xp=xp,
            device=device,
            dtype=meta["dtype"] if params["W1"].dtype == xp.float64 else "float32",
        )
    except (ValueError, TypeError) as exc:
        parser.error(str(exc))
    acc = accuracy(params, X, y)
    loss = float(loss_and_grads(params, X, y, reg=0.0)[0])
    if args.json:
        print(
            json.dumps(
                {
                    "accuracy": acc,
                    "loss": loss,
                    "n_per_class": int(n_per_class),
                    "classes": n_classes,
                    "seed": int(seed),
                    "noise": args.noise,
                }
            )
        )
    else:
        print(f"spiral: seed {seed}, {n_per_class} points per class, {n_classes} classes")
        print(f"accuracy: {acc:.4f}")
        print(f"loss: {loss:.6f}")
    return 0


# --- gradcheck --------------------------------------------------------------------------

_GOOD, _KINKS, _WRONG = 1e-7, 1e-4, 1e-2


def _verdict(error: float) -> str:
    if error < _GOOD:
        return "good"
    if error < _KINKS:
        return "acceptable"
    if error <= _WRONG:
        return "suspicious"
    return "WRONG"


def _gradcheck(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import numpy as np

    from .data import make_spiral
    from .gradcheck import relative_errors
    from .model import init_params

    if args.model == "softmax" and args.hidden is not None:
        parser.error("--hidden applies to --model mlp only")
    xp, device = _namespace(parser, args, args.dtype == "float64")
    hidden = [] if args.model == "softmax" else (args.hidden or [100])
    sizes = [2, *hidden, args.classes]

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
    params = init_params(
        sizes, seed=args.seed, scale=args.scale, xp=xp, device=device, dtype=X.dtype
    )
    rng = np.random.default_rng(args.seed + 1)
    for i in range(1, len(sizes)):
        b = args.bias_scale * rng.standard_normal(sizes[i])
        params[f"b{i}"] = xp.asarray(b, dtype=X.dtype, device=device)
    entries = None if args.entries == 0 else args.entries
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        errors = relative_errors(
            params, X, y, reg=args.reg, h=args.h, max_entries=entries, seed=args.seed
        )
    notes = [str(w.message) for w in caught]
    worst = max(errors.values())
    failed = worst > args.fail_above
    if args.json:
        print(
            json.dumps(
                {
                    "layer_sizes": sizes,
                    "backend": backend_name(xp),
                    "dtype": args.dtype,
                    "points": int(X_np.shape[0]),
                    "reg": args.reg,
                    "h": args.h,
                    "relative_errors": errors,
                    "verdicts": {k: _verdict(v) for k, v in errors.items()},
                    "largest": worst,
                    "passed": not failed,
                }
            )
        )
    else:
        print(
            f"gradient check of the {args.model} {sizes} on {backend_name(xp)} "
            f"({_device_label(xp, device)}), {args.dtype}: {X_np.shape[0]} spiral points "
            f"(origin rows dropped), reg {args.reg:g}, h {args.h:g}, "
            f"{'every entry' if entries is None else f'up to {entries} entries'} per parameter"
        )
        print(f"{'parameter':<10} {'shape':<12} {'checked':>7}  {'relative error':>14}  verdict")
        for key, err in errors.items():
            shape = tuple(params[key].shape)
            size = math.prod(shape)
            checked = size if entries is None else min(size, entries)
            print(f"{key:<10} {shape!s:<12} {checked:>7}  {err:>14.2e}  {_verdict(err)}")
        print(
            f"largest relative error {worst:.2e}: {_verdict(worst)} "
            f"(under 1e-7 good; ReLU kinks may reach 1e-4; over 1e-2 wrong)"
        )
    for note in notes:
        print(f"{_PROG} gradcheck: warning: {note}", file=sys.stderr)
    if failed:
        print(
            f"{_PROG} gradcheck: error: the largest relative error {worst:.2e} is above "
            f"{args.fail_above:g}: a gradient is wrong",
            file=sys.stderr,
        )
        return 1
    return 0


# --- backends ---------------------------------------------------------------------------


def _backends(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    found = available_backends()
    width = max(map(len, BACKENDS))
    for name in BACKENDS:
        devices = found.get(name)
        print(f"{name:<{width}}  {', '.join(devices) if devices else '(not available)'}")
    return 0


# --- the parser -------------------------------------------------------------------------


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = _Parser(
        prog=_PROG,
        formatter_class=_Help,
        description="Train the CS231n case study's classifiers on the spiral, with\n"
        "hand-written backprop, on any array API backend; keep and use the models.",
        epilog="examples:\n"
        "  portable-net train                         the case study's net (10,000 steps)\n"
        "  portable-net train --plot net.png --save net.npz\n"
        "  portable-net data --output points.csv      the spiral as CSV\n"
        "  portable-net predict net.npz points.csv    one label per row\n"
        "  portable-net evaluate net.npz --seed 1     accuracy and loss on a fresh spiral\n"
        "  portable-net gradcheck                     backprop against finite differences\n"
        "\n"
        "'portable-net COMMAND --help' describes each command and its options.\n"
        "Exit status: 0 success, 1 failure at run time, 2 bad usage or input.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_Parser
    )
    subs: dict[str, argparse.ArgumentParser] = {}

    def command(name: str, help: str, description: str, epilog: str | None = None):
        sub = commands.add_parser(
            name, help=help, description=description, epilog=epilog, formatter_class=_Help
        )
        subs[name] = sub
        return sub

    train = command(
        "train",
        "train a classifier on the spiral and print the loss and training accuracy",
        "Train a classifier on the spiral data set by full-batch gradient descent (or\n"
        "mini-batches with --batch-size), printing the loss every --log-every steps and\n"
        "the final training accuracy, as the case study does. With no options: the case\n"
        "study's two-layer net (100 hidden units, 10,000 steps, learning rate 1.0, reg 1e-3)\n"
        "on NumPy in float64.\n"
        "\n"
        "On a terminal, a progress bar (with tqdm installed) moves at each logged step;\n"
        "it is off when the output is piped and with --quiet.",
        "examples:\n"
        "  portable-net train --model softmax\n"
        "  portable-net train --plot net.png --save net.npz\n"
        "  portable-net train --backend torch --device cuda:0 --dtype float32\n"
        "  portable-net train --json --steps 2000 > run.json",
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
    _add_backend_options(train)
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
        help="mini-batch size (default: the full batch)",
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
    _add_plot_option(train, "the decision regions and the loss curve (log scale)")
    train.add_argument(
        "--save",
        metavar="FILE",
        default=None,
        help="also save the trained model to FILE (.npz: the weights, the layer sizes, "
        "the settings and the loss history; read it with predict, evaluate or "
        "portable_net.load)",
    )
    train.add_argument(
        "--quiet",
        action="store_true",
        help="print only the training accuracy: no loss lines, no progress bar",
    )
    train.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object instead (settings, loss history, final loss, "
        "training accuracy), for scripts",
    )

    data = command(
        "data",
        "write the spiral as CSV (x0,x1,label), or draw it",
        "Draw the case study's spiral and write it as CSV with a header line x0,x1,label\n"
        "(to stdout, or to --output), or save a picture of it with --plot. The output of\n"
        "this command can be given to 'portable-net predict' (the label column is skipped).",
        "examples:\n"
        "  portable-net data --plot spiral.png\n"
        "  portable-net data --seed 1 --output points.csv",
    )
    _add_spiral_options(data)
    data.add_argument(
        "--classes", type=_int_at_least(2), default=3, help="number of classes (spiral arms)"
    )
    data.add_argument(
        "--noise",
        type=_float_in(0.0),
        default=0.2,
        help="standard deviation of the angular noise (>= 0)",
    )
    data.add_argument(
        "--output",
        metavar="FILE",
        default=None,
        help="write the CSV to FILE (default: stdout, unless --plot is given)",
    )
    _add_plot_option(data, "the points coloured by class")

    predict = command(
        "predict",
        "print a saved model's label (or probabilities) for each point of a CSV file",
        "Load a model saved by 'portable-net train --save' (or portable_net.save) and\n"
        "print the predicted label of each point of POINTS, one per line, in order.\n"
        "\n"
        "POINTS is a CSV file (or - for stdin) with one point per row: as many\n"
        "comma-separated numbers as the model has inputs (2 for the spiral). Blank lines\n"
        "and lines starting with # are skipped; a first row of column names is a header,\n"
        "and a column named 'label' is left out, so 'portable-net data' output works.",
        "examples:\n"
        "  portable-net predict net.npz points.csv\n"
        "  portable-net predict net.npz points.csv --proba --output proba.csv\n"
        "  printf '0.5,0.5\\n-0.3,0.1\\n' | portable-net predict net.npz -",
    )
    predict.add_argument("model", metavar="MODEL", help="the saved model (.npz)")
    predict.add_argument("points", metavar="POINTS", help="the CSV file of points, or -")
    predict.add_argument(
        "--proba",
        action="store_true",
        help="print the probability of every class instead (comma-separated, one row per "
        "point, classes in order)",
    )
    predict.add_argument(
        "--output", metavar="FILE", default=None, help="write to FILE (default: stdout)"
    )
    _add_backend_options(predict, dtype=False)

    evaluate = command(
        "evaluate",
        "print a saved model's accuracy and loss on a spiral",
        "Load a saved model and print its accuracy and its loss (the mean cross-entropy,\n"
        "without the L2 penalty) on a spiral. By default the spiral it was trained on, as\n"
        "recorded by 'portable-net train --save'; choose another with --seed.",
        "examples:\n"
        "  portable-net evaluate net.npz\n"
        "  portable-net evaluate net.npz --seed 1 --n-per-class 1000",
    )
    evaluate.add_argument("model", metavar="MODEL", help="the saved model (.npz)")
    _add_spiral_options(evaluate, from_model=True)
    evaluate.add_argument(
        "--noise",
        type=_float_in(0.0),
        default=0.2,
        help="standard deviation of the angular noise (>= 0)",
    )
    evaluate.add_argument("--json", action="store_true", help="print one JSON object instead")
    _add_backend_options(evaluate, dtype=False)

    grad = command(
        "gradcheck",
        "check the hand-written gradients against centred differences",
        "Compare the hand-written gradient of every parameter with centred differences\n"
        "(f(x + h) - f(x - h)) / 2h on a few spiral points, as the CS231n notes teach, and\n"
        "print the largest relative error |a - n| / max(|a|, |n|) of each parameter:\n"
        "under 1e-7 is good; ReLU kinks may push it to 1e-4; over 1e-2 the gradient is\n"
        "wrong. Exit status 1 when an error is above --fail-above.\n"
        "\n"
        "The data and weights are chosen so that no point sits on a ReLU kink: every\n"
        "spiral arm starts at the origin, where zero biases put each hidden unit exactly\n"
        "on its kink, so those rows are dropped and the biases drawn at random\n"
        "(--bias-scale). Use float64: in float32, rounding alone exceeds 1e-2.",
        "examples:\n"
        "  portable-net gradcheck\n"
        "  portable-net gradcheck --model softmax --reg 0\n"
        "  portable-net gradcheck --backend torch --hidden 20 10 --entries 0",
    )
    grad.add_argument(
        "--model",
        choices=sorted(_MODEL_DEFAULTS),
        default="mlp",
        help="mlp: the ReLU network; softmax: the linear classifier",
    )
    grad.add_argument(
        "--hidden",
        type=_int_at_least(1),
        nargs="+",
        metavar="SIZE",
        default=None,
        help="hidden layer sizes of the mlp (default: 100)",
    )
    _add_backend_options(grad)
    grad.add_argument(
        "--classes", type=_int_at_least(2), default=3, help="number of classes (spiral arms)"
    )
    grad.add_argument(
        "--points",
        type=_int_at_least(2),
        default=5,
        help="spiral points per class (each costs two forward passes per checked entry; "
        "the origin rows are dropped)",
    )
    grad.add_argument("--seed", type=_int_at_least(0), default=0, help="seed of data and weights")
    grad.add_argument(
        "--scale",
        type=_float_in(0.0, low_open=True),
        default=0.3,
        help="weights drawn scale * standard_normal (larger than training's 0.01, so that "
        "gradients are not lost in rounding)",
    )
    grad.add_argument(
        "--bias-scale",
        type=_float_in(0.0),
        default=0.1,
        help="biases drawn bias_scale * standard_normal, to keep points off the kinks",
    )
    grad.add_argument(
        "--reg", type=_float_in(0.0), default=1e-3, help="L2 regularisation strength (>= 0)"
    )
    grad.add_argument(
        "--h", type=_float_in(0.0, low_open=True), default=1e-5, help="finite-difference step"
    )
    grad.add_argument(
        "--entries",
        type=_int_at_least(0),
        default=20,
        help="entries checked per parameter, chosen at random with --seed; 0 checks all",
    )
    grad.add_argument(
        "--fail-above",
        type=_float_in(0.0, low_open=True),
        default=_WRONG,
        help="exit status 1 when a relative error is above this",
    )
    grad.add_argument("--json", action="store_true", help="print one JSON object instead")

    command(
        "backends",
        "list the array backends installed here and their devices",
        "List the array backends usable here and their devices; the names are what\n"
        "--backend and --device accept.",
    )
    return parser, subs


_COMMANDS: dict[str, Callable[[argparse.Namespace, argparse.ArgumentParser], int]] = {
    "train": _train,
    "data": _data,
    "predict": _predict,
    "evaluate": _evaluate,
    "gradcheck": _gradcheck,
    "backends": _backends,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``portable-net`` command line; returns the exit status.

    Parameters
    ----------
    argv : sequence of str or None
        The arguments after the program name; None reads ``sys.argv``.

    Returns
    -------
    int
        0 on success, 1 for a failure at run time, 2 for bad usage or input.
    """
    parser, subs = _parser()
    args = parser.parse_args(argv)
    sub = subs[args.command]
    try:
        return _COMMANDS[args.command](args, sub)
    except _Failure as exc:
        print(f"{sub.prog}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{sub.prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. '| head': stop quietly
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
