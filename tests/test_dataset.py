"""One dataset to read: curated/, rejected/ and failed/ together with one glob, by DuckDB and polars."""

import duckdb
import polars as pl
import pytest
from conftest import WARC_SAMPLES

from pipeline import cli
from pipeline.stats import read_stats
from transforms.decide import default_thresholds_path

INPUTS = [
    WARC_SAMPLES / "edge-cases" / "example.warc.gz",  # warcinfo isPartOf: Temporary%20Collection
    WARC_SAMPLES / "commoncrawl" / "warcfile.warc.gz",  # CC-MAIN-2020-34
    WARC_SAMPLES / "other-crawls" / "sample-0000.warc.gz",  # no crawl to be known
    WARC_SAMPLES / "edge-cases" / "bad.arc",  # unreadable records: failed rows
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("dataset") / "run"
    assert cli.main(["run", "--input", *map(str, INPUTS), "--output", str(out)]) == 0
    return out


def test_one_glob_reads_every_row_with_the_same_columns(run_dir):
    stats = read_stats(str(run_dir))
    total = stats["kept"] + stats["rejected"] + stats["failed"]
    glob = str(run_dir / "*" / "crawl=*" / "lang=*" / "*.parquet")
    by_duckdb = duckdb.sql(
        f"SELECT status, crawl, lang, count(*) AS n FROM read_parquet('{glob}', hive_partitioning = true) "
        "GROUP BY ALL"
    ).fetchall()
    by_polars = pl.read_parquet(glob, hive_partitioning=True).group_by("status", "crawl", "lang").len().rows()
    assert sorted(by_duckdb) == sorted(by_polars)
    assert sum(n for *_, n in by_duckdb) == total
    counts = {}
    for status, _, _, n in by_duckdb:
        counts[status] = counts.get(status, 0) + n
    assert counts == {s: stats[s] for s in ("kept", "rejected", "failed") if stats[s]}
    crawls = {crawl for _, crawl, _, _ in by_duckdb}
    # crawl ids come back as the archive wrote them, and a crawl that cannot be known says so
    assert {"Temporary%20Collection", "CC-MAIN-2020-34", "unknown"} <= crawls
    assert not any("_20" in c for c in crawls)


def test_recurate_restores_partition_values_as_written(run_dir, tmp_path):
    out = tmp_path / "again"
    config = default_thresholds_path()
    assert cli.main(["recurate", "--input", str(run_dir), "--config", str(config), "--output", str(out)]) == 0
    glob = str(out / "*" / "crawl=*" / "lang=*" / "*.parquet")
    query = f"SELECT DISTINCT crawl FROM read_parquet('{glob}', hive_partitioning = true)"
    assert "Temporary%20Collection" in {c for (c,) in duckdb.sql(query).fetchall()}
