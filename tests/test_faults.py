"""Faults inside the job: dead letters instead of a failed job, and no half-written run."""

import json

import apache_beam as beam
import pyarrow.parquet as pq
import pytest
from conftest import WARC_SAMPLES

from pipeline import cli, graph
from pipeline.stats import read_stats
from transforms.decide import beam as decide_beam
from transforms.decide import read_thresholds
from transforms.schema import new_row
from transforms.signals.beam import ScoreBatchFn


def test_a_row_that_makes_decide_raise_becomes_a_dead_letter():
    decide_fn = decide_beam.DecideFn(read_thresholds())
    decide_fn.setup()
    good = new_row(id="a", text="t", lang="en", lang_score=0.9, gopher_n_words=100, url="http://x.org/")
    hostile = {**good, "id": "b", "gopher_n_words": "many"}  # e.g. a mistyped column read from Parquet
    [kept] = list(decide_fn.process(good, {}))
    [dead] = list(decide_fn.process(hostile, {}))
    assert kept["status"] != "failed"
    assert dead["status"] == "failed" and dead["failure_reason"] == "decide_error"
    assert "TypeError" in dead["failure_detail"] and dead["id"] == "b"


def test_one_bad_row_in_a_scoring_batch_fails_alone():
    score = ScoreBatchFn(None)
    score.setup()
    rows = [new_row(id=str(i), text="The river rose overnight and the bridge was closed.") for i in range(5)]
    rows[2]["text"] = b"bytes are not text"  # a stage contract broken upstream
    out = list(score.process(rows))
    assert [r["id"] for r in out] == ["0", "1", "2", "3", "4"]
    assert [r["status"] for r in out] == [None, None, "failed", None, None]
    assert out[2]["failure_reason"] == "score_error"
    assert all(r["lang"] == "en" for i, r in enumerate(out) if i != 2)


def test_hostile_jsonl_fields_do_not_crash_the_run(tmp_path):
    docs = [
        {"id": ["a", "list"], "url": 12345, "text": "word " * 60},
        {"id": "long-line", "url": "http://example.org/x", "text": "x" * 2_000_000},
        {"id": "nul", "text": "a\x00b " * 100, "crawl": 2024},
        {"id": "surrogates", "text": "\ud800 broken " * 100},
        "just a string",
        [1, 2, 3],
    ]
    path = tmp_path / "hostile.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    out = tmp_path / "out"
    assert cli.main(["run", "--input", str(path), "--input-format", "jsonl", "--output", str(out)]) == 0
    stats = read_stats(str(out))
    assert stats["documents_read"] == 6 and stats["accounting_ok"]
    assert stats["failed_by_reason"] == {"bad_json": 2}


def _explode(_):
    raise RuntimeError("worker lost")


def test_a_failed_run_leaves_the_previous_run_untouched(tmp_path, monkeypatch):
    sample = str(WARC_SAMPLES / "commoncrawl" / "whirlwind.warc.gz")
    out = tmp_path / "out"
    assert cli.main(["run", "--input", sample, "--output", str(out)]) == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    real_build = graph.build

    def failing_build(p, opts, staging):
        real_build(p, opts, staging)
        _ = p | "boom" >> beam.Create([1]) | "explode" >> beam.Map(_explode)

    monkeypatch.setattr(graph, "build", failing_build)
    with pytest.raises(Exception, match="worker lost"):
        cli.main(["run", "--input", sample, "--output", str(out), "--overwrite"])
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert not list(out.glob("_incomplete-*"))


def _emit_a_verdict_nobody_joins(element):
    from apache_beam.metrics import Metrics

    Metrics.counter("dedup", "verdicts_emitted").inc()
    return element


def test_dedup_verdicts_lost_by_the_runner_fail_the_run(tmp_path, monkeypatch):
    """verdicts_emitted != verdicts_joined (as when a runner drops elements): the run fails, nothing lands."""
    sample = str(WARC_SAMPLES / "commoncrawl" / "whirlwind.warc.gz")
    out = tmp_path / "out"
    real_build = graph.build

    def leaky_build(p, opts, staging):
        real_build(p, opts, staging)
        _ = p | "one verdict" >> beam.Create([1]) | "lost" >> beam.Map(_emit_a_verdict_nobody_joins)

    monkeypatch.setattr(graph, "build", leaky_build)
    with pytest.raises(RuntimeError, match=r"verdicts emitted but .* joined .* lost elements"):
        cli.main(["run", "--input", sample, "--output", str(out)])
    assert not out.exists() or not any(out.iterdir())


class DecideThatLosesARow(decide_beam.DecideFn):
    """Decide, but the first row of whirlwind.warc.gz (by id) vanishes, as when a runner loses an element."""

    def process(self, row, farms):
        if row["id"] != LOST_ID:
            yield from super().process(row, farms)


LOST_ID = None


def test_a_run_that_loses_a_row_fails_and_commits_nothing(tmp_path, monkeypatch):
    global LOST_ID
    sample = str(WARC_SAMPLES / "commoncrawl" / "whirlwind.warc.gz")
    out = tmp_path / "out"
    assert cli.main(["run", "--input", sample, "--output", str(out)]) == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    LOST_ID = min(pq.read_table(out / "rejected", columns=["id"])["id"].to_pylist())
    monkeypatch.setattr(decide_beam, "DecideFn", DecideThatLosesARow)
    with pytest.raises(RuntimeError, match=r"accounting broken: 1 documents read but 0 written"):
        cli.main(["run", "--input", sample, "--output", str(out), "--overwrite"])
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert not list(out.glob("_incomplete-*"))


def test_output_appears_only_when_complete(tmp_path):
    sample = str(WARC_SAMPLES / "commoncrawl" / "warcfile.warc.gz")
    out = tmp_path / "out"
    assert cli.main(["run", "--input", sample, "--output", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "curated",
        "dedup_index",
        "rejected",
        "report.html",
        "stats.json",
        "synthetic_by_domain.parquet",
    ]
    total = sum(pq.read_table(out / d).num_rows for d in ("curated", "rejected"))
    assert total == read_stats(str(out))["html_responses"] == 16
