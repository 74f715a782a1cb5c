"""Hot paths fanned out over worker processes: a process pool or a Dask cluster.

The hot paths run unchanged in the workers: arguments and results are pickled on the way
(a compiled schema, a tokenizer, a block manager included), and each worker picks its own
backend the usual way (``PYAGENT_BACKEND``, inherited from the parent). Run it::

    python examples/scale_out.py            # a spawn ProcessPoolExecutor with 2 workers
    python examples/scale_out.py --dask     # a distributed.LocalCluster with 2 processes

Both print the figures of one process beside those of the workers and exit non-zero if the
answers differ. ``docs/guides/cluster.md`` walks through it.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any, TypeVar

from pyagent.analysis_core import ComplexityReport, calculate_complexity_batch
from pyagent.kv_cache_core import BlockManager
from pyagent.validation_core import compile_schema

T = TypeVar("T")
R = TypeVar("R")

#: The schema of the validation workload: a tool call as a model emits it.
TOOL_CALL_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["tool", "arguments"],
    "properties": {
        "tool": {"type": "string", "pattern": "^[a-z_]+$"},
        "arguments": {"type": "object", "additionalProperties": {"type": ["string", "number"]}},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    },
}


def agent_sources(count: int) -> list[str]:
    """``count`` small, distinct Python modules: the complexity scan's workload."""
    return [
        f"def handler_{i}(event, retries={i % 5}):\n"
        + "".join(f"    if event == {j}:\n        return {j}\n" for j in range(i % 7))
        + f"    for _ in range(retries):\n        if event > {i}:\n            break\n"
        + "    return None\n\n"
        + f"class Agent{i}:\n    def step(self, x):\n        return x and {i} or -{i}\n"
        for i in range(count)
    ]


def tool_calls(count: int) -> list[Any]:
    """``count`` model outputs, about one in ten of them invalid."""
    calls: list[Any] = []
    for i in range(count):
        call: dict[str, Any] = {"tool": "search", "arguments": {"q": f"query {i}", "k": i % 10}}
        if i % 10 == 3:
            call["confidence"] = 1.5  # out of range
        elif i % 10 == 7:
            del call["arguments"]  # missing
        else:
            call["confidence"] = (i % 100) / 100
        calls.append(call)
    return calls


def chunks(items: Sequence[T], count: int) -> list[Sequence[T]]:
    """``items`` in ``count`` contiguous slices (fewer when there are fewer items)."""
    size = max(1, -(-len(items) // max(1, count)))
    return [items[i : i + size] for i in range(0, len(items), size)]


def fan_out(
    function: Callable[[Sequence[T]], list[R]],
    items: Sequence[T],
    executor: Executor | Any,
    parts: int = 8,
) -> list[R]:
    """``function`` over slices of ``items`` on ``executor``, results joined in order.

    ``executor`` is a :class:`concurrent.futures.Executor` or a ``distributed.Client``:
    both take ``submit(function, *args)``; a Client's futures are gathered by it.
    """
    futures = [executor.submit(function, part) for part in chunks(items, parts)]
    if hasattr(executor, "gather"):
        parts_done: Iterable[list[R]] = executor.gather(futures)
    else:
        parts_done = [future.result() for future in futures]
    return [result for part in parts_done for result in part]


def scan_complexity(sources: Sequence[str], executor: Executor | Any) -> list[ComplexityReport]:
    """The complexity reports of ``sources``, computed by ``executor``'s workers."""
    return fan_out(calculate_complexity_batch, sources, executor)


def validate_calls(schema: Any, instances: Sequence[Any], executor: Executor | Any) -> list[bool]:
    """Validity of each instance; the schema is compiled once here and pickled to workers."""
    validator = compile_schema(schema)
    # A bound method pickles as (validator, "is_valid_many"): the compiled schema travels.
    return fan_out(validator.is_valid_many, instances, executor)


def run_scheduler_step(manager: BlockManager, seq_ids: Sequence[int]) -> BlockManager:
    """One decode step for ``seq_ids`` on a manager shipped to a worker, sent back after."""
    for seq_id in seq_ids:
        manager.append_token(seq_id)
    return manager


def backend_in_worker() -> str:
    """The module of the block manager class a worker builds: its active backend."""
    return type(BlockManager(1, 1)).__module__


def main(argv: Sequence[str] | None = None) -> int:
    """Runs both workloads in one process and on workers; 1 if any answer differs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dask", action="store_true", help="use a distributed.LocalCluster")
    parser.add_argument("--files", type=int, default=2000, help="sources to scan")
    parser.add_argument("--instances", type=int, default=100_000, help="tool calls to validate")
    args = parser.parse_args(argv)
    sources, calls = agent_sources(args.files), tool_calls(args.instances)
    local_reports = calculate_complexity_batch(sources)
    local_verdicts = compile_schema(TOOL_CALL_SCHEMA).is_valid_many(calls)
    if args.dask:
        from distributed import Client, LocalCluster

        with (
            LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster) as executor,
        ):
            reports = scan_complexity(sources, executor)
            verdicts = validate_calls(TOOL_CALL_SCHEMA, calls, executor)
            worker_backend = executor.submit(backend_in_worker).result()
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=2, mp_context=context) as executor:
            reports = scan_complexity(sources, executor)
            verdicts = validate_calls(TOOL_CALL_SCHEMA, calls, executor)
            worker_backend = executor.submit(backend_in_worker).result()
    same = reports == local_reports and verdicts == local_verdicts
    print(f"workers' backend: {worker_backend}; this process: {backend_in_worker()}")
    print(f"{len(reports)} complexity reports, {sum(verdicts)} of {len(verdicts)} calls valid")
    print("same answers as one process" if same else "ANSWERS DIFFER from one process")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
