"""Start and stop the local Beam services the runner tests need, by PID, on free loopback ports.

- a Beam job service (`local_job_service_main`): what PortableRunner submits to;
- a Python worker pool (`worker_pool_main`): the SDK harness of `--environment_type=EXTERNAL`, the way
  Flink TaskManagers and Kubernetes sidecars run Python workers.

Each service runs in its own process group (its SDK worker children too), so `stop()` ends exactly the
processes it started: SIGTERM to the group, SIGKILL after a grace period. No name-based killing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it)."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


@dataclass
class Service:
    name: str
    proc: subprocess.Popen
    port: int
    log: Path
    _log_file: object = field(repr=False, default=None)

    @property
    def address(self) -> str:
        return f"localhost:{self.port}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM the service's process group, SIGKILL what is left after grace_s."""
        pgid = self.proc.pid  # start_new_session=True: the group id is the leader's pid
        for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, sig)
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline and _group_alive(pgid):
                with contextlib.suppress(ChildProcessError):
                    self.proc.poll()
                time.sleep(0.1)
            if not _group_alive(pgid):
                break
        with contextlib.suppress(Exception):
            self.proc.wait(timeout=1)
        if self._log_file is not None:
            self._log_file.close()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie leader still counts for killpg(0): check the group has a live, non-zombie member
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state != "Z":
            return True
    return False


def _spawn(name: str, args: list[str], workdir: Path) -> tuple[subprocess.Popen, Path, object]:
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / f"{name}.log"
    log_file = open(log, "wb")  # noqa: SIM115 - closed by Service.stop
    # worker_pool_main starts SDK workers as plain `python` from PATH: make that the same interpreter
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(args[0]).parent), os.environ.get("PATH", "")])}
    proc = subprocess.Popen(
        args,
        cwd=workdir,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    return proc, log, log_file


def _wait_ready(service: Service, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not service.alive():
            raise RuntimeError(f"{service.name} exited at start:\n{service.log_tail()}")
        if port_open(service.port):
            return
        time.sleep(0.2)
    service.stop()
    raise RuntimeError(
        f"{service.name} not listening on {service.port} after {timeout_s} s:\n{service.log_tail()}"
    )


def start_worker_pool(workdir: Path, python: str = sys.executable, timeout_s: float = 60) -> Service:
    """`python -m apache_beam.runners.worker.worker_pool_main` on a free port (retried if taken meanwhile)."""
    last_error = None
    for _ in range(3):
        port = free_port()
        proc, log, log_file = _spawn(
            "worker-pool",
            [python, "-m", "apache_beam.runners.worker.worker_pool_main", f"--service_port={port}"],
            workdir,
        )
        service = Service("worker pool", proc, port, log, log_file)
        try:
            _wait_ready(service, timeout_s)
            return service
        except RuntimeError as exc:
            service.stop()
            last_error = exc
    raise RuntimeError(f"could not start the worker pool: {last_error}")


def start_job_service(workdir: Path, python: str = sys.executable, timeout_s: float = 60) -> Service:
    """`python -m apache_beam.runners.portability.local_job_service_main --port 0`; the port it bound is
    read from its --port_file, so there is no race for the port."""
    port_file = workdir / "job-service.port"
    port_file.unlink(missing_ok=True)
    proc, log, log_file = _spawn(
        "job-service",
        [
            python,
            "-m",
            "apache_beam.runners.portability.local_job_service_main",
            "--port=0",
            f"--port_file={port_file}",
            f"--staging_dir={workdir / 'staging'}",
        ],
        workdir,
    )
    service = Service("job service", proc, 0, log, log_file)
    deadline = time.monotonic() + timeout_s
    while not port_file.exists():
        if not service.alive() or time.monotonic() > deadline:
            service.stop()
            raise RuntimeError(f"job service did not start:\n{service.log_tail()}")
        time.sleep(0.2)
    service.port = int(port_file.read_text())
    _wait_ready(service, timeout_s)
    return service
