"""The command's progress bar: ``train``'s steps (the spiral) or epochs (``--data``), drawn
on stderr when stderr is a terminal, once a run has lasted ``DELAY`` seconds (a run shorter
than that shows none), and never with ``--quiet``.

It is the command's own (a line of text redrawn in place, ``\\r`` and the terminal's "erase
to the end of the line"), so that every install shows it: no optional library is needed.
It moves when the run reports (a logged step, an epoch's end), never in between: it adds no
synchronisation with the device. The loss lines printed meanwhile go to stdout above it
(:meth:`Progress.write`); once the run ends the bar is erased (:meth:`Progress.close`).
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from typing import IO

__all__ = ["DELAY", "Progress", "progress"]

#: seconds a run lasts before its bar is drawn
DELAY = 2.0
#: the least time between two redraws
_REDRAW = 0.1
#: the terminal's "erase from the cursor to the end of the line" (ANSI, ECMA-48 EL)
_ERASE = "\x1b[K"


class Progress:
    """A bar of ``total`` ``unit``s (steps or epochs) on ``stream``; inert when not
    ``enabled``. ``clock``: seconds (``time.monotonic``; the tests give their own)."""

    def __init__(self, total: int, unit: str, *, enabled: bool, stream: IO[str] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.total, self.unit, self.enabled = max(int(total), 1), unit, enabled
        self.stream = sys.stderr if stream is None else stream
        self.clock = clock
        self.start = clock()
        self.done = 0
        self.loss: float | None = None
        self.drawn = False  # the bar is on the screen
        self.last = -_REDRAW  # when it was last drawn

    def update(self, done: int, loss: float | None = None) -> None:
        """``done`` units of ``total`` reached (and the loss there, shown beside)."""
        self.done, self.loss = min(int(done), self.total), loss
        if not self.enabled:
            return
        now = self.clock()
        if now - self.start < DELAY or (now - self.last < _REDRAW and self.done < self.total):
            return
        self._draw(now)

    def write(self, line: str) -> None:
        """Print ``line`` on stdout, above the bar."""
        if self.drawn:
            self._erase()
        print(line, flush=True)
        if self.drawn:
            self._draw(self.clock())

    def close(self) -> None:
        """Erase the bar (the run's lines and results stay)."""
        if self.drawn:
            self._erase()
            self.drawn = False
        self.enabled = False

    def text(self, now: float) -> str:
        """The bar as drawn at time ``now``, fitted to the terminal's width."""
        elapsed = max(now - self.start, 1e-9)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate > 0 else None
        tail = f" {self.done}/{self.total} {self.unit}s {_clock(elapsed)}"
        tail += f"<{_clock(left)}" if left is not None else ""
        if rate >= 1:
            tail += f", {rate:.3g} {self.unit}s/s"
        elif rate > 0:
            tail += f", {1 / rate:.3g} s/{self.unit}"
        if self.loss is not None:
            tail += f", loss {self.loss:.4g}"
        columns = shutil.get_terminal_size((80, 24)).columns - 1
        width = max(10, min(40, columns - len(tail) - 7))
        filled = width * self.done // self.total
        percent = 100 * self.done // self.total
        return f"{percent:3d}% |{'#' * filled}{'.' * (width - filled)}|{tail}"[:columns]

    def _draw(self, now: float) -> None:
        self.stream.write("\r" + self.text(now) + _ERASE)
        self.stream.flush()
        self.drawn, self.last = True, now

    def _erase(self) -> None:
        self.stream.write("\r" + _ERASE)
        self.stream.flush()


def _clock(seconds: float) -> str:
    """Seconds as m:ss (h:mm:ss from an hour)."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress(total: int, unit: str, quiet: bool) -> Progress:
    """The bar of a run of ``total`` units: drawn when stderr is a terminal and not
    ``quiet``."""
    on_terminal = bool(getattr(sys.stderr, "isatty", lambda: False)())
    return Progress(total, unit, enabled=on_terminal and not quiet and total > 0)
