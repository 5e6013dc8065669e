"""Text from outside (a file's values, an exception, a user's argument) as one line of an
error message: printable, and short enough to read."""

from __future__ import annotations

from typing import Any

#: the longest text a message quotes, in characters
MAX_MESSAGE = 300


def one_line(text: Any, limit: int = MAX_MESSAGE) -> str:
    """``text`` as one printable line of at most ``limit`` characters (control characters
    escaped, the middle of a long text replaced by ``...``).

    Examples
    --------
    >>> one_line("a\\nb" + "c" * 20, limit=12)
    'a\\\\nbcc...ccc'
    """
    line = "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in str(text)
    )
    if len(line) > limit:
        keep = limit - 3
        line = line[: keep - keep // 3] + "..." + line[len(line) - keep // 3 :]
    return line


def reason(exc: BaseException) -> str:
    """An exception's message as one line (its whitespace runs one space; its type's name
    when it has no message)."""
    return one_line(" ".join(str(exc).split()) or type(exc).__name__, 200)


def shown(value: Any, limit: int = 200) -> str:
    """``value`` quoted (its ``repr``) on one line of at most ``limit`` characters."""
    return one_line(repr(value), limit)
