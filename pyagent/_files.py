"""File helpers shared by the cores: path arguments, and reading only regular files.

Every document a core reads from a path (config shards, token ranks, files to hash) goes
through :func:`open_regular`. Opening a FIFO with a plain ``open`` waits for a writer that
may never come, and reading a character device (``/dev/zero``, also behind a symlink) never
ends; a folder cannot be read at all. So the file is opened with ``O_NONBLOCK`` (which does
not wait for a FIFO's writer and changes nothing for a regular file), inspected with
``fstat`` on the very descriptor that will be read (no race with a rename in between), and
refused at once unless it is a regular file:

* a folder is :class:`IsADirectoryError` (``errno.EISDIR``), as ``open`` raises it;
* a FIFO, socket or device is :class:`OSError` with ``errno.EINVAL`` and the strerror
  :data:`NOT_REGULAR` (``"[Errno 22] not a regular file: 'path'"``).

``rust_core`` applies the same rule with the same classes
(``rust_core/src/storage/regular_file.rs``).
"""

from __future__ import annotations

import errno
import os
import stat

from pyagent._builtin import stored

__all__ = ["NOT_REGULAR", "check_regular", "open_regular", "read_regular", "str_path"]

#: The strerror of the OSError raised for a FIFO, socket or device.
NOT_REGULAR = "not a regular file"

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | os.O_CLOEXEC


def str_path(path: object, what: str) -> str:
    """``os.fspath(path)`` as str: TypeError for bytes or a non-path, ValueError for a NUL.

    Names that are not UTF-8 arrive as :func:`os.fsdecode` gives them (surrogate escapes) and
    go back to the OS as :func:`os.fsencode` bytes, so they round-trip.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{what} must be str or os.PathLike[str], not {type(path).__name__}")
    text = os.fspath(path)
    if not isinstance(text, str):
        raise TypeError(f"{what} must be str or os.PathLike[str], not bytes")
    text = stored(text)  # a str subclass by its text: no overridden __contains__ runs
    if "\0" in text:
        raise ValueError(f"{what} contains a NUL character")
    os.fsencode(text)  # UnicodeEncodeError now for a lone surrogate, as rust_core raises
    return text


def check_regular(mode: int, path: object) -> None:
    """Raises unless ``mode`` (an ``st_mode``) is a regular file's (see the module docstring)."""
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    raise OSError(errno.EINVAL, NOT_REGULAR, path)


def open_regular(path: str | bytes | os.PathLike[str] | os.PathLike[bytes]) -> int:
    """A read-only descriptor of the regular file at ``path`` (symlinks followed).

    Never blocks on a FIFO and never hands out a folder, FIFO, socket or device: those raise
    as :func:`check_regular` says. The caller owns (and closes) the descriptor.
    """
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        # A socket (or a device without a driver) cannot even be opened: ENXIO. It is still
        # "not a regular file", the error every other special file gives.
        if exc.errno == errno.ENXIO:
            try:
                mode = os.stat(path).st_mode
            except OSError:
                raise exc from None
            check_regular(mode, os.fspath(path))
        raise
    try:
        check_regular(os.fstat(fd).st_mode, os.fspath(path))
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular(path: str | bytes | os.PathLike[str] | os.PathLike[bytes]) -> bytes:
    """The whole content of the regular file at ``path`` (see :func:`open_regular`)."""
    with open(open_regular(path), "rb") as handle:
        return handle.read()
