"""Documents as graph nodes, the dedup configuration, sketches, buckets, connected components and verdicts.

Pure functions (no Beam): ``transforms/dedup/beam.py`` wires them into the pipeline; the benchmarks and tests
call them directly.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import pickle
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from transforms.crawl import crawl_id
from transforms.dedup.minhash import (
    NORMALIZATION_VERSION,
    SCHEMES,
    _input_hashes,
    _shingle_bytes,
    band_hash_int,
    band_keys,
    banding_for_recall,
    bucket_id,
    content_of_lines,
    joined,
    normalize_lines,
    signature_dtype,
    signatures_from_hashes,
    sketch_similarity,
    text_hash,
    text_id,
    verification_sketch,
)
from transforms.memo import TextMemo, once_per_text
from transforms.schema import COLUMN_NAMES, STATUS_FAILED

VERIFY_MODES = ("estimate", "none")

# --------------------------------------------------------------------------------------------------
# URLs, crawls, priority
# --------------------------------------------------------------------------------------------------

_DEFAULT_PORTS = {"http": 80, "https": 443}
NO_DATE = (1 << 39) - 1  # a missing fetch_date: sorts after every real timestamp (seconds, until year 19391)
_TS_OFFSET = 1 << 39  # makes timestamps before 1970 sort correctly as unsigned bytes
TIER_EARLIER, TIER_CURRENT = 0, 1


def normalize_url(url: str | None) -> str | None:
    """The URL that URL dedup compares, or None when there is none.

    Scheme-insensitive (http = https), host lower-case without 'www.' and default port, no fragment, empty
    path = '/', query parameters sorted. Path case and trailing slashes are kept (servers differ on them).
    """
    if not url or not url.strip():
        return None
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").rstrip(".")
        port = parts.port
    except ValueError:
        return url.strip()
    if not host:
        return url.strip()
    host = host[4:] if host.startswith("www.") else host
    if port and port != _DEFAULT_PORTS.get(parts.scheme.lower()):
        host = f"{host}:{port}"
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return urlunsplit(("", host, parts.path or "/", query, ""))


def crawl_order(crawl: str | None) -> tuple[int, int]:
    """Sort key of a crawl: CC-MAIN-* by time (year, then week; CC-MAIN-2008-2009 and CC-MAIN-2012 included),
    then other names by their first 4 bytes, then none. Two other crawls that share their first 4 bytes tie
    here and are ordered by fetch date."""
    if not crawl:
        return (2, 0)
    found = crawl_id(crawl)
    if found:
        return (0, found[1] << 16 | min(found[2], 0xFFFF))
    return (1, int.from_bytes(crawl.encode("utf-8", "surrogatepass")[:4].ljust(4, b"\0"), "big"))


def _timestamp(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return int(value.timestamp())
    return int(value)


def _quality(value) -> float:
    """-quality_score as float32 (smaller = better); a missing or NaN score counts as 0."""
    q = 0.0 if value is None else float(value)
    q = 0.0 if q != q else q
    return float(np.float32(-q)) + 0.0  # + 0.0 turns -0.0 into 0.0


def doc_id64(doc_id: str) -> int:
    """A document id as a non-negative 63-bit int (blake2b): what the dedup shuffles carry."""
    return (
        int.from_bytes(
            hashlib.blake2b(str(doc_id).encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big"
        )
        >> 1
    )


def priority_key(row: dict) -> tuple:
    """The survivor order of a row: (crawl order, fetch_date, -quality_score, id64); smaller survives."""
    ts = _timestamp(row.get("fetch_date"))
    return (
        *crawl_order(row.get("crawl")),
        NO_DATE if ts is None else ts,
        _quality(row.get("quality_score")),
        doc_id64(row["id"]),
    )


# A node of the dedup graph is 30 bytes whose byte order IS the priority order:
#   tier << 2 | crawl rank (1) | crawl code (4) | fetch ts + 2^39 (5) | -quality float32, order-preserving (4)
#   | id64 (8) | text id (8)


def _sortable_float32(x: float) -> bytes:
    (u,) = struct.unpack(">I", struct.pack(">f", x))
    return (u ^ 0xFFFFFFFF if u >> 31 else u | (1 << 31)).to_bytes(4, "big")


def encode_node(
    doc_id: str, crawl: str | None, fetch_date, quality_score, text_hash_: bytes, tier: int = TIER_CURRENT
) -> bytes:
    """A document as a graph node; smaller node = higher priority."""
    rank, code = crawl_order(crawl)
    ts = _timestamp(fetch_date)
    ts = NO_DATE if ts is None else max(-_TS_OFFSET, min(ts, NO_DATE - 1))
    return b"".join(
        (
            bytes((tier << 2 | rank,)),
            code.to_bytes(4, "big"),
            (ts + _TS_OFFSET).to_bytes(5, "big"),
            _sortable_float32(_quality(quality_score)),
            doc_id64(doc_id).to_bytes(8, "big"),
            text_id(text_hash_).to_bytes(8, "big"),
        )
    )


NODE_SIZE = 30


class NodeInfo(NamedTuple):
    tier: int
    id64: int
    text_id: int


def decode_node(node: bytes) -> NodeInfo:
    return NodeInfo(node[0] >> 2, int.from_bytes(node[14:22], "big"), int.from_bytes(node[22:30], "big"))


def node_id64(node: bytes) -> int:
    return int.from_bytes(node[14:22], "big")


def node_tier(node: bytes) -> int:
    return node[0] >> 2


def _stable_hash63(data: bytes) -> int:
    """A stable non-negative 63-bit hash (fits Beam's int64 encoding; a larger int would be pickled)."""
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big") >> 1


# A document's info: what a duplicate's columns name (duplicate_of, _url, _crawl, first_seen_*).
#   (id, url, crawl, fetch ts or NO_DATE)


def doc_info(doc_id, url, crawl, fetch_date) -> tuple:
    ts = _timestamp(fetch_date)
    return (str(doc_id), url, crawl, NO_DATE if ts is None else ts)


def _date(ts: int):
    return None if ts == NO_DATE else dt.datetime.fromtimestamp(ts, dt.UTC)


# --------------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DedupConfig:
    """Dedup parameters (surfaced as CLI flags by the pipeline).

    ngram            words per shingle
    min_line_words   shingle only the lines of at least this many words, when they hold at least
    min_line_share   this share of the text's words (``content_text``; 0 = the whole text)
    num_perm         MinHash permutations
    threshold        target Jaccard similarity: picks bands x rows (``banding_for_recall``) and the
                     verification bar. 0.6 with lines of 8+ words: F1 0.89 on the human-judged Webis pairs,
                     >= 0.86 on each subset (``python -m bench.dedup_bench --webis`` prints the table)
    bands, rows      explicit LSH banding (overrides threshold's choice; give one and the other is
                     num_perm // it)
    max_band_miss    the largest share of pairs at the threshold that banding may miss
    seed, scheme     MinHash permutations, as datasketch's MinHash(seed=..., scheme=...)
    verify           how a candidate pair becomes an edge: "estimate" = the share of equal MinHash values
                     (their low 6 bits, ``verification_sketch``) is >= verify_threshold, the same for pairs
                     inside a run and pairs with an earlier snapshot's document; "none" = every candidate
    verify_threshold the bar for verify (None = threshold + verify_margin)
    verify_margin    how far above the threshold the estimate must be: an estimate from 128 values has a
                     standard deviation of ~0.04 near 0.6, so at the bar itself a quarter of the pairs at
                     exact Jaccard 0.57 pass. 0.02 on the generated corpus (``bench.dedup_bench --n
                     100000``): same-cluster pairs chained by exact Jaccard >= 0.6 0.955 -> 0.985, recall
                     at Jaccard >= 0.85 1.0 -> 1.0; on Webis F1 0.887 -> 0.888 (core 0.902 -> 0.893, web
                     0.865 -> 0.865)
    max_bucket_size  most distinct texts a bucket keeps (None = unlimited: a giant bucket's pairs are linear
                     in its size, but each is verified)
    small_bucket     buckets of up to this many texts pair every two; larger ones pair each text with the
                     first and with its predecessor (see bucket_pairs)
    rounds           most large-star / small-star rounds (after convergence, the next round's large-star
                     sends the edges to the output: later rounds shuffle nothing)
    """

    ngram: int = 5
    min_line_words: int = 8
    min_line_share: float = 0.5
    num_perm: int = 128
    threshold: float = 0.6
    bands: int | None = None
    rows: int | None = None
    max_band_miss: float = 0.04
    seed: int = 1
    scheme: str = "affine32"
    verify: str = "estimate"
    verify_threshold: float | None = None
    verify_margin: float = 0.02
    max_bucket_size: int | None = 1000
    small_bucket: int = 8
    rounds: int = 12

    def __post_init__(self):
        if self.ngram < 1 or self.num_perm < 2:
            raise ValueError("ngram must be >= 1 and num_perm >= 2")
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold}")
        if self.verify_threshold is not None and not 0.0 <= self.verify_threshold <= 1.0:
            raise ValueError(f"verify_threshold must be in [0, 1], got {self.verify_threshold}")
        if not 0.0 <= self.verify_margin < 1.0:
            raise ValueError(f"verify_margin must be in [0, 1), got {self.verify_margin}")
        if self.verify not in VERIFY_MODES:
            raise ValueError(f"verify must be one of {VERIFY_MODES}, got {self.verify!r}")
        if self.scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {SCHEMES}, got {self.scheme!r}")
        if not 0.0 < self.max_band_miss < 1.0:
            raise ValueError(f"max_band_miss must be in (0, 1), got {self.max_band_miss}")
        bands, rows = self.band_params
        if bands < 1 or rows < 1 or bands * rows > self.num_perm:
            raise ValueError(f"bands x rows = {bands} x {rows} does not fit num_perm = {self.num_perm}")
        if self.small_bucket < 2:
            raise ValueError("small_bucket must be >= 2")
        if self.max_bucket_size is not None and self.max_bucket_size < 2:
            raise ValueError("max_bucket_size must be >= 2 (or None)")
        if self.rounds < 1:
            raise ValueError("rounds must be >= 1")
        if self.min_line_words < 0 or not 0.0 <= self.min_line_share <= 1.0:
            raise ValueError("min_line_words must be >= 0 and min_line_share in [0, 1]")

    @property
    def band_params(self) -> tuple[int, int]:
        """(bands, rows) in use."""
        if self.bands and self.rows:
            return self.bands, self.rows
        if self.bands:
            return self.bands, self.num_perm // self.bands
        if self.rows:
            return self.num_perm // self.rows, self.rows
        return banding_for_recall(self.threshold, self.num_perm, self.max_band_miss)

    @property
    def min_similarity(self) -> float:
        """Estimated Jaccard a candidate pair needs to become an edge (unless verify is "none")."""
        if self.verify_threshold is None:
            return min(1.0, self.threshold + self.verify_margin)
        return self.verify_threshold

    def index_metadata(self) -> dict[bytes, bytes]:
        bands, rows = self.band_params
        return {
            b"pristine.dedup.num_perm": str(self.num_perm).encode(),
            b"pristine.dedup.seed": str(self.seed).encode(),
            b"pristine.dedup.scheme": self.scheme.encode(),
            b"pristine.dedup.ngram": str(self.ngram).encode(),
            b"pristine.dedup.min_line_words": str(self.min_line_words).encode(),
            b"pristine.dedup.min_line_share": str(self.min_line_share).encode(),
            b"pristine.dedup.normalization": NORMALIZATION_VERSION.encode(),
            b"pristine.dedup.bands": str(bands).encode(),
            b"pristine.dedup.rows": str(rows).encode(),
        }


