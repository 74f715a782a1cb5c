"""Hostile values for every kind of argument, shared by all parity properties.

An adversarial caller does not pass what the signature suggests: it passes a strided numpy
view where bytes are expected, a path with a NUL or a lone surrogate, ``2**64`` or ``NaN``
where a count goes, a list subclass whose ``__iter__`` lies or raises, a document nested
one level past a parser's limit. Each hot path's properties draw every argument from
:func:`for_kind` (mixed into the valid data with :func:`mix`) so both backends meet these
values on every parity run, and must give the same value or raise the same exception class
(``docs/limits.md``, "Hostile arguments", is the policy they follow).

Kinds: ``buffer``, ``path``, ``number`` (``int``, ``float``), ``string`` (``short_string``
without the 100k+ character ones), ``sequence``,
``mapping``, ``nested`` and ``any``. Every kind includes subclasses of the builtin type with
overridden dunders (``__index__``, ``__iter__``, ``__eq__``, ``__len__``, ``__contains__``,
``__hash__``), some of which raise.
"""

from __future__ import annotations

import array
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from fractions import Fraction
from functools import cache
from typing import Any

import numpy as np
from hypothesis import strategies as st

__all__ = [
    "KINDS",
    "LyingDict",
    "LyingList",
    "RaisingDict",
    "RaisingList",
    "LIMIT_DEPTHS",
    "Boom",
    "PATH_NAMES",
    "for_kind",
    "make_tree",
    "mix",
    "nested",
    "scratch",
]


class Boom(Exception):
    """What a hostile dunder raises: a class no backend raises on its own."""


def _boom(*_args: Any, **_kwargs: Any) -> Any:
    raise Boom("hostile dunder")


# --- subclasses of builtins with overridden dunders ------------------------------------------


class LyingList(list):  # type: ignore[type-arg]
    """A list whose ``__iter__`` and ``__len__`` disagree with its storage."""

    def __iter__(self) -> Iterator[Any]:
        return iter(list(reversed(list.copy(self))))

    def __len__(self) -> int:
        return list.__len__(self) + 1

    def __contains__(self, item: object) -> bool:
        return True

    def __getitem__(self, index: Any) -> Any:
        return list.__getitem__(self, index)


class RaisingList(list):  # type: ignore[type-arg]
    """A list whose ``__iter__``, ``__len__`` and ``__getitem__`` raise."""

    __iter__ = _boom
    __len__ = _boom
    __getitem__ = _boom
    __contains__ = _boom


class OnlyIterable:
    """Iterable again and again (each call a fresh iterator) but no sequence, no ``len``.

    Not a one-shot iterator: parity calls both backends with the same argument.
    """

    def __init__(self, items: list[Any]) -> None:
        self.items = items

    def __iter__(self) -> Iterator[Any]:
        return iter(self.items)

    def __repr__(self) -> str:
        return f"OnlyIterable({self.items!r})"


class RaisingIterable(OnlyIterable):
    """Iterable whose iterator raises after the first item."""

    def __iter__(self) -> Iterator[Any]:
        yield from self.items[:1]
        raise Boom("hostile iterator")

    def __repr__(self) -> str:
        return f"RaisingIterable({self.items!r})"


class PlainList(list):  # type: ignore[type-arg]
    """A list subclass that overrides nothing."""


class PlainTuple(tuple):  # type: ignore[type-arg]
    """A tuple subclass that overrides nothing."""


