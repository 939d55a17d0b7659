"""Two run directories of `pristine run` -> are their rows and stats the same?

    .venv/bin/python -m bench.compare_runs RUN_A RUN_B

Rows (curated/, rejected/, failed/ and synthetic_by_domain.parquet) are compared by id, every column, with
the partition they were written to; stats.json without `provenance` (git commit, command line) and `stage_seconds` (timings). Exit code 0
when both are the same.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow.parquet as pq


def rows(run: Path) -> dict:
    out = {}
    for path in sorted(run.rglob("*.parquet")):
        rel = path.relative_to(run)
        if rel.parts[0] == "dedup_index":
            continue
        for row in pq.read_table(path).to_pylist():
            row["_written_to"] = "/".join(p for p in rel.parts[:-1])
            key = row.get("id") or json.dumps(row, sort_keys=True, default=str)
            out[key] = json.dumps(row, sort_keys=True, default=str)
    return out


def stats(run: Path) -> dict:
    s = json.loads((run / "stats.json").read_text())
    for key in ("provenance", "stage_seconds"):  # what produced the run, and how long each stage took
        s.pop(key, None)
    return s


def main(a: str, b: str) -> int:
    rows_a, rows_b = rows(Path(a)), rows(Path(b))
    differ = sorted(k for k in rows_a.keys() | rows_b.keys() if rows_a.get(k) != rows_b.get(k))
    stats_a, stats_b = stats(Path(a)), stats(Path(b))
    stats_differ = sorted(k for k in stats_a.keys() | stats_b.keys() if stats_a.get(k) != stats_b.get(k))
    print(f"rows: {len(rows_a)} / {len(rows_b)}, differing {len(differ)} {differ[:5]}")
    print(f"stats.json keys: {len(stats_a)} / {len(stats_b)}, differing {stats_differ}")
    return 0 if not differ and not stats_differ else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
