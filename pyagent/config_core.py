r"""ConfigCore: configuration files, one or a sharded set, merged into one dotted-access mapping.

Hot paths ``load_config`` and ``_parse`` (seed: Common/Config).

Formats, chosen by file extension (or ``fmt``):

=========  ===========================  ==========================================
format     extensions                   Python reference / native (rust_core)
=========  ===========================  ==========================================
JSON       ``.json``                    stdlib :mod:`json` / the ``jiter`` crate
TOML       ``.toml``                    stdlib :mod:`tomllib` / the ``toml`` crate
YAML       ``.yaml``, ``.yml``          PyYAML ``safe_load`` (libyaml CSafeLoader
                                        when built with it) / ``yaml-rust2``
INI        ``.ini``, ``.cfg``           :mod:`configparser` / delegated to Python
=========  ===========================  ==========================================

Well-kept parsers on both sides, never our own: ``jiter`` is pydantic's JSON parser (also
behind pydantic-core), ``toml`` is the reference Rust TOML crate (0.8: TOML 1.0, the version
tomllib implements; 0.9 and later accept TOML 1.1 syntax that tomllib rejects),
``yaml-rust2`` is the maintained successor of yaml-rust (``serde_yaml`` is archived). INI stays
on :mod:`configparser` in both backends: there is no Rust crate with configparser's exact
rules (DEFAULT inheritance, continuation lines, ``:``/``=``, lower-cased keys), and INI
files are small, so the native path calls the Python parser for them.

Semantics, identical on both backends:

* Text is UTF-8; one leading byte-order mark is skipped. Invalid UTF-8 is a
  :class:`ConfigError` at the first bad byte.
* JSON as :func:`json.loads`: integers of any size are Python ints, floats are correctly
  rounded (``float(text)``; ``1e400`` is ``inf``), ``NaN``/``Infinity``/``-Infinity`` are
  accepted, a repeated key keeps its first position and its last value. A ``\u`` escape of
  a lone surrogate gives a str holding it, as json.loads does; the native parsers work in
  UTF-8, which cannot hold one, so the native backend hands such a document (found by its
  parser's error) to the reference parser. Nesting deeper than :data:`JSON_MAX_DEPTH`
  is a ConfigError on both, and so is an integer of more digits than
  :func:`sys.get_int_max_str_digits` allows (as in every format).
* TOML as :func:`tomllib.loads`: dates, times and datetimes become :mod:`datetime` objects
  (``Z`` is :data:`datetime.timezone.utc`, other offsets fixed-offset timezones, fractional
  seconds truncated to microseconds). A float that overflows (``1e400``) is ``inf`` to
  tomllib, and an integer beyond 64 bits (which the TOML spec says to reject) a Python int;
  the toml crate rejects both, so the native backend hands such a document to the
  reference parser, and both backends give tomllib's answer.
* INI as ``configparser.ConfigParser(interpolation=None)`` (raw values, no ``%`` or ``${}``
  expansion; keys lower-cased): ``{section: {key: value}}``, each section including the
  DEFAULT section's keys as configparser's section view does, plus a ``"DEFAULT"`` entry when
  that section has keys.
* YAML as PyYAML ``safe_load`` (YAML 1.1), on every document. The native parser is
  yaml-rust2 (YAML 1.2), so the native backend resolves plain scalars with PyYAML's own
  resolver patterns and constructors: ``yes``/``no``/``on``/``off`` are booleans, ``010``
  octal 8, ``1_000`` 1000, ``Null`` None, ``1e5`` and ``0o17`` strings. Documents where the
  two YAML versions part ways further, and where the native backend therefore lets the
  reference parse, are those with a tag (``!!str``, ``!custom``: an error in ``safe_load``;
  libyaml also wants a blank or ``,`` after a tag, so ``[!]`` is an error), a timestamp
  (``2001-12-14``, a :class:`datetime.date`), a merge key ``<<``, ``=``, a base-60 number
  (``1:20``), an integer beyond 128 bits in base 2, 8 or 16, or an empty implicit key
  (``: x``, which libyaml rejects): the same answer, at the reference's speed.

Limits (``docs/limits.md`` has the whole table), the same numbers on both backends and each
a :class:`ConfigError`: nesting depth (:data:`JSON_MAX_DEPTH`, :data:`TOML_MAX_DEPTH`,
:data:`YAML_MAX_DEPTH`, the last with aliases expanded), YAML alias expansion
(:data:`YAML_ALIAS_NODES_FLOOR`, :data:`YAML_ALIAS_NODES_CAP`; an aliased node is shared, as
PyYAML shares it, so the budget bounds the work of whoever walks the result) and recursive
YAML aliases (``a: &x [*x]``), which PyYAML would turn into a list holding itself.

Errors: a document that does not parse raises :class:`ConfigError` (a ValueError) with the
file, 1-based line and 1-based column counted in characters. The parsers report positions
in different conventions: :mod:`json` points at the start of the offending token (an
unterminated string at its opening quote), jiter at the byte where it stopped (a byte
offset, so a column in bytes), tomllib at the offending character or "end of document",
the ``toml`` crate at a byte span, libyaml and yaml-rust2 each at their own scanner mark.
The reported position is normalised to the reference parser's: the native backend detects
the error itself, then, on that cold path only, asks the reference parser where it is
(:func:`_native_syntax_error`), so both backends name the same line and column. Were the
reference parser to accept a document the native one rejects, the native byte offset is
converted to line and character column instead.

Sharded loads: :func:`load_config` takes one path, a list of paths (merged in order), or a
glob pattern (matches merged in sorted order). Later shards win; mappings merge recursively;
any other value, lists included, replaces the earlier one. Each shard's top level must be a
mapping (an empty YAML document counts as an empty one).

Memory: shards are parsed one at a time and merged into the result before the next is read,
so a load holds the result plus one shard's transient state. The Python reference holds the
shard's bytes while decoding them to ``str`` (about 2x the shard in the worst case, then 1x
while parsing); the native backend memory-maps the shard, and for a JSON document of 1 MiB
or more a helper thread walks it with jiter (without the GIL) into a stream of value events
that the calling thread, holding the GIL, turns into Python objects as they arrive: no
intermediate tree and no copy of the text, only a bounded window of events in flight (32
chunks of 8192 events, a few MB), so the transient overhead is the mapped shard (1x) plus
that window. The objects built are the result itself. TOML and YAML are parsed into the
crate's tree first (those files are small by design).

Progress: ``progress(path, bytes_done, bytes_total)``, where the byte counts run over the
whole load (the sum of the shard sizes), is called when each shard starts and when it has
been parsed; the native backend also calls it about every 16 MiB inside a large JSON shard.
"""

