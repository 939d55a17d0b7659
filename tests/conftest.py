"""Shared fixtures: the real third-party data in ../shared/data (read-only, never copied)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
WARC_SAMPLES = SHARED_DATA / "warc-samples"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared test data not found at {SHARED_DATA}: the repo must sit beside ../shared")
    return SHARED_DATA


# --------------------------------------------------------------------------------------------------
# Runs committed in batches (backfill, run --batch-files): what the kill-and-resume tests share
# --------------------------------------------------------------------------------------------------


def dataset(out: Path) -> dict:
    """Every Parquet file's rows, in a stable order: documents by id, synthetic_by_domain by (crawl, domain)."""
    files = {}
    for p in sorted(out.rglob("*.parquet")):
        table = pq.read_table(p)
        keys = ["id"] if "id" in table.column_names else ["crawl", "domain"]  # documents / domain estimates
        files[str(p.relative_to(out))] = table.sort_by([(k, "ascending") for k in keys]).to_pylist()
    return files


def manifest_lines(out: Path) -> list[str]:
    path = out / "manifest.jsonl"
    return path.read_text().splitlines() if path.exists() else []


def kill_after_batches(cli_args: list[str], out: Path, batches: int = 2) -> int:
    """Run ``python -m pipeline.cli CLI_ARGS`` in its own process group and SIGKILL the whole group once `out`'s
    manifest records `batches` finished batches (or the command ends); returns the number recorded."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", *cli_args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 240
    while len(manifest_lines(out)) < batches and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return len(manifest_lines(out))
