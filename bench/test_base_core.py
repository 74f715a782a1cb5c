"""BaseCore.save_atomic: durable replacement of a state file.

Workload: a 4 MiB JSON-ready state file (bytes) replaced repeatedly in a temp folder. Every
implementation fsyncs file and folder, so the disk dominates and the ratio shows overhead,
not a different guarantee. Peer: ``tempfile.mkstemp`` + write + fsync + ``os.replace`` +
folder fsync, the recipe a user writes by hand.
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

from bench.conftest import compare
from pyagent import base_core

PAYLOAD = random.Random(3).randbytes(4 << 20)


def _peer_save(path: Path, data: bytes) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def test_save_atomic(benchmark: object, implementation: str, tmp_path: Path) -> None:
    target = tmp_path / "state.bin"

    def check(_: object) -> bool:
        return target.read_bytes() == PAYLOAD and len(list(tmp_path.iterdir())) == 1

    compare(
        benchmark,
        implementation,
        hot_path="save_atomic",
        workload="4 MiB state file, replaced with fsync",
        ours=lambda: base_core.save_atomic(target, PAYLOAD),
        peer=lambda: _peer_save(target, PAYLOAD),
        check=check,
    )
