"""``portable-net data``: the spiral as CSV, or its picture."""

from __future__ import annotations

import argparse

from . import _data, _run
from ._args import add_option, add_spiral_options, check_spiral_size

#: rows formatted at a time
_ROWS = 1 << 16

NAME = "data"
HELP = "write the spiral as CSV (x0,x1,label), or draw it"
DESCRIPTION = """\
Draw the case study's spiral and write it as CSV with a header line x0,x1,label
(to stdout, or to --output), or save a picture of it with --plot. The output of
this command can be given to 'portable-net predict' (the label column is skipped)."""
EPILOG = """\
examples:
  portable-net data --plot spiral.png
  portable-net data --seed 1 --output points.csv"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spiral_options(parser)
    add_option(parser, "--classes")
    add_option(parser, "--noise")
    add_option(
        parser, "--output", help="write the CSV to FILE (default: stdout, unless --plot is given)"
    )
    add_option(parser, "--plot", what="the points coloured by class")


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    too_many = check_spiral_size(args.n_per_class, args.classes)
    if too_many:
        parser.error(f"argument --n-per-class/--classes: {too_many}")
    _run.check_plot(parser, args.plot)
    _run.check_outputs(parser, {"--output": args.output, "--plot": args.plot})
    X, y = _data.finite_spiral(
        "--noise", args.noise, n_per_class=args.n_per_class, n_classes=args.classes, seed=args.seed
    )
    if args.plot:
        from ..plot import data_figure

        _run.write_figure(data_figure(X, y), args.plot)
    if args.output or not args.plot:
        with _run.output_file(args.output) as out:
            out.write("x0,x1,label\n")
            # a block of rows as text at a time: the CSV is never whole in memory
            for start in range(0, X.shape[0], _ROWS):
                rows = zip(X[start : start + _ROWS].tolist(), y[start : start + _ROWS].tolist())
                out.write("".join(f"{x0!r},{x1!r},{label}\n" for (x0, x1), label in rows))
    return 0
