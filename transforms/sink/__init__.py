"""The sink: where every decided row is written (partitioned Parquet, deterministic, safe to retry).

Modules: ``layout`` (partitions, files and their schemas: pure functions) and ``beam`` (the
``WriteDocuments`` and ``WriteDomainEstimates`` composites and ``write_partition_file``).
"""

from transforms.sink.layout import (
    DEFAULT_ROWS_PER_FILE,
    DOMAIN_ESTIMATES_FILE,
    DOMAIN_ESTIMATES_SCHEMA,
    PARTITION_COLUMNS,
    ROOT_OF_STATUS,
    UNKNOWN,
    file_schema,
    partition_of,
    partition_value,
    partition_values,
    restore_partition_columns,
    shard_count,
    shard_of,
)

__all__ = [
    "DEFAULT_ROWS_PER_FILE",
    "DOMAIN_ESTIMATES_FILE",
    "DOMAIN_ESTIMATES_SCHEMA",
    "PARTITION_COLUMNS",
    "ROOT_OF_STATUS",
    "UNKNOWN",
    "file_schema",
    "partition_of",
    "partition_value",
    "partition_values",
    "restore_partition_columns",
    "shard_count",
    "shard_of",
]