# Index metadata that must match for two runs' signatures to be comparable (bands / rows need not: bucket
# keys are recomputed from the stored signatures).
COMPATIBLE_KEYS = (
    b"pristine.dedup.num_perm",
    b"pristine.dedup.seed",
    b"pristine.dedup.scheme",
    b"pristine.dedup.ngram",
    b"pristine.dedup.min_line_words",
    b"pristine.dedup.min_line_share",
    b"pristine.dedup.normalization",
)


# --------------------------------------------------------------------------------------------------
# Sketches: what each document contributes to the shuffles
# --------------------------------------------------------------------------------------------------


class Sketch(NamedTuple):
    """What dedup keeps of a document (never shuffled as a whole: each shuffle takes the fields it needs)."""

    id64: int
    text_id: int  # the document's distinct normalised text
    node: bytes  # NODE_SIZE bytes, ordered by priority
    info: tuple  # doc_info
    url_key: int | None  # 63-bit hash of (crawl, normalised url); None without a url
    fetch_ts: int  # for URL dedup: NO_DATE when unknown
    check: bytes  # verification_sketch: 6 bits per permutation
    buckets: list[int]  # bucket_id per band; empty for a text without shingles
    signature: bytes  # the full signature (little-endian), for the index
    band_keys: list[bytes]  # for the index
    digest: bytes  # text_hash of the normalised text, for the index