from __future__ import annotations

import configparser
import glob
import json
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from pyagent._files import check_regular, read_regular

try:
    import rust_core as rc
except ImportError:
    rc = None  # type: ignore[assignment, unused-ignore]

__all__ = [
    "FORMATS",
    "JSON_MAX_DEPTH",
    "TOML_MAX_DEPTH",
    "YAML_ALIAS_NODES_CAP",
    "YAML_ALIAS_NODES_FLOOR",
    "YAML_MAX_DEPTH",
    "Config",
    "ConfigCore",
    "ConfigError",
    "ProgressCallback",
    "deep_merge",
    "format_for_path",
    "load_config",
]

#: Extension -> format name.
FORMATS: dict[str, str] = {
    ".json": "json",
    ".toml": "toml",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".ini": "ini",
    ".cfg": "ini",
}
_FORMAT_NAMES = frozenset(FORMATS.values())

#: ``progress(path, bytes_done, bytes_total)``; counts run over the whole load.
ProgressCallback = Callable[[str, int, int], object]

#: Deepest nesting of arrays and objects a JSON document may have (``[]`` is depth 1): well
#: below where CPython's recursion limit stops :func:`json.loads` wherever it is called from,
#: so the limit is this number on both backends, not an accident of the caller's stack.
JSON_MAX_DEPTH = 500
#: Deepest nesting of tables and arrays in a TOML document's value (the root table is depth
#: 1). The toml crate's own guards (80 levels of arrays and inline tables, 80 parts of a dotted
#: key) can never fire first on a document within this limit.
TOML_MAX_DEPTH = 80
#: Deepest nesting of sequences and mappings in a YAML document, aliases expanded: below
#: libyaml's own limit (1000 "levels" of its scanner) and at yaml-rust2's (255 flow levels, counted
#: in a u8), so neither parser's own limit decides on either backend.
YAML_MAX_DEPTH = 255
#: Alias expansion budget: the nodes that aliases add to a YAML document (every alias counts
#: the whole subtree it stands for, aliases inside it expanded too) may be at most the
#: document's size in bytes, or this floor for a small document ...
YAML_ALIAS_NODES_FLOOR = 100_000
#: ... and never more than this cap. A "billion laughs" document is refused in microseconds
#: instead of producing 9**9 nodes.
YAML_ALIAS_NODES_CAP = 10_000_000

