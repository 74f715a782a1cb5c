"""Arguments read as the C API reads them, so the Python references match rust_core.

rust_core reads a ``list``, ``tuple``, ``str``, ``bytes``, ``int`` or ``float`` through its
builtin storage (``PyList_GET_ITEM``, ``PyFloat_AS_DOUBLE``, ...), whatever a subclass
overrides: an overridden ``__iter__``, ``__len__``, ``__getitem__``, ``__index__`` or
``__float__`` is not called. Python code calls those overrides (``for x in items``,
``float(x)``). :func:`stored` gives the value the C API would see, so both backends read
the same thing (docs/limits.md, "Hostile arguments").
"""

from __future__ import annotations

from typing import Any

__all__ = ["stored"]

_EXACT = frozenset({list, tuple, str, bytes, int, float, bool, dict})


def stored(value: Any) -> Any:
    """``value``, or for a subclass of a builtin sequence or scalar, its stored contents.

    ``list`` and ``tuple`` subclasses become a ``list``/``tuple`` of their stored items;
    ``str``, ``bytes``, ``int`` and ``float`` subclasses the exact builtin of the same value.
    Anything else (``dict`` subclasses included: mappings are read through their methods)
    is returned unchanged.
    """
    kind = type(value)
    if kind in _EXACT:
        return value
    if isinstance(value, list):
        return list.copy(value)
    if isinstance(value, tuple):
        return tuple(tuple.__iter__(value))
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bytes):
        return bytes(memoryview(value))
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    return value
