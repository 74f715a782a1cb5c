"""BaseCore: durable state files for every PyAgent core (seed section 2, ``save_atomic``).

:func:`save_atomic` replaces a file so that a reader, a crash or a concurrent writer can
only ever see the complete old content or the complete new content: the data goes to a
fresh temporary file in the same folder, which is flushed and fsynced, renamed over the
target, and the folder is fsynced so the rename is durable too.

Temporary files and recovery
----------------------------
The temporary file of a target named ``name`` is ``.<name>.<16 hex digits>.tmp`` in the
target's folder. A name too long for that to fit in 255 bytes (``NAME_MAX``; names of 234
to 255 bytes) gets ``.<first 200 bytes of name>~<16 hex digits of its SHA-256>.<16 hex
digits>.tmp`` instead, so every valid file name can be saved. The writer holds an exclusive
``flock`` on its temporary file from creation until the rename. A writer killed meanwhile
(SIGKILL, power cut) leaves its temporary file behind, unlocked; the next save of the same
target removes every such leftover that is a regular file owned by the same user, has this
naming pattern, and whose lock can be taken, i.e. no live writer holds it. A live
writer's temporary file is never removed, and a writer that loses the instant between
creating its file and locking it to such a clean-up notices and starts over with a new
name. Both backends use the same names and the same lock, so either one cleans up after
the other.

Symbolic links and permission bits
----------------------------------
A target that is a symbolic link is written through: the file the link points to (after
following up to 40 links; a dangling link creates its target) is replaced, and the link
itself stays, as ``open(path, "w")`` would treat it. An existing target keeps its
permission bits except setuid and setgid, which are dropped: new content must not inherit
the right to run as the file's owner or group, as a write by anyone but root clears them
too. A new target gets ``0o666`` less the umask. The new file belongs to the writer
(owner, group, ACLs and extended attributes are not copied), and a hard link to the old
file keeps the old content.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import secrets
import stat
from pathlib import Path
from typing import Any

from pyagent._files import read_regular, str_path

try:
    import rust_core as rc
except ImportError:
    rc = None  # type: ignore[assignment, unused-ignore]

__all__ = ["BaseCore", "save_atomic"]

StrPath = str | os.PathLike[str]

#: The longest file name most file systems allow (``NAME_MAX``), in bytes.
NAME_MAX = 255
#: Bytes of a long name kept in its temporary files' names.
_LONG_NAME_KEPT = 200
#: Symbolic links followed from the target before giving up with ELOOP (Linux's limit).
_MAX_LINKS = 40
#: Tries to create and lock a temporary file before giving up.
_ATTEMPTS = 64
_TEMP_TAIL = re.compile(rb"[0-9a-f]{16}\.tmp")
_SETID_BITS = stat.S_ISUID | stat.S_ISGID


def _split(target: str) -> tuple[str, str]:
    folder, name = os.path.split(target)
    if name in ("", ".", ".."):
        raise ValueError(f"save_atomic needs a path to a file, got {target!r}")
    return folder or ".", name


def _follow_links(target: str) -> str:
    """``target`` with symbolic links in its last component followed; the path to write."""
    for _ in range(_MAX_LINKS):
        try:
            link = os.readlink(target)
        except OSError as exc:
            # Not a link (EINVAL) or nothing there yet: this is the file to write.
            if exc.errno in (errno.EINVAL, errno.ENOENT):
                return target
            raise
        target = os.path.join(os.path.dirname(target), link)
    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), target)


def _temp_prefix(name: str) -> bytes:
    """The start of every temporary file name of target ``name`` (module docstring)."""
    raw = os.fsencode(name)
    if len(raw) + len(b"..") + 16 + len(b".tmp") <= NAME_MAX:
        return b"." + raw + b"."
    digest = hashlib.sha256(raw).hexdigest()[:16].encode()
    return b"." + raw[:_LONG_NAME_KEPT] + b"~" + digest + b"."


def _remove_if_stale(path: str) -> None:
    """Removes the temporary file at ``path`` if it is ours and no live writer locks it."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
            return
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # OSError: a live writer holds it
        now = os.lstat(path)
        if (now.st_dev, now.st_ino) == (info.st_dev, info.st_ino):
            os.unlink(path)
    except OSError:
        return
    finally:
        os.close(fd)


