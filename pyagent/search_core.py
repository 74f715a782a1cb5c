r"""SearchCore: literal search across a source tree, the way ripgrep searches it (Common/Search).

:func:`find_literal` finds every line containing ``needle`` in the files under ``root`` and
returns one hit per matching line: ``(path, line_number, column, line_text)``, ordered by
path (as bytes) and then line number. It walks the tree like ``rg -F`` does by default:

* hidden files and directories (name starting with ``.``) are skipped, so ``.git`` is never
  entered, unless a ``.gitignore`` negation (``!.name``) re-includes them, as in ripgrep;
* ``.gitignore`` files are honoured in ``root`` and every directory below it, whether or not
  the tree is a git repository (ripgrep's ``--no-require-git``); ``.gitignore`` files above
  ``root``, ``.git/info/exclude``, the global excludes file and ``.ignore``/``.rgignore``
  files are not read (ripgrep's ``--no-ignore-parent --no-ignore-exclude --no-ignore-global
  --no-ignore-dot``);
* symbolic links are not followed and other non-regular files are skipped;
* a file with a NUL byte in its first 8 KiB is binary and skipped;
* unreadable files and directories are skipped, as ripgrep skips them (it only warns).

Gitignore semantics (git's ``gitignore(5)``, as implemented by :class:`_Rule`): blank lines
and ``#`` comments are skipped, trailing unescaped spaces trimmed, ``\#``/``\!`` escape a
leading ``#``/``!``; ``!`` negates; a trailing ``/`` matches directories only; a pattern with
a ``/`` at the start or in the middle is anchored to its ``.gitignore``'s directory, any
other pattern matches a name at any depth; ``*`` and ``?`` and ``[...]`` (``!``/``^``
negation, ranges, ``]`` first is literal, ``\`` escapes) never match ``/``; ``**/``,
``/**/`` and a trailing ``/**`` span directories, other ``**`` act as ``*``. Matching is on
bytes, like git's wildmatch. Within one file the last matching pattern wins; a deeper
``.gitignore`` overrides a shallower one; nothing inside an excluded directory is visited.
Lines that are not valid patterns (a dangling ``\`` or an unclosed ``[``) are skipped.
Brace alternation and POSIX ``[:classes:]`` are not supported (git has no braces either).

The match itself: ``needle`` is a literal (no regex), UTF-8 encoded and searched byte for
byte, so a file in another encoding matches only where its bytes do. ``column`` is the
1-based *byte* offset of the first occurrence in the line (ripgrep's ``--column``).
``line_text`` is the line without its ``\n`` (a ``\r`` before it is kept), decoded as
UTF-8 with ``errors="replace"``, so undecodable bytes never raise. ``ignore_case`` folds
ASCII letters only (``A``-``Z``/``a``-``z``); ripgrep's ``-i`` also folds non-ASCII letters
by Unicode simple case folding, so the two agree on ASCII needles and ASCII-cased text.
``max_count`` limits the hits per file (ripgrep's ``-m``). ``glob`` selects files by name
(the file's base name) with the same wildcard syntax. A UTF-8 byte-order mark is searched as
bytes (ripgrep strips it and transcodes UTF-16 files with a BOM).

Errors, the same from both backends: TypeError for a needle or glob that is not ``str``, a
``root`` that is not ``str``/``os.PathLike[str]``, a non-bool ``ignore_case`` or a
``max_count`` that is not ``None`` or an int; ValueError for an empty needle, a needle
containing ``\n``, a negative ``max_count`` or an invalid ``glob``; FileNotFoundError and
NotADirectoryError for a missing or non-directory ``root``.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass

try:
    import rust_core as rc
except ImportError:
    rc = None  # type: ignore[assignment, unused-ignore]

__all__ = ["BINARY_SNIFF_BYTES", "Hit", "find_literal"]

#: A hit: (path, 1-based line number, 1-based byte column, line text).
Hit = tuple[str, int, int, str]

#: A file with a NUL byte among its first this many bytes is binary and skipped.
BINARY_SNIFF_BYTES = 8192


class _PatternError(ValueError):
    """A wildcard pattern that cannot be compiled (dangling escape, unclosed class)."""


def _class_to_regex(pattern: bytes, start: int) -> tuple[bytes, int]:
    """Translates the ``[...]`` class opening at ``start``; returns (regex, index after)."""
    i = start + 1
    negated = i < len(pattern) and pattern[i] in b"!^"
    if negated:
        i += 1
    items: list[tuple[int, int]] = []
    first = True
    while True:
        if i >= len(pattern):
            raise _PatternError("unclosed character class")
        c = pattern[i]
        if c == ord("]") and not first:
            i += 1
            break
        first = False
        if c == ord("\\"):
            i += 1
            if i >= len(pattern):
                raise _PatternError("dangling escape")
            c = pattern[i]
        i += 1
        if i + 1 < len(pattern) and pattern[i] == ord("-") and pattern[i + 1] != ord("]"):
            end = pattern[i + 1]
            i += 2
            if end == ord("\\"):
                if i >= len(pattern):
                    raise _PatternError("dangling escape")
                end = pattern[i]
                i += 1
            items.append((c, end))
        else:
            items.append((c, c))
    parts = []
    for lo, hi in items:
        if lo > hi:
            continue  # an empty range matches nothing
        # Under gitignore's pathname rule a class never matches "/": cut it out of ranges.
        pieces = [(lo, hi)]
        if not negated and lo <= 0x2F <= hi:
            pieces = [(a, b) for a, b in ((lo, 0x2E), (0x30, hi)) if a <= b]
        for a, b in pieces:
            parts.append(b"\\x%02x" % a if a == b else b"\\x%02x-\\x%02x" % (a, b))
    body = b"".join(parts)
    if negated:
        return b"[^/" + body + b"]", i
    if not body:
        return b"[^\\x00-\\xff]", i  # matches nothing
    return b"[" + body + b"]", i


def wildcard_regex(pattern: bytes) -> bytes:
    """The regex (bytes, for ``re``) equivalent to a gitignore wildcard pattern.

    The pattern must match the whole candidate path. See the module docstring for syntax.
    """
    out = [b"\\A"]
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == ord("*"):
            j = i
            while j < n and pattern[j] == ord("*"):
                j += 1
            double = j - i >= 2
            at_start = i == 0 or pattern[i - 1] == ord("/")
            at_end = j == n or pattern[j] == ord("/")
            if double and at_start and at_end:
                if j == n:
                    # "**" alone matches everything; "a/**" everything inside a/.
                    out.append(b".*")
                else:
                    # "**/" at the start or "/**/" inside: zero or more directories.
                    out.append(b"(?:.*/)?")
                    j += 1
            else:
                out.append(b"[^/]*")
            i = j
        elif c == ord("?"):
            out.append(b"[^/]")
            i += 1
        elif c == ord("["):
            regex, i = _class_to_regex(pattern, i)
            out.append(regex)
        elif c == ord("\\"):
            if i + 1 >= n:
                raise _PatternError("dangling escape")
            out.append(b"\\x%02x" % pattern[i + 1])
            i += 2
        else:
            out.append(b"\\x%02x" % c)
            i += 1
    out.append(b"\\Z")
    return b"".join(out)


def _compile(pattern: bytes) -> re.Pattern[bytes]:
    return re.compile(wildcard_regex(pattern), re.DOTALL)


def _trim_trailing_spaces(line: bytes) -> bytes:
    """Drops trailing spaces unless escaped with a backslash (gitignore(5))."""
    end = len(line)
    i = 0
    last_space: int | None = None
    while i < len(line):
        c = line[i]
        if c == ord("\\"):
            if i + 1 >= len(line):
                return line
            i += 2
            last_space = None
        elif c == ord(" "):
            if last_space is None:
                last_space = i
            i += 1
        else:
            last_space = None
            i += 1
    return line[: last_space if last_space is not None else end]


@dataclass(frozen=True)
class _Rule:
    """One compiled .gitignore line."""

    regex: re.Pattern[bytes]
    negated: bool
    dir_only: bool


def parse_gitignore(data: bytes) -> list[_Rule]:
    """The rules of one .gitignore file's contents, in file order; invalid lines skipped."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    rules: list[_Rule] = []
    for raw in data.split(b"\n"):
        line = raw[:-1] if raw.endswith(b"\r") else raw
        if line.startswith(b"#"):
            continue
        line = _trim_trailing_spaces(line)
        if not line:
            continue
        negated = anchored = False
        if line.startswith((b"\\!", b"\\#")):
            line = line[1:]
        else:
            if line.startswith(b"!"):
                negated = True
                line = line[1:]
            if line.startswith(b"/"):
                anchored = True
                line = line[1:]
        if not line:
            continue
        dir_only = False
        if line.endswith(b"/"):
            dir_only = True
            line = line[:-1]
            if line.endswith(b"\\"):
                line = line[:-1]
            if not line:
                continue
        if not anchored and b"/" not in line:
            line = b"**/" + line
        try:
            regex = _compile(line)
        except (_PatternError, re.error):
            continue
        rules.append(_Rule(regex, negated, dir_only))
    return rules


