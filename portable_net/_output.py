"""Writing an output file, for every writer of the library and the command line.

One routine, :func:`open_output` (and :func:`write_output` on top of it), decides how a path
is written, and :func:`check_output` says beforehand whether it can be:

- a regular file (new or existing) is written to a temporary file in the same directory and
  moved into place (``os.replace``) once complete: never left half-written, and replaced
  only if it could be written (an existing file without write permission for this user,
  checked on its mode bits even for root, is refused with ``PermissionError``);
- a symlink to a regular file replaces the file it points to (the link stays a link);
- a character device, a FIFO, a symlink to one, or a process's open file
  (``/dev/stdout``, ``/dev/fd/N``, ``/proc/...``) is opened and written through, never
  replaced (a FIFO waits for its reader; nothing is truncated);
- a directory, a socket or a block device is refused;
- an output that is the same file as one of the ``inputs`` (``os.path.samefile``) is refused
  with ``ValueError``, before anything is written.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import secrets
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["check_output", "open_output", "write_output"]

PathLike = str | os.PathLike[str]


def _resolve(path: str) -> tuple[str, bool]:
    """``(target, through_proc)``: the file that ``path``'s symlinks lead to, and whether
    they lead through ``/proc`` (``/dev/stdout``, ``/dev/fd/N``: a process's open file,
    which is written through, as the shell's redirection opened it)."""
    current = os.path.abspath(path)
    for _ in range(40):
        parent = os.path.realpath(os.path.dirname(current))
        current = os.path.join(parent, os.path.basename(current))
        if current.startswith("/proc/"):
            return current, True
        if not os.path.islink(current):
            return current, False
        current = os.path.join(parent, os.readlink(current))  # an absolute link: itself
    raise OSError(errno.ELOOP, f"cannot write {path!r}: too many levels of symbolic links")


def _may_write(st: os.stat_result) -> bool:
    """Whether this user may write a file of this mode and owner. Root may write anything,
    but a file nobody may write (0444) is read-only on purpose: it is refused for root too."""
    if not hasattr(os, "geteuid"):  # Windows: the read-only attribute clears every write bit
        return bool(st.st_mode & stat.S_IWRITE)
    uid = os.geteuid()
    if uid == 0:
        return bool(st.st_mode & 0o222)
    if st.st_uid == uid:
        return bool(st.st_mode & stat.S_IWUSR)
    if st.st_gid == os.getegid() or st.st_gid in os.getgroups():
        return bool(st.st_mode & stat.S_IWGRP)
    return bool(st.st_mode & stat.S_IWOTH)


def _plan(path: PathLike, inputs: Iterable[Any]) -> tuple[str, str, os.stat_result | None]:
    """``(how, target, stat)``: how ``path`` is written ("replace" or "through"), the file
    written, and its status (None for a new file); or the error that refuses it."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or a path, not {type(path).__name__}")
    name = os.fspath(path)
    if not name:
        raise FileNotFoundError(errno.ENOENT, "cannot write an empty path", name)
    target, through_proc = _resolve(name)
    try:
        st: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        st = None
    if st is not None:
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, f"{name!r} is a directory, not a file", name)
        if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
            return "through", name, st
        if not stat.S_ISREG(mode):
            kind = "a socket" if stat.S_ISSOCK(mode) else "a block device or special file"
            raise OSError(errno.EINVAL, f"cannot write {name!r}: it is {kind}", name)
        if not (_may_write(st) and os.access(target, os.W_OK)):
            raise PermissionError(
                errno.EACCES, f"cannot write {name!r}: the file is read-only", name
            )
        for source in inputs:
            if source is None or not isinstance(source, (str, os.PathLike)):
                continue
            with contextlib.suppress(OSError):
                if os.path.samefile(source, target):
                    raise ValueError(
                        f"cannot write {name!r}: it is the input {os.fspath(source)!r}; "
                        "writing it would destroy that input (choose another output file)"
                    )
    if through_proc:
        return "through", name, st
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            errno.ENOENT, f"cannot write {name!r}: directory {directory!r} does not exist", name
        )
    if not os.access(directory, os.W_OK | os.X_OK):  # the temporary file is made there
        raise PermissionError(
            errno.EACCES, f"cannot write {name!r}: directory {directory!r} is not writable", name
        )
    return "replace", target, st


def check_output(path: PathLike, *, inputs: Iterable[Any] = ()) -> None:
    """Raise what writing ``path`` with :func:`open_output` would raise before writing:
    ``PermissionError`` (a read-only file), ``IsADirectoryError``, ``FileNotFoundError``
    (no such directory), ``OSError`` (a socket, a block device, a symlink loop),
    ``ValueError`` (the output is one of ``inputs``). Call it before the work whose result
    is written."""
    _plan(path, inputs)


@contextlib.contextmanager
def open_output(
    path: PathLike, *, inputs: Iterable[Any] = (), encoding: str | None = None
) -> Iterator[IO[Any]]:
    """A file object whose content becomes ``path`` when the block ends (the module's rules:
    a regular file replaced atomically, a device or FIFO written through); on an error or
    interrupt inside the block a regular file is left untouched and no temporary file stays.

    Binary, or text in ``encoding`` (newlines written as ``\\n``).
    """
    how, target, st = _plan(path, inputs)
    if how == "through":
        flags = os.O_WRONLY | os.O_APPEND | getattr(os, "O_BINARY", 0)
        stream: IO[bytes] = io.BufferedWriter(_Stream(os.open(target, flags)))
        with stream as raw, _opened(raw, encoding) as f:
            yield f
        return
    directory, base = os.path.split(target)
    made: list[str] = []  # the temporary's path, known before the file exists
    try:
        fd = _new_temporary(directory, _temporary_prefix(directory, base), made)
        tmp = made[-1]
        with os.fdopen(fd, "wb") as file, _opened(file, encoding) as f:
            yield f
        if st is None:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give what open() would
        else:
            os.chmod(tmp, st.st_mode & 0o7777)  # the replaced file's permissions, owner
            if hasattr(os, "chown") and (st.st_uid, st.st_gid) != _owner(tmp):
                with contextlib.suppress(OSError):
                    os.chown(tmp, st.st_uid, st.st_gid)
        os.replace(tmp, target)
    except BaseException:
        for tmp in made:
            Path(tmp).unlink(missing_ok=True)
        raise


#: the characters of a temporary name's random part (tempfile's)
_LETTERS = "abcdefghijklmnopqrstuvwxyz0123456789_"


def _new_temporary(directory: str, prefix: str, made: list[str]) -> int:
    """A new file ``prefix`` + 8 random characters + ``.tmp`` in ``directory``, opened for
    writing as ``tempfile.mkstemp`` makes one (``O_EXCL``, mode 0600); its descriptor.

    Its path is put in ``made`` before the file is created: a signal raised at any point
    (the command raises them where the program is) leaves the caller knowing what to
    remove, where mkstemp names the file only once it has returned."""
    flags = (os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
             | getattr(os, "O_BINARY", 0))  # fmt: skip
    for _ in range(100):
        made.append(os.path.join(directory, f"{prefix}{_random_part()}.tmp"))
        try:
            return os.open(made[-1], flags, 0o600)
        except FileExistsError:
            made.pop()  # someone else's file: not ours to remove
    raise FileExistsError(errno.EEXIST, "no unused temporary file name", directory)


def _random_part() -> str:
    return "".join(secrets.choice(_LETTERS) for _ in range(8))


#: the bytes of a temporary name beyond its prefix: 8 random characters, ".tmp"
_TEMPORARY_TAIL = 8 + len(".tmp")


def _temporary_prefix(directory: str, base: str) -> str:
    """``.{base}.``, the start of the temporary file's name beside ``base``, shortened (never
    the user's name itself) to fit the file system's limit on a name's bytes with the
    random tail :func:`_new_temporary` adds."""
    try:
        limit = os.pathconf(directory or ".", "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        limit = 255
    limit = 255 if limit is None or limit < 32 else limit
    budget = limit - _TEMPORARY_TAIL - 2  # the two dots
    name = base
    while len(os.fsencode(name)) > budget:  # whole characters off the end: still decodable
        name = name[: max(0, len(name) - max(1, (len(os.fsencode(name)) - budget) // 4))]
    return f".{name}."


class _Stream(io.RawIOBase):
    """A device or FIFO written in order, never seeked: a writer that would seek back (zip
    files) writes a stream instead (``/dev/null`` would take the seek and say position 0)."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        raise OSError(errno.ESPIPE, "a stream has no position")

    def fileno(self) -> int:
        return self._fd

    def write(self, data: Any) -> int:
        return os.write(self._fd, data)

    def close(self) -> None:
        if not self.closed:
            try:
                os.close(self._fd)
            finally:
                super().close()


def _owner(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_uid, st.st_gid


@contextlib.contextmanager
def _opened(raw: IO[bytes], encoding: str | None) -> Iterator[IO[Any]]:
    """``raw`` itself, or text in ``encoding`` written to it (``raw`` stays the caller's)."""
    if encoding is None:
        yield raw
        return
    text = io.TextIOWrapper(raw, encoding=encoding, newline="\n")
    try:
        yield text
    except BaseException:
        with contextlib.suppress(Exception):
            text.detach()
        raise
    text.detach()  # flushes: a full disk is raised here, before the file is replaced


def write_output(
    path: PathLike, write: Callable[[IO[Any]], Any], *, inputs: Iterable[Any] = ()
) -> Path:
    """Write ``path`` with ``write(f)`` (``f``: a binary file object) by the rules of
    :func:`open_output`; returns ``Path(path)``."""
    with open_output(path, inputs=inputs) as f:
        write(f)
    return Path(path)
