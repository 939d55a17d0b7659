"""The sink in Beam: decided rows -> partitioned Parquet files; domain estimates -> one Parquet file.

Where each row goes (partitions, files, sort order) is decided by the pure functions of
``transforms.sink.layout``; this module writes, through Beam's FileSystems (local, gs://, s3://).
"""

from __future__ import annotations

import time
import uuid

import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.typehints import Iterable, Tuple

from transforms.beam_util import STAGE_TIME, DocumentRow, counter, of_type
from transforms.schema import to_table
from transforms.sink.layout import (
    DEFAULT_ROWS_PER_FILE,
    DOMAIN_ESTIMATES_FILE,
    DOMAIN_ESTIMATES_SCHEMA,
    file_schema,
    partition_of,
    shard_count,
    shard_of,
)


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
    counter(STAGE_TIME, "write").inc(int((time.perf_counter() - start) * 1e6))
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
        # row -> (partition, row); rows cross stages in DocumentRowCoder
        partition_to_row = of_type(
            rows | "key by partition" >> beam.Map(lambda r: (partition_of(r), r)), Tuple[str, DocumentRow]
        )
        # partition -> number of rows, as a small side input
        partition_to_count = partition_to_row | "count rows per partition" >> beam.combiners.Count.PerKey()

        def to_shard(item, counts):
            partition, row = item
            n = shard_count(counts[partition], rows_per_file)
            return (partition, shard_of(row["id"], n), n), row

        file_key = Tuple[str, int, int]
        # (partition, shard, shards) -> row
        file_to_row = of_type(
            partition_to_row
            | "assign file" >> beam.Map(to_shard, counts=beam.pvalue.AsDict(partition_to_count)),
            Tuple[file_key, DocumentRow],
        )
        grouped = of_type(
            file_to_row | "group rows per file" >> beam.GroupByKey(), Tuple[file_key, Iterable[DocumentRow]]
        )
        return grouped | "write parquet file" >> beam.MapTuple(
            lambda key, group: write_partition_file(output_dir, *key, group, metadata)
        )


class WriteDomainEstimates(beam.PTransform):
    """per-(crawl, domain) synthetic-share estimates -> output_dir/synthetic_by_domain.parquet (one file,
    ``DOMAIN_ESTIMATES_SCHEMA``): the reference of later runs' estimates (``--synthetic-reference``)."""

    def __init__(self, output_dir: str):
        super().__init__()
        self.output_dir = output_dir

    def expand(self, estimates):
        return (
            estimates
            | "estimate columns" >> beam.Map(lambda r: {k: r.get(k) for k in DOMAIN_ESTIMATES_SCHEMA.names})
            | "write parquet"
            >> beam.io.WriteToParquet(
                FileSystems.join(self.output_dir, DOMAIN_ESTIMATES_FILE),
                DOMAIN_ESTIMATES_SCHEMA,
                file_name_suffix=".parquet",
                num_shards=1,
                shard_name_template="",
                codec="zstd",
            )
        )
