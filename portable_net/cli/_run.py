"""What the commands do alike at run time: the backend, output files, saved models, signals."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import stat
import sys
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, cast

from .._backend import device_label, get_namespace, resolve_device, to_host
from .._text import one_line
from ..engines import prepare_process
from ..io import check_output as check_writable
from ..io import open_output
from ._args import BadInput, Failure

__all__ = ["to_host"]

PLOT_FORMATS = ("eps", "jpeg", "jpg", "pdf", "png", "ps", "svg", "svgz", "tif", "tiff", "webp")


def backend_namespace(
    parser: argparse.ArgumentParser, args: argparse.Namespace, float64: bool
) -> tuple[Any, Any]:
    """The namespace and device object asked for, or a usage error."""
    try:
        xp = get_namespace(args.backend)
        device = resolve_device(xp, args.device)
    except (ValueError, ImportError) as exc:
        parser.error(f"argument --backend/--device: {exc}")
    except Exception as exc:  # the library itself cannot start (JAX_PLATFORMS=bogus, drivers)
        raise Failure(
            f"the {args.backend} backend cannot start: {one_line(str(exc), 200)}"
        ) from None
    try:
        prepare_process(xp, float64)  # this process is ours: the library's settings for it
        xp.asarray(0.0, device=device)  # the library starts here, or says why it cannot
    except Exception as exc:
        raise Failure(
            f"the {args.backend} backend cannot start: {one_line(str(exc), 200)}"
        ) from None
    return xp, device


def check_model_size(option: str, sizes: list[int], dtype: str) -> None:
    """BadInput unless a network of ``sizes`` fits in a model file (``MAX_WEIGHT_BYTES``):
    refused before its weights are drawn."""
    from ..io import MAX_WEIGHT_BYTES

    count = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    nbytes = count * (8 if dtype == "float64" else 4)
    if nbytes > MAX_WEIGHT_BYTES:
        raise BadInput(
            f"argument {option}: a network of layer sizes {one_line(str(sizes), 80)} has "
            f"{count:,} weights ({nbytes:,} bytes in {dtype}), more than the "
            f"{MAX_WEIGHT_BYTES:,} bytes a model file holds"
        )


def run_record(args: argparse.Namespace, sizes: list[int], xp: Any, device: Any) -> dict[str, Any]:
    """What ``train --json`` says of any run: the model, its layer sizes, the backend, the
    device and the dtype."""
    from .._backend import backend_name

    return {"model": args.model, "layer_sizes": sizes, "backend": backend_name(xp),
            "device": describe_device(xp, device), "dtype": args.dtype}  # fmt: skip


def describe_device(xp: Any, device: Any) -> str:
    if device is None:
        device = xp.asarray(0).device
    return device_label(device)


# --- output files: checked before work starts, written whole or not at all ----------------


def check_output_path(
    parser: argparse.ArgumentParser, option: str, path: str | None, inputs: Iterable[Any] = ()
) -> None:
    """An output path must be writable by ``portable_net.io.write_output``'s rules and not
    one of the command's ``inputs`` (files it reads): a usage error if not."""
    if path is None or path == "-":
        return
    try:
        check_writable(path, inputs=input_files(inputs))
    except (OSError, ValueError) as exc:
        parser.error(f"argument {option}: {_write_error(exc)}")


def check_outputs(
    parser: argparse.ArgumentParser, outputs: dict[str, str | None], inputs: Iterable[Any] = ()
) -> None:
    """Every output of a command (option -> path) checked as :func:`check_output_path` checks
    one, and no two of them the same file (through any link or path): a usage error, before
    any work, rather than one output replacing another."""
    given = {option: path for option, path in outputs.items() if path not in (None, "", "-")}
    files = input_files(inputs)
    seen: dict[Any, tuple[str, str]] = {}
    for option, path in given.items():
        assert path is not None
        check_output_path(parser, option, path, files)
        key = _identity(path)
        if key is None:
            continue
        if key in seen:
            other, first = seen[key]
            parser.error(
                f"argument {option}: {path!r} is the file of {other} {first!r} too: one "
                "output would replace the other (choose another file)"
            )
        seen[key] = (option, path)


