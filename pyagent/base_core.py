"""BaseCore: durable state files for every PyAgent core (seed section 2, ``save_atomic``).

:func:`save_atomic` replaces a file so that a reader, a crash or a concurrent writer can
only ever see the complete old content or the complete new content: the data goes to a
fresh temporary file in the same folder, which is flushed and fsynced, renamed over the
target, and the folder is fsynced so the rename is durable too.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import stat
from pathlib import Path
from typing import Any

try:
    import rust_core as rc
except ImportError:
    rc = None  # type: ignore[assignment, unused-ignore]

__all__ = ["BaseCore", "save_atomic"]

StrPath = str | os.PathLike[str]


def _target(path: object) -> tuple[str, str, str]:
    target = os.fspath(path)  # type: ignore[call-overload]
    if not isinstance(target, str):
        raise TypeError("save_atomic paths must be str or os.PathLike[str]")
    folder, name = os.path.split(target)
    if name in ("", ".", ".."):
        raise ValueError(f"save_atomic needs a path to a file, got {target!r}")
    return target, folder or ".", name


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

    ``data`` is written as is when bytes-like, as UTF-8 when a str, and as JSON otherwise
    (``ensure_ascii=False``; NaN and infinities are a ValueError, unserialisable objects a
    TypeError). An existing target keeps its permission bits; a new one gets ``0o666`` less
    the umask. On any error the target is untouched and no temporary file remains; the
    error is the OSError subclass the failing system call gives (FileNotFoundError,
    PermissionError, IsADirectoryError, ...).
    """
    if rc is not None and hasattr(rc, "save_atomic"):
        return rc.save_atomic(path, data)
    target, folder, name = _target(path)
    payload = _payload(data)
    try:
        keep_mode: int | None = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        keep_mode = None
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    while True:
        temp = os.path.join(folder, f".{name}.{secrets.token_hex(8)}.tmp")
        try:
            fd = os.open(temp, flags, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            if keep_mode is not None:
                os.fchmod(handle.fileno(), keep_mode)
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        # Best effort: the original error is the one the caller needs.
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
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
        """The last saved state, or ``default`` when none was saved."""
        try:
            return json.loads(self.state_path.read_bytes())
        except FileNotFoundError:
            return default
