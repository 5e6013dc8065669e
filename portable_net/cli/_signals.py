"""How the command ends, whatever happens around it: signals and the standard streams.

- Every signal whose default is to end the process and that Python can catch (SIGINT,
  SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, ...) ends a run as Ctrl-C does: raised where the
  program was, so that a file being written is removed and an interrupted ``train --save``
  saves the parameters reached; the exit status is 128 + the signal's number (130 for
  Ctrl-C, 143 for SIGTERM). A signal that arrives while a module is being imported, while
  JAX traces, lowers or compiles a program or reads and writes its persistent compilation
  cache, or while a callback runs (a finaliser, JAX's garbage-collection hook) is raised as
  soon as that is done: an exception raised there is swallowed (the run goes on) or crashes
  the process. Waiting for a result (``float(loss)``) is interrupted at once, as in a NumPy
  run. A second signal during the clean-up is ignored; a third ends the process at once.
- A closed stdin, stdout or stderr never lets a file the command opens take its number; a
  closed stdout, or one that cannot be written (``/dev/full``), is one line on stderr and
  exit status 1; text that the terminal's encoding cannot show (``LC_ALL=C``) is written
  with backslash escapes.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import signal
import sys
from collections.abc import Iterator
from typing import Any

__all__ = ["ENDING", "Terminated", "interrupts", "prepare_streams"]

#: the signals that end the process by default and that Python can catch (those that exist
#: here); SIGINT raises KeyboardInterrupt, the others :class:`Terminated`
_NAMES = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM",
          "SIGVTALRM", "SIGPROF", "SIGXCPU", "SIGXFSZ", "SIGIO", "SIGPWR")  # fmt: skip
ENDING = tuple(getattr(signal, name) for name in _NAMES if hasattr(signal, name))
#: how often a signal that arrived inside JAX's compiler looks again whether it has finished
_RETRY_SECONDS = 0.01
#: the packages whose tracing, lowering, compiler and compilation cache a signal does not
#: interrupt, and the words that name those modules (jax._src.interpreters.pxla,
#: jax._src.compiler, compilation_cache, lru_cache, cache_key, jaxlib.mlir)
_DEFERRED = ("jax", "jaxlib")
_DEFERRED_MODULES = ("compil", "cache", "interpreters", "mlir")


class Terminated(KeyboardInterrupt):
    """A signal other than SIGINT arrived (``signum``): raised where the program was, so that
    partly written files are removed (and an interrupted run saved) on the way out."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


def _in_deferred_code(frame: Any) -> bool:
    """Whether the main thread is where an exception must not be raised: a callback at the
    top of the stack (a finaliser, a garbage-collection hook: what it raises is ignored),
    JAX's tracing, lowering, compiler or compilation cache anywhere on it, or an import in
    progress."""
    if frame is not None and (
        frame.f_code.co_name == "__del__" or frame.f_code.co_name.endswith("callback")
    ):
        return True
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        if module.startswith("importlib._bootstrap"):
            return True
        if module.split(".", 1)[0] in _DEFERRED and any(w in module for w in _DEFERRED_MODULES):
            return True
        frame = frame.f_back
    return False


@contextlib.contextmanager
def interrupts() -> Iterator[None]:
    """Within the block, each signal of :data:`ENDING` raises KeyboardInterrupt (SIGINT) or
    :class:`Terminated` where the program is (deferred past JAX's compiler); once one has,
    the others are ignored, so that the clean-up is not cut short."""
    pending: list[int] = []
    can_retry = hasattr(signal, "setitimer")

    def handler(signum: int, frame: Any) -> None:
        if signum == getattr(signal, "SIGALRM", None) and pending:
            signum = pending[0]  # the retry's alarm: the signal that waits
        if can_retry and _in_deferred_code(frame):
            if not pending:
                pending.append(signum)
            signal.setitimer(signal.ITIMER_REAL, _RETRY_SECONDS)
            return
        pending.clear()
        for other in ENDING:  # the clean-up must not be cut short (but can be, twice asked)
            with contextlib.suppress(OSError, ValueError):
                signal.signal(other, during_clean_up)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Terminated(signum)

    def during_clean_up(signum: int, frame: Any) -> None:
        later.append(signum)
        if len(later) >= 2:  # a third signal: the process ends as the signal's default
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    later: list[int] = []

    previous: dict[int, Any] = {}
    try:
        for signum in ENDING:
            previous[signum] = signal.signal(signum, handler)
    except ValueError:  # not the main thread: signals cannot be handled here
        for signum, old in previous.items():
            signal.signal(signum, old)
        yield
        return
    except OSError:  # a signal this system does not let a program catch
        pass
    try:
        yield
    finally:
        if can_retry:
            signal.setitimer(signal.ITIMER_REAL, 0)
        for signum, old in previous.items():
            with contextlib.suppress(OSError, ValueError, TypeError):
                signal.signal(signum, old if old is not None else signal.SIG_DFL)


# --- the standard streams ----------------------------------------------------------------


class _Closed(io.TextIOBase):
    """A standard stream that was closed when the command started: reading or writing it is
    an OSError naming it (one line, exit status 1 or 2), never an AttributeError on None."""

    def __init__(self, name: str, writing: bool) -> None:
        super().__init__()
        self._name, self._writing = name, writing

    def _fail(self, *args: Any) -> Any:
        raise OSError(errno.EBADF, f"{self._name} is closed")

    def readable(self) -> bool:
        return not self._writing

    def writable(self) -> bool:
        return self._writing

    write = read = readline = _fail

    @property
    def buffer(self) -> Any:
        return _ClosedBuffer(self._name)


class _ClosedBuffer(io.RawIOBase):
    def __init__(self, name: str) -> None:
        super().__init__()
        self._name = name

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise OSError(errno.EBADF, f"{self._name} is closed")


def prepare_streams() -> None:
    """Before any work: a closed stdin, stdout or stderr gets ``/dev/null`` in its place (so
    that no file the command opens takes its number) and a Python stream that fails in one
    line; stdout and stderr write what their encoding cannot show as backslash escapes."""
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        try:
            os.fstat(fd)
            closed = False
        except OSError:
            closed = True
        if closed:
            with contextlib.suppress(OSError):
                null = os.open(os.devnull, os.O_RDWR)
                if null != fd:
                    os.dup2(null, fd)
                    os.close(null)
            setattr(sys, name, _Closed(name, writing=fd != 0))
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        encoding = str(getattr(stream, "encoding", "") or "").lower().replace("-", "")
        if reconfigure is not None and encoding != "utf8":
            with contextlib.suppress(Exception):
                reconfigure(errors="backslashreplace")


def flush_stdout() -> str | None:
    """Flush stdout; on failure (a full disk, a closed stream), why, and stdout pointed at
    ``/dev/null`` so that the interpreter's own last flush finds nothing to write."""
    try:
        sys.stdout.flush()
        return None
    except OSError as exc:
        with contextlib.suppress(OSError):
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, sys.stdout.fileno())
            os.close(null)
        return exc.strerror or str(exc)
    except (AttributeError, ValueError):  # a stream without flush, or already closed
        return None