class TextSketch(NamedTuple):
    """The part of a Sketch that depends on the text alone."""

    digest: bytes
    check: bytes
    buckets: list[int]
    signature: bytes
    band_keys: list[bytes]


def sketch_texts(texts: Sequence[str], config: DedupConfig) -> list[TextSketch]:
    """MinHash sketches of texts, vectorised over the batch. Each text is normalised once, line by line,
    for both its shingles and its exact-duplicate key."""
    lines = [normalize_lines(text) for text in texts]
    hashes = [
        _input_hashes(
            _shingle_bytes(content_of_lines(ls, config.min_line_words, config.min_line_share), config.ngram),
            config.scheme,
        )
        for ls in lines
    ]
    if not texts:
        return []
    sigs = signatures_from_hashes(hashes, config.num_perm, config.seed, config.scheme)
    sigs = sigs.astype(sigs.dtype.newbyteorder("<"), copy=False)
    n_bands, n_rows = config.band_params
    out = []
    for ls, shingle_hashes, sig in zip(lines, hashes, sigs, strict=True):
        keys = band_keys(sig, n_bands, n_rows) if len(shingle_hashes) else []
        out.append(
            TextSketch(
                digest=text_hash(joined(ls)),
                check=verification_sketch(sig),
                buckets=[bucket_id(k) for k in keys],
                signature=sig.tobytes(),
                band_keys=keys,
            )
        )
    return out


