"""Partitioned Parquet sink: layout, schema, determinism, on a real Beam pipeline."""

import hashlib
import random

import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam.options.pipeline_options import PipelineOptions

from transforms.schema import SCHEMA, new_row
from transforms.sink import file_schema, partition_of, partition_values
from transforms.sink.beam import WriteDocuments


def rows():
    out = []
    for i in range(50):
        status = ["kept", "rejected", "failed"][i % 3]
        out.append(
            new_row(
                id=f"doc{i:03d}",
                crawl="CC-MAIN-2024-22" if i < 40 else "CC-MAIN-2020-34",
                lang=["en", "zh"][i % 2],
                text=f"text {i}" if status != "failed" else None,
                status=status,
                reject_reason="too_short" if status == "rejected" else None,
                failure_reason="extract_timeout" if status == "failed" else None,
                failed_rules=["too_short"] if status == "rejected" else [],
            )
        )
    return out


def write(tmp_path, name, items, rows_per_file):
    out = str(tmp_path / name)
    with beam.Pipeline(options=PipelineOptions(runner="FnApiRunner")) as p:
        _ = p | beam.Create(items) | WriteDocuments(out, rows_per_file=rows_per_file)
    return tmp_path / name


def test_layout_schema_and_round_trip(tmp_path):
    items = rows()
    out = write(tmp_path, "a", items, rows_per_file=4)
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*.parquet"))
    dirs = {f.rsplit("/", 1)[0] for f in files}
    # the same partition columns under every root (deliberate: one glob reads the three together)
    assert dirs == {
        f"{root}/crawl={crawl}/lang={lang}"
        for root in ("curated", "rejected", "failed")
        for crawl in ("CC-MAIN-2024-22", "CC-MAIN-2020-34")
        for lang in ("en", "zh")
    }
    # 14 kept rows in crawl 2024-22 split evenly over en/zh -> 7 each -> ceil(7/4) = 2 files
    assert len([f for f in files if f.startswith("curated/crawl=CC-MAIN-2024-22/lang=en/")]) == 2
    assert not list(out.rglob(".tmp-*"))
    for f in out.rglob("*.parquet"):
        meta = pq.ParquetFile(f).metadata
        assert meta.row_group(0).column(0).compression == "ZSTD"
        root = f.relative_to(out).parts[0]
        assert pq.read_schema(f).names == file_schema(root).names
    curated = pq.read_table(out / "curated").to_pylist()
    by_id = {r["id"]: r for r in items}
    assert len(curated) == sum(r["status"] == "kept" for r in items)
    for r in curated:  # partition columns come back from the path
        assert (r["crawl"], r["lang"], r["text"]) == (
            by_id[r["id"]]["crawl"],
            by_id[r["id"]]["lang"],
            by_id[r["id"]]["text"],
        )
    rejected = pq.read_table(out / "rejected").to_pylist()
    assert {r["reject_reason"] for r in rejected} == {"too_short"}
    assert all(r["failed_rules"] == ["too_short"] for r in rejected)
    assert len(rejected) + len(curated) + pq.read_table(out / "failed").num_rows == len(items)


def test_same_rows_any_order_give_identical_files(tmp_path):
    items = rows()
    shuffled = items[:]
    random.Random(7).shuffle(shuffled)
    a = write(tmp_path, "a", items, rows_per_file=5)
    b = write(tmp_path, "b", shuffled, rows_per_file=5)

    def digests(root):
        return {
            str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*.parquet")
        }

    assert digests(a) == digests(b)


def test_partition_values_are_path_safe():
    row = new_row(id="x", status="kept", crawl="../etc/passwd", lang=None)
    assert partition_of(row) == "curated/crawl=..%2Fetc%2Fpasswd/lang=unknown"
    assert partition_values(partition_of(row)) == {"crawl": "../etc/passwd", "lang": "unknown"}
    row = new_row(id="y", status="failed", crawl="Temporary%20Collection", lang=None)
    assert partition_of(row) == "failed/crawl=Temporary%2520Collection/lang=unknown"
    assert partition_values(partition_of(row))["crawl"] == "Temporary%20Collection"
    for root in ("curated", "rejected", "failed"):
        assert set(file_schema(root).names) == set(SCHEMA.names) - {"crawl", "lang"}
