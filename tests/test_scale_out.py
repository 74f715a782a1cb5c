"""Hot paths on worker processes: a spawn process pool and a Dask LocalCluster.

The workloads of ``examples/scale_out.py`` (the one the cluster guide shows), at a bounded
size: 2 workers, a few hundred sources and a few thousand instances. Answers must equal
those of one process, and the workers must run the backend this suite run selected (they
inherit ``PYAGENT_BACKEND``).
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import distributed
import pytest

from examples import scale_out
from pyagent.analysis_core import calculate_complexity_batch
from pyagent.kv_cache_core import BlockManager
from pyagent.validation_core import compile_schema

SOURCES = scale_out.agent_sources(240)
CALLS = scale_out.tool_calls(3000)


def _expected_backend() -> str:
    return type(BlockManager(1, 1)).__module__


def _check_workers(executor: Any) -> None:
    """The workloads on ``executor`` give one process's answers, with this backend."""
    reports = scale_out.scan_complexity(SOURCES, executor)
    assert reports == calculate_complexity_batch(SOURCES)
    verdicts = scale_out.validate_calls(scale_out.TOOL_CALL_SCHEMA, CALLS, executor)
    expected = compile_schema(scale_out.TOOL_CALL_SCHEMA).is_valid_many(CALLS)
    assert verdicts == expected
    assert 0 < sum(verdicts) < len(verdicts)  # both kinds present: a real check
    assert executor.submit(scale_out.backend_in_worker).result() == _expected_backend()
    # A stateful object goes to a worker, is driven there, and comes back.
    manager = BlockManager(32, 4)
    manager.allocate(1, 3)
    manager.fork(1, 2)
    back = executor.submit(scale_out.run_scheduler_step, manager, [1, 2]).result()
    local = scale_out.run_scheduler_step(manager, [1, 2])
    assert type(back) is type(local)
    assert back.__getstate__() == local.__getstate__()


@pytest.mark.slow
def test_process_pool_spawn_gives_one_process_answers() -> None:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as executor:
        _check_workers(executor)


@pytest.mark.slow
def test_dask_local_cluster_gives_one_process_answers() -> None:
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        _check_workers(client)


def test_example_script_reports_equal_answers(capsys: pytest.CaptureFixture[str]) -> None:
    """The guide's script, small: exit 0 and the line it prints when answers agree."""
    assert scale_out.main(["--files", "40", "--instances", "500"]) == 0
    assert "same answers as one process" in capsys.readouterr().out
