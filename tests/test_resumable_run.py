"""`pristine run --batch-files N` commits batch by batch; killed halfway, the same command resumes."""

import os
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
from conftest import REPO, WARC_SAMPLES

from pipeline import cli
from pipeline.stats import read_stats

FILES = [str(p) for p in sorted((WARC_SAMPLES / "serp-archive-query-log").glob("*.warc.gz"))[:6]]


def argv(out):
    return [
        "run",
        "--input",
        *FILES,
        "--output",
        str(out),
        "--batch-files",
        "1",
        "--extractor",
        "resiliparse",
    ]


def dataset(out):
    """Every Parquet file's rows: documents by id, the synthetic estimates by (crawl, domain)."""
    tables = {str(p.relative_to(out)): pq.read_table(p) for p in sorted(out.rglob("*.parquet"))}
    return {
        name: t.sort_by(
            "id" if "id" in t.column_names else [("crawl", "ascending"), ("domain", "ascending")]
        ).to_pylist()
        for name, t in tables.items()
    }


def manifest_lines(out):
    path = out / "manifest.jsonl"
    return path.read_text().splitlines() if path.exists() else []


def test_a_killed_run_resumes_to_the_same_output(tmp_path, capsys):
    whole = tmp_path / "whole"
    assert cli.main(argv(whole)) == 0
    stats = read_stats(str(whole))
    assert stats["accounting_ok"] and stats["files_read"] == 6 and len(manifest_lines(whole)) == 6

    killed = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", *argv(killed)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 240
    while len(manifest_lines(killed)) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = len(manifest_lines(killed))
    assert 2 <= finished < 6, "the kill must land mid-run"

    capsys.readouterr()
    assert cli.main(argv(killed)) == 0
    assert f"run: 6 batches, {finished} already finished, {6 - finished} to run" in capsys.readouterr().out
    assert len(manifest_lines(killed)) == 6 and not list(killed.glob("_incomplete-*"))
    assert dataset(killed) == dataset(whole)  # no row lost, none duplicated


def test_batch_files_refuses_overwrite_and_bad_values(tmp_path, capsys):
    assert cli.main([*argv(tmp_path / "a"), "--overwrite"]) == 2
    assert "--overwrite does not apply" in capsys.readouterr().err
    assert cli.main([*argv(tmp_path / "b")[:-4], "--batch-files", "0"]) == 2
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
