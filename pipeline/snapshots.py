"""Backfills: Common Crawl snapshot ids -> warc.paths.gz -> WARC URLs -> batches, resumable after a kill.

    pristine backfill --crawl CC-MAIN-2024-10 [--crawl ...] --output DIR [--files N] [--source s3|https|PATH]

Snapshots run oldest first. Each snapshot's WARC list is cut into batches of `--batch-files` files; a
batch is one pipeline run, staged in `DIR/_incomplete-*` and then committed into DIR under file names
ending in the batch id, so every batch of every snapshot lands in one Hive-partitioned dataset
(`DIR/curated/crawl=*/lang=*/`). A batch is finished when its line is in `DIR/manifest.jsonl`; a rerun
skips finished batches, re-does the one that was interrupted (first deleting any files a half-finished
commit left), and ends with the same files an uninterrupted run writes. `DIR/stats.json` is the sum of
the batches' stats (`DIR/_batches/<batch>.json`). The synthetic-share estimates of a snapshot use the
committed batches of the older ones as their human reference (``reference_files``).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import sys
import time
from dataclasses import dataclass

from apache_beam.io.filesystems import FileSystems

from pipeline.outputs import BATCH_STATS_DIR, MANIFEST, STATS, SYNTHETIC_BY_DOMAIN, SYNTHETIC_BY_DOMAIN_STEM
from pipeline.stats import (
    SYNTHETIC_GROUPS,
    UNREADABLE_INPUTS,
    build_stats,
    first_unreadable,
    merge_synthetic,
    write_stats_file,
)
from transforms.crawl import crawl_id

SOURCES = {"s3": "s3://commoncrawl", "https": "https://data.commoncrawl.org"}


def crawl_key(crawl: str) -> tuple[int, int]:
    """CC-MAIN-2024-10 -> (2024, 10), for oldest-first ordering; ValueError for other names."""
    found = crawl_id(crawl)
    if not found or found[0] != crawl:
        raise ValueError(f"{crawl!r} is not a Common Crawl snapshot id (CC-MAIN-YYYY-WW)")
    return found[1], found[2]


def source_root(source: str) -> str:
    return SOURCES.get(source, source).rstrip("/")


def warc_urls(crawl: str, source: str, limit: int | None = None) -> list[str]:
    """The WARC file URLs of a snapshot, from its crawl-data/<crawl>/warc.paths.gz."""
    root = source_root(source)
    listing = f"{root}/crawl-data/{crawl}/warc.paths.gz"
    try:
        with FileSystems.open(listing, compression_type="uncompressed") as f:
            text = gzip.decompress(f.read()).decode("utf-8")
    except Exception as exc:
        raise ValueError(f"cannot read the WARC list of {crawl}: {listing}: {exc}") from exc
    paths = [line.strip() for line in text.splitlines() if line.strip()]
    if not paths:
        raise ValueError(f"{listing} lists no WARC files")
    return [f"{root}/{p}" for p in paths[:limit]]


@dataclass(frozen=True)
class Batch:
    crawl: str
    index: int
    files: tuple[str, ...]

    @property
    def id(self) -> str:
        """Stable across reruns: the crawl and the files it holds."""
        digest = hashlib.sha1("\n".join(self.files).encode()).hexdigest()[:10]
        return f"{self.crawl}-b{self.index:05d}-{digest}"


def plan(crawls: list[str], source: str, files: int | None, batch_files: int) -> list[Batch]:
    batches = []
    for crawl in sorted(set(crawls), key=crawl_key):
        urls = warc_urls(crawl, source, files)
        for i in range(0, len(urls), batch_files):
            batches.append(Batch(crawl, i // batch_files, tuple(urls[i : i + batch_files])))
    return batches


def finished_batches(output: str) -> set[str]:
    path = FileSystems.join(output, MANIFEST)
    if not FileSystems.exists(path):
        return set()
    with FileSystems.open(path, compression_type="uncompressed") as f:
        lines = f.read().decode("utf-8").splitlines()
    done = set()
    for line in lines:
        try:
            done.add(json.loads(line)["batch"])
        except (ValueError, KeyError):
            continue  # a line cut by a kill: that batch is simply redone
    return done


def append_manifest(output: str, entry: dict) -> None:
    path = FileSystems.join(output, MANIFEST)
    old = b""
    if FileSystems.exists(path):
        with FileSystems.open(path, compression_type="uncompressed") as f:
            old = f.read()
        if old and not old.endswith(b"\n"):
            old = old[: old.rfind(b"\n") + 1]
    tmp = path + ".tmp"
    with FileSystems.create(tmp) as f:
        f.write(old + (json.dumps(entry, sort_keys=True) + "\n").encode())
    FileSystems.rename([tmp], [path])  # replaces the old manifest in one step (os.rename; a copy on GCS)


def _parquet_files(root: str, name: str) -> list:
    """Files called `name` (a glob) under root: in its subdirectories and at its top (synthetic_by_domain)."""
    found = {}
    for pattern in (FileSystems.join(root, "**", name), FileSystems.join(root, name)):
        for meta in FileSystems.match([pattern])[0].metadata_list:
            found[meta.path] = meta
    return [found[path] for path in sorted(found)]


def commit_batch(staging: str, output: str, batch: Batch) -> dict:
    """Move a finished batch's files into output (names ending in the batch id); returns its stats."""
    leftovers = _parquet_files(output, f"*-{batch.id}.parquet")
    if leftovers:  # a commit that was killed half-way
        FileSystems.delete([m.path for m in leftovers])
    with FileSystems.open(FileSystems.join(staging, STATS), compression_type="uncompressed") as f:
        stats = json.loads(f.read())
    for meta in _parquet_files(staging, "*.parquet"):
        relative = meta.path[len(staging) :].lstrip("/")
        directory, _, name = relative.rpartition("/")
        target_dir = FileSystems.join(output, directory)
        if not FileSystems.exists(target_dir):
            FileSystems.mkdirs(target_dir)
        stem = name.removesuffix(".parquet")  # the batch id goes last: the file keeps its kind's name prefix
        FileSystems.rename([meta.path], [FileSystems.join(target_dir, f"{stem}-{batch.id}.parquet")])
    stats_dir = FileSystems.join(output, BATCH_STATS_DIR)
    if not FileSystems.exists(stats_dir):
        FileSystems.mkdirs(stats_dir)
    with FileSystems.create(FileSystems.join(stats_dir, f"{batch.id}.json")) as f:
        f.write(json.dumps(stats, indent=2, sort_keys=True).encode())
    FileSystems.delete([staging])
    return stats


