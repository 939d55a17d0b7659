"""`pristine score`: signal columns for a corpus you already have, without filtering or deduplicating.

Every input record comes out, in order, with every input field unchanged (but for lone UTF-16 surrogates,
which become U+FFFD) and the signal columns added
(language, heuristic quality, model quality, synthetic likelihood). A field whose name is a signal column is replaced by the
fresh signal (so re-scoring pristine's own output works), and a warning names it.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

from pipeline.corpus import RecordWriter, read_records, repair_utf8
from transforms.schema import QUALITY_COLUMN_NAMES, SCHEMA, SYNTHETIC_COLUMN_NAMES
from transforms.signals import Scorers, score_rows

BATCH = 256


def signal_columns(with_quality_model: bool) -> list[str]:
    names = ["lang", "lang_score", *QUALITY_COLUMN_NAMES, *SYNTHETIC_COLUMN_NAMES]
    return names + (["quality_score"] if with_quality_model else [])


def score_file(input_path: str, output_path: str, quality_model: str | None = None) -> int:
    """Score every record of `input_path` into `output_path`; returns the number of records.

    Written under a temporary name beside `output_path` and renamed when complete: input that fails half
    way (or at once) leaves no output file, and an earlier `output_path` stays as it was."""
    out = Path(output_path)
    partial = out.with_name(f".partial-{uuid.uuid4().hex[:8]}-{out.name}")
    try:
        n = _score_into(input_path, partial, quality_model)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return n


def _score_into(input_path: str, output_path: Path, quality_model: str | None) -> int:
    scorers = Scorers.load(quality_model)
    columns = signal_columns(quality_model is not None)
    types = {name: SCHEMA.field(name).type for name in columns}
    n = 0
    warned = False
    with RecordWriter(output_path, types=types) as writer:
        batch: list[dict] = []

        def flush():
            rows = [{"text": r.get("text") if isinstance(r.get("text"), str) else ""} for r in batch]
            score_rows(rows, scorers)
            writer.write(
                {**record, **{c: row.get(c) for c in columns}}
                for record, row in zip(batch, rows, strict=True)
            )
            batch.clear()

        for record in map(repair_utf8, read_records(input_path)):
            if not warned and (clash := sorted(set(record) & set(columns))):
                print(
                    f"pristine score: warning: input fields {clash} are replaced by fresh signals",
                    file=sys.stderr,
                )
                warned = True
            batch.append(record)
            n += 1
            if len(batch) == BATCH:
                flush()
        if batch:
            flush()
    return n
