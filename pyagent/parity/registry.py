"""Registration of parity properties under the manifest's hot-path names."""

from __future__ import annotations

import importlib
import pkgutil
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyagent.manifest import load_manifest

__all__ = [
    "PropertyResult",
    "load_properties",
    "parity_property",
    "parity_state_machine",
    "registered",
    "run_property",
]

_PROPERTIES: dict[str, list[Callable[[], None]]] = {}
_EXAMPLES: dict[int, int] = {}


def parity_property(hot_path: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Registers a Hypothesis ``@given`` test as a parity property of ``hot_path``.

    ``hot_path`` must be a seed name from the manifest. Every example the test runs is
    counted, so the report can say how many inputs each hot path was checked on.
    """
    load_manifest().get(hot_path)  # KeyError for a name the manifest does not know

    def register(test: Callable[..., Any]) -> Callable[..., Any]:
        handle = getattr(test, "hypothesis", None)
        if handle is None:
            raise TypeError(f"{test.__qualname__} must be decorated with @given first")
        inner = handle.inner_test
        key = id(test)
        _EXAMPLES[key] = 0

        def counted(*args: Any, **kwargs: Any) -> Any:
            _EXAMPLES[key] += 1
            return inner(*args, **kwargs)

        # Hypothesis documents inner_test as the hook for wrapping the test body.
        handle.inner_test = counted
        _PROPERTIES.setdefault(hot_path, []).append(test)
        return test

    return register


def load_properties() -> None:
    """Imports every module of ``parity.properties`` so their properties register."""
    import pyagent.parity.properties as package

    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{info.name}")


def registered() -> dict[str, list[Callable[[], None]]]:
    """Hot-path name -> its properties, after loading them all."""
    load_properties()
    return dict(_PROPERTIES)


@dataclass(frozen=True)
class PropertyResult:
    """The run of every property of one hot path."""

    name: str
    passed: bool
    examples: int
    seconds: float
    detail: str = ""


def run_property(name: str) -> PropertyResult:
    """Runs every property registered for ``name`` under the loaded Hypothesis profile."""
    tests = registered().get(name, [])
    start = time.perf_counter()
    examples = 0
    for test in tests:
        before = _EXAMPLES[id(test)]
        try:
            test()
        except Exception as exc:  # a falsified property: report it, keep running the others
            examples += _EXAMPLES[id(test)] - before
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            return PropertyResult(
                name, False, examples, time.perf_counter() - start, f"{test.__name__}: {detail}"
            )
        examples += _EXAMPLES[id(test)] - before
    return PropertyResult(name, True, examples, time.perf_counter() - start)


def parity_state_machine(hot_path: str) -> Callable[[type[Any]], type[Any]]:
    """Registers a Hypothesis ``RuleBasedStateMachine`` as a parity property of ``hot_path``.

    The property runs the machine with ``run_state_machine_as_test`` under the profile loaded
    when it runs; each machine run (one generated program of steps) counts as one example.
    """
    load_manifest().get(hot_path)  # KeyError for a name the manifest does not know

    def register(machine: type[Any]) -> type[Any]:
        from hypothesis import settings
        from hypothesis.stateful import run_state_machine_as_test

        def counted() -> Any:
            _EXAMPLES[key] += 1
            return machine()

        def run() -> None:
            # Hypothesis accepts any factory of machines; its stub names only the class.
            run_state_machine_as_test(counted, settings=settings(deadline=None))  # type: ignore[arg-type]

        run.__name__ = run.__qualname__ = machine.__name__
        key = id(run)
        _EXAMPLES[key] = 0
        _PROPERTIES.setdefault(hot_path, []).append(run)
        return machine

    return register
