"""The ``portable-net`` command: the case study from the command line.

``train``     the case study's classifiers on the spiral or on a user's data file (CSV, .npz,
              .npy pair), with a held-out test set and standardised features
``data``      the spiral as CSV, or its picture
``predict``   a saved model's labels (or probabilities) for the points of a file
``evaluate``  a saved model's accuracy and loss on a spiral or on a labelled file
``export``    a saved model as an ONNX graph (traced from its forward pass), for onnxruntime
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
Train the CS231n case study's classifiers on the spiral (or on your own data),
with hand-written backprop, on any array API backend; keep and use the models."""
_EPILOG = """\
examples:
  portable-net train                         the case study's net (10,000 steps)
  portable-net train --plot net.png --save net.npz
  portable-net data --output points.csv      the spiral as CSV
  portable-net predict net.npz points.csv    one label per row
  portable-net evaluate net.npz --seed 1     accuracy and loss on a fresh spiral
  portable-net train --data my.csv --label species --test-size 0.25 --standardize \\
      --save my.npz                          your data: held-out accuracy, per class
  portable-net predict my.npz --data new.csv class names of new samples
  portable-net export my.npz my.onnx         the model as an ONNX graph
  portable-net gradcheck                     backprop against finite differences

'portable-net COMMAND --help' describes each command and its options.
Exit status: 0 success, 1 failure at run time, 2 bad usage or input,
130 interrupted (Ctrl-C), 143 terminated (SIGTERM), 128 + N for another signal N
that ends a process (SIGHUP: 129); an interrupted run leaves no partly written
file behind."""


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The parser, and each command's subparser by name."""
    from .. import __version__
    from . import backends, data, evaluate, export, gradcheck, predict, train
    from ._args import Help, Parser

    COMMANDS = (train, data, predict, evaluate, export, gradcheck, backends)
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
    from . import _signals
    from ._args import BadInput, Failure, one_line

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
