"""Every record the reader gives for every file in ../shared/data/warc-samples, one JSON line each: the
`Record` fields with the body as its length and sha1, then every byte range's records and every record
re-read at its offset (`read_record_at`). Two versions of the reader read the same when their dumps are
equal:

    .venv/bin/python -m bench.read_dump > before.jsonl   # ... change the reader ...
    .venv/bin/python -m bench.read_dump > after.jsonl && cmp before.jsonl after.jsonl
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

from transforms.read import iter_records, iter_records_in_range, read_record_at, split_ranges

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "warc-samples"


def _sha1(body: bytes | None) -> str | None:
    return hashlib.sha1(body).hexdigest() if body is not None else None


def main() -> None:
    files = sorted(p for p in SAMPLES.rglob("*") if p.is_file() and p.suffix not in (".jsonl", ".md"))
    records = 0
    for path in files:
        name = str(path.relative_to(SAMPLES))
        offsets = []
        for r in iter_records(str(path)):
            fields = {**vars(r), "warc_filename": name, "fetch_date": str(r.fetch_date), "body": None}
            fields.update(body_len=len(r.body) if r.body is not None else None, body_sha1=_sha1(r.body))
            print(json.dumps(fields, sort_keys=True))
            offsets.append(r.warc_offset)
            records += 1
        for start, end in split_ranges(str(path), os.path.getsize(path), 5000):
            for r in iter_records_in_range(str(path), start, end):
                fields = [r.warc_offset, r.record_type, r.failure_reason, r.digest_verified, _sha1(r.body)]
                print(json.dumps(["range", name, start, *fields]))
        for offset in sorted(set(offsets)):
            r = read_record_at(str(path), offset)
            fields = [r.warc_offset, r.record_type, r.failure_reason, r.failure_detail, _sha1(r.body)]
            print(json.dumps(["at", name, offset, *fields]))
    print(f"{len(files)} files, {records} records", file=sys.stderr)


if __name__ == "__main__":
    main()
