"""pristine verify: check a run's rows against the WARC records they say they came from.

``python -m pipeline.verify RUN_DIR [--sample N | --all] [--seed S]``

Every row of ``RUN_DIR/curated``, ``rejected`` and ``failed`` names its source record by
``warc_filename`` and ``warc_offset``. For each row checked, that record is read again on its own
(`transforms.read.read_record_at`) and the row must agree with it:

- ``unreadable``: there is a record at that offset (else nothing else can be checked);
- ``warc_record_id``, ``url``, ``payload_digest``: the row's values are the record's;
- ``digest_mismatch``: the record's digests, recomputed from its bytes, match what the record stores
  (`Record.digest_verified` is not False; a record without digests passes);
- ``id``: the row id is the one derived from (file name, record id, offset);
- ``failure_reason``: a row that failed while being read fails the same way again;
- ``text``: the text reproduces: the record's HTML payload decoded with `decode_html` and
  extracted with the row's extractor gives the row's ``text`` exactly (``extract_failed`` if the
  extractor fails this time, e.g. a time-out on a busy machine).

Rows from text input (JSONL / Parquet, ``extractor='none'``) have no record to read: skipped and
counted. Failed rows without text (reader or extraction failures) get every check but the text one.

`verify_run` returns a `VerifyReport`; `main` prints it and exits 1 when any row fails (2: usage).
"""

from __future__ import annotations

import argparse
import posixpath
import random
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from pipeline.outputs import ROOTS, STATS
from transforms.read import decode_html, read_record_at
from transforms.schema import document_id

COLUMNS = [
    "id",
    "url",
    "warc_filename",
    "warc_offset",
    "warc_record_id",
    "payload_digest",
    "text",
    "extractor",
    "status",
    "failure_reason",
]
NO_EXTRACTOR = "none"  # rows from JSONL / Parquet text input
DEFAULT_SAMPLE = 1000


@dataclass
class VerifyFailure:
    """One check one row failed."""

    id: str
    warc_filename: str | None
    warc_offset: int | None
    what: str  # unreadable | warc_record_id | url | payload_digest | digest_mismatch | id | ...
    detail: str

    def __str__(self) -> str:
        return f"{self.id} {self.warc_filename}@{self.warc_offset}: {self.what}: {self.detail}"


@dataclass
class VerifyReport:
    run_dir: str
    rows: int = 0  # rows in the run
    checked: int = 0  # rows checked against their record
    ok: int = 0  # rows that passed every check
    text_checked: int = 0  # rows whose text was extracted again and compared
    skipped: Counter = field(default_factory=Counter)  # rows or text checks not done, by reason
    failures: list[VerifyFailure] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def failed_rows(self) -> int:
        return len({f.id for f in self.failures})

    def summary(self) -> str:
        scope = "all" if self.checked + self.skipped["text input (no record)"] >= self.rows else "a sample"
        lines = [
            f"verified {self.checked:,} rows ({scope} of {self.rows:,}) of {self.run_dir}: "
            f"{self.ok:,} ok, {self.failed_rows:,} failed",
            f"  text extracted again and compared: {self.text_checked:,}",
        ]
        for reason, n in sorted(self.skipped.items()):
            lines.append(f"  skipped, {reason}: {n:,}")
        lines += [f"FAILED {failure}" for failure in self.failures]
        return "\n".join(lines)


def read_rows(run_dir: str | Path) -> list[dict]:
    """The rows of a run (the columns verification needs), sorted by id."""
    rows = []
    for root in ROOTS:
        path = Path(run_dir) / root
        if path.exists() and any(path.rglob("*.parquet")):
            rows += pq.read_table(path, columns=COLUMNS).to_pylist()
    return sorted(rows, key=lambda r: r["id"])


def verify_run(run_dir: str | Path, sample: int | None = None, seed: int = 0) -> VerifyReport:
    """Check `sample` rows picked at random (with `seed`), or every row when `sample` is None."""
    from transforms.extract import Extractor  # heavy: only when verifying

    rows = read_rows(run_dir)
    report = VerifyReport(run_dir=str(run_dir), rows=len(rows))
    if sample is not None and sample < len(rows):
        rows = sorted(random.Random(seed).sample(rows, sample), key=lambda r: r["id"])
    extractors: dict[str, Extractor] = {}
    try:
        # by file and offset: each file is read front to back
        for row in sorted(rows, key=lambda r: (r["warc_filename"] or "", r["warc_offset"] or 0)):
            if row["extractor"] == NO_EXTRACTOR or row["warc_offset"] is None:
                report.skipped["text input (no record)"] += 1
                continue
            if is_unreadable_row(row):
                report.skipped["unreadable input (a failed row naming it)"] += 1
                continue
            report.checked += 1
            failures = _check_row(row, extractors, report)
            report.failures += failures
            report.ok += not failures
    finally:
        for extractor in extractors.values():
            extractor.close()
    report.failures.sort(key=lambda f: (f.id, f.what))
    return report