def _remove_stale_temps(folder: str, prefix: bytes) -> None:
    """Removes the temporary files of killed writers of the target with ``prefix``.

    Best effort: a folder that cannot be listed, or a file that cannot be removed, is left
    as it is; the save itself goes on.
    """
    try:
        with os.scandir(folder) as entries:
            names = [entry.name for entry in entries]
    except OSError:
        return
    for name in names:
        raw = os.fsencode(name)
        if raw.startswith(prefix) and _TEMP_TAIL.fullmatch(raw, len(prefix)):
            _remove_if_stale(os.path.join(folder, name))


def _create_locked_temp(folder: str, prefix: bytes) -> tuple[str, int]:
    """A new temporary file, created and exclusively locked: ``(path, descriptor)``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    for _ in range(_ATTEMPTS):
        temp = os.path.join(folder, os.fsdecode(prefix + secrets.token_hex(8).encode() + b".tmp"))
        try:
            fd = os.open(temp, flags, 0o666)
        except FileExistsError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            mine = os.fstat(fd)
            now = os.lstat(temp)
            if (now.st_dev, now.st_ino) == (mine.st_dev, mine.st_ino):
                return temp, fd
        except (BlockingIOError, FileNotFoundError):
            # Another save's clean-up took the file in the instant before our lock.
            with contextlib.suppress(OSError):
                if os.lstat(temp).st_ino == os.fstat(fd).st_ino:
                    os.unlink(temp)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        os.close(fd)
    raise BlockingIOError(errno.EAGAIN, "no temporary file could be locked", folder)


def _payload(data: object) -> bytes | memoryview:
    if isinstance(data, str):
        return data.encode("utf-8")
    try:
        view = memoryview(data)  # type: ignore[arg-type]
    except TypeError:
        # Not bytes-like: JSON, with the same encoder settings as the native path.
        return json.dumps(data, ensure_ascii=False, allow_nan=False).encode("utf-8")
    if not view.c_contiguous:
        raise BufferError("memoryview: underlying buffer is not C-contiguous")
    return view


def save_atomic(path: StrPath, data: bytes | str | Any) -> None:
    """Writes ``data`` to ``path`` atomically and durably.

    ``data`` is written as is when bytes-like (C-contiguous, else BufferError), as UTF-8
    when a str, and as JSON otherwise (``ensure_ascii=False``; NaN and infinities are a
    ValueError, unserialisable objects a TypeError). ``path`` is str or ``os.PathLike[str]``
    (bytes is a TypeError, a NUL character a ValueError; names that are not UTF-8 work, as
    :func:`os.fsencode` gives them). A symbolic link is written through; an existing target
    keeps its permission bits but setuid and setgid; a new one gets ``0o666`` less the umask
    (module docstring). Temporary files left by killed writers of this target are removed
    first. On any error the target is untouched and no temporary file remains; the error is
    the OSError subclass the failing system call gives (FileNotFoundError, PermissionError,
    IsADirectoryError, ...).
    """
    if rc is not None and hasattr(rc, "save_atomic"):
        return rc.save_atomic(path, data)
    target = str_path(path, "save_atomic path")
    _split(target)
    payload = _payload(data)
    target = _follow_links(target)
    folder, name = _split(target)
    try:
        keep_mode: int | None = stat.S_IMODE(os.stat(target).st_mode) & ~_SETID_BITS
    except FileNotFoundError:
        keep_mode = None
    prefix = _temp_prefix(name)
    _remove_stale_temps(folder, prefix)
    temp, fd = _create_locked_temp(folder, prefix)
    try:
        with open(fd, "wb", closefd=False) as handle:
            handle.write(payload)
        if keep_mode is not None:
            os.fchmod(fd, keep_mode)
        os.fsync(fd)
        # Renamed while still locked, so no clean-up can take it first.
        os.replace(temp, target)
    except BaseException:
        # Best effort: the original error is the one the caller needs.
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    finally:
        os.close(fd)
    dir_fd = os.open(folder, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return None


class BaseCore:
    """The base of every PyAgent core: a name and a durable JSON state file."""

    def __init__(self, name: str, state_dir: StrPath = ".") -> None:
        self.name = name
        self.state_path = Path(state_dir) / f"{name}.json"

    def save_state(self, state: Any) -> None:
        """Persists ``state`` as JSON with :func:`save_atomic`."""
        save_atomic(self.state_path, state)

    def load_state(self, default: Any = None) -> Any:
        """The last saved state, or ``default`` when none was saved.

        Only a regular file is read (see :mod:`pyagent._files`): a state path that became a
        FIFO or a link to a device raises at once instead of blocking or reading for ever.
        """
        try:
            return json.loads(read_regular(self.state_path))
        except FileNotFoundError:
            return default
