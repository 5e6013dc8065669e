"""What the commands do alike at run time: the backend, output files, saved models, signals."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import signal
import stat
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from .._backend import backend_name, device_label, get_namespace, resolve_device, to_host
from ._args import BadInput, Failure, one_line

__all__ = ["to_host"]

PLOT_FORMATS = ("eps", "jpeg", "jpg", "pdf", "png", "ps", "svg", "svgz", "tif", "tiff", "webp")


def namespace(
    parser: argparse.ArgumentParser, args: argparse.Namespace, float64: bool
) -> tuple[Any, Any]:
    """The namespace and device object asked for, or a usage error."""
    try:
        xp = get_namespace(args.backend)
        device = resolve_device(xp, args.device)
    except (ValueError, ImportError) as exc:
        parser.error(f"argument --backend/--device: {exc}")
    if backend_name(xp) == "jax" and float64:
        import jax

        jax.config.update("jax_enable_x64", True)  # this process is ours: allow float64
    if backend_name(xp) == "jax":
        from ..engines.jax_engine import use_compilation_cache

        where = os.environ.get("PORTABLE_NET_JAX_CACHE", "")  # a directory, or "off"
        try:  # compiled programs kept on disk: the next process starts warm
            if where.lower() not in ("off", "0", "no", "false"):
                use_compilation_cache(where or None)
        except OSError:
            pass  # no writable cache directory: compile as usual
    return xp, device


def describe_device(xp: Any, device: Any) -> str:
    if device is None:
        device = xp.asarray(0).device
    return device_label(device)


# --- output files: checked before work starts, written whole or not at all ----------------


def check_output(parser: argparse.ArgumentParser, option: str, path: str | None) -> None:
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


def check_plot(parser: argparse.ArgumentParser, path: str | None) -> None:
    """--plot needs matplotlib, a known picture format and a writable path."""
    if path is None:
        return
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in PLOT_FORMATS:
        parser.error(
            f"argument --plot: cannot tell the picture format of {path!r}; end the name "
            f"with one of {', '.join('.' + f for f in PLOT_FORMATS)}"
        )
    check_output(parser, "--plot", path)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        parser.error(
            "argument --plot: drawing pictures needs matplotlib, which is not installed: "
            "pip install 'portable-net[plot]'"
        )


@contextlib.contextmanager
def replacing(path: str, what: str) -> Iterator[Any]:
    """A binary file object whose content replaces ``path`` once the block ends; on any
    error or interrupt the temporary file beside it is removed and ``path`` is untouched.
    ``what`` starts the error message: "could not write {what}'path': reason"."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise Failure(f"could not write {what}{path!r}: {exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        mode = target.stat().st_mode & 0o777 if target.exists() else 0o666 & ~_umask()
        os.chmod(tmp, mode)  # mkstemp makes 0600; give what open() would
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise Failure(f"could not write {what}{path!r}: {exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_figure(fig: Any, path: str) -> None:
    """Save a matplotlib figure to ``path``, in the format its suffix names."""
    suffix = Path(path).suffix.lower().lstrip(".")
    try:
        with replacing(path, "the picture ") as f:
            fig.savefig(f, dpi=100, format=suffix)
    except ValueError as exc:
        raise Failure(f"could not write the picture {path!r}: {exc}") from None


@contextlib.contextmanager
def output(path: str | None) -> Iterator[Any]:
    """stdout, or the file at path (written whole or not at all)."""
    if path is None or path == "-":
        yield sys.stdout
        return
    buffer = io.StringIO()
    yield buffer
    with replacing(path, "") as f:
        f.write(buffer.getvalue().encode("utf-8"))


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


def classes_of(path: str, meta: dict[str, Any]) -> list[Any]:
    """The class labels of a model, checked as ``Classifier.load`` checks them: one per
    output, distinct and sorted; integers, or printable text (never a line break)."""
    n_classes = meta["layer_sizes"][-1]
    classes = meta.get("classes", list(range(n_classes)))
    ints = isinstance(classes, list) and all(
        isinstance(c, int) and not isinstance(c, bool) for c in classes
    )
    texts = isinstance(classes, list) and all(
        isinstance(c, str) and 0 < len(c) <= 200 and c.isprintable() and "," not in c
        for c in classes
    )
    if not ((ints or texts) and len(classes) == n_classes and classes == sorted(set(classes))):
        raise BadInput(
            f"{path!r}: its classes {one_line(repr(classes), 120)} are not {n_classes} distinct "
            "sorted labels (integers, or printable names without commas), one per output"
        )
    return cast("list[Any]", classes)


# --- signals: SIGTERM ends a run as Ctrl-C does, cleaning up what it was writing -------------


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: raised where the program was, so that partly written files are
    removed on the way out."""


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (once; a second is ignored)."""

    def handler(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the clean-up must not be cut short
        raise Terminated

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: signals cannot be handled here
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
