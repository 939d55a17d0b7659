"""The columns dedup adds to every row with text (transforms/schema.py imports them from here)."""

from __future__ import annotations

import pyarrow as pa

# (name, type, description): the columns Deduplicate adds to every row with text.
DEDUP_COLUMNS: list[tuple[str, pa.DataType, str]] = [
    (
        "dup_cluster_id",
        pa.string(),
        "id of the survivor of the document's duplicate cluster (its own id when it has no duplicate)",
    ),
    (
        "dup_cluster_size",
        pa.int32(),
        "documents in the cluster, counting matched documents of earlier snapshots (1 = unique)",
    ),
    ("first_seen_crawl", pa.string(), "crawl of the cluster's survivor: where this content was first seen"),
    ("first_seen_date", pa.timestamp("ms", tz="UTC"), "fetch_date of the cluster's survivor"),
    (
        "exact_duplicate",
        pa.bool_(),
        "not the survivor, and its normalised text equals the survivor's (see transforms/dedup/)",
    ),
    ("near_duplicate", pa.bool_(), "not the survivor, and its normalised text differs from the survivor's"),
    (
        "url_duplicate",
        pa.bool_(),
        "an older fetch of the same normalised URL in the same crawl (the newest fetch is kept)",
    ),
    (
        "duplicate_of",
        pa.string(),
        "id of the document this one duplicates: the cluster survivor, the matched earlier-snapshot "
        "document, or (url_duplicate) the newest fetch",
    ),
    ("duplicate_of_url", pa.string(), "url of duplicate_of"),
    (
        "duplicate_of_crawl",
        pa.string(),
        "crawl of duplicate_of (an earlier snapshot for cross-snapshot matches)",
    ),
]
DEDUP_COLUMN_NAMES = [name for name, _, _ in DEDUP_COLUMNS]
