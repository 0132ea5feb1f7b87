"""The `serve` command: loads an artifact like `evaluate` does, then answers Open Inference
Protocol (KServe V2) requests over HTTP until SIGTERM or SIGINT.

stdout gets exactly one line, the `ready` event (or, when startup fails, the `error`
event, as for the other commands); user output goes to stderr.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from .entrypoints import describe_exception, load_entrypoint, user_modules_importable
from .errors import UsageError
from .evaluate_command import check_artifact_exists, load_artifact
from .manifest import load_manifest
from .protocol import ProtocolWriter
from .serve_http import InferenceServer, make_server
from .serve_model import ServedModel

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@dataclass(frozen=True)
class ServeOptions:
    model_dir: Path
    artifact: Path
    model_name: str
    model_version: str
    host: str = "127.0.0.1"
    port: int = 0
    log_requests: bool = False
    # A deployment's server: found again through this file by whoever manages it, so it does not
    # stop with the process that started it.
    pid_file: Path | None = None


def _ignore(signum: int, frame: FrameType | None) -> None:
    """The signal's only effect is the byte signal.set_wakeup_fd writes."""


def _stop_when_orphaned(parent: int, interval: float = 1.0) -> None:
    """The engine can die without stopping its servers (a worker killed with SIGKILL). A server
    that nobody can reach or stop must not outlive it: once reparented, stop like on SIGTERM."""
    while True:
        time.sleep(interval)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)
            return


def _write_pid_file(path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        tmp.write_text(f"{os.getpid()}\n")
        os.replace(tmp, path)
    except OSError as exc:
        raise UsageError(f"cannot write the pid file {path}: {describe_exception(exc)}") from exc


def _remove_pid_file(path: Path) -> None:
    """Removes the pid file if it is still this process's (a successor may have taken it)."""
    try:
        if path.read_text().strip() == str(os.getpid()):
            path.unlink()
    except OSError:
        pass


def _serve_until_stop_signal(
    server: InferenceServer, on_serving: Callable[[], None], watch_parent: bool = True
) -> None:
    """Serves on a thread while the main thread waits for SIGTERM/SIGINT, then stops
    gracefully. The handlers only wake the main thread (set_wakeup_fd): nothing happens
    inside a signal handler, so no lock can be taken there. `on_serving` runs once the
    signals are handled and requests are served (a stop signal from then on exits 0)."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    previous_handlers = {s: signal.signal(s, _ignore) for s in STOP_SIGNALS}
    previous_wakeup_fd = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    try:
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="mloop-serve", daemon=True
        )
        thread.start()
        if watch_parent:
            threading.Thread(
                target=_stop_when_orphaned, args=(os.getppid(),), name="mloop-orphan-watch", daemon=True
            ).start()
        on_serving()
        while not os.read(read_end, 1):  # blocks until a signal arrives
            pass
        server.stop()  # a second signal during the drain is ignored too
        thread.join()
    finally:
        signal.set_wakeup_fd(previous_wakeup_fd)
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)
        os.close(read_end)
        os.close(write_end)


def run_serve(options: ServeOptions, writer: ProtocolWriter) -> None:
    """Runs the serve command until a stop signal; failures before `ready` raise."""
    if options.pid_file is not None:
        # Written first, so a server that is still loading is found too (and not started twice).
        _write_pid_file(options.pid_file)
        try:
            _run_serve(options, writer)
        finally:
            _remove_pid_file(options.pid_file)
    else:
        _run_serve(options, writer)


def _run_serve(options: ServeOptions, writer: ProtocolWriter) -> None:
    manifest = load_manifest(options.model_dir)
    check_artifact_exists(options.artifact)

    # The model dir stays importable while serving: predict may import lazily.
    with user_modules_importable(manifest.model_dir):
        predict = load_entrypoint(manifest.predict, "predict", manifest.path)
        model = load_artifact(options.artifact, manifest.model_dir)
        served = ServedModel(manifest, model, predict, options.model_name, options.model_version)
        try:
            server = make_server(options.host, options.port, served, options.log_requests)
        except OSError as exc:  # port taken, unknown host, no permission
            raise UsageError(f"cannot listen on {options.host}:{options.port}: {describe_exception(exc)}") from exc
        host, port = server.server_address[:2]
        _serve_until_stop_signal(
            server,
            lambda: writer.emit("ready", host=host, port=port, model=options.model_name, version=options.model_version),
            watch_parent=options.pid_file is None,
        )