class LyingStr(str):
    """A str whose ``__eq__``/``__hash__`` ignore case and whose ``__len__``/``__iter__`` lie.

    Equality and hash stay consistent with each other (a value that broke that contract
    would break Hypothesis itself, not the backends).
    """

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and str.lower(self) == str.lower(other)

    def __hash__(self) -> int:
        return hash(str.lower(self))

    def __len__(self) -> int:
        return 0

    def __str__(self) -> str:
        return "lie"

    def __contains__(self, item: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(())


class RaisingStr(str):
    """A str whose ``__len__``, ``__iter__``, ``__getitem__`` and ``__contains__`` raise.

    ``__eq__``, ``__hash__`` and ``__str__`` are left alone: error messages and Hypothesis
    itself use them.
    """

    __len__ = _boom
    __iter__ = _boom
    __getitem__ = _boom
    __contains__ = _boom


class PlainStr(str):
    """A str subclass that overrides nothing."""


class LyingInt(int):
    """An int whose ``__index__``, ``__int__``, ``__float__`` and ``__lt__`` give other answers."""

    def __index__(self) -> int:
        return int.__int__(self) + 1

    def __int__(self) -> int:
        return int.__int__(self) + 2

    def __float__(self) -> float:
        return float(int.__int__(self)) + 0.5

    def __lt__(self, other: object) -> bool:
        return not int.__lt__(self, other)  # type: ignore[operator]


class RaisingInt(int):
    """An int whose ``__index__``, ``__int__``, ``__float__`` and ``__bool__`` raise."""

    __index__ = _boom
    __int__ = _boom
    __float__ = _boom
    __bool__ = _boom


class RaisingIndex:
    """Not an int, but ``__index__`` raises (as ``operator.index`` will call it)."""

    __index__ = _boom
    __float__ = _boom
    __int__ = _boom


class Indexable:
    """Not an int, but has an ``__index__`` giving 3 (and a ``__float__`` giving 3.5)."""

    def __index__(self) -> int:
        return 3

    def __float__(self) -> float:
        return 3.5


class LyingFloat(float):
    """A float whose ``__float__`` and ``__bool__`` lie."""

    def __float__(self) -> float:
        return 1.5

    def __bool__(self) -> bool:
        return False


class LyingDict(dict):  # type: ignore[type-arg]
    """A dict whose iteration, lookups and length disagree with its storage."""

    def __iter__(self) -> Iterator[Any]:
        return iter(["phantom"])

    def keys(self) -> Any:
        """Only a phantom key."""
        return ["phantom"]

    def items(self) -> Any:
        """Only a phantom item."""
        return [("phantom", 1)]

    def values(self) -> Any:
        """Only a phantom value."""
        return [1]

    def __getitem__(self, key: Any) -> Any:
        return 1

    def get(self, key: Any, default: Any = None) -> Any:
        """2, whatever the key (``[]`` says 1)."""
        return 2  # disagrees with __getitem__: tells a .get() lookup from an `in` + [] one

    def __contains__(self, key: object) -> bool:
        return True

    def __len__(self) -> int:
        return 99


class RaisingDict(dict):  # type: ignore[type-arg]
    """A dict whose iteration, lookups and length raise."""

    __iter__ = _boom
    keys = _boom
    items = _boom
    values = _boom
    __getitem__ = _boom
    get = _boom
    __contains__ = _boom
    __len__ = _boom


class PlainDict(dict):  # type: ignore[type-arg]
    """A dict subclass that overrides nothing."""


class LyingBytes(bytes):
    """Bytes whose ``__len__``, ``__iter__`` and ``__bytes__`` lie."""

    def __len__(self) -> int:
        return 0

    def __iter__(self) -> Iterator[int]:
        return iter(())

    def __bytes__(self) -> bytes:
        return b"lie"


class RaisingBytes(bytes):
    """Bytes whose ``__len__``, ``__iter__``, ``__getitem__`` and ``__bytes__`` raise."""

    __len__ = _boom
    __iter__ = _boom
    __getitem__ = _boom
    __bytes__ = _boom


class RaisingFspath:
    """An ``os.PathLike`` whose ``__fspath__`` raises."""

    __fspath__ = _boom


class BytesFspath:
    """An ``os.PathLike`` whose ``__fspath__`` gives bytes."""

    def __fspath__(self) -> bytes:
        return b"/tmp"


class IntFspath:
    """An ``os.PathLike`` whose ``__fspath__`` gives neither str nor bytes."""

    def __fspath__(self) -> int:
        return 3


# --- nesting around every documented limit ---------------------------------------------------

#: Nesting limits of docs/limits.md (JSON config, TOML config, YAML config, JSON Schema,
#: MessagePack), with CPython's recursion limit: containers are built at and around each.
LIMIT_DEPTHS = (80, 128, 255, 500, 1000, 1024)


def nested(depth: int, *, kind: str = "list", leaf: Any = 0) -> Any:
    """A value ``depth`` containers deep (``[]`` or ``{"a": ...}`` is depth 1), built in a loop."""
    value = leaf
    for _ in range(depth):
        value = [value] if kind == "list" else {"a": value}
    return value


def _nested_strategy() -> st.SearchStrategy[Any]:
    depths = st.sampled_from(LIMIT_DEPTHS).flatmap(lambda d: st.sampled_from([d - 1, d, d + 1]))
    return st.builds(nested, depths, kind=st.sampled_from(["list", "dict"]))


# --- file-system objects --------------------------------------------------------------------


def make_tree(root: str) -> None:
    """Fills the folder ``root`` with the hostile file-system objects :data:`PATH_NAMES` use.

    A subfolder (with a file), a FIFO, a dangling link, a link loop and a regular file.
    """
    os.mkdir(os.path.join(root, "folder"))
    with open(os.path.join(root, "folder", "inside.txt"), "w") as handle:
        handle.write("x")
    if hasattr(os, "mkfifo"):
        os.mkfifo(os.path.join(root, "fifo"))
    os.symlink(os.path.join(root, "missing"), os.path.join(root, "dangling"))
    os.symlink(os.path.join(root, "loop"), os.path.join(root, "loop"))
    with open(os.path.join(root, "plain.txt"), "w") as handle:
        handle.write("a = 1\n")


@cache
def scratch() -> str:
    """A private folder made by :func:`make_tree`, for calls that only read it.

    Created once per process (parity rows run in child processes of their own) and removed
    at exit by the interpreter's temporary-directory clean-up. Calls that write (save_atomic)
    get a fresh tree per backend from :func:`make_tree` instead.
    """
    holder = tempfile.TemporaryDirectory(prefix="pyagent-hostile-")
    _KEEP.append(holder)
    make_tree(holder.name)
    return holder.name


_KEEP: list[Any] = []


def _in_scratch(name: str) -> str:
    return os.path.join(scratch(), name)


#: Names, relative to a :func:`make_tree` folder, that each break a path rule.
PATH_NAMES = [
    "folder",
    "folder/",
    "fifo",
    "dangling",
    "loop",
    "missing/child",
    "plain.txt/child",
    "a" * 255,
    "a" * 256,
    "é" * 128,  # 256 bytes in UTF-8
    "bad\udcffname",  # surrogate-escaped byte (os.fsencode gives b"bad\xffname")
    "lone\ud800",  # a lone surrogate that is not an escaped byte
]

paths: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(PATH_NAMES).map(_in_scratch),
    st.sampled_from(["", ".", "..", "/", "a\x00b", "\x00", "/dev/null", "/proc/self/mem"]),
    st.sampled_from(PATH_NAMES[:3]).map(lambda n: _in_scratch(n).encode()),
    st.builds(lambda: PlainStr(_in_scratch("plain.txt"))),
    st.builds(RaisingFspath),
    st.builds(BytesFspath),
    st.builds(IntFspath),
    st.sampled_from([None, 3, 1.5]),
)

