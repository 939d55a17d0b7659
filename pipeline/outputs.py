"""The names of what a run writes into its output directory, in one place (pure: no Beam, no I/O).

OUTPUT/curated/crawl=*/lang=*/*.parquet    kept rows          (ROOTS: one Parquet root per row status)
OUTPUT/rejected/...                        rejected rows
OUTPUT/failed/...                          rows that could not be read or extracted
OUTPUT/stats.json                          counts; written last: its presence means the run is complete
OUTPUT/report.html                         the run's report
OUTPUT/synthetic_by_domain.parquet         AI-share estimates and score histograms per (crawl, domain)
OUTPUT/dedup_index/                        MinHash signatures, for --dedup-against in later runs
OUTPUT/manifest.jsonl, OUTPUT/_batches/    finished batches of a backfill or `run --batch-files`
OUTPUT/_incomplete-*/                      a run still writing (staging), moved into place when done
"""

from __future__ import annotations

CURATED = "curated"
REJECTED = "rejected"
FAILED = "failed"
#: the Parquet roots, one per row status (transforms.sink.ROOT_OF_STATUS writes them)
ROOTS = (CURATED, REJECTED, FAILED)

STATS = "stats.json"
REPORT = "report.html"
SYNTHETIC_BY_DOMAIN_STEM = "synthetic_by_domain"
SYNTHETIC_BY_DOMAIN = f"{SYNTHETIC_BY_DOMAIN_STEM}.parquet"
#: a run's synthetic_by_domain.parquet and a backfill's synthetic_by_domain-<batch>.parquet
SYNTHETIC_BY_DOMAIN_FILES = f"{SYNTHETIC_BY_DOMAIN_STEM}*.parquet"
DEDUP_INDEX = "dedup_index"

MANIFEST = "manifest.jsonl"
BATCH_STATS_DIR = "_batches"
STAGING_PREFIX = "_incomplete-"

#: what a run replaces in its output directory (and what makes a directory hold a run)
MANAGED = (*ROOTS, STATS, REPORT, SYNTHETIC_BY_DOMAIN, DEDUP_INDEX)
