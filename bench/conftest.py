"""Benchmark plumbing: one group per hot path, parametrised over implementations.

A benchmark is registered with :func:`compare`, which names the hot path (its seed name,
checked against the manifest), runs the chosen implementation under pytest-benchmark, and
checks the result against the expected value before any timing is reported: speed without
correctness is not recorded.

Two profiles time the same groups: ``full`` (the seed workloads, research-grade sizes; over
half an hour on 2 cores) and ``quick`` (every size scaled down about tenfold, a few minutes),
chosen by ``--quick`` (``nox -s bench -- --quick``) or ``PYAGENT_BENCH_PROFILE=quick``. A
benchmark module takes its sizes from :func:`scaled`, so both profiles run one code path.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import pytest

from pyagent.backend import forced_python
from pyagent.manifest import load_manifest

IMPLEMENTATIONS = ("python", "rust", "peer")

#: Environment variable naming the profile; ``--quick`` sets it before any module is imported.
PROFILE_VARIABLE = "PYAGENT_BENCH_PROFILE"
PROFILES = ("full", "quick")


def profile() -> str:
    """The benchmark profile of this run: ``full`` (default) or ``quick``.

    Raises ``pytest.UsageError`` for another value, so a typo cannot silently run the full
    profile for half an hour.
    """
    value = os.environ.get(PROFILE_VARIABLE, "full") or "full"
    if value not in PROFILES:
        raise pytest.UsageError(f"{PROFILE_VARIABLE}={value!r}: expected one of {PROFILES}")
    return value


def scaled(full: int, quick: int) -> int:
    """A workload size: ``full`` in the full profile, ``quick`` in the quick one."""
    return quick if profile() == "quick" else full


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--quick",
        action="store_true",
        help="quick benchmark profile: the same groups at about a tenth of the size",
    )


def pytest_configure(config: pytest.Config) -> None:
    # Before collection, so module-level workloads built with scaled() see the profile.
    if config.getoption("--quick", default=False):
        os.environ[PROFILE_VARIABLE] = "quick"
    profile()


def pytest_report_header(config: pytest.Config) -> str:
    return f"benchmark profile: {profile()}"


_STARTED: dict[str, Any] = {}


def pytest_sessionstart(session: pytest.Session) -> None:
    # Provenance of the run (bench/summary.py): the machine's load before any work.
    from bench.summary import git_commit, tree_dirty

    _STARTED["time"] = time.monotonic()
    _STARTED["load"] = [round(x, 2) for x in os.getloadavg()]
    # The state of the checkout the benchmarks were imported from, not the one at the end.
    _STARTED["commit"], _STARTED["dirty"] = git_commit(), tree_dirty()


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    """Adds the profile, the load average at the start and the run's duration."""
    machine_info["pyagent_profile"] = profile()
    machine_info["pyagent_load_before"] = _STARTED.get("load")
    machine_info["pyagent_commit"] = _STARTED.get("commit")
    machine_info["pyagent_dirty"] = _STARTED.get("dirty")
    if "time" in _STARTED:
        machine_info["pyagent_duration_s"] = round(time.monotonic() - _STARTED["time"], 1)


#: For a hot path's extra peer groups: the Python reference is timed once, in its main
#: group, so these compare only Rust with the extra peer (direct parametrisation of
#: ``implementation`` overrides the fixture below).
rust_vs_peer_only = pytest.mark.parametrize("implementation", ["rust", "peer"])


@pytest.fixture(params=IMPLEMENTATIONS)
def implementation(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def compare(
    benchmark: Any,
    implementation: str,
    *,
    hot_path: str,
    workload: str,
    ours: Callable[[], Any],
    peer: Callable[[], Any],
    check: Callable[[Any], bool],
    group_suffix: str = "",
    peer_name: str | None = None,
    python_rounds: int | None = None,
    rounds: int | None = None,
) -> None:
    """Benchmarks ``ours`` (on the Python or Rust path) or ``peer`` for ``hot_path``.

    ``check`` receives the benchmarked call's result and must return True; a wrong answer
    fails the benchmark instead of being timed. ``peer_name`` names ``peer`` in the report
    when it is not the manifest's peer (a group with a ``group_suffix`` for another library).
    ``python_rounds`` times the pure-Python reference in exactly that many rounds (one
    iteration each, ``benchmark.pedantic``) instead of pytest-benchmark's calibrated count:
    for a full-size workload where one Python round takes seconds. ``rounds`` does the same
    for every implementation (Rust and the peer too): for a workload where even the fastest
    round takes seconds, so the session's calibrated minimum would take minutes.
    """
    entry = load_manifest().get(hot_path)
    benchmark.group = hot_path + group_suffix
    benchmark.extra_info.update(
        hot_path=hot_path,
        implementation=implementation,
        workload=workload,
        peer=peer_name or entry.peer,
        profile=profile(),
    )
    if implementation == "rust":
        import importlib

        module = importlib.import_module(entry.module)
        if getattr(module, "rc", None) is None or not hasattr(module.rc, entry.name):
            pytest.fail(f"{hot_path}: rust_core does not provide it; build with `nox -s build`")
        result = benchmark(ours) if rounds is None else _rounds(benchmark, ours, rounds)
    elif implementation == "python":

        def python_path() -> Any:
            with forced_python():
                return ours()

        if python_rounds is None:
            python_rounds = rounds
        if python_rounds is None:
            result = benchmark(python_path)
        else:
            result = benchmark.pedantic(python_path, rounds=python_rounds, iterations=1)
    else:
        result = benchmark(peer) if rounds is None else _rounds(benchmark, peer, rounds)
    assert check(result), f"{implementation} gave a wrong result for {hot_path}"
    benchmark.extra_info["correct"] = True


def _rounds(benchmark: Any, function: Callable[[], Any], rounds: int) -> Any:
    """``function`` timed in exactly ``rounds`` rounds of one call each."""
    return benchmark.pedantic(function, rounds=rounds, iterations=1)