# --- buffers --------------------------------------------------------------------------------


def _readonly(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


_raw = st.binary(max_size=24)
buffers: st.SearchStrategy[Any] = st.one_of(
    _raw.map(lambda b: np.frombuffer(b + b, dtype=np.uint8)[::2]),  # non-contiguous
    _raw.map(lambda b: np.frombuffer(b, dtype=np.uint8).copy()).map(_readonly),
    st.sampled_from([b"", bytearray(), memoryview(b""), np.empty(0, dtype=np.uint8)]),
    _raw.map(lambda b: np.frombuffer(b[: len(b) // 8 * 8], dtype=np.float64)),  # wrong dtype
    _raw.map(lambda b: np.frombuffer(b[: len(b) // 4 * 4], dtype=">i4")),
    _raw.map(lambda b: memoryview(b)[1:-1]),
    st.binary(min_size=2, max_size=24).map(lambda b: memoryview(b)[::2]),
    st.binary(min_size=4, max_size=24).map(
        lambda b: memoryview(b[: len(b) // 4 * 4]).cast("B", shape=[len(b) // 4, 4])
    ),
    _raw.map(lambda b: np.asfortranarray(np.frombuffer(b + b, dtype=np.uint8).reshape(2, -1))),
    st.lists(st.integers(-(2**31), 2**31 - 1), max_size=6).map(lambda v: array.array("i", v)),
    _raw.map(LyingBytes),
    _raw.map(RaisingBytes),
    _raw.map(lambda b: list(b)),
)

# --- numbers --------------------------------------------------------------------------------

_special_floats = [
    math.nan,
    math.inf,
    -math.inf,
    -0.0,
    0.0,
    5e-324,
    1.7976931348623157e308,
    -1.7976931348623157e308,
]
_special_ints = [
    0,
    -1,
    2**31,
    2**32,
    2**53 + 1,
    2**63 - 1,
    2**63,
    -(2**63),
    -(2**63) - 1,
    2**64 - 1,
    2**64,
    -(2**64),
    10**400,
]

ints: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(_special_ints),
    st.sampled_from([True, False]),
    st.sampled_from([np.int64(3), np.int32(-1), np.uint64(2**64 - 1), np.uint8(7), np.bool_(True)]),
    st.sampled_from([0, 1, 3, 2**63]).map(LyingInt),
    st.sampled_from([0, 3]).map(RaisingInt),
    st.builds(RaisingIndex),
    st.builds(Indexable),
)
floats: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(_special_floats),
    st.sampled_from(
        [np.float32(math.nan), np.float64(-math.inf), np.float16(1.5), np.float32(-0.0)]
    ),
    st.sampled_from([0.0, 2.0, math.nan]).map(LyingFloat),
    st.sampled_from([Fraction(1, 3), complex(1, 0), "1.5", None]),
)
numbers: st.SearchStrategy[Any] = st.one_of(ints, floats)

# --- strings --------------------------------------------------------------------------------

_surrogates = st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1)
_huge_strings = st.one_of(
    st.integers(100_000, 300_000).map(lambda n: "a" * n),
    st.integers(10_000, 50_000).map(lambda n: "{[(" * n),
)
short_strings: st.SearchStrategy[Any] = st.one_of(
    st.builds(lambda a, s, b: a + s + b, st.text(max_size=4), _surrogates, st.text(max_size=4)),
    st.sampled_from(["", "\x00", "a\x00b", "\ufeff", "\ufeff\ufeffa", "e\u0301", "\U0001f600"]),
    st.text(max_size=8).map(PlainStr),
    st.text(max_size=8).map(LyingStr),
    st.text(max_size=8).map(RaisingStr),
    st.binary(max_size=8),
)
strings: st.SearchStrategy[Any] = st.one_of(short_strings, _huge_strings)

# --- containers -----------------------------------------------------------------------------

_items = st.one_of(st.integers(-5, 5), st.text(max_size=3), st.floats(allow_nan=False))
sequences: st.SearchStrategy[Any] = st.one_of(
    st.lists(_items, max_size=4).map(LyingList),
    st.lists(_items, max_size=4).map(RaisingList),
    st.lists(_items, max_size=4).map(PlainList),
    st.lists(_items, max_size=4).map(PlainTuple),
    st.lists(_items, max_size=4).map(OnlyIterable),
    st.lists(_items, max_size=4).map(RaisingIterable),
    st.sets(st.integers(-5, 5), max_size=4),
    st.builds(lambda: _self_containing_list()),
    _nested_strategy(),
)
mappings: st.SearchStrategy[Any] = st.one_of(
    st.dictionaries(st.text(max_size=3), _items, max_size=3).map(LyingDict),
    st.dictionaries(st.text(max_size=3), _items, max_size=3).map(RaisingDict),
    st.dictionaries(st.text(max_size=3), _items, max_size=3).map(PlainDict),
    st.dictionaries(st.one_of(st.integers(), st.none(), st.tuples()), _items, max_size=3),
    st.dictionaries(st.text(max_size=3).map(LyingStr), _items, max_size=2),
    st.builds(lambda: _self_containing_dict()),
    _nested_strategy(),
)


def _self_containing_list() -> list[Any]:
    loop: list[Any] = [1]
    loop.append(loop)
    return loop


def _self_containing_dict() -> dict[str, Any]:
    loop: dict[str, Any] = {"a": 1}
    loop["self"] = loop
    return loop


_KINDS: dict[str, Callable[[], st.SearchStrategy[Any]]] = {
    "buffer": lambda: buffers,
    "path": lambda: paths,
    "int": lambda: ints,
    "float": lambda: floats,
    "number": lambda: numbers,
    "string": lambda: strings,
    "short_string": lambda: short_strings,
    "sequence": lambda: sequences,
    "mapping": lambda: mappings,
    "nested": _nested_strategy,
    "any": lambda: st.one_of(buffers, numbers, short_strings, sequences, mappings, st.none()),
}
KINDS = tuple(_KINDS)


def for_kind(kind: str) -> st.SearchStrategy[Any]:
    """Hostile values for an argument of ``kind`` (one of :data:`KINDS`)."""
    try:
        return _KINDS[kind]()
    except KeyError:
        raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}") from None


def mix(valid: st.SearchStrategy[Any], kind: str, *, odds: int = 6) -> st.SearchStrategy[Any]:
    """``valid`` most of the time, a hostile value of ``kind`` about once in ``odds`` draws."""
    return st.one_of(*([valid] * (odds - 1)), for_kind(kind))