def sketch_rows(rows: Sequence[dict], config: DedupConfig, memo: TextMemo | None = None) -> list[Sketch]:
    """Sketches of rows with text. A text is sketched once: repeated texts in `rows`, and with `memo` texts
    sketched in earlier calls, reuse the text's part of the sketch."""
    parts = once_per_text([r["text"] for r in rows], lambda texts: sketch_texts(texts, config), memo)
    out = []
    for row, part in zip(rows, parts, strict=True):
        url = normalize_url(row.get("url"))
        ts = _timestamp(row.get("fetch_date"))
        out.append(
            Sketch(
                id64=doc_id64(row["id"]),
                text_id=text_id(part.digest),
                node=encode_node(
                    row["id"], row.get("crawl"), row.get("fetch_date"), row.get("quality_score"), part.digest
                ),
                info=doc_info(row["id"], row.get("url"), row.get("crawl"), row.get("fetch_date")),
                url_key=_stable_hash63(f"{row.get('crawl') or ''}\0{url}".encode("utf-8", "surrogatepass"))
                if url
                else None,
                fetch_ts=NO_DATE if ts is None else ts,
                check=part.check,
                buckets=part.buckets,
                signature=part.signature,
                band_keys=part.band_keys,
                digest=part.digest,
            )
        )
    return out


def index_record(row: dict, sketch: Sketch) -> dict:
    """A document's row of the signature index."""
    return {
        "id": str(row["id"]),
        "url": row.get("url"),
        "crawl": row.get("crawl"),
        "fetch_date": _date(sketch.fetch_ts),
        "quality_score": row.get("quality_score"),
        "text_hash": sketch.digest,
        "signature": sketch.signature,
        "band_hashes": [band_hash_int(k) for k in sketch.band_keys],
    }


def index_schema(config: DedupConfig) -> pa.Schema:
    """One row per document with text of a run, with the run's dedup settings.

    ``band_hashes`` (list position = band) is for queries from outside; a run matching against the index
    recomputes bucket keys from ``signature``, so an index also serves runs with other bands / rows.
    """
    width = config.num_perm * signature_dtype(config.scheme).itemsize
    return pa.schema(
        [
            pa.field("id", pa.string()),
            pa.field("url", pa.string()),
            pa.field("crawl", pa.string()),
            pa.field("fetch_date", pa.timestamp("s", tz="UTC")),
            pa.field("quality_score", pa.float64()),
            pa.field("text_hash", pa.binary(16)),
            pa.field("signature", pa.binary(width)),
            pa.field("band_hashes", pa.list_(pa.int64())),
        ],
        metadata=config.index_metadata(),
    )


