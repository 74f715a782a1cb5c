r"""FileSystemCore: bulk file discovery and hashing (seed: Bulk FS Operations).

Two hot paths, both I/O bound and both run natively with the GIL released and in parallel:

:func:`discover_files`
    Every regular file under ``root`` whose path relative to ``root`` matches one of
    ``patterns`` and none of ``ignore``, as sorted relative POSIX path strings.

:func:`bulk_hash_files`
    The hex digest of each file's raw bytes, read in fixed-size chunks (constant memory per
    file), with an error per path for any file that cannot be read.

Glob patterns
-------------
Patterns are matched against the POSIX path relative to ``root`` (``a/b/c.txt``, no leading
``./``), case-sensitively. They are NOT :mod:`fnmatch` patterns, whose ``*`` crosses ``/``:

``*``
    any run of characters within one path segment (never ``/``), including none; a leading
    dot is not special, so ``*`` matches hidden files too.
``?``
    exactly one character other than ``/``.
``[...]``
    one character from the set: single characters and ranges ``a-z``; ``[!...]`` or
    ``[^...]`` negates it. A ``]`` right after the opening ``[`` (or ``[!``) is literal, a
    ``-`` first or last is literal, ``\`` escapes the next character. A set never matches
    ``/``.
``**``
    as a whole segment (``**/x``, ``a/**/b``, ``a/**``): zero or more whole segments. Within
    a segment (``a**b``) it is just ``*``.
``\c``
    the character ``c`` literally.

A pattern without a ``/`` matches the file or folder name at any depth, as in ``.gitignore``
(``*.py`` is ``**/*.py``); a pattern with a ``/`` matches the whole relative path (a leading
``/`` only anchors and is dropped). A trailing ``/`` makes a pattern match folders only, which
is useful in ``ignore`` (``build/``). An empty pattern, an empty segment (``a//b``), an
unclosed ``[``, a reversed range (``[z-a]``) or a trailing lone ``\`` is a ValueError.

Walk semantics
--------------
Only regular files are listed. Symbolic links are neither followed nor listed (a link to a
file is not a file of the tree; a link to a folder is not descended), so link loops are
harmless; sockets, FIFOs and devices are not listed either. A folder that matches an
``ignore`` pattern is not descended at all, and a file that matches one is left out.
``root`` itself may be a link to a folder. A missing ``root`` is FileNotFoundError, a ``root``
that is not a folder NotADirectoryError. The tree may change during the walk: an entry or a
folder below ``root`` that vanishes (or stops being a folder) before it is read is skipped, as
if it had never been there. A folder below ``root`` that cannot be read raises
its OSError (PermissionError, ...) instead of silently shortening the list; ignore it to skip
it. If several cannot be read, the error is the first one in a depth-first walk that visits
names in sorted order. Names that are not valid UTF-8 come back as :func:`os.fsdecode` gives
them (``surrogateescape``), and the output is sorted as Python sorts ``str``.

Hash results
------------
:func:`bulk_hash_files` returns one ``(path, digest, error)`` tuple per input path, in input
order: ``path`` is ``os.fspath`` of the input, ``digest`` the lower-case hex digest or None,
``error`` None or ``"<OSError subclass>: [Errno N] <strerror>"`` (for example
``"FileNotFoundError: [Errno 2] No such file or directory"``). A folder is
``IsADirectoryError``; a FIFO, socket or device is ``"OSError: not a regular file"`` (reading
one could block forever or never end). Nothing is dropped. Algorithms are CacheCore's
(md5, sha1, sha256, sha512, names ignoring ASCII case); another name is ValueError.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

from pyagent._files import NOT_REGULAR as _NOT_REGULAR_REASON
from pyagent._files import open_regular
from pyagent._files import str_path as _str_path
from pyagent.cache_core import _algorithm

try:
    import rust_core as rc
except ImportError:
    rc = None  # type: ignore[assignment, unused-ignore]

__all__ = ["HashResult", "NOT_REGULAR", "bulk_hash_files", "discover_files"]

#: One result of :func:`bulk_hash_files`: ``(path, hex digest or None, error or None)``.
HashResult = tuple[str, str | None, str | None]

#: The error reported for a path that is neither a regular file nor a folder.
NOT_REGULAR = "OSError: not a regular file"

#: Bytes read per ``readinto``; the same chunk size the native path uses.
CHUNK = 1 << 18

StrPath = str | os.PathLike[str]


# --- glob patterns -------------------------------------------------------------------------


def _class(seg: str, start: int) -> tuple[str, int]:
    """The regex for the ``[...]`` set opening at ``seg[start]`` and the index after it."""
    n = len(seg)
    j = start + 1
    negated = j < n and seg[j] in "!^"
    if negated:
        j += 1
    ranges: list[tuple[str, str]] = []
    first = True
    while True:
        if j >= n:
            raise ValueError(f"unclosed '[' in glob segment {seg!r}")
        ch = seg[j]
        if ch == "]" and not first:
            j += 1
            break
        first = False
        lo, j = _class_char(seg, j)
        if j + 1 < n and seg[j] == "-" and seg[j + 1] != "]":
            hi, j = _class_char(seg, j + 1)
            if hi < lo:
                raise ValueError(f"reversed range {lo!r}-{hi!r} in glob segment {seg!r}")
        else:
            hi = lo
        ranges.append((lo, hi))
    parts = []
    for lo, hi in ranges:
        # Split ranges around '/' so a set can never match a separator.
        pieces = [(lo, hi)]
        if lo <= "/" <= hi:
            pieces = [(lo, chr(ord("/") - 1)), (chr(ord("/") + 1), hi)]
        for a, b in pieces:
            if a <= b:
                parts.append(re.escape(a) if a == b else f"{re.escape(a)}-{re.escape(b)}")
    if negated:
        return "[^/" + "".join(parts) + "]", j
    # An empty positive set (only '/') matches nothing.
    return ("[" + "".join(parts) + "]" if parts else "(?!)"), j


def _class_char(seg: str, j: int) -> tuple[str, int]:
    if seg[j] == "\\":
        if j + 1 >= len(seg):
            raise ValueError(f"dangling '\\' in glob segment {seg!r}")
        return seg[j + 1], j + 2
    return seg[j], j + 1


def _segment(seg: str) -> str:
    """The regex for one path segment of a pattern (never matching ``/``)."""
    out: list[str] = []
    i, n = 0, len(seg)
    while i < n:
        c = seg[i]
        if c == "\\":
            if i + 1 >= n:
                raise ValueError(f"dangling '\\' in glob segment {seg!r}")
            out.append(re.escape(seg[i + 1]))
            i += 2
        elif c == "*":
            while i < n and seg[i] == "*":
                i += 1
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            regex, i = _class(seg, i)
            out.append(regex)
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


@dataclass(frozen=True)
class _Glob:
    """A compiled pattern: matched against ``relative_path + "/"``."""

    regex: re.Pattern[str]
    dirs_only: bool

    def matches(self, rel: str, is_dir: bool) -> bool:
        if self.dirs_only and not is_dir:
            return False
        return self.regex.fullmatch(rel + "/") is not None


def _compile(pattern: str) -> _Glob:
    """Translates one glob (see the module docstring) to a regex over ``path + "/"``.

    Every pattern segment is translated to ``<segment regex>/`` and ``**`` to
    ``(?:[^/]+/)*``, so "zero or more whole segments" needs no special case at either end.
    """
    body = pattern
    dirs_only = body.endswith("/")
    if dirs_only:
        body = body[:-1]
    if "/" in body:
        body = body.removeprefix("/")
        segments = body.split("/")
    else:
        segments = ["**", body]
    if body == "" or "" in segments:
        raise ValueError(f"empty glob pattern or path segment in {pattern!r}")
    regex = "".join("(?:[^/]+/)*" if s == "**" else _segment(s) + "/" for s in segments)
    return _Glob(re.compile(regex, re.DOTALL), dirs_only)


def _globs(patterns: Iterable[object], what: str) -> list[_Glob]:
    if isinstance(patterns, (str, bytes)):
        raise TypeError(f"{what} must be an iterable of str glob patterns, not a single one")
    globs = []
    for pattern in list(patterns):
        if not isinstance(pattern, str):
            raise TypeError(f"each of {what} must be str, not {type(pattern).__name__}")
        globs.append(_compile(pattern))
    return globs


# --- discover_files ------------------------------------------------------------------------


def discover_files(
    root: StrPath, patterns: Iterable[str] = ("*",), ignore: Iterable[str] = ()
) -> list[str]:
    """Sorted relative POSIX paths of the regular files under ``root`` matching ``patterns``.

    A file is listed when one of ``patterns`` matches it and none of ``ignore`` does;
    folders matching ``ignore`` are pruned. Glob syntax, link and error rules: see the module
    docstring. This reference walks depth-first with :func:`os.scandir`, names in sorted
    order, so the first unreadable folder it meets is the one the native walk reports.
    """
    if rc is not None and hasattr(rc, "discover_files"):
        return rc.discover_files(root, patterns, ignore)
    top = _str_path(root, "root")
    wanted = _globs(patterns, "patterns")
    skipped = _globs(ignore, "ignore")
    found: list[str] = []
    stack = [""]  # relative folder paths still to read; "" is root
    while stack:
        rel_dir = stack.pop()
        try:
            subdirs = _read_folder(top, rel_dir, wanted, skipped, found)
        except (FileNotFoundError, NotADirectoryError):
            if not rel_dir:
                raise
            # Removed (or replaced by a file) during the walk: files it listed stay listed.
            continue
        # Depth-first in sorted name order: push the largest first so the smallest pops next.
        stack.extend(sorted(subdirs, reverse=True))
    found.sort()
    return found


def _read_folder(
    top: str, rel_dir: str, wanted: list[_Glob], skipped: list[_Glob], found: list[str]
) -> list[str]:
    """Appends the wanted files of one folder to ``found``; returns its subfolders to walk."""
    subdirs: list[str] = []
    with os.scandir(os.path.join(top, rel_dir) if rel_dir else top) as entries:
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                is_file = not is_dir and entry.is_file(follow_symlinks=False)
            except OSError:  # vanished while we looked: as if it had never been there
                continue
            if not (is_dir or is_file) or any(g.matches(rel, is_dir) for g in skipped):
                continue
            if is_dir:
                subdirs.append(rel)
            elif any(g.matches(rel, False) for g in wanted):
                found.append(rel)
    return subdirs


# --- bulk_hash_files -----------------------------------------------------------------------


def _describe(exc: OSError) -> str:
    return f"{type(exc).__name__}: [Errno {exc.errno}] {exc.strerror}"


def _hash_one(path: str, name: str) -> HashResult:
    try:
        fd = open_regular(path)
    except OSError as exc:
        if exc.errno == errno.EINVAL and exc.strerror == _NOT_REGULAR_REASON:
            return (path, None, NOT_REGULAR)
        return (path, None, _describe(exc))
    try:
        digest = hashlib.new(name)
        buffer = bytearray(CHUNK)
        view = memoryview(buffer)
        with open(fd, "rb", buffering=0, closefd=False) as handle:
            while n := handle.readinto(buffer):
                digest.update(view[:n])
    except OSError as exc:
        return (path, None, _describe(exc))
    finally:
        os.close(fd)
    return (path, digest.hexdigest(), None)


def bulk_hash_files(paths: Iterable[StrPath], algorithm: str = "sha256") -> list[HashResult]:
    """``(path, hex digest or None, error or None)`` for each of ``paths``, in order.

    Each file is streamed in 256 KiB chunks, so memory does not grow with file size; an
    unreadable path gets its error string instead of a digest (format: module docstring). A
    path to a symbolic link hashes the link's target, as ``open`` would.
    ``paths`` are str or ``os.PathLike[str]``; bytes paths, a single str and NUL characters
    are rejected up front (TypeError, TypeError, ValueError), an unknown algorithm is
    ValueError. This reference hashes one file after another; the native path in parallel.
    """
    if rc is not None and hasattr(rc, "bulk_hash_files"):
        return rc.bulk_hash_files(paths, algorithm)
    name = _algorithm(algorithm)
    if isinstance(paths, (str, bytes)):
        raise TypeError("paths must be an iterable of paths, not a single str or bytes")
    texts = [_str_path(p, "each path") for p in paths]
    return [_hash_one(p, name) for p in texts]
