"""Partitioned Parquet output, deterministic and safe to retry.

Layout under the output directory (Hive-style partitions, zstd):

    curated/crawl=<crawl>/lang=<lang>/part-00000-of-00002.parquet    kept rows
    rejected/crawl=<crawl>/lang=<lang>/part-00000-of-00001.parquet   rejected rows, with reject_reason
    failed/crawl=<crawl>/lang=<lang>/part-00000-of-00001.parquet     failed rows, with failure_reason

As in Hive and Spark, partition columns live in the path, not in the files: reading a partition root with
pyarrow (`pq.read_table(DIR / "curated")`), DuckDB, polars or Spark restores them as columns. The three
roots have the same partition columns, so one glob (`DIR/*/crawl=*/lang=*/*.parquet`) reads them together
(`status` tells them apart). Values are percent-encoded as Hive does (`Temporary%20Collection` is stored as
`crawl=Temporary%2520Collection` and reads back as written); a missing value is `unknown`.

Each partition gets ceil(rows / rows_per_file) files; a row's file is chosen by a hash of its id and rows
are sorted by id inside a file. The same rows therefore give byte-for-byte the same files on every runner
and every retry, and a retried write simply overwrites its own file.
"""

from __future__ import annotations

import hashlib
import math
import time
import uuid
from urllib.parse import quote, unquote

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from transforms.schema import SCHEMA, STATUS_FAILED, STATUS_KEPT, STATUS_REJECTED, to_table

ROOT_OF_STATUS = {STATUS_KEPT: "curated", STATUS_REJECTED: "rejected", STATUS_FAILED: "failed"}
PARTITION_COLUMNS = {root: ("crawl", "lang") for root in ("curated", "rejected", "failed")}
DEFAULT_ROWS_PER_FILE = 20_000
UNKNOWN = "unknown"


def partition_value(value) -> str:
    """A path-safe Hive partition value, percent-encoded (readers decode it back); 'unknown' when null."""
    return quote(str(value), safe="") if value not in (None, "") else UNKNOWN


def partition_values(path: str) -> dict[str, str]:
    """{column: value} of the Hive partition directories in a path (values decoded)."""
    values = {}
    for part in path.replace("\\", "/").split("/"):
        key, sep, value = part.partition("=")
        if sep and key in ("crawl", "lang"):
            values[key] = unquote(value)
    return values


def partition_of(row: dict) -> str:
    """Relative directory of a row, e.g. 'curated/crawl=CC-MAIN-2024-22/lang=en'."""
    root = ROOT_OF_STATUS[row["status"]]
    parts = [f"{col}={partition_value(row.get(col))}" for col in PARTITION_COLUMNS[root]]
    return "/".join([root, *parts])


def file_schema(root: str) -> pa.Schema:
    """SCHEMA without the partition columns of `root`."""
    drop = PARTITION_COLUMNS[root]
    return pa.schema([f for f in SCHEMA if f.name not in drop])


def shard_of(doc_id: str, num_shards: int) -> int:
    digest = hashlib.blake2b(doc_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % num_shards


def shard_count(rows: int, rows_per_file: int) -> int:
    return max(1, math.ceil(rows / rows_per_file))


def write_partition_file(
    output_dir: str, partition: str, shard: int, num_shards: int, rows, metadata: dict | None = None
) -> str:
    """Write rows (sorted by id) to one zstd Parquet file; returns its path. `metadata`: key-value pairs
    (bytes) stored in the file's footer, e.g. what produced the run (pipeline/provenance.py).

    Written to a temporary name first and renamed, so a reader never sees half a file.
    """
    start = time.perf_counter()
    root = partition.split("/", 1)[0]
    rows = sorted(rows, key=lambda r: r["id"])
    table = to_table(rows).select(file_schema(root).names)
    if metadata:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
    directory = FileSystems.join(output_dir, partition)
    path = FileSystems.join(directory, f"part-{shard:05d}-of-{num_shards:05d}.parquet")
    tmp = FileSystems.join(directory, f".tmp-{uuid.uuid4().hex}.parquet")
    if not FileSystems.exists(directory):
        try:
            FileSystems.mkdirs(directory)
        except OSError:
            pass  # created concurrently by another writer (or an object store with no directories)
    with FileSystems.create(tmp) as f:
        pq.write_table(table, f, compression="zstd")
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([tmp], [path])
    Metrics.counter("stage_microseconds", "write").inc(int((time.perf_counter() - start) * 1e6))
    return path


class WriteDocuments(beam.PTransform):
    """rows -> Parquet files under output_dir; outputs the paths written."""

    def __init__(
        self, output_dir: str, rows_per_file: int = DEFAULT_ROWS_PER_FILE, metadata: dict | None = None
    ):
        super().__init__()
        self.output_dir = output_dir
        self.rows_per_file = rows_per_file
        self.metadata = metadata

    def expand(self, rows):
        output_dir, rows_per_file, metadata = self.output_dir, self.rows_per_file, self.metadata
        # row -> (partition, row)
        partition_to_row = rows | "key by partition" >> beam.Map(lambda r: (partition_of(r), r))
        # partition -> number of rows, as a small side input
        partition_to_count = partition_to_row | "count rows per partition" >> beam.combiners.Count.PerKey()

        def to_shard(item, counts):
            partition, row = item
            n = shard_count(counts[partition], rows_per_file)
            return (partition, shard_of(row["id"], n), n), row

        return (
            partition_to_row
            # (partition, shard, shards) -> row
            | "assign file" >> beam.Map(to_shard, counts=beam.pvalue.AsDict(partition_to_count))
            | "group rows per file" >> beam.GroupByKey()
            | "write parquet file"
            >> beam.MapTuple(lambda key, group: write_partition_file(output_dir, *key, group, metadata))
        )
