"""BaseCore.save_atomic: content, modes, failures, crashes and concurrent writers."""

from __future__ import annotations

import json
import os
import random
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pyagent.base_core import BaseCore, save_atomic
from tests.conftest import ROOT


def entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_bytes_str_and_json_payloads(tmp_path: Path) -> None:
    target = tmp_path / "state"
    save_atomic(target, b"\x00raw")
    assert target.read_bytes() == b"\x00raw"
    save_atomic(str(target), "héllo")
    assert target.read_bytes() == "héllo".encode()
    save_atomic(target, {"a": [1, 2.5, None, True], "ü": "✓"})
    assert (
        target.read_bytes()
        == json.dumps({"a": [1, 2.5, None, True], "ü": "✓"}, ensure_ascii=False).encode()
    )
    save_atomic(target, bytearray(b"ba"))
    assert target.read_bytes() == b"ba"
    assert entries(tmp_path) == ["state"]


def test_new_file_mode_follows_umask_and_existing_mode_is_kept(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        save_atomic(tmp_path / "new", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o640
    kept = tmp_path / "kept"
    kept.write_bytes(b"old")
    kept.chmod(0o600)
    save_atomic(kept, b"new")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600 and kept.read_bytes() == b"new"


@pytest.mark.parametrize(
    ("target", "data", "error"),
    [
        ("missing/state", b"x", FileNotFoundError),
        ("afile/state", b"x", NotADirectoryError),
        ("adir", b"x", IsADirectoryError),
        ("", b"x", ValueError),
        ("x/", b"x", ValueError),
        ("state", {"nan": float("nan")}, ValueError),
        ("state", {1, 2}, TypeError),
        ("state", "\ud800", UnicodeEncodeError),
        ("state", memoryview(b"abcd")[::2], BufferError),
    ],
)
def test_failures_leave_the_target_untouched_and_no_temp(
    tmp_path: Path, target: str, data: object, error: type[Exception]
) -> None:
    (tmp_path / "afile").write_bytes(b"file")
    (tmp_path / "adir").mkdir()
    (tmp_path / "state").write_bytes(b"previous")
    before = entries(tmp_path)
    with pytest.raises(error) as caught:
        save_atomic(os.path.join(tmp_path, target), data)
    assert entries(tmp_path) == before
    assert (tmp_path / "state").read_bytes() == b"previous"
    if issubclass(error, OSError):
        assert caught.value.errno is not None


def test_bytes_path_is_a_type_error(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        save_atomic(os.fsencode(tmp_path / "x"), b"x")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        save_atomic(42, b"x")  # type: ignore[arg-type]


def test_base_core_state_round_trip(tmp_path: Path) -> None:
    core = BaseCore("planner", tmp_path)
    assert core.load_state(default={}) == {}
    core.save_state({"step": 3, "goals": ["a"]})
    assert core.load_state() == {"step": 3, "goals": ["a"]}


WRITER = r"""
import json, sys
from pyagent.base_core import save_atomic
target, tag = sys.argv[1], sys.argv[2]
i = 0
while True:
    body = tag * (200_000 + 997 * (i % 50))
    save_atomic(target, json.dumps({"tag": tag, "i": i, "body": body, "n": len(body)}))
    i += 1
    if len(sys.argv) > 3 and i >= int(sys.argv[3]):
        break
"""


def assert_complete(raw: bytes) -> dict[str, object]:
    value = json.loads(raw)  # a torn file would not parse, or fail the checks below
    assert value["n"] == len(value["body"])
    assert value["body"] == value["tag"] * value["n"]
    return value


def spawn(target: Path, tag: str, count: int | None = None) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-c", WRITER, str(target), tag]
    if count is not None:
        args.append(str(count))
    return subprocess.Popen(args, cwd=ROOT, env=dict(os.environ))


@pytest.mark.slow
def test_sigkill_mid_write_never_tears_the_target(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    save_atomic(target, json.dumps({"tag": "o", "i": -1, "body": "o", "n": 1}))
    rng = random.Random(1)
    kills = 0
    for _ in range(25):
        writer = spawn(target, rng.choice("abc"))
        time.sleep(rng.uniform(0.25, 0.6))  # interpreter start-up, then mid-loop
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        kills += writer.returncode == -signal.SIGKILL
        assert_complete(target.read_bytes())
    assert kills == 25
    # A killed writer may leave its temporary file; nothing else may appear.
    leftovers = [n for n in entries(tmp_path) if n != "state.json"]
    assert all(n.startswith(".state.json.") and n.endswith(".tmp") for n in leftovers)


@pytest.mark.slow
def test_concurrent_writers_never_tear_the_target(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    save_atomic(target, json.dumps({"tag": "o", "i": -1, "body": "o", "n": 1}))
    writers = [spawn(target, tag, count=40) for tag in "wxyz"]
    seen = set()
    while any(w.poll() is None for w in writers):
        seen.add(assert_complete(target.read_bytes())["tag"])
    assert all(w.returncode == 0 for w in writers)
    seen.add(assert_complete(target.read_bytes())["tag"])
    assert len(seen - {"o"}) >= 2  # the readers really overlapped several writers
    assert entries(tmp_path) == ["state.json"]


@pytest.fixture
def unwritable_dir(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A folder no one may create files in: mode 0o555, or for root (which ignores modes)
    the immutable attribute, which stops root too."""
    folder = tmp_path / "locked"
    folder.mkdir()
    (folder / "state.json").write_bytes(b"previous")
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    locked = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True)
    if locked.returncode != 0:
        pytest.skip(f"running as root and chattr +i is unsupported here: {locked.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_unwritable_folder_is_a_permission_error(unwritable_dir: Path) -> None:
    with pytest.raises(PermissionError):
        save_atomic(unwritable_dir / "state.json", b"new")
    assert (unwritable_dir / "state.json").read_bytes() == b"previous"
    assert entries(unwritable_dir) == ["state.json"]


@pytest.mark.requires_rust
def test_unwritable_folder_same_class_from_both_backends(unwritable_dir: Path) -> None:
    from parity.compare import call_both, same_outcome

    rust, python = call_both(save_atomic, unwritable_dir / "state.json", {"k": 1})
    same_outcome(rust, python)
    assert rust.error is PermissionError
