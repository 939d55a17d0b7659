"""Progress while a run works: files done / total, documents, docs/s, ETA; where to look on remote runners."""

import os
import subprocess

from conftest import REPO, WARC_SAMPLES

from pipeline import progress

SERP = sorted((WARC_SAMPLES / "serp-archive-query-log").glob("*.warc.gz"))[:6]


def test_progress_line_estimates_what_is_left_from_what_is_done():
    # 2 of 4 files read, 10 responses in them -> ~20 expected; 5 extracted in 10 s -> 0.5 docs/s -> 30 s left
    text = progress.line({"files": 2, "html": 10, "extracted": 5}, 4, 10.0)
    assert text.startswith("progress: files 2/4 read, 10 HTML responses, 5 documents extracted, 0.5 docs/s")
    assert text.endswith("ETA 0:00:30")
    assert progress.line({"files": 1, "html": 3}, 4, 2.0).endswith("ETA ?")  # nothing extracted yet
    assert progress.line({"scored": 50}, None, 5.0).startswith("progress: 50 documents scored, 10.0 docs/s")


def test_remote_runners_point_to_their_own_ui():
    assert progress.remote_hint("FnApiRunner") is None and progress.remote_hint(None) is None
    assert "Dataflow console" in progress.remote_hint("DataflowRunner")
    assert "Flink web UI" in progress.remote_hint("FlinkRunner")


def test_a_run_prints_progress_in_both_running_modes(tmp_path):
    env = {**os.environ, progress.INTERVAL_ENV: "0.2"}
    for mode in ([], ["--direct_num_workers", "2", "--direct_running_mode", "multi_processing"]):
        out = tmp_path / f"out{len(mode)}"
        argv = [
            str(REPO / ".venv" / "bin" / "pristine"),
            "run",
            "--input",
            *map(str, SERP),
            "--output",
            str(out),
        ]
        done = subprocess.run([*argv, *mode], capture_output=True, text=True, env=env, timeout=600)
        assert done.returncode == 0, done.stderr
        lines = [line for line in done.stderr.splitlines() if line.startswith("progress: ")]
        assert len(lines) >= 2, done.stderr  # lines while it works, then the last one
        assert lines[-1].startswith(
            f"progress: files {len(SERP)}/{len(SERP)} read, {len(SERP)} HTML responses"
        )
        assert "\r" not in done.stderr  # not a terminal: plain lines
