"""`pristine run --batch-files N` commits batch by batch; killed halfway, the same command resumes."""

from conftest import WARC_SAMPLES, dataset, kill_after_batches, manifest_lines

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


def test_a_killed_run_resumes_to_the_same_output(tmp_path, capsys):
    whole = tmp_path / "whole"
    assert cli.main(argv(whole)) == 0
    stats = read_stats(str(whole))
    assert stats["accounting_ok"] and stats["files_read"] == 6 and len(manifest_lines(whole)) == 6

    killed = tmp_path / "killed"
    finished = kill_after_batches(argv(killed), killed)
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
