"""``portable-net backends``: the array libraries installed here and their devices."""

from __future__ import annotations

import argparse

NAME = "backends"
HELP = "list the array backends installed here and their devices"
DESCRIPTION = """\
List the array backends usable here and their devices; the names are what
--backend and --device accept."""
EPILOG = None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """This command takes no options."""


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .. import available_backends
    from .._backend import BACKENDS

    found = available_backends()
    width = max(map(len, BACKENDS))
    for name in BACKENDS:
        devices = found.get(name)
        print(f"{name:<{width}}  {', '.join(devices) if devices else '(not available)'}")
    return 0
