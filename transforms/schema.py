"""The document row: one per input document, defined here and nowhere else.

Every stage adds columns to the same dict; only `decide` turns scores into keep / reject. A row's
`status` says where it ends up:

- ``kept``     -> ``curated/crawl=<crawl>/lang=<lang>/``
- ``rejected`` -> ``rejected/crawl=<crawl>/lang=<lang>/`` with ``reject_reason`` (the text is kept)
- ``failed``   -> ``failed/crawl=<crawl>/lang=<lang>/`` with ``failure_reason`` and ``failure_detail``

For WARC input, every HTML response and every unreadable record or file becomes exactly one row, so
``html_responses + unreadable_total == kept + rejected + failed`` for every run.

The columns each stage adds are listed here too (``QUALITY_COLUMNS``, ``URL_COLUMNS``, ...), and the stages
import them from here: this module imports nothing else from the package, so it loads in milliseconds and
every stage can use it.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

import pyarrow as pa

STATUS_KEPT = "kept"
STATUS_REJECTED = "rejected"
STATUS_FAILED = "failed"

# --- the columns each stage adds ---

#: Word n-gram sizes of the Gopher repetition columns (``gopher_top_<n>gram_char_frac``, ``gopher_dup_<n>gram_char_frac``).
TOP_NGRAM_SIZES = (2, 3, 4)
DUP_NGRAM_SIZES = (5, 6, 7, 8, 9, 10)

_F, _I, _B = pa.float32(), pa.int32(), pa.bool_()

#: (name, Arrow type, description) of every column ``signals.quality_signals`` returns, in that order.
QUALITY_COLUMNS: list[tuple[str, pa.DataType, str]] = [
    ("gopher_n_words", _I, "words with a letter or digit (quality.words: per character for zh/ja/th)"),
    ("gopher_mean_word_length", _F, "mean word length, edge punctuation removed (null for zh/ja/th/ko...)"),
    ("gopher_symbol_word_ratio", _F, "max('#' count, '...'/'…' count) per word"),
    ("gopher_bullet_lines_frac", _F, "fraction of non-empty lines starting with a bullet"),
    ("gopher_ellipsis_lines_frac", _F, "fraction of non-empty lines ending with '...' or '…'"),
    ("gopher_alpha_words_frac", _F, "fraction of words containing a letter"),
    ("gopher_stop_words", _I, "distinct stop words of the language present (null: no list for lang)"),
    ("gopher_dup_line_frac", _F, "fraction of lines repeating an earlier line"),
    ("gopher_dup_para_frac", _F, "fraction of paragraphs repeating an earlier paragraph"),
    ("gopher_dup_line_char_frac", _F, "fraction of line characters in repeated lines"),
    ("gopher_dup_para_char_frac", _F, "fraction of paragraph characters in repeated paragraphs"),
    *[
        (
            f"gopher_top_{n}gram_char_frac",
            _F,
            f"fraction of word characters in the most frequent word {n}-gram",
        )
        for n in TOP_NGRAM_SIZES
    ],
    *[
        (f"gopher_dup_{n}gram_char_frac", _F, f"fraction of word characters in repeated word {n}-grams")
        for n in DUP_NGRAM_SIZES
    ],
    ("c4_n_lines", _I, "non-empty lines"),
    ("c4_lines_kept_frac", _F, "fraction of lines C4 keeps (>= 3 words, no javascript/policy line)"),
    ("c4_n_sentences", _I, "sentences in the lines C4 keeps"),
    ("c4_lines_kept_terminal_frac", _F, "as c4_lines_kept_frac, lines must also end in terminal punctuation"),
    ("c4_n_sentences_terminal", _I, "sentences in the lines kept with the terminal punctuation rule"),
    ("c4_has_lorem_ipsum", _B, "a line of >= 3 words contains 'lorem ipsum'"),
    ("c4_has_curly_bracket", _B, "a line of >= 3 words contains '{'"),
    ("c4_has_javascript_line", _B, "a line of >= 3 words contains 'javascript'"),
    ("c4_has_policy_line", _B, "a line of >= 3 words contains a cookie/terms/privacy-policy phrase"),
    ("fineweb_line_punct_frac", _F, "fraction of lines ending in terminal punctuation"),
    ("fineweb_short_line_frac", _F, "fraction of lines of <= 30 characters (wide characters count 2)"),
    ("fineweb_dup_line_char_frac", _F, "fraction of line characters in repeated lines"),
    ("fineweb_newline_word_ratio", _F, "line breaks between non-empty lines per word"),
]
QUALITY_COLUMN_NAMES = [name for name, _, _ in QUALITY_COLUMNS]

#: The url_* columns (``transforms.decide.url_signals``), set by decide from the thresholds config's lists.
URL_COLUMNS: list[tuple[str, pa.DataType, str]] = [
    ("url_blocked_domain", pa.bool_(), "domain or a parent domain is on the domain block list"),
    ("url_blocked_url", pa.bool_(), "the normalised URL is on the URL block list"),
    ("url_hard_banned_words", pa.int32(), "URL tokens on the hard banned-word list"),
    ("url_soft_banned_words", pa.int32(), "URL tokens on the soft banned-word list"),
]
URL_COLUMN_NAMES = [name for name, _, _ in URL_COLUMNS]

#: The columns the synthetic scorer adds (``transforms.synthetic.SyntheticScorer.columns_batch``).
SYNTHETIC_COLUMNS: list[tuple[str, pa.DataType, str]] = [
    (
        "synthetic_score",
        pa.float32(),
        "calibrated P(AI-generated) under equal priors, in [0, 1] (null: see synthetic_abstain_reason)",
    ),
    (
        "sample_weight",
        pa.float32(),
        "training weight for the synthetic 'weight' mode: 1 - synthetic_score (1 when the score is null)",
    ),
    (
        "synthetic_phrases",
        pa.int32(),
        "leaked chatbot phrases found ('As an AI language model', 'Sure! Here is a revised version:' ...)",
    ),
    (
        "synthetic_abstain_reason",
        pa.string(),
        "why synthetic_score is null: not_english, too_short (< 50 words), not_prose (< 50 words in prose "
        "lines, or under 30% of the words; menus, link lists, SERPs, product grids)",
    ),
]
SYNTHETIC_COLUMN_NAMES = [name for name, _, _ in SYNTHETIC_COLUMNS]

#: The columns Deduplicate adds to every row with text (``transforms.dedup``).
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

# --- the document row ---

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


def failed(row: dict, reason: str, detail: str | None) -> dict:
    """Mark `row` (in place) failed with `reason` and `detail` (cut to 1,000 characters); returns it."""
    row.update(status=STATUS_FAILED, failure_reason=reason, failure_detail=(detail or "")[:1000] or None)
    return row


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
