"""Backfill over a local Common Crawl mirror: snapshots oldest first, batches, resume after a kill."""

import gzip
import shutil
from collections import Counter

import pyarrow.parquet as pq
import pytest
from conftest import WARC_SAMPLES, dataset, kill_after_batches, manifest_lines

from pipeline import cli, snapshots
from pipeline.stats import read_stats

CRAWLS = {
    "CC-MAIN-2024-22": ["commoncrawl/whirlwind.warc.gz", "other-crawls/iana.warc.gz"],
    "CC-MAIN-2020-34": [
        "commoncrawl/warcfile.warc.gz",
        "other-crawls/example.warc.gz",
        "edge-cases/clipped.warc.gz",
        "clueweb/0000tw-00.warc.gz",
    ],
}


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    """A directory laid out like s3://commoncrawl: crawl-data/<crawl>/warc.paths.gz + the WARCs."""
    root = tmp_path_factory.mktemp("mirror")
    for crawl, files in CRAWLS.items():
        paths = []
        for i, name in enumerate(files):
            rel = f"crawl-data/{crawl}/segments/{i:03d}/warc/{crawl}-{i:05d}.warc.gz"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            src = WARC_SAMPLES / name
            if not src.exists():
                src = next(WARC_SAMPLES.rglob(name.split("/")[-1]))
            shutil.copy(src, root / rel)
            paths.append(rel)
        (root / "crawl-data" / crawl / "warc.paths.gz").write_bytes(gzip.compress("\n".join(paths).encode()))
    return root


def test_plan_is_oldest_first_and_stable(mirror):
    batches = snapshots.plan(["CC-MAIN-2024-22", "CC-MAIN-2020-34"], str(mirror), None, 3)
    assert [(b.crawl, len(b.files)) for b in batches] == [
        ("CC-MAIN-2020-34", 3),
        ("CC-MAIN-2020-34", 1),
        ("CC-MAIN-2024-22", 2),
    ]
    again = snapshots.plan(["CC-MAIN-2020-34", "CC-MAIN-2024-22"], str(mirror), None, 3)
    assert [b.id for b in batches] == [b.id for b in again]
    assert len(snapshots.plan(["CC-MAIN-2020-34"], str(mirror), 2, 10)[0].files) == 2
    with pytest.raises(ValueError, match="not a Common Crawl snapshot id"):
        snapshots.plan(["2024-22"], str(mirror), None, 1)
    with pytest.raises(ValueError, match="warc.paths.gz"):
        snapshots.plan(["CC-MAIN-2019-04"], str(mirror), None, 1)


def backfill_args(mirror, out):
    return [
        "backfill",
        "--crawl",
        "CC-MAIN-2024-22",
        "--crawl",
        "CC-MAIN-2020-34",
        "--source",
        str(mirror),
        "--output",
        str(out),
        "--batch-files",
        "1",
    ]


def test_killed_backfill_resumes_to_the_same_output(mirror, tmp_path):
    whole = tmp_path / "whole"
    assert cli.main(backfill_args(mirror, whole)) == 0
    stats = read_stats(str(whole))
    assert stats["accounting_ok"] and stats["batches"] == 6 and stats["files_read"] == 6
    assert len(manifest_lines(whole)) == 6
    crawls = {p.name for p in (whole / "rejected").iterdir()}
    assert crawls == {"crawl=CC-MAIN-2020-34", "crawl=CC-MAIN-2024-22"}
    # the synthetic estimates of the batches are merged from their counts, per crawl and per cohort
    rows = [r for root in ("curated", "rejected") for r in pq.read_table(whole / root).to_pylist()]
    for section, column in (("synthetic_by_crawl", "crawl"), ("synthetic_by_cohort", "cohort")):
        expected = Counter(r[column] or "unknown" for r in rows)
        assert {k: v["n_docs"] for k, v in stats[section].items()} == expected
        scored = Counter(r[column] or "unknown" for r in rows if r["synthetic_score"] is not None)
        assert {k: v["n_scored"] for k, v in stats[section].items() if v["n_scored"]} == scored
        assert all(
            v["share_low"] <= v["share"] <= v["share_high"] for v in stats[section].values() if v["n_scored"]
        )
    assert set(stats["synthetic_by_cohort"]) >= {"pre_llm", "post_llm"}
    # the newer snapshot's estimates are measured against the older snapshot's documents
    assert snapshots.reference_files(str(whole), "CC-MAIN-2020-34") == []
    older_files = snapshots.reference_files(str(whole), "CC-MAIN-2024-22")
    assert len(older_files) == 4 and all("CC-MAIN-2020-34" in f for f in older_files)
    assert stats["synthetic_by_crawl"]["CC-MAIN-2024-22"]["reference"] == "CC-MAIN-2020-34"
    assert "CC-MAIN" not in stats["synthetic_by_crawl"]["CC-MAIN-2020-34"]["reference"]
    newer_domains = [
        r
        for f in whole.glob("synthetic_by_domain-CC-MAIN-2024-22-*.parquet")
        for r in pq.read_table(f).to_pylist()
    ]
    assert newer_domains and all(r["reference"] == "CC-MAIN-2020-34" for r in newer_domains)
    # synthetic_by_domain.parquet merges the batches: one row per (crawl, domain), counts summed
    batch_rows = [
        r for f in whole.glob("synthetic_by_domain-*.parquet") for r in pq.read_table(f).to_pylist()
    ]
    merged = pq.read_table(whole / "synthetic_by_domain.parquet").to_pylist()
    keys = [(r["crawl"], r["domain"]) for r in merged]
    assert len(keys) == len(set(keys)) == len({(r["crawl"], r["domain"]) for r in batch_rows})
    for field in ("n_docs", "n_scored", "n_target"):
        per_key = Counter()
        for r in batch_rows:
            per_key[r["crawl"], r["domain"]] += r[field]
        assert {(r["crawl"], r["domain"]): r[field] for r in merged} == dict(per_key)

    # the same backfill in a process that is killed after its second batch is committed
    killed = tmp_path / "killed"
    finished = kill_after_batches(backfill_args(mirror, killed), killed)
    assert 2 <= finished < 6, "the kill must land mid-backfill"

    assert cli.main(backfill_args(mirror, killed)) == 0
    assert len(manifest_lines(killed)) == 6  # every batch once: none redone after it was recorded
    assert not list(killed.glob("_incomplete-*"))
    assert dataset(killed) == dataset(whole)  # no row lost, none duplicated
    a, b = read_stats(str(killed)), read_stats(str(whole))
    # what produced them is the same but for the command line and paths (killed/ vs whole/, a subprocess)
    pa, pb = a.pop("provenance"), b.pop("provenance")
    assert (pa["thresholds"], pa["models"], pa["extractor"]) == (
        pb["thresholds"],
        pb["models"],
        pb["extractor"],
    )
    assert a == b


def test_progress_line():
    import io

    out = io.StringIO()
    progress = snapshots.Progress(10, out=out)
    progress.skip(2)
    line = progress.update(snapshots.Batch("CC-MAIN-2020-34", 0, ("a", "b")), 100)
    assert line.startswith("[CC-MAIN-2020-34] batch 1: files 2/8, 100 docs")
    assert "docs/s, ETA" in out.getvalue()
