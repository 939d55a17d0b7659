"""Plain-text corpora on disk: JSONL, JSONL.gz or Parquet files of records with a `text` field."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from transforms.read.documents import repair_utf8

BATCH_ROWS = 1024


def corpus_format(path: str | Path) -> str:
    name = str(path).lower()
    if name.endswith((".jsonl", ".jsonl.gz", ".json", ".json.gz", ".ndjson", ".ndjson.gz")):
        return "jsonl"
    if name.endswith(".parquet"):
        return "parquet"
    raise ValueError(f"{path}: unknown corpus format (expected .jsonl, .jsonl.gz or .parquet)")


def read_records(path: str | Path) -> Iterator[dict]:
    """Records of a corpus file; a line that is not a JSON object raises ValueError naming file and line."""
    if corpus_format(path) == "parquet":
        for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS):
            yield from batch.to_pylist()
        return
    opener = gzip.open if str(path).lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: not JSON ({exc})") from exc
            if not isinstance(record, dict):
                raise ValueError(f"{path}:{number}: a JSON {type(record).__name__}, not an object")
            yield record


def read_texts(path: str | Path, field: str = "text") -> list[str]:
    texts = []
    for i, record in enumerate(read_records(path)):
        text = record.get(field)
        if not isinstance(text, str):
            raise ValueError(f"{path}: record {i + 1} has no string field {field!r}")
        texts.append(text)
    return texts


class RecordWriter:
    """Writes records to .jsonl / .jsonl.gz (one JSON object per line) or .parquet, in batches.

    Parquet column types come from `types` where given, else are inferred from the first batch.
    """

    def __init__(self, path: str | Path, types: dict[str, pa.DataType] | None = None):
        self.path = Path(path)
        self.types = types or {}
        self.format = corpus_format(path)
        self._parquet = None
        self._schema = None
        self._file = None
        if self.format == "jsonl":
            opener = gzip.open if self.path.name.lower().endswith(".gz") else open
            self._file = opener(self.path, "wt", encoding="utf-8")

    def write(self, records: Iterable[dict]) -> None:
        records = [repair_utf8(r) for r in records]
        if not records:
            return
        if self._file is not None:
            for r in records:
                self._file.write(json.dumps(r, ensure_ascii=False, default=str) + "\n")
            return
        if self._schema is None:
            inferred = pa.Table.from_pylist(records).schema
            self._schema = pa.schema([pa.field(f.name, self.types.get(f.name, f.type)) for f in inferred])
        table = pa.Table.from_pylist(records, schema=self._schema)
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(self.path, self._schema, compression="zstd")
        self._parquet.write_table(table)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._parquet is not None:
            self._parquet.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