_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TOML_POSITION = re.compile(r" \(at (?:line (\d+), column (\d+)|end of document)\)$")
_GLOB_MAGIC = re.compile(r"[*?[]")
# A key (at a line start, in a header, or in an inline table) of more than TOML_MAX_DEPTH parts.
_TOML_KEY_PART = r"""(?:[A-Za-z0-9_-]+|"[^"\\\n]*"|'[^'\n]*')"""
_TOML_LONG_KEY = re.compile(
    r"(?:^|[{,])[ \t]*\[*[ \t]*(?:" + _TOML_KEY_PART + rf"[ \t]*\.[ \t]*){{{TOML_MAX_DEPTH}}}",
    re.MULTILINE,
)


class ConfigError(ValueError):
    """A configuration document that does not parse, or a shard that is not a mapping.

    ``path`` is the file (None for :func:`_parse` on text), ``line`` and ``column`` are
    1-based, the column counted in characters, and ``reason`` is the parser's message.
    """

    def __init__(self, path: str | None, line: int, column: int, reason: str) -> None:
        self.path = path
        self.line = line
        self.column = column
        self.reason = reason
        where = "<string>" if path is None else path
        super().__init__(f"{where}:{line}:{column}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.line, self.column, self.reason))


class Config(dict[Any, Any]):
    """A merged configuration: a dict whose :meth:`get` also follows dotted paths.

    ``cfg["a"]["b"]`` indexes as usual (nested mappings are plain dicts), and
    ``cfg.get("a.b.c", default)`` walks the same path, returning ``default`` as soon as a
    step is missing or not a mapping. A key that itself contains dots wins over the path.
    """

    def get(self, key: Any, default: Any = None) -> Any:
        """The value at ``key``, or at the dotted path ``key``; ``default`` if absent."""
        if key in self:
            return self[key]
        if not isinstance(key, str) or "." not in key:
            return default
        node: Any = self
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return default
            node = node[part]
        return node


def format_for_path(path: str | os.PathLike[str]) -> str:
    """The format name for ``path``'s extension; ValueError for an unknown one."""
    suffix = Path(path).suffix.lower()
    try:
        return FORMATS[suffix]
    except KeyError:
        raise ValueError(
            f"cannot tell the format of {os.fspath(path)!r} from its extension "
            f"(known: {', '.join(sorted(FORMATS))}); pass fmt="
        ) from None


def _check_format(fmt: object) -> str:
    if not isinstance(fmt, str):
        raise TypeError(f"fmt must be str, not {type(fmt).__name__}")
    name = fmt.lower().lstrip(".")
    name = FORMATS.get("." + name, name)
    if name not in _FORMAT_NAMES:
        raise ValueError(
            f"unknown config format {fmt!r} (known: {', '.join(sorted(_FORMAT_NAMES))})"
        )
    return name


def _position(text: str, index: int) -> tuple[int, int]:
    """1-based (line, column in characters) of character ``index`` of ``text``."""
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _decode(data: object, path: str | None) -> str:
    """The document as text: str as is, bytes-like as UTF-8 with one leading BOM skipped.

    A str subclass is read by its stored characters, as rust_core reads it (libyaml's
    loader refuses anything but an exact str).
    """
    if isinstance(data, str):
        return str.__str__(data)
    try:
        raw = bytes(memoryview(data))  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"config data must be str or a bytes-like object, not {type(data).__name__}"
        ) from None
    start = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
    try:
        return raw[start:].decode("utf-8")
    except UnicodeDecodeError as exc:
        prefix = raw[start : start + exc.start].decode("utf-8")
        line, column = _position(prefix, len(prefix))
        raise ConfigError(path, line, column, "invalid UTF-8") from None