def index_band_table(index: pa.Table) -> pa.Table:
    """An index in long form, one row per (document, band): band, band_hash, id, url, crawl, fetch_date."""
    lengths = pc.list_value_length(index["band_hashes"]).fill_null(0).to_numpy(zero_copy_only=False)
    take = np.repeat(np.arange(index.num_rows), lengths)
    bands = np.concatenate([np.arange(n) for n in lengths]) if len(lengths) else np.zeros(0, dtype=int)
    docs = index.select(["id", "url", "crawl", "fetch_date"]).take(pa.array(take, type=pa.int64()))
    return pa.table(
        {
            "band": pa.array(bands, type=pa.int16()),
            "band_hash": pc.list_flatten(index["band_hashes"]),
            **{name: docs[name] for name in docs.column_names},
        }
    )


def check_metadata(path: str, metadata: dict | None, config: DedupConfig) -> None:
    expected, metadata = config.index_metadata(), metadata or {}
    wrong = {
        k.decode(): (metadata.get(k, b"?").decode(), expected[k].decode())
        for k in COMPATIBLE_KEYS
        if metadata.get(k) != expected[k]
    }
    if wrong:
        raise ValueError(
            f"signature index {path} was written with other dedup settings {{setting: (index, this run)}}: {wrong}"
        )


# --------------------------------------------------------------------------------------------------
# Rows as they wait in spill files (spill.py)
# --------------------------------------------------------------------------------------------------


@functools.cache
def _row_columns() -> tuple[str, ...]:
    return tuple(COLUMN_NAMES)


@functools.cache
def _row_column_set() -> frozenset[str]:
    return frozenset(_row_columns())


def pack_row(row: dict) -> bytes:
    """A row as one bytes value for a spill file: its values in schema order, pickled, plus any keys outside
    the schema (the column names alone pickle to ~1.5 KB)."""
    names = _row_columns()
    if all(n in row for n in names):
        extra = (
            {k: v for k, v in row.items() if k not in _row_column_set()} if len(row) > len(names) else None
        )
        return pickle.dumps((tuple(row[n] for n in names), extra), protocol=pickle.HIGHEST_PROTOCOL)
    return pickle.dumps((None, row), protocol=pickle.HIGHEST_PROTOCOL)


def unpack_row(data: bytes) -> dict:
    values, extra = pickle.loads(data)
    if values is None:
        return extra
    row = dict(zip(_row_columns(), values, strict=True))
    if extra:
        row.update(extra)
    return row


def has_text(row: dict) -> bool:
    """Rows dedup works on: not failed, with a text (possibly empty)."""
    return row.get("status") != STATUS_FAILED and row.get("text") is not None


# --------------------------------------------------------------------------------------------------
# URL dedup and distinct texts
# --------------------------------------------------------------------------------------------------


def newest_fetch(fetches: Iterable[tuple[int, int, int]]) -> tuple[int, int, int]:
    """The newest of (fetch ts, id64, text id) fetches of one URL: latest date (unknown = oldest), then
    smallest id64."""
    return min(fetches, key=lambda f: (-(f[0] if f[0] != NO_DATE else -(1 << 62)), f[1]))


# Marks a distinct text's group receives besides its documents and pairs:
EXCLUDE, NEWEST = 0, 1  # (EXCLUDE, id64): an older fetch of a URL; (NEWEST, id64, older id64): name it


def url_marks(fetches: Iterable[tuple[int, int, int]]) -> list[tuple[int, tuple]]:
    """(fetch ts, id64, text id) fetches of one URL -> (text id, mark) for each older fetch: EXCLUDE keyed by
    its own text (it leaves content dedup), NEWEST keyed by the newest's text (whose group knows its names)."""
    fetches = set(fetches)
    if len(fetches) < 2:
        return []
    newest = newest_fetch(fetches)
    out = []
    for _ts, id64, text in fetches:
        if id64 != newest[1]:
            out += [(text, (EXCLUDE, id64)), (newest[2], (NEWEST, newest[1], id64))]
    return out


class ResolvedText(NamedTuple):
    """What one distinct text contributes to the verdicts and the graph (``resolve_text``)."""

    url_verdicts: list  # (older fetch's id64, (URL, the newest fetch's info))
    infos: list  # (node, info) of its documents, when they are in an exact group or a candidate pair
    exact_edges: list  # (member node, representative node)
    sides: list  # ((smaller text id, larger), (representative node, check)) per candidate partner


