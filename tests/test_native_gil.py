"""The native hot paths release the GIL for heavy work, so other threads keep running.

Not a timing assertion: while a worker thread is inside one long native call, the main
thread counts how often it gets to run Python code. The switch interval is raised so the
interpreter never forces a hand-over: with the GIL held through the call the main thread
cannot run at all until it returns; released, the main thread spins until the worker asks
for the GIL back (at most one interval later).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from pyagent import base_core, cache_core

BLOB = bytes(range(256)) * (1 << 18)  # 64 MiB


def main_thread_runs_during(call: Callable[[], object]) -> int:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(0.25)
    try:
        return _count_runs(call)
    finally:
        sys.setswitchinterval(previous)


def _count_runs(call: Callable[[], object]) -> int:
    inside = threading.Event()
    done = threading.Event()

    def worker() -> None:
        inside.set()
        try:
            call()
        finally:
            done.set()

    thread = threading.Thread(target=worker)
    thread.start()
    inside.wait()
    runs = 0
    while not done.is_set():
        runs += 1
    thread.join()
    return runs


@pytest.mark.requires_rust
def test_hashing_a_large_buffer_releases_the_gil() -> None:
    assert main_thread_runs_during(lambda: cache_core.generate_hash(BLOB, "sha512")) > 1000


@pytest.mark.requires_rust
def test_batch_hashing_releases_the_gil() -> None:
    items = [BLOB[i : i + 4096] for i in range(0, len(BLOB), 4096)]
    assert main_thread_runs_during(lambda: cache_core.generate_hash_batch(items, "sha512")) > 1000


@pytest.mark.requires_rust
def test_save_atomic_releases_the_gil_while_writing(tmp_path: Path) -> None:
    target = tmp_path / "big.bin"
    assert main_thread_runs_during(lambda: base_core.save_atomic(target, BLOB)) > 1000
    assert target.stat().st_size == len(BLOB)
