"""The document row: one per input document, defined here and nowhere else.

Every stage adds columns to the same dict; only `decide` turns scores into keep / reject. A row's
`status` says where it ends up:

- ``kept``     -> ``curated/crawl=<crawl>/lang=<lang>/``
- ``rejected`` -> ``rejected/crawl=<crawl>/lang=<lang>/`` with ``reject_reason`` (the text is kept)
- ``failed``   -> ``failed/crawl=<crawl>/lang=<lang>/`` with ``failure_reason`` and ``failure_detail``

For WARC input, every HTML response and every unreadable record or file becomes exactly one row, so
``html_responses + unreadable_total == kept + rejected + failed`` for every run.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

import pyarrow as pa

from transforms.dedup.columns import DEDUP_COLUMNS
from transforms.quality import QUALITY_COLUMNS
from transforms.synthetic import SYNTHETIC_COLUMNS
from transforms.urlfilter import URL_COLUMNS

STATUS_KEPT = "kept"
STATUS_REJECTED = "rejected"
STATUS_FAILED = "failed"

# (name, type, description). The README's schema table is generated from this list.
COLUMNS: list[tuple[str, pa.DataType, str]] = [
    (
        "id",
        pa.string(),
        "stable document id: sha1 of (WARC file name without directory, warc_record_id, warc_offset), or the input id",
    ),
    ("url", pa.string(), "WARC-Target-URI of the response (or the input url)"),
    ("domain", pa.string(), "host of url, lower-case, without a leading 'www.'"),
    (
        "crawl",
        pa.string(),
        "crawl id, e.g. CC-MAIN-2024-22 (from --crawl, warcinfo isPartOf, or the file name)",
    ),
    ("fetch_date", pa.timestamp("ms", tz="UTC"), "WARC-Date of the response record"),
    ("warc_filename", pa.string(), "the WARC/ARC file the record was read from, as given to --input"),
    ("warc_offset", pa.int64(), "byte offset of the record in warc_filename (see transforms/read/)"),
    ("warc_record_id", pa.string(), "WARC-Record-ID (ARC: a sha1 URN of url, date and offset)"),
    ("payload_digest", pa.string(), "WARC-Payload-Digest as stored in the record"),
    (
        "digest_verified",
        pa.bool_(),
        "record digests recomputed while reading: true all match, false one does not, null none checkable",
    ),
    ("http_status", pa.int32(), "HTTP status code of the response"),
    ("content_type", pa.string(), "media type the payload was accepted as HTML by"),
    ("charset", pa.string(), "character set the HTML was decoded with"),
    ("html_bytes", pa.int64(), "size of the decoded HTTP payload in bytes"),
    ("text", pa.string(), "extracted main text"),
    ("title", pa.string(), "page title from the extractor"),
    ("published_date", pa.string(), "publication date found by the extractor (YYYY-MM-DD)"),
    (
        "extractor",
        pa.string(),
        "whose text: trafilatura | resiliparse | resiliparse_page (decided by the cascade) | none (text input)",
    ),
    ("lang", pa.string(), "ISO 639 code from fastText lid.176 ('unknown' when there is no text)"),
    ("lang_score", pa.float32(), "lid.176 probability of lang"),
    *DEDUP_COLUMNS,
    (
        "cohort",
        pa.string(),
        "pre_llm | post_llm: first seen before / after [cohort] cutoff (ChatGPT's release)",
    ),
    *QUALITY_COLUMNS,
    ("quality_score", pa.float32(), "P(high quality) from --quality-model (null without one)"),
    *URL_COLUMNS,
    *SYNTHETIC_COLUMNS,
    (
        "synthetic_domain",
        pa.bool_(),
        "the domain's estimated synthetic share in this crawl is confidently above [synthetic] domain_max_share",
    ),
    ("status", pa.string(), "kept | rejected | failed"),
    ("reject_reason", pa.string(), "first failed rule of the thresholds config (rejected rows)"),
    (
        "failed_rules",
        pa.list_(pa.field("element", pa.string())),
        "every rule of the thresholds config the row fails, in order",
    ),
    ("failure_reason", pa.string(), "what went wrong (failed rows), e.g. extract_timeout"),
    ("failure_detail", pa.string(), "error message of a failure"),
]

SCHEMA = pa.schema([pa.field(name, dtype) for name, dtype, _ in COLUMNS])
COLUMN_NAMES = [name for name, _, _ in COLUMNS]


def new_row(**values) -> dict:
    """A row with every column present (None where unknown), overlaid with `values`."""
    unknown = set(values) - set(COLUMN_NAMES)
    if unknown:
        raise KeyError(f"not in the document schema: {sorted(unknown)}")
    row = dict.fromkeys(COLUMN_NAMES)
    row.update(values)
    return row


def document_id(*parts: str | int | None) -> str:
    """A stable id from the parts that identify a document (sha1, hex)."""
    joined = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha1(joined.encode("utf-8", "surrogatepass")).hexdigest()


def domain_of(url: str | None) -> str | None:
    """Host of `url`, lower-case, without 'www.' and port; None when there is none."""
    if not url:
        return None
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host.lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


def to_table(rows: list[dict]) -> pa.Table:
    """Rows -> an Arrow table of SCHEMA (missing keys become nulls)."""
    return pa.Table.from_pylist([{k: r.get(k) for k in COLUMN_NAMES} for r in rows], schema=SCHEMA)


def markdown_table() -> str:
    """The README's output-schema table (`make docs` writes it; a test keeps the README in step)."""
    lines = ["| column | type | meaning |", "|---|---|---|"]
    for name, dtype, description in COLUMNS:
        kind = str(dtype).replace("list<element: string>", "list<string>").replace("tz=", "")
        lines.append(f"| `{name}` | {kind} | {description.replace('|', 'or')} |")
    return "\n".join(lines)