def resolve_text(
    text: int, docs: Iterable[tuple], marks: Iterable[tuple], partners: Iterable[int]
) -> ResolvedText:
    """One distinct text's documents ((node, check, info)), URL marks and candidate partners -> its URL
    verdicts and, for its documents that are not older fetches of a URL, the exact edges to the
    highest-priority one, which also stands for the text in its candidate pairs."""
    docs = set(docs)
    excluded, newest_of = set(), []
    for mark in marks:
        if mark[0] == EXCLUDE:
            excluded.add(mark[1])
        else:
            newest_of.append(mark)
    url_verdicts = []
    if newest_of:
        info_of = {node_id64(node): info for node, _, info in docs}
        url_verdicts = [(older, (URL, info_of[newest])) for _, newest, older in sorted(set(newest_of))]
    # one entry per node (a repeated id: the same one on every runner), highest priority first
    by_node: dict = {}
    for d in sorted(docs, key=lambda d: (d[0], d[1], repr(d[2]))):
        if node_id64(d[0]) not in excluded:
            by_node.setdefault(d[0], d)
    kept = list(by_node.values())
    if not kept:
        return ResolvedText(url_verdicts, [], [], [])
    partners = set(partners)
    rep_node, rep_check, _ = kept[0]
    return ResolvedText(
        url_verdicts,
        [(node, info) for node, _, info in kept] if len(kept) > 1 or partners else [],
        [(node, rep_node) for node, _, _ in kept[1:]],
        [((min(text, other), max(text, other)), (rep_node, rep_check)) for other in partners],
    )


# --------------------------------------------------------------------------------------------------
# Buckets: (bucket id, text id) entries, packed per shard of bucket ids
# --------------------------------------------------------------------------------------------------

BUCKET_SHARDS = 4096  # the LSH shuffle's keys: bucket id % BUCKET_SHARDS
BUCKET_FLUSH = 1 << 20  # entries a worker gathers (16 MB) before it packs and emits them
_ENTRY = np.dtype("<u8")


def pack_bucket_entries(buckets: Sequence[int] | np.ndarray, texts: Sequence[int] | np.ndarray):
    """(bucket id, text id) entries -> [(shard, packed entries)], one per shard present: each entry once,
    sorted, 16 bytes (two little-endian uint64). A worker packs what its bundle sketched, so the shuffle
    carries a few thousand keys with arrays, not an element per band per document, and copies of a text
    count once."""
    if not len(buckets):
        return []
    entries = np.unique(np.stack([np.asarray(buckets, _ENTRY), np.asarray(texts, _ENTRY)], axis=1), axis=0)
    shards = entries[:, 0] % BUCKET_SHARDS
    order = np.argsort(shards, kind="stable")
    entries, shards = entries[order], shards[order]
    starts = np.flatnonzero(np.r_[True, shards[1:] != shards[:-1]])
    ends = np.r_[starts[1:], len(shards)]
    return [(int(shards[a]), entries[a:b].tobytes()) for a, b in zip(starts, ends, strict=True)]


SMALL_SHARD = 4096  # entries: below, bucket_groups groups in Python (numpy's fixed costs dominate)


def bucket_groups(packs: Iterable[bytes], small: int = SMALL_SHARD):
    """Packed entries of one shard (from any workers, in any order, with repeats) -> (bucket id, its distinct
    text ids, ascending) for every bucket with at least two texts, buckets in ascending order.

    A shard of fewer than `small` entries (most, but on the largest crawls) is grouped with a Python set:
    10 entries 5 us against numpy's 106, 1,000 entries 0.42 ms against 0.88, 10,000 entries 12 ms against 10.
    """
    packs = list(packs)
    if sum(len(p) for p in packs) < small * _ENTRY.itemsize * 2:
        entries: set = set()
        for p in packs:
            values = np.frombuffer(p, _ENTRY).tolist()
            entries.update(zip(values[0::2], values[1::2], strict=True))
        texts_of: dict = {}
        for bucket, text in entries:
            texts_of.setdefault(bucket, []).append(text)
        for bucket in sorted(texts_of):
            if len(texts_of[bucket]) > 1:
                yield bucket, sorted(texts_of[bucket])
        return
    arrays = [np.frombuffer(p, _ENTRY).reshape(-1, 2) for p in packs]
    if not arrays:
        return
    entries = np.unique(np.concatenate(arrays), axis=0)
    buckets = entries[:, 0]
    starts = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]])
    sizes = np.diff(np.r_[starts, len(buckets)])
    for a, n in zip(starts[sizes > 1].tolist(), sizes[sizes > 1].tolist(), strict=True):
        yield int(buckets[a]), entries[a : a + n, 1].tolist()