def _too_deep(value: Any, limit: int) -> bool:
    """Whether lists and dicts nest in ``value`` deeper than ``limit`` (``[]`` is depth 1)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _parse_json(text: str, path: str | None) -> Any:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(path, exc.lineno, exc.colno, exc.msg) from None
    except RecursionError:
        raise ConfigError(path, 1, 1, "nesting too deep") from None
    except ValueError as exc:  # an integer beyond sys.get_int_max_str_digits()
        raise ConfigError(path, 1, 1, str(exc)) from None
    # Deeper than the limit needs more opening brackets than the limit: counted at C speed,
    # so the walk runs only for documents with that many containers.
    deep_enough = text.count("[") + text.count("{") > JSON_MAX_DEPTH
    if deep_enough and isinstance(value, (dict, list)) and _too_deep(value, JSON_MAX_DEPTH):
        raise ConfigError(path, 1, 1, "nesting too deep")
    return value


def _parse_toml(text: str, path: str | None) -> Any:
    # tomllib's work and memory grow with the square of a dotted key's parts (10,000 parts:
    # 2 s, 400 MB); a key of more parts than the depth limit can never be accepted, so it is
    # refused before tomllib sees it.
    long_key = _TOML_LONG_KEY.search(text)
    if long_key is not None:
        line, column = _position(text, long_key.start())
        raise ConfigError(path, line, column, "nesting too deep")
    try:
        value = tomllib.loads(text)
    except RecursionError:
        raise ConfigError(path, 1, 1, "nesting too deep") from None
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _TOML_POSITION.search(message)
        if found is None:  # pragma: no cover - every tomllib error carries a position
            raise ConfigError(path, 1, 1, message) from None
        reason = message[: found.start()]
        if found.group(1) is None:
            line, column = _position(text, len(text))
        else:
            line, column = int(found.group(1)), int(found.group(2))
        raise ConfigError(path, line, column, reason) from None
    except ValueError as exc:  # an integer beyond sys.get_int_max_str_digits()
        raise ConfigError(path, 1, 1, str(exc)) from None
    if _too_deep(value, TOML_MAX_DEPTH):
        raise ConfigError(path, 1, 1, "nesting too deep")
    return value


def _check_yaml_graph(root: Any, budget: int, path: str | None) -> None:
    """Refuses a composed YAML node graph that is recursive, too deep or too aliased.

    PyYAML shares an aliased node, so the graph is a DAG (a cycle for a recursive alias);
    every limit is about the document with aliases expanded, computed on the DAG in linear
    time: ``size`` is a node's expanded node count, ``depth`` its expanded nesting. An edge
    to a node already complete is an alias and adds that node's size to the expansion count.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    expanded = 0
    open_nodes: set[int] = set()
    # (node, index of the next child to visit); children are visited in document order.
    stack: list[tuple[Any, list[Any]]] = []

    def children(node: Any) -> list[Any]:
        if isinstance(node, yaml.SequenceNode):
            return list(node.value)
        if isinstance(node, yaml.MappingNode):
            return [part for pair in node.value for part in pair]
        return []

    def fail(node: Any, reason: str) -> ConfigError:
        mark = node.start_mark
        return ConfigError(path, mark.line + 1, mark.column + 1, reason)

    open_nodes.add(id(root))
    stack.append((root, children(root)[::-1]))
    while stack:
        node, pending = stack[-1]
        if pending:
            child = pending.pop()
            key = id(child)
            if key in open_nodes:
                raise fail(child, "recursive alias: a node contains itself")
            if key in size:
                expanded += size[key]
                if expanded > budget:
                    raise fail(child, f"aliases expand to more than {budget} nodes")
                continue
            if len(stack) >= YAML_MAX_DEPTH and isinstance(
                child, (yaml.SequenceNode, yaml.MappingNode)
            ):
                raise fail(child, f"nesting deeper than {YAML_MAX_DEPTH} levels")
            open_nodes.add(key)
            stack.append((child, children(child)[::-1]))
            continue
        stack.pop()
        key = id(node)
        open_nodes.discard(key)
        parts = children(node)
        is_container = isinstance(node, (yaml.SequenceNode, yaml.MappingNode))
        size[key] = 1 + sum(size[id(c)] for c in parts)
        depth[key] = int(is_container) + max((depth[id(c)] for c in parts), default=0)
        if depth[key] > YAML_MAX_DEPTH:
            raise fail(node, f"nesting deeper than {YAML_MAX_DEPTH} levels")


def _yaml_alias_budget(text: str) -> int:
    """Nodes aliases may add to the document ``text`` (see ``YAML_ALIAS_NODES_FLOOR``)."""
    size = len(text)
    if size > YAML_ALIAS_NODES_FLOOR:  # a str's length undercounts its UTF-8 bytes
        size = len(text.encode("utf-8", "surrogatepass"))
    return min(YAML_ALIAS_NODES_CAP, max(YAML_ALIAS_NODES_FLOOR, size))


