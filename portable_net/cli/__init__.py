"""The ``portable-net`` command: train networks on your own data files (or on the case
study's spiral), keep the models and use them.

``train``     a network on a data file (CSV, .npz, .npy pair) through the Classifier or the
              Regressor, or the case study's classifiers on the spiral through train
``predict``   a saved model's labels (or probabilities, or values) for the rows of a file
``evaluate``  a saved model's scores on a labelled file (or on a spiral)
``inspect``   what a saved model is, how it reads its files, how it was trained
``export``    a saved model as an ONNX graph (traced from its forward pass), for onnxruntime
``data``      the spiral as CSV, or its picture
``gradcheck`` the hand-written gradients against centred differences
``backends``  the backends installed here and their devices

One module per command declares its options beside the function that runs it
(``NAME``, ``HELP``, ``DESCRIPTION``, ``EPILOG``, ``add_arguments``, ``run``); options
shared by several commands are declared once in ``_args``, and what commands do alike at
run time (backends, output files, saved models, signals) is in ``_run``, and what they do
with a user's data files (reading, class names, standardisation, per-class report) in
``_data``.

Every error is one line on stderr: exit status 2 for bad usage or input (options, files),
1 for a failure at run time (training diverged, a gradient check failed, a write failed,
stdout closed or full, a backend that cannot start), 130 for Ctrl-C, 143 for SIGTERM and
128 + N for the other signals that end a process (a file being written is removed, never
left half-done: ``_signals``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from typing import cast

__all__ = ["main"]

PROG = "portable-net"

_DESCRIPTION = """\
Train neural networks (hand-written backprop, on any array API backend) on your
own CSV files, keep the models, and use them on new files; or rerun the CS231n
case study on its spiral.

On your own files:
  train     learn a classifier (or, --task regression, a regressor) from a CSV
            file's columns, report its scores on held-out rows, --save it
  predict   the saved model's answer for each row of a CSV file (the label
            column, if there, is left out)
  evaluate  the saved model's scores on a labelled CSV file
  inspect   what a saved model is: its inputs, classes, preprocessing, training
  export    the saved model as an ONNX file, which runs without Python"""
_EPILOG = """\
examples:
  portable-net train --data wine.csv --label cultivar --test-size 0.25 \\
      --standardize --save wine.npz       learn; held-out accuracy, per class
  portable-net predict wine.npz new.csv   one label per row
  portable-net evaluate wine.npz --data wine.csv
  portable-net inspect wine.npz           what the model is and was trained on
  portable-net export wine.npz wine.onnx  the model as an ONNX graph
  portable-net train                      the case study's net on the spiral
  portable-net data --output points.csv   the spiral as CSV
  portable-net gradcheck                  backprop against finite differences

'portable-net COMMAND --help' describes each command and its options.
Exit status: 0 success, 1 failure at run time, 2 bad usage or input,
130 interrupted (Ctrl-C), 143 terminated (SIGTERM), 128 + N for another signal N
that ends a process (SIGHUP: 129); an interrupted run leaves no partly written
file behind."""


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The parser, and each command's subparser by name."""
    from .. import __version__
    from . import backends, data, evaluate, export, gradcheck, inspect, predict, train
    from ._args import Help, Parser

    COMMANDS = (train, predict, evaluate, inspect, export, data, gradcheck, backends)
    parser = Parser(prog=PROG, formatter_class=Help, description=_DESCRIPTION, epilog=_EPILOG)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=Parser
    )
    subs: dict[str, argparse.ArgumentParser] = {}
    for module in COMMANDS:
        sub = commands.add_parser(
            module.NAME,
            help=module.HELP,
            description=module.DESCRIPTION,
            epilog=module.EPILOG,
            formatter_class=Help,
        )
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
        subs[module.NAME] = sub
    return parser, subs


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``portable-net`` command line; returns the exit status.

    Parameters
    ----------
    argv : sequence of str or None
        The arguments after the program name; None reads ``sys.argv``.

    Returns
    -------
    int
        0 on success, 1 for a failure at run time, 2 for bad usage or input, 130 when
        interrupted by Ctrl-C (SIGINT) and 143 by SIGTERM.
    """
    from . import _signals

    _signals.prepare_streams()
    try:  # the commands import NumPy and the array libraries: Ctrl-C may come meanwhile
        parser, subs = _parser()
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    with _signals.interrupts():
        args = parser.parse_args(argv)
        prog = subs[args.command].prog
        status = _run_command(args, subs[args.command], prog)
        trouble = _signals.flush_stdout()
    if trouble is not None and status != 1:
        print(f"{prog}: error: could not write the output to stdout: {trouble}", file=sys.stderr)
        return 1
    return status


def _run_command(args: argparse.Namespace, parser: argparse.ArgumentParser, prog: str) -> int:
    """Run the command; every way it can end as its exit status, with one line on stderr."""
    from .._text import one_line
    from . import _signals
    from ._args import BadInput, Failure

    try:
        return cast(int, args.run(args, parser))
    except BadInput as exc:
        print(f"{prog}: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except Failure as exc:
        print(f"{prog}: error: {one_line(str(exc))}", file=sys.stderr)
        return 1
    except MemoryError:
        print(f"{prog}: error: out of memory", file=sys.stderr)
        return 1
    except _signals.Terminated as exc:
        name = "" if exc.signum == getattr(signal, "SIGTERM", None) else f" by {exc.name}"
        print(f"{prog}: terminated{name}", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. '| head': stop quietly
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 1
    except OSError as exc:  # writing stdout (a full disk, a closed stream), or a file
        what = f"could not use {exc.filename!r}" if exc.filename else "could not write the output"
        print(f"{prog}: error: {what}: {one_line(exc.strerror or str(exc))}", file=sys.stderr)
        _signals.flush_stdout()
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