def _identity(path: str) -> Any:
    """What tells one output file from another: its device and inode where it exists, else
    the path its links lead to; None for a character device (written through, as
    ``/dev/null``)."""
    try:
        st = os.stat(path)
    except OSError:
        return ("path", os.path.realpath(path))
    if stat.S_ISCHR(st.st_mode):
        return None
    return ("file", st.st_dev, st.st_ino)


def input_files(inputs: Iterable[Any]) -> list[str]:
    """The files named by input arguments: None left out, '-' as stdin's file, an
    'X.npy,y.npy' pair split."""
    files = []
    for given in inputs:
        if not isinstance(given, str) or given == "":
            continue
        if given == "-":  # whatever stdin is: a redirected file is an input too
            files.append("/dev/stdin")
            continue
        parts = given.split(",")
        pair = len(parts) == 2 and all(p.lower().endswith(".npy") for p in parts)
        files.extend(parts if pair and not os.path.exists(given) else [given])
    return files


def _write_error(exc: BaseException) -> str:
    """An error of portable_net.io's writer as the words of one line."""
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
        name = exc.filename
        return text if name is None or str(name) in text else f"cannot write {name!r}: {text}"
    return str(exc)


def check_plot(parser: argparse.ArgumentParser, path: str | None) -> None:
    """--plot needs matplotlib and a known picture format (and a writable path that is no
    input nor another output: :func:`check_outputs`)."""
    if path is None:
        return
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in PLOT_FORMATS:
        parser.error(
            f"argument --plot: cannot tell the picture format of {path!r}; end the name "
            f"with one of {', '.join('.' + f for f in PLOT_FORMATS)}"
        )
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        parser.error(
            "argument --plot: drawing pictures needs matplotlib, which is not installed: "
            "pip install 'portable-net[plot]'"
        )


@contextlib.contextmanager
def replacing(path: str, what: str, inputs: Iterable[Any] = ()) -> Iterator[Any]:
    """A binary file object whose content becomes ``path`` once the block ends, by
    ``portable_net.io.open_output``'s rules (a regular file replaced whole or left untouched,
    a device or FIFO written through). ``what`` starts the error message: "could not write
    {what}'path': reason" (exit 1; the output being an input: exit 2)."""
    try:
        with open_output(path, inputs=input_files(inputs)) as f:
            yield f
    except OSError as exc:
        raise Failure(f"could not write {what}{path!r}: {_write_error(exc)}") from None
    except ValueError as exc:  # the output is one of the inputs
        raise BadInput(f"could not write {what}{path!r}: {exc}") from None


def write_figure(fig: Any, path: str, inputs: Iterable[Any] = ()) -> None:
    """Save a matplotlib figure to ``path``, in the format its suffix names."""
    suffix = Path(path).suffix.lower().lstrip(".")
    try:
        with replacing(path, "the picture ", inputs) as f:
            fig.savefig(f, dpi=100, format=suffix)
    except ValueError as exc:
        raise Failure(f"could not write the picture {path!r}: {exc}") from None


@contextlib.contextmanager
def output_file(path: str | None, inputs: Iterable[Any] = ()) -> Iterator[Any]:
    """stdout, or a text file object writing ``path`` as it goes (UTF-8, by the rules of
    ``portable_net.io.open_output``: a regular file appears whole once the block ends, or
    not at all; a device or FIFO receives the text as it is written)."""
    if path is None or path == "-":
        yield sys.stdout
        return
    try:
        with open_output(path, inputs=input_files(inputs), encoding="utf-8") as f:
            yield f
    except OSError as exc:
        raise Failure(f"could not write {path!r}: {_write_error(exc)}") from None
    except ValueError as exc:  # the output is one of the inputs
        raise BadInput(f"could not write {path!r}: {exc}") from None