@dataclass(frozen=True)
class _IgnoreFile:
    """The rules of the .gitignore in ``base`` (path of that directory relative to root)."""

    base: bytes
    rules: list[_Rule]

    def decide(self, rel: bytes, is_dir: bool) -> bool | None:
        """True: ignored, False: re-included, None: no rule of this file matches."""
        sub = rel[len(self.base) + 1 :] if self.base else rel
        for rule in reversed(self.rules):
            if rule.dir_only and not is_dir:
                continue
            if rule.regex.match(sub):
                return not rule.negated
        return None


def _skipped(stack: list[_IgnoreFile], rel: bytes, name: bytes, is_dir: bool) -> bool:
    for ignore_file in reversed(stack):
        verdict = ignore_file.decide(rel, is_dir)
        if verdict is not None:
            return verdict
    return name.startswith(b".")


def _search_file(
    path: str, needle: bytes, ignore_case: bool, max_count: int | None, hits: list[Hit]
) -> None:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return
    if b"\0" in data[:BINARY_SNIFF_BYTES]:
        return
    found = 0
    for number, line in enumerate(data.split(b"\n"), 1):
        if max_count is not None and found >= max_count:
            break
        column = (line.lower() if ignore_case else line).find(needle)
        if column >= 0:
            found += 1
            hits.append((path, number, column + 1, line.decode("utf-8", "replace")))