def _parse_yaml(text: str, path: str | None) -> Any:
    loader = _YAML_LOADER(text)  # CSafeLoader or SafeLoader
    try:
        # yaml.load in steps: the node graph is checked before any object is built.
        node = loader.get_single_node()
        if node is None:
            return None
        _check_yaml_graph(node, _yaml_alias_budget(text), path)
        return loader.construct_document(node)
    except ConfigError:
        raise
    except RecursionError:  # the pure-Python composer, without libyaml's level limit
        raise ConfigError(path, 1, 1, f"nesting deeper than {YAML_MAX_DEPTH} levels") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (1, 1) if mark is None else (mark.line + 1, mark.column + 1)
        reason = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        raise ConfigError(path, line, column, reason) from None
    except yaml.YAMLError as exc:
        raise ConfigError(path, 1, 1, str(exc)) from None
    except ValueError as exc:  # an integer beyond sys.get_int_max_str_digits()
        raise ConfigError(path, 1, 1, str(exc)) from None
    finally:
        loader.dispose()


def _parse_ini(text: str, path: str | None) -> dict[str, dict[str, str]]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source="<string>" if path is None else path)
    except configparser.MissingSectionHeaderError as exc:
        raise ConfigError(path, exc.lineno, 1, "file contains no section headers") from None
    except configparser.ParsingError as exc:
        lineno = exc.errors[0][0] if exc.errors else 1
        raise ConfigError(path, lineno, 1, "parsing error: unparsable line") from None
    except (configparser.DuplicateSectionError, configparser.DuplicateOptionError) as exc:
        reason = exc.message.split(": ", 1)[-1] if ": " in exc.message else exc.message
        raise ConfigError(path, exc.lineno or 1, 1, reason) from None
    result: dict[str, dict[str, str]] = {}
    defaults = parser.defaults()
    if defaults:
        result[parser.default_section] = dict(defaults)
    for section in parser.sections():
        result[section] = dict(parser.items(section, raw=True))
    return result


_PARSERS: dict[str, Callable[[str, str | None], Any]] = {
    "json": _parse_json,
    "toml": _parse_toml,
    "yaml": _parse_yaml,
    "ini": _parse_ini,
}


def _parse_reference(data: object, fmt: str, path: str | None) -> Any:
    return _PARSERS[fmt](_decode(data, path), path)


def _parse(data: str | bytes, fmt: str) -> Any:
    """Parses one document (``str``, or UTF-8 ``bytes``) in format ``fmt``.

    ``fmt`` is a format name or extension (``"json"``, ``"yaml"``, ``".yml"``, ...). Returns
    what the format's reference parser returns (a JSON document may be any value); a syntax
    error is a :class:`ConfigError` with ``path=None``.
    """
    if rc is not None and hasattr(rc, "_parse"):
        return rc._parse(data, fmt)
    return _parse_reference(data, _check_format(fmt), None)


def _native_syntax_error(
    data: object, fmt: str, path: str | None, offset: int, reason: str
) -> ConfigError:
    """The ConfigError for a document the native parser rejected at byte ``offset``.

    Called by rust_core on its (cold) error path so that both backends report the same
    position: the reference parser locates the error in its convention. If it accepts the
    document instead, the native offset and reason are used, converted to 1-based line and
    character column. ``data`` None means "read ``path``".
    """
    raw: Any = read_regular(path) if data is None and path is not None else data
    try:
        _parse_reference(raw, fmt, path)
    except ConfigError as exc:
        return exc
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    raw = bytes(raw)
    start = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
    prefix = raw[start : max(start, offset)].decode("utf-8", "replace")
    line, column = _position(prefix, len(prefix))
    return ConfigError(path, line, column, reason)


def _not_a_mapping(path: str, value: object) -> ConfigError:
    return ConfigError(path, 1, 1, f"top-level value must be a mapping, not {type(value).__name__}")


def deep_merge(base: dict[Any, Any], update: Mapping[Any, Any]) -> dict[Any, Any]:
    """Merges ``update`` into ``base`` in place and returns it.

    Where both hold a mapping under a key the two merge recursively; otherwise the value
    from ``update`` replaces (lists are replaced, not concatenated). A replaced key keeps its
    position in ``base``; new keys go at the end, as dict assignment does.
    """
    stack: list[tuple[dict[Any, Any], Mapping[Any, Any]]] = [(base, update)]
    while stack:
        target, source = stack.pop()
        for key, value in source.items():
            current = target.get(key) if key in target else None
            if isinstance(current, dict) and isinstance(value, Mapping):
                stack.append((current, value))
            else:
                target[key] = value
    return base


