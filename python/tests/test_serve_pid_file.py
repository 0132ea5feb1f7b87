"""`serve --pid-file`: a deployment's server outlives the process that started it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from conftest import (
    PYTHON_DIR,
    REGRESSOR_PREDICT,
    REGRESSOR_TRAIN,
    regression_manifest,
    run_in_process,
    train_args,
    write_model_dir,
    write_regression_csv,
)


def _alive(pid: int) -> bool:
    """True while the process runs; a zombie waiting to be reaped has exited."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _serve_args(tmp_path: Path, pid_file: Path) -> list[str]:
    model_dir = write_model_dir(tmp_path / "model", regression_manifest(), REGRESSOR_TRAIN, REGRESSOR_PREDICT)
    run = run_in_process(train_args(model_dir, write_regression_csv(tmp_path / "data.csv"), tmp_path / "out"))
    assert run.exit_code == 0, run.events
    return [
        *("-m", "mloop_runtime", "serve", "--model-dir", str(model_dir)),
        *("--artifact", str(tmp_path / "out" / "model.joblib"), "--model-name", "kept", "--model-version", "1"),
        *("--port", "0", "--pid-file", str(pid_file)),
    ]


ENV = {**os.environ, "PYTHONPATH": str(PYTHON_DIR), "PYTHONHASHSEED": "0"}


def test_a_server_with_a_pid_file_keeps_serving_when_its_parent_dies(tmp_path: Path) -> None:
    pid_file = tmp_path / "server.pid"
    launcher = (
        "import subprocess, sys, time; p = subprocess.Popen(sys.argv[1:]); print(p.pid, flush=True); time.sleep(600)"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", launcher, sys.executable, *_serve_args(tmp_path, pid_file)],
        stdout=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    assert parent.stdout is not None
    server_pid = int(parent.stdout.readline())
    try:
        ready = json.loads(parent.stdout.readline())
        assert ready["event"] == "ready"
        assert pid_file.read_text() == f"{server_pid}\n"
        parent.kill()
        parent.wait()
        time.sleep(2.5)  # longer than the orphan watch's interval
        assert _alive(server_pid), "the server stopped with its parent although it has a pid file"
        with urllib.request.urlopen(f"http://127.0.0.1:{ready['port']}/v2/health/ready", timeout=10) as answer:
            assert answer.status == 200
        os.kill(server_pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while _alive(server_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(server_pid)
        assert not pid_file.exists(), "a stopped server leaves its pid file behind"
    finally:
        if _alive(server_pid):
            os.kill(server_pid, signal.SIGKILL)


def test_an_unwritable_pid_file_is_a_usage_error(tmp_path: Path) -> None:
    args = _serve_args(tmp_path, tmp_path / "missing-dir" / "server.pid")
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=ENV, timeout=60)
    assert done.returncode == 64
    event = json.loads(done.stdout)
    assert event["kind"] == "UsageError"
    assert event["message"].startswith(f"cannot write the pid file {tmp_path / 'missing-dir' / 'server.pid'}")