def is_unreadable_row(row: dict) -> bool:
    """A failed row that names an unreadable file or record (transforms.read.documents.unreadable_row), no document."""
    name = posixpath.basename(row["warc_filename"] or "")
    return row["id"] == document_id(name, row["warc_record_id"], row["warc_offset"], "unreadable")


def is_run_dir(run_dir: str | Path) -> bool:
    """A pristine run's output: stats.json, or one of curated/, rejected/, failed/."""
    run = Path(run_dir)
    return (run / STATS).is_file() or any((run / root).is_dir() for root in ROOTS)


def _check_row(row: dict, extractors: dict, report: VerifyReport) -> list[VerifyFailure]:
    from transforms.extract import Extractor

    failures = []

    def fail(what: str, detail: str) -> None:
        failures.append(VerifyFailure(row["id"], row["warc_filename"], row["warc_offset"], what, detail))

    if not row["warc_filename"]:
        fail("unreadable", "the row names no WARC file")
        return failures
    record = read_record_at(row["warc_filename"], row["warc_offset"])
    if record.record_type == "unreadable":
        fail("unreadable", f"{record.failure_reason}: {record.failure_detail}")
        return failures
    for column in ("warc_record_id", "url", "payload_digest"):
        if getattr(record, column) != row[column]:
            fail(column, f"row has {row[column]!r}, the record {getattr(record, column)!r}")
    if record.digest_verified is False:
        fail("digest_mismatch", record.digest_detail or "a stored digest does not match the record")
    expected_id = document_id(
        posixpath.basename(row["warc_filename"]), row["warc_record_id"], row["warc_offset"]
    )
    if row["id"] != expected_id:
        fail("id", f"row id is not the id of ({row['warc_filename']!r}, record id, offset): {expected_id}")
    if row["status"] == "failed" and row["extractor"] is None:  # failed while being read
        if record.failure_reason != row["failure_reason"]:
            fail(
                "failure_reason", f"row failed with {row['failure_reason']!r}, now {record.failure_reason!r}"
            )

    if row["text"] is None:
        report.skipped["text check, the row has no text (failed row)"] += 1
        return failures
    if record.body is None:
        fail("text", f"the record has no HTML body now ({record.failure_reason}: {record.failure_detail})")
        return failures
    kind = row["extractor"]
    if kind not in extractors:
        extractors[kind] = Extractor(kind)
    html, _ = decode_html(record.body, record.charset_header)
    result = extractors[kind].extract(html, row["url"])
    report.text_checked += 1
    if result.failure_reason:
        fail("extract_failed", f"{result.failure_reason}: {result.failure_detail}")
    elif (result.text or "") != row["text"]:
        fail("text", _first_difference(row["text"], result.text or ""))
    return failures


def _first_difference(stored: str, again: str) -> str:
    at = next(
        (i for i, (a, b) in enumerate(zip(stored, again, strict=False)) if a != b),
        min(len(stored), len(again)),
    )
    return (
        f"extracted text differs at char {at} (row {len(stored)} chars, again {len(again)}): "
        f"row {stored[at : at + 40]!r}, again {again[at : at + 40]!r}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="pristine verify", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("run_dir", help="output directory of a run (with curated/, rejected/, failed/)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--sample",
        type=int,
        default=DEFAULT_SAMPLE,
        help=f"rows to check, picked at random (default {DEFAULT_SAMPLE})",
    )
    group.add_argument("--all", action="store_true", help="check every row")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random sample (default 0)")
    args = parser.parse_args(argv)
    if not Path(args.run_dir).is_dir():
        parser.error(f"{args.run_dir!r} is not a directory")
    if not is_run_dir(args.run_dir):
        parser.error(
            f"{args.run_dir!r} is not a pristine run (no stats.json, curated/, rejected/ or failed/)"
        )
    if not args.all and args.sample < 1:
        parser.error("--sample must be at least 1")
    report = verify_run(args.run_dir, sample=None if args.all else args.sample, seed=args.seed)
    print(report.summary())
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