def _shard_paths(source: object) -> list[str]:
    """The files named by ``source``: a path, a glob pattern, or an iterable of paths."""
    if isinstance(source, (str, os.PathLike)):
        name = os.fspath(source)
        if not isinstance(name, str):
            raise TypeError("config paths must be str or os.PathLike[str], not bytes")
        if isinstance(source, str) and _GLOB_MAGIC.search(name) and not os.path.exists(name):
            matches = sorted(glob.glob(name))
            if not matches:
                raise FileNotFoundError(f"no config files match {name!r}")
            return matches
        return [name]
    if isinstance(source, (bytes, bytearray)) or not isinstance(source, Iterable):
        raise TypeError(
            "source must be a path, a glob pattern or an iterable of paths, "
            f"not {type(source).__name__}"
        )
    paths = []
    for item in source:
        if not isinstance(item, (str, os.PathLike)) or not isinstance(os.fspath(item), str):
            raise TypeError(
                f"config paths must be str or os.PathLike[str], not {type(item).__name__}"
            )
        paths.append(os.fspath(item))
    if not paths:
        raise ValueError("no config files given")
    return paths


def _plan(source: object, fmt: str | None) -> list[tuple[str, str, int]]:
    """(path, format, size) per shard, in merge order; errors before anything is read."""
    fixed = None if fmt is None else _check_format(fmt)
    plan = []
    for path in _shard_paths(source):
        name = fixed or format_for_path(path)
        info = os.stat(path)
        check_regular(info.st_mode, path)
        plan.append((path, name, info.st_size))
    return plan


def load_config(
    source: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    fmt: str | None = None,
    progress: ProgressCallback | None = None,
) -> Config:
    """Loads and deep-merges config shards into one :class:`Config`.

    ``source`` is a path, a glob pattern (its matches in sorted order), or an iterable of
    paths (in the order given). ``fmt`` overrides the format every shard's extension
    implies. ``progress(path, bytes_done, bytes_total)`` is called as each shard starts and
    ends. Raises ConfigError for a shard that does not parse or is not a mapping,
    FileNotFoundError (an OSError) for a missing file or an unmatched glob, ValueError for an
    unknown extension or format, TypeError for a bad argument. Only regular files are read
    (symlinks followed): a folder is IsADirectoryError, a FIFO, socket or device (such as a
    link to ``/dev/zero``) an OSError "not a regular file" (errno EINVAL), raised before any
    shard is read and never blocking.
    """
    if rc is not None and hasattr(rc, "load_config"):
        return rc.load_config(source, fmt, progress)
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable, not {type(progress).__name__}")
    plan = _plan(source, fmt)
    total = sum(size for _, _, size in plan)
    done = 0
    result = Config()
    for path, name, size in plan:
        if progress is not None:
            progress(path, done, total)
        raw = read_regular(path)
        text = _decode(raw, path)
        del raw  # hold the text or the bytes while parsing, not both
        value = _PARSERS[name](text, path)
        del text
        if value is None and name == "yaml":
            value = {}
        if not isinstance(value, dict):
            raise _not_a_mapping(path, value)
        deep_merge(result, value)
        done += size
        if progress is not None:
            progress(path, done, total)
    return result


class ConfigCore:
    """Configuration loading for an agent: a fixed list of shards, reloaded on demand.

    ``ConfigCore(["base.toml", "site/*.json"])`` remembers its sources; :meth:`load` merges
    them (each source may itself be a glob) into a :class:`Config` and keeps it as
    :attr:`config`; :meth:`get` reads a dotted key from the last load.
    """

    def __init__(self, sources: Iterable[str | os.PathLike[str]] = (), fmt: str | None = None):
        self.sources = list(sources)
        self.fmt = fmt
        self.config = Config()

    def load(self, progress: ProgressCallback | None = None) -> Config:
        """Loads every source in order (globs expanded) and merges them."""
        paths: list[str] = []
        for source in self.sources:
            paths.extend(_shard_paths(source))
        self.config = load_config(paths, self.fmt, progress) if paths else Config()
        return self.config

    def get(self, key: str, default: Any = None) -> Any:
        """``self.config.get(key, default)``: a dotted key from the last load."""
        return self.config.get(key, default)

    @staticmethod
    def parse(data: str | bytes, fmt: str) -> Any:
        """One document, as :func:`_parse`."""
        return _parse(data, fmt)
