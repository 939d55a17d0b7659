"""Where a row is written: partitioned Parquet, deterministic and safe to retry (no Beam here).

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
from urllib.parse import quote, unquote

import pyarrow as pa

from transforms.schema import SCHEMA, STATUS_FAILED, STATUS_KEPT, STATUS_REJECTED, new_row
from transforms.synthetic import DOMAIN_ESTIMATES_SCHEMA  # noqa: F401  (the file's schema, exported)

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


def restore_partition_columns(path: str, record: dict) -> dict:
    """A row read from one partition file gets back the columns its path holds (crawl=..., lang=...)."""
    row = new_row(**{k: v for k, v in record.items()})
    row.update(partition_values(path))
    return row


# synthetic_by_domain.parquet: one row per (crawl, domain), the synthetic-share estimates of a run
DOMAIN_ESTIMATES_FILE = "synthetic_by_domain"