def print_json(document: Any) -> None:
    """One line of strict JSON: a NaN or infinity is a failure, never printed as ``NaN``."""
    try:
        text = json.dumps(document, allow_nan=False)
    except ValueError:
        raise Failure("the results hold NaN or infinite values; they cannot be JSON") from None
    print(text)


# --- saved models -----------------------------------------------------------------------------

#: what reading a broken file may raise, from the library's loader or below it
_LOAD_ERRORS = (
    ValueError,  # json.JSONDecodeError and UnicodeError among them
    OSError,
    TypeError,
    KeyError,
    EOFError,
    MemoryError,
    OverflowError,
    RecursionError,
)


def _file_error(path: str, reason: Any) -> BadInput:
    text = str(reason) or type(reason).__name__
    if isinstance(reason, MemoryError):
        text = "it is too large to load (out of memory)"
    return BadInput(text if path in text else f"{path!r}: {text}")


def load_model(path: str, xp: Any, device: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A saved model's parameters (all finite) and its metadata, or BadInput."""
    import zipfile
    import zlib

    import numpy as np

    from .. import load

    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise BadInput(f"model file {path!r} does not exist") from None
        raise _file_error(path, exc.strerror or exc) from None
    if not stat.S_ISREG(mode):  # a FIFO would block the reader, a device never end
        kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
        raise BadInput(f"model file {path!r} is {kind}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # e.g. a float32 fallback
            params, meta = load(path, xp=xp, device=device)
    except (*_LOAD_ERRORS, zipfile.BadZipFile, zlib.error) as exc:
        raise _file_error(path, exc) from None
    for key, value in params.items():  # NaN weights would predict NaN, or an arbitrary label
        if not bool(np.isfinite(to_host(value)).all()):
            raise BadInput(f"{path!r}: weight {key!r} holds NaN or infinite values")
    return params, meta


def check_model_kind(path: str, meta: dict[str, Any], kinds: Iterable[str], command: str) -> None:
    """BadInput naming the file and what it holds unless its model is of one of ``kinds``."""
    from ..io import check_kind as check

    try:
        check(path, meta, kinds, f"portable-net {command}")
    except ValueError as exc:
        raise BadInput(str(exc)) from None


def output_layer(meta: dict[str, Any]) -> str:
    """The loaded model's output layer as the library's functions name it
    (:data:`portable_net.loss.OUTPUT_LOSSES`: softmax, logistic, squared)."""
    from .._model_format import OUTPUT_LAYERS

    return OUTPUT_LAYERS[meta["output"]]


def classes_of(path: str, meta: dict[str, Any]) -> list[Any]:
    """The class labels of a classifier (checked by the loader: one per class, distinct and
    sorted, exactly of their dtype), which the command prints: numbers, or printable text
    (never a line break or a comma)."""
    classes = cast("list[Any]", meta["classes"])
    texts = all(isinstance(c, str) for c in classes)
    if texts and not all(0 < len(c) <= 200 and c.isprintable() and "," not in c for c in classes):
        raise BadInput(
            f"{path!r}: its classes {one_line(repr(classes), 120)} cannot be printed one per "
            "line (printable names of at most 200 characters without commas)"
        )
    return classes


def save_model(
    path: str, params: dict[str, Any] | None, *, estimator: Any = None, **description: Any
) -> None:
    """Save a trained model with ``portable_net.save`` (the one writer of model files): the
    parameters ``params``, or a fitted ``estimator`` by the estimators' own record of it
    (``description`` said beside); or Failure (exit 1) when the file cannot be written."""
    from .. import save
    from ..estimators import _persistence

    try:
        if estimator is not None:
            _persistence.save(estimator, path, **description)
        else:
            assert params is not None
            save(path, params, **description)
    except OSError as exc:
        raise Failure(f"could not save the model to {path!r}: {_write_error(exc)}") from None