def bucket_members(key: int, kept: Iterable[int], cap: int | None) -> list[int]:
    """The cap texts of a bucket with the smallest stable hash of (bucket, text): a different subset in every
    band."""
    kept = list(kept)
    if cap is None or len(kept) <= cap:
        return sorted(kept)
    k = key.to_bytes(8, "big")
    return sorted(sorted(kept, key=lambda t: _stable_hash63(k + t.to_bytes(8, "big")))[:cap])


def bucket_pairs(members: list[int], small: int) -> list[tuple[int, int]]:
    """Candidate pairs of a bucket's distinct texts, as (smaller id, larger id).

    Up to ``small`` texts: every pair. More: a star to the smallest plus a path through them in order (linear
    in the bucket size). Verification needs more than the star the components alone would: in a chain
    x~y~z where x !~ z, a bucket holding all three must still offer (y, z).
    """
    ordered = sorted(set(members))
    if len(ordered) <= small:
        return [(ordered[i], ordered[j]) for i in range(len(ordered)) for j in range(i + 1, len(ordered))]
    return [(ordered[0], m) for m in ordered[1:]] + [
        (ordered[i - 1], ordered[i]) for i in range(2, len(ordered))
    ]


# --------------------------------------------------------------------------------------------------
# Connected components: pure functions of one node's neighbourhood
# --------------------------------------------------------------------------------------------------


def canonical_edge(a, b) -> tuple:
    """An undirected edge as (larger, smaller)."""
    return (a, b) if a > b else (b, a)


def large_star(node, neighbors: Iterable) -> list[tuple]:
    """Connect every larger neighbour of ``node`` to the smallest of node and its neighbours."""
    neighbors = set(neighbors)
    smallest = min(neighbors | {node})
    return [(u, smallest) for u in neighbors if u > node]


def small_star(node, smaller: Iterable) -> list[tuple]:
    """Connect ``node`` and its smaller neighbours to the smallest of them."""
    smaller = set(smaller)
    smallest = min(smaller)
    return [(node, smallest)] + [(u, smallest) for u in smaller if u != smallest]


def components_reference(edges: Iterable[tuple], rounds: int) -> tuple[dict, int]:
    """Large-star / small-star on one machine, for tests: ({node: root}, rounds until no change).

    Returns rounds + 1 as the count when the edges still changed in the last round.
    """
    current = {canonical_edge(a, b) for a, b in edges if a != b}
    for done in range(rounds + 1):
        adj: dict = {}
        for a, b in current:
            adj.setdefault(a, set()).add(b)
            adj.setdefault(b, set()).add(a)
        after_large = {e for v, ns in adj.items() for e in large_star(v, ns)}
        smaller: dict = {}
        for hi, lo in after_large:
            smaller.setdefault(hi, set()).add(lo)
        after_small = {e for v, ns in smaller.items() for e in small_star(v, ns)}
        if after_small == current or done == rounds:
            return dict(current), done if after_small == current else rounds + 1
        current = after_small
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------------------------------
# Verdicts -> columns
# --------------------------------------------------------------------------------------------------

# A verdict is (CLUSTER, root node, cluster size, exact, root info) or (URL, newest fetch's info); several
# verdicts of one id (repeated ids, unconverged components) resolve to the smallest.
CLUSTER, URL = 0, 1


def _second(value):
    """A timestamp[s] value: whole seconds, UTC."""
    if isinstance(value, dt.datetime):
        value = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return value.replace(microsecond=0)
    return value


def default_columns(row: dict) -> dict:
    """Columns of a row in no cluster: its own cluster of one."""
    return {
        "dup_cluster_id": row["id"],
        "dup_cluster_size": 1,
        "first_seen_crawl": row.get("crawl"),
        "first_seen_date": _second(row.get("fetch_date")),
        "exact_duplicate": False,
        "near_duplicate": False,
        "url_duplicate": False,
        "duplicate_of": None,
        "duplicate_of_url": None,
        "duplicate_of_crawl": None,
    }