def _check_arguments(
    needle: object, root: object, glob: object, ignore_case: object, max_count: object
) -> tuple[str, bytes, bytes]:
    """Validates in a fixed order (types, encoding, values) shared with rust_core."""
    if not isinstance(needle, str):
        raise TypeError(f"needle must be str, not {type(needle).__name__}")
    if not isinstance(glob, str):
        raise TypeError(f"glob must be str, not {type(glob).__name__}")
    if not isinstance(ignore_case, bool):
        raise TypeError(f"ignore_case must be bool, not {type(ignore_case).__name__}")
    if max_count is not None and (isinstance(max_count, bool) or not isinstance(max_count, int)):
        raise TypeError(f"max_count must be None or int, not {type(max_count).__name__}")
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be str or os.PathLike[str], not {type(root).__name__}")
    top = os.fspath(root)
    if not isinstance(top, str):
        raise TypeError("root must be str or os.PathLike[str], not bytes")
    pattern = needle.encode("utf-8")  # UnicodeEncodeError (a ValueError) for lone surrogates
    name_glob = glob.encode("utf-8")
    if not pattern:
        raise ValueError("needle must not be empty")
    if b"\n" in pattern:
        raise ValueError("needle must not contain a line break")
    if max_count is not None and max_count < 0:
        raise ValueError(f"max_count must be >= 0, got {max_count}")
    return top, pattern, name_glob


def find_literal(
    needle: str,
    root: str | os.PathLike[str],
    *,
    glob: str = "*",
    ignore_case: bool = False,
    max_count: int | None = None,
) -> list[Hit]:
    """Every line under ``root`` containing ``needle``: ``[(path, line, column, text), ...]``.

    ``path`` is ``os.path.join(root, <relative path>)``; hits are ordered by path (compared
    as bytes) and then line. See the module docstring for what is searched and skipped, the
    column and text rules, ``ignore_case``, ``max_count``, ``glob`` and the errors. This is
    the pure-Python reference: ``os.scandir`` walk and a per-line ``bytes.find``.
    """
    if rc is not None and hasattr(rc, "find_literal_rust"):
        return rc.find_literal_rust(
            needle, root, glob=glob, ignore_case=ignore_case, max_count=max_count
        )
    top, pattern, name_glob = _check_arguments(needle, root, glob, ignore_case, max_count)
    try:
        name_regex = _compile(name_glob)
    except (_PatternError, re.error) as exc:
        raise ValueError(f"invalid glob {glob!r}: {exc}") from None
    mode = os.stat(top).st_mode
    if not stat.S_ISDIR(mode):
        raise NotADirectoryError(20, "Not a directory", top)
    if ignore_case:
        pattern = pattern.lower()  # bytes.lower() folds ASCII letters only
    hits: list[Hit] = []
    if max_count == 0:
        return hits
    _walk(top, b"", [], pattern, name_regex, ignore_case, max_count, hits)
    hits.sort(key=lambda hit: (os.fsencode(hit[0]), hit[1]))
    return hits


def _walk(
    directory: str,
    rel: bytes,
    stack: list[_IgnoreFile],
    needle: bytes,
    name_regex: re.Pattern[bytes],
    ignore_case: bool,
    max_count: int | None,
    hits: list[Hit],
) -> None:
    try:
        with os.scandir(directory) as entries:
            listing = list(entries)
    except OSError:
        return
    gitignore = os.path.join(directory, ".gitignore")
    try:
        with open(gitignore, "rb") as handle:
            rules = parse_gitignore(handle.read())
    except OSError:
        rules = []
    if rules:
        stack = [*stack, _IgnoreFile(rel, rules)]
    for entry in listing:
        name = os.fsencode(entry.name)
        child_rel = rel + b"/" + name if rel else name
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
            is_file = entry.is_file(follow_symlinks=False)
        except OSError:
            continue
        if not (is_dir or is_file):
            continue
        if _skipped(stack, child_rel, name, is_dir):
            continue
        path = os.path.join(directory, entry.name)
        if is_dir:
            _walk(path, child_rel, stack, needle, name_regex, ignore_case, max_count, hits)
        elif name_regex.match(name):
            _search_file(path, needle, ignore_case, max_count, hits)