def reference_files(output: str, crawl: str) -> list[str]:
    """The synthetic_by_domain files of the committed batches of snapshots older than `crawl`: the human
    baseline of `crawl`'s synthetic-share estimates (file names end in the batch id, which starts with
    its crawl)."""
    pattern = FileSystems.join(output, f"{SYNTHETIC_BY_DOMAIN_STEM}-*.parquet")
    older = []
    for meta in FileSystems.match([pattern])[0].metadata_list:
        name = meta.path.rsplit("/", 1)[-1].removeprefix(f"{SYNTHETIC_BY_DOMAIN_STEM}-")
        found = crawl_id(name)
        if found and re.match(r"-b\d+-", name[len(found[0]) :]) and crawl_key(found[0]) < crawl_key(crawl):
            older.append(meta.path)
    return sorted(older)


def flatten(stats: dict, prefix: str = "") -> dict[str, int]:
    out = {}
    for key, value in stats.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        elif isinstance(value, int) and not isinstance(value, bool):
            out[f"{prefix}{key}"] = value
    return out


def merge_stats(output: str) -> dict:
    """DIR/stats.json as the sum of every committed batch's stats."""
    totals: dict[str, int] = {}
    metas = FileSystems.match([FileSystems.join(output, BATCH_STATS_DIR, "*.json")])[0].metadata_list
    parts = []
    for meta in metas:
        with FileSystems.open(meta.path, compression_type="uncompressed") as f:
            part = json.loads(f.read())
        parts.append(part)
        # estimates: merged below; provenance: the latest batch's
        counts = {k: v for k, v in part.items() if k not in SYNTHETIC_GROUPS and k != "provenance"}
        for key, n in flatten(counts).items():
            totals[key] = totals.get(key, 0) + n
    totals[UNREADABLE_INPUTS] = first_unreadable(u for part in parts for u in part.get(UNREADABLE_INPUTS, []))
    for derived in ("records_read_total", "unreadable_total", "batches"):  # build_stats recomputes these
        totals.pop(derived, None)
    stats = build_stats(totals, "warc")
    stats.update(merge_synthetic(parts))
    merge_domain_estimates(output)
    stats["batches"] = len(metas)
    latest = [p["provenance"] for p in parts if p.get("provenance")]
    if latest:
        stats["provenance"] = latest[-1]
    return write_stats_file(stats, output)


def merge_domain_estimates(output: str) -> str | None:
    """DIR/synthetic_by_domain.parquet: the per-domain estimates of every committed batch, merged per
    (crawl, domain) (``synthetic.merge_domain_records``), so a domain spread over batches is estimated from
    all its documents. The per-batch files stay (the reference of later snapshots); None without any."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from transforms import synthetic

    metas = FileSystems.match([FileSystems.join(output, f"{SYNTHETIC_BY_DOMAIN_STEM}-*.parquet")])[
        0
    ].metadata_list
    if not metas:
        return None
    records = []
    for meta in sorted(metas, key=lambda m: m.path):
        with FileSystems.open(meta.path, compression_type="uncompressed") as f:
            records += pq.read_table(pa.BufferReader(f.read())).to_pylist()
    table = pa.Table.from_pylist(
        synthetic.merge_domain_records(records), schema=synthetic.DOMAIN_ESTIMATES_SCHEMA
    )
    path = FileSystems.join(output, SYNTHETIC_BY_DOMAIN)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    tmp = path + ".tmp"
    with FileSystems.create(tmp) as f:
        f.write(sink.getvalue().to_pybytes())
    FileSystems.rename([tmp], [path])
    return path


class Progress:
    """One line per finished batch: files done / total, docs/s, ETA."""

    def __init__(self, total_files: int, out=sys.stdout):
        self.total = total_files
        self.done = 0
        self.docs = 0
        self.started = time.monotonic()
        self.out = out

    def skip(self, n_files: int) -> None:
        self.total -= n_files

    def update(self, batch: Batch, docs: int) -> str:
        self.done += len(batch.files)
        self.docs += docs
        elapsed = time.monotonic() - self.started
        rate = self.docs / elapsed if elapsed else 0.0
        eta = elapsed / self.done * (self.total - self.done) if self.done else 0.0
        line = (
            f"[{batch.crawl}] batch {batch.index + 1}: files {self.done}/{self.total}, "
            f"{self.docs:,} docs, {rate:.1f} docs/s, ETA {_duration(eta)}"
        )
        print(line, file=self.out, flush=True)
        return line


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"
