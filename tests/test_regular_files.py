"""Only regular files are read as documents: load_config, load_ranks and bulk_hash_files on
folders, FIFOs, sockets and devices (also behind symbolic links) fail at once, with the same
class from both backends, instead of blocking on a FIFO or reading /dev/zero until memory
runs out. Each run happens in a child process with a time limit, so a regression fails the
test instead of hanging the suite."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file types")

#: Run in the child: every reader on every special path, per backend, as [class, errno].
CHILD = r"""
import json, sys
from pyagent import config_core
from pyagent.backend import forced_python
from pyagent.config_core import load_config
from pyagent.file_system_core import bulk_hash_files
from pyagent.tokenizer_core import load_ranks

paths, regular = json.loads(sys.argv[1]), sys.argv[2]
readers = {
    "load_config": load_config,
    "load_config_yaml": lambda p: load_config(p, "yaml"),
    "load_config_ini": lambda p: load_config(p, "ini"),
    "load_config_list": lambda p: load_config([regular, p]),
    "load_ranks": load_ranks,
}

def run():
    out = {}
    for kind, path in paths.items():
        for name, reader in readers.items():
            try:
                reader(path)
                out[f"{name} {kind}"] = "ok"
            except Exception as exc:
                out[f"{name} {kind}"] = [type(exc).__name__, getattr(exc, "errno", None)]
        out[f"bulk_hash_files {kind}"] = bulk_hash_files([path])[0][2]
    return out

results = {"selected": run()}
if config_core.rc is not None:
    with forced_python():
        results["python"] = run()
print(json.dumps(results))
"""


@pytest.fixture
def special_paths(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Every kind of path that is not a regular file, each with a config extension."""
    (tmp_path / "folder.json").mkdir()
    os.mkfifo(tmp_path / "fifo.json")
    os.symlink("fifo.json", tmp_path / "link-to-fifo.json")
    os.symlink("/dev/zero", tmp_path / "zero.json")
    os.symlink("/dev/null", tmp_path / "null.json")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(tmp_path / "sock.json"))
    yield {
        "folder": str(tmp_path / "folder.json"),
        "fifo": str(tmp_path / "fifo.json"),
        "link-to-fifo": str(tmp_path / "link-to-fifo.json"),
        "dev-zero": str(tmp_path / "zero.json"),
        "dev-null": str(tmp_path / "null.json"),
        "socket": str(tmp_path / "sock.json"),
    }
    server.close()


def test_special_files_are_refused_at_once_by_every_reader(
    special_paths: dict[str, str], tmp_path: Path
) -> None:
    regular = tmp_path / "regular.json"
    regular.write_text('{"a": 1}')
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(special_paths), str(regular)],
        capture_output=True,
        text=True,
        timeout=60,  # a blocked open or an endless read ends here, as a failure
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert set(results) == ({"selected", "python"} if rust_active() else {"selected"})
    for backend, outcome in results.items():
        assert len(outcome) == len(special_paths) * 6
        for key, value in outcome.items():
            reader, kind = key.split()
            if reader == "bulk_hash_files":
                expected: object = (
                    "IsADirectoryError: [Errno 21] Is a directory"
                    if kind == "folder"
                    else "OSError: not a regular file"
                )
            else:
                expected = ["IsADirectoryError", 21] if kind == "folder" else ["OSError", 22]
            assert value == expected, f"{backend} backend, {key}"


def rust_active() -> bool:
    from pyagent import config_core

    return config_core.rc is not None