def verdict_columns(row: dict, verdict: tuple | None) -> dict:
    """The dedup columns of a row from its verdict (None = in no cluster)."""
    cols = default_columns(row)
    if verdict is None:
        return cols
    if verdict[0] == URL:
        newest_id, newest_url, newest_crawl, _ = verdict[1]
        cols.update(
            url_duplicate=True,
            duplicate_of=newest_id,
            duplicate_of_url=newest_url,
            duplicate_of_crawl=newest_crawl,
        )
        return cols
    _, root_node, size, exact, (root_id, root_url, root_crawl, root_ts) = verdict
    cols.update(
        dup_cluster_id=root_id,
        dup_cluster_size=size,
        first_seen_crawl=root_crawl,
        first_seen_date=_date(root_ts),
    )
    if node_tier(root_node) == TIER_CURRENT and root_id == str(row["id"]):
        return cols  # the survivor
    cols.update(
        exact_duplicate=exact,
        near_duplicate=not exact,
        duplicate_of=root_id,
        duplicate_of_url=root_url,
        duplicate_of_crawl=root_crawl,
    )
    return cols


# --------------------------------------------------------------------------------------------------
# The whole of dedup on one machine
# --------------------------------------------------------------------------------------------------


def deduplicate_reference(
    rows: Sequence[dict], config: DedupConfig, sketches: Sequence[Sketch] | None = None
) -> list[dict]:
    """What ``Deduplicate`` makes of `rows` (one run, no earlier index), in one process: the same functions
    in plain loops, for tests and the benchmark's bare loop. Rows with text get the dedup columns in place;
    returns `rows`. `sketches`: those of the rows with text, in order, when already made (``sketch_rows``)."""
    todo = [r for r in rows if has_text(r)]
    sketches = sketch_rows(todo, config) if sketches is None else sketches
    if len(sketches) != len(todo):
        raise ValueError(f"{len(sketches)} sketches for {len(todo)} rows with text")
    # URL dedup: the older fetches of a URL leave content dedup and name the newest
    fetches: dict = {}
    for s in sketches:
        if s.url_key is not None:
            fetches.setdefault(s.url_key, []).append((s.fetch_ts, s.id64, s.text_id))
    marks: dict = {}
    for group in fetches.values():
        for text, mark in url_marks(group):
            marks.setdefault(text, []).append(mark)
    # LSH buckets -> candidate pairs of distinct texts
    buckets: dict = {}
    for s in sketches:
        for b in s.buckets:
            buckets.setdefault(b, set()).add(s.text_id)
    partners: dict = {}
    for key, texts in buckets.items():
        if len(texts) > 1:
            for a, b in bucket_pairs(bucket_members(key, texts, config.max_bucket_size), config.small_bucket):
                partners.setdefault(a, set()).add(b)
                partners.setdefault(b, set()).add(a)
    # per distinct text: URL verdicts, exact edges to its highest-priority document, pair sides
    docs_of: dict = {}
    for s in sketches:
        docs_of.setdefault(s.text_id, []).append((s.node, s.check, s.info))
    verdicts: dict = {}
    edges, info_of, sides = [], {}, {}
    for text, docs in docs_of.items():
        resolved = resolve_text(text, docs, marks.get(text, ()), partners.get(text, ()))
        for older, verdict in resolved.url_verdicts:
            verdicts.setdefault(older, []).append(verdict)
        info_of.update(resolved.infos)
        edges += resolved.exact_edges
        for pair, side in resolved.sides:
            sides.setdefault(pair, []).append(side)
    # verified near edges
    for pair in sides.values():
        by_text = {decode_node(node).text_id: (node, check) for node, check in pair}
        if len(by_text) == 2:
            (node_a, check_a), (node_b, check_b) = by_text.values()
            if config.verify == "none" or sketch_similarity(check_a, check_b) >= config.min_similarity:
                edges.append((node_a, node_b))
    # connected components -> a verdict for every member of a cluster
    roots, _ = components_reference(edges, config.rounds)
    members: dict = {}
    for node, root in roots.items():
        members.setdefault(root, []).append(node)
    for root, nodes in members.items():
        size, info, root_info = len(nodes) + 1, info_of.get(root), decode_node(root)
        if root not in roots:  # else an unconverged component: this node's own verdict comes from its root
            verdicts.setdefault(root_info.id64, []).append((CLUSTER, root, size, False, info))
        for node in nodes:
            member = decode_node(node)
            exact = member.text_id == root_info.text_id
            verdicts.setdefault(member.id64, []).append((CLUSTER, root, size, exact, info))
    for row, s in zip(todo, sketches, strict=True):
        row.update(verdict_columns(row, min(verdicts[s.id64]) if s.id64 in verdicts else None))
    return rows
