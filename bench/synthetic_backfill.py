"""A two-snapshot backfill of the shared WARC samples: the newer snapshot's AI share against the older one.

    .venv/bin/python -m bench.synthetic_backfill [--output DIR] [--batch-files 60]

Lays out a local mirror (in a temporary directory) like Common Crawl's bucket with two "snapshots":
CC-MAIN-2020-34 holds every WARC/ARC sample (Common Crawl, ClueWeb, Heritrix, Wayback SERP captures)
except those of NEWER; CC-MAIN-2024-22 holds NEWER: the Internet Archive ARC of the 2008 crawl whose WARC
(``other-crawls/example.warc.gz``) is in the older snapshot (the same domains crawled again) and the 2024
crawls. Runs ``pristine backfill`` over both (the older snapshot is the newer one's reference,
automatically) and prints the per-crawl and per-domain estimates with their n, reference and method (per
domain: the batches' estimates merged, as in the backfill's synthetic_by_domain.parquet).
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import tempfile
from pathlib import Path

import pyarrow.parquet as pq

from pipeline import cli
from pipeline.stats import read_stats

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "warc-samples"
NEWER = [
    "other-crawls/IAH-20080430204825-00000-blackbook.arc.gz",
    "commoncrawl/whirlwind.warc.gz",
    "other-crawls/sample-0000.warc.gz",
    "other-crawls/sample-0001.warc.gz",
]
SKIP_DIRS = {"edge-cases"}  # malformed files: the backfill handles them, but they are no snapshot's pages


def snapshot_files() -> dict[str, list[str]]:
    older = []
    for path in sorted(SAMPLES.rglob("*")):
        rel = str(path.relative_to(SAMPLES))
        if not path.is_file() or rel.split("/")[0] in SKIP_DIRS or rel in NEWER:
            continue
        if rel.endswith((".warc.gz", ".arc.gz", ".arc")) and not rel.endswith((".wat.gz", ".wet.gz")):
            older.append(rel)
    return {"CC-MAIN-2020-34": older, "CC-MAIN-2024-22": NEWER}


def mirror(root: Path) -> None:
    for crawl, files in snapshot_files().items():
        paths = []
        for i, name in enumerate(files):
            suffix = "".join(Path(name).suffixes[-2:]) if name.endswith(".gz") else Path(name).suffix
            rel = f"crawl-data/{crawl}/segments/{i:03d}/warc/{crawl}-{i:05d}{suffix}"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(SAMPLES / name, root / rel)
            paths.append(rel)
        (root / "crawl-data" / crawl / "warc.paths.gz").write_bytes(gzip.compress("\n".join(paths).encode()))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=None, help="backfill directory (default: a temporary one)")
    parser.add_argument("--batch-files", type=int, default=60)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "mirror"
        mirror(root)
        out = Path(args.output) if args.output else Path(tmp) / "backfill"
        backfill = [
            "backfill",
            "--output",
            str(out),
            "--source",
            str(root),
            "--batch-files",
            str(args.batch_files),
        ]
        code = cli.main([*backfill, "--crawl", "CC-MAIN-2020-34", "--crawl", "CC-MAIN-2024-22"])
        if code:
            return code
        stats = read_stats(str(out))
        print(
            "\n| crawl / cohort | target | n scored | AI share [95%] | n quality | AI share [95%] | reference | reference n |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for section in ("synthetic_by_crawl", "synthetic_by_cohort"):
            for key, r in sorted(stats.get(section, {}).items()):
                print(
                    f"| {key} | {r['target']} | {r['n_target']} | {_interval(r)} | {r['n_target_quality']} "
                    f"| {_interval(r, '_quality')} | {r['reference']} | {int(r['reference_n'])} |"
                )
        rows = pq.read_table(out / "synthetic_by_domain.parquet").to_pylist()  # the batches, merged
        rows.sort(key=lambda r: (r["crawl"], -r["n_scored"], r["domain"] or ""))
        print(
            "\n| crawl | domain | n scored | AI share [95%] | quality: n, share | reference (level, n) | method |"
        )
        print("|---|---|---|---|---|---|---|")
        for r in rows:
            if r["n_scored"] >= 5:
                print(
                    f"| {r['crawl']} | {r['domain']} | {r['n_target']} | {_interval(r)} | {r['n_target_quality']}, "
                    f"{_interval(r, '_quality')} | {r['reference']} ({r['reference_level']}, {r['reference_n']}) "
                    f"| {r['method']} |"
                )
        small = [r for r in rows if r["n_scored"] < 5]
        print(f"({len(small)} more domains with fewer than 5 scored documents, counted in their crawl only)")
    return 0


def _interval(r: dict, suffix: str = "") -> str:
    if r.get(f"share{suffix}") is None:
        return "-"
    return f"{r[f'share{suffix}']:.3f} [{r[f'share{suffix}_low']:.3f}, {r[f'share{suffix}_high']:.3f}]"


if __name__ == "__main__":
    raise SystemExit(main())
