"""The same WARC files through every runner users run pristine on; each output must equal the DirectRunner's.

- DirectRunner (the FnApiRunner, in process): the reference.
- PortableRunner: a separately started Beam job service and Python worker pool (--environment_type=EXTERNAL),
  the interface Flink and Dataflow use for Python workers. Every DoFn, coder and element crosses a process
  boundary over gRPC, so pickling and coder bugs that the in-process runner hides fail here.
- FlinkRunner (opt-in, `make test-flink`): a real Flink JobManager and TaskManager started by `make flink`,
  through Beam's Flink job server, with the same external worker pool.

Wall times are printed at the end of the module (`runner wall times: ...`).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import REPO, WARC_SAMPLES

if str(REPO) not in sys.path:  # infra/ is not part of the installed package
    sys.path.insert(0, str(REPO))

from infra import services  # noqa: E402
from pipeline import cli
from pipeline.stats import read_stats

INPUTS = [
    "commoncrawl/warcfile.warc.gz",  # Common Crawl, gzip per record: most of the rows
    "commoncrawl/whirlwind.warc.gz",
    "edge-cases/IAH-20080430204825-00000-blackbook-truncated.warc.gz",  # a truncated file
    "edge-cases/example.arc.gz",  # ARC
    "edge-cases/clipped.warc.gz",
]
FLINK_STATE = REPO / ".cache" / "flink" / "run" / "cluster.json"
WALL_TIMES: dict[str, float] = {}


def read_rows(out: Path) -> list[dict]:
    """Every row of a run (partition columns restored from the paths), sorted by id."""
    rows = []
    for root in ("curated", "rejected", "failed"):
        if (out / root).exists():
            for row in pq.read_table(out / root).to_pylist():
                rows.append({**row, "_root": root})
    return sorted(rows, key=lambda r: r["id"])


@contextlib.contextmanager
def watchdog(service: services.Service, seconds: float = 600):
    """A job whose workers never come hangs its runner forever: stop `service` after `seconds`, so the
    run fails instead of holding CI until its time limit."""
    timer = threading.Timer(seconds, service.stop)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def run(out: Path, *beam_args: str) -> float:
    inputs = [str(WARC_SAMPLES / name) for name in INPUTS]
    started = time.monotonic()
    code = cli.main(["run", "--input", *inputs, "--output", str(out), *beam_args])
    seconds = time.monotonic() - started
    assert code == 0
    return seconds


def counts(stats: dict) -> dict:
    """stats.json without its timings (which differ between any two runs) and the record of what produced
    it (its command line and runner options differ by design)."""
    return {k: v for k, v in stats.items() if "seconds" not in k and k != "provenance"}


def assert_same_output(out: Path, reference: Path) -> None:
    rows, expected = read_rows(out), read_rows(reference)
    assert [r["id"] for r in rows] == [r["id"] for r in expected]
    for row, want in zip(rows, expected, strict=True):
        assert row == want, f"row {row['id']} differs"
    assert counts(read_stats(str(out))) == counts(read_stats(str(reference)))
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.parquet"))
    assert written == sorted(p.relative_to(reference).as_posix() for p in reference.rglob("*.parquet"))


@pytest.fixture(scope="module", autouse=True)
def report_wall_times(request):
    yield
    if WALL_TIMES:
        line = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in WALL_TIMES.items())
        capture = request.config.pluginmanager.get_plugin("capturemanager")
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            print(f"\nrunner wall times ({len(INPUTS)} files): {line}")


@pytest.fixture(scope="module")
def direct_run(tmp_path_factory, shared_data):
    out = tmp_path_factory.mktemp("direct")
    WALL_TIMES["DirectRunner"] = run(out)
    stats = read_stats(str(out))
    # the input is small but covers every outcome
    assert stats["accounting_ok"] and stats["files_read"] == len(INPUTS)
    assert stats["kept"] and stats["rejected"] and stats["failed"]
    return out


@pytest.fixture(scope="module")
def worker_pool(tmp_path_factory):
    """An external Python worker pool, started by PID and always stopped (also when a test fails)."""
    pool = services.start_worker_pool(tmp_path_factory.mktemp("worker-pool"))
    try:
        yield pool
    finally:
        pool.stop()
        assert not services._group_alive(pool.proc.pid)


@pytest.fixture
def job_service(tmp_path):
    service = services.start_job_service(tmp_path / "job-service")
    try:
        yield service
    finally:
        service.stop()


def test_portable_runner_with_external_workers_equals_direct(tmp_path, direct_run, worker_pool, job_service):
    out = tmp_path / "portable"
    with watchdog(job_service):
        WALL_TIMES["PortableRunner"] = run(
            out,
            "--runner=PortableRunner",
            f"--job_endpoint={job_service.address}",
            "--environment_type=EXTERNAL",
            f"--environment_config={worker_pool.address}",
        )
    assert worker_pool.alive() and job_service.alive()
    assert_same_output(out, direct_run)


def flink_cluster() -> dict:
    """The cluster `make flink` started (infra/flink/cluster.py writes its ports and job-server jar)."""
    if not FLINK_STATE.exists():
        pytest.fail(f"no Flink cluster: run `make flink` first ({FLINK_STATE} missing)")
    state = json.loads(FLINK_STATE.read_text())
    if not services.port_open(state["rest_port"]):
        pytest.fail(f"Flink REST endpoint 127.0.0.1:{state['rest_port']} is down: run `make flink`")
    if not state.get("job_server_jar") or not Path(state["job_server_jar"]).exists():
        pytest.fail(
            "the Beam Flink job server jar is missing: Maven did not serve "
            f"{state.get('job_server_coordinates')} (see `make flink` output)"
        )
    return state


@pytest.mark.skipif(
    not os.environ.get("PRISTINE_FLINK"), reason="opt-in: `make test-flink` (needs `make flink`)"
)
def test_flink_runner_equals_direct(tmp_path, direct_run, worker_pool):
    state = flink_cluster()
    out = tmp_path / "flink"
    with watchdog(worker_pool):
        WALL_TIMES["FlinkRunner"] = run(
            out,
            "--runner=FlinkRunner",
            f"--flink_master=127.0.0.1:{state['rest_port']}",
            f"--flink_version={state['flink_minor']}",
            f"--flink_job_server_jar={state['job_server_jar']}",
            "--parallelism=2",
            "--environment_type=EXTERNAL",
            f"--environment_config={worker_pool.address}",
        )
    assert_same_output(out, direct_run)
