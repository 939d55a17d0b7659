"""Deduplication: URL, exact and MinHash LSH near duplicates, across snapshots, clustered inside Beam.

Modules: ``minhash`` (text, shingles, signatures, banding, verification
sketches), ``clusters`` (nodes, configuration, sketches, buckets, components, verdicts: pure functions),
``spill`` (the files rows wait in) and ``beam`` (the ``Deduplicate`` composite). Names used elsewhere are
importable from ``transforms.dedup``; the Beam ones load Beam on first use only.

**What a row gets.** Rows with text (``status != "failed"`` and ``text`` not None) get the columns of
``DEDUP_COLUMNS``; other rows pass through untouched. Dedup runs on every row with text, whatever its
quality, so these columns never depend on the thresholds config: ``decide`` (and a later ``recurate``) turns
the booleans into rejects without re-running dedup. Dedup never sets ``status`` or ``reject_reason``.

**Steps.**

1. URL dedup within a crawl: rows with the same ``(crawl, normalize_url(url))`` keep the newest fetch
   (latest ``fetch_date``, then smallest id64); the others get ``url_duplicate`` and ``duplicate_of`` = the
   newest fetch, and take no further part in content dedup (content dedup keeps the *oldest* copy and URL
   dedup the *newest*: letting both act on the same rows could reject every copy).
2. Exact dedup on ``normalize_text`` (NFKC, case-folded, punctuation dropped, one space between words): the
   documents of one distinct text (16-byte blake2b, keyed by its first 63 bits) meet in one group, whose
   highest-priority document represents the text in LSH and is tied to the others by exact edges.
3. MinHash LSH over word ``ngram``-shingles of ``content_text`` (the lines of 8+ words when they hold half
   the text's words: navigation, bylines and timestamps do not count), ``num_perm`` values bit-identical to
   datasketch 2.0, ``bands`` x ``rows`` from ``banding_for_recall`` (a pair at the threshold is missed at
   most 4% of the time, a pair at half of it is a candidate at most a third of the time: 14 x 3 at 0.6).
   Each worker packs its (bucket id, text id) entries per shard of bucket ids (``BUCKET_SHARDS`` keys, 16
   bytes per entry: a giant bucket is megabytes in one shard, no hot key); a bucket is the set of distinct
   texts of its entries, capped at ``max_bucket_size`` by a stable hash (a different subset in every band;
   counted ``dedup/buckets_capped``).
   Candidate pairs: every pair of a small bucket, else a star plus a path (``bucket_pairs``), each once per
   bundle however many bands the two texts share. A pair becomes
   an edge when the share of equal MinHash values (their low 6 bits, chance agreements removed:
   ``verification_sketch``, 96 bytes per document) reaches ``threshold``: LSH only proposes. Pairs with a
   document of an earlier snapshot are verified the same way, from the signature its index stores. On the
   Webis pairs this scores as the exact Jaccard of the shingle sets does (F1 0.887 vs 0.899, about one
   seed's noise), without shipping sets.
4. Connected components of the exact and near edges: up to ``rounds`` large-star / small-star rounds
   (Kiveris et al., "Connected Components in MapReduce and Beyond", SoCC 2014), each two GroupByKeys;
   once a round re-wires no edge (``dedup/components_round_<i>_changes`` = 0), the next round's large-star
   sends the edges to the output and later rounds shuffle nothing. ``dedup/components_unconverged`` counts
   nodes still not in a star at the end: they are still rejected correctly (only a component's root survives); their cluster id then names an
   intermediate node.
5. Survivors: the smallest node of a component. A node is 30 bytes whose byte order is the priority::

       (tier, crawl order, fetch_date, -quality_score as float32, id64) + text id

   tier 0 = a document of an earlier snapshot's index (``dedup_against``): it always wins, it is already
   published. Crawl order: ``CC-MAIN-YYYY-WW`` (and ``CC-MAIN-2008-2009`` / ``CC-MAIN-2012``) by time and
   first; other crawl names after them, by their first 4 bytes; a missing crawl last. A missing fetch_date
   sorts after every date, a missing quality_score counts as 0, ties go to the smaller id64 (the first 63
   bits of the id's blake2b). So the copy that predates generative AI survives, then the better one. Every
   step is a function of sets, with stable hashes only: no dependence on bundles, element order,
   partitioning, runner or PYTHONHASHSEED.
6. Cross-snapshot: with ``index_dir`` a run writes its signature index (``index_schema``: one Parquet row
   per document with text, with the full signature: 0.5-0.6 KB per document on disk); with ``dedup_against`` the
   documents of earlier indexes join the distinct-text groups and buckets as tier-0 nodes.

What the shuffles carry: 63-bit ids (document, distinct text, bucket), 30-byte nodes, a 96-byte
verification sketch and the names (id, url, crawl, date) per document. Rows never enter a shuffle: each
waits in its bundle's spill file (``spill``) while dedup decides, and the verdicts travel to the file, which
one worker reads back once, adding the columns. Within a cluster every member but the survivor is
``exact_duplicate`` (same normalised text as the survivor) or ``near_duplicate``. Accounting:
``dedup/verdicts_emitted`` must equal ``dedup/verdicts_joined``; ``pristine run`` fails, committing
nothing, when they differ (a runner that lost elements).
"""

from transforms.dedup.clusters import *  # noqa: F403
from transforms.dedup.clusters import (  # noqa: F401  (private names the benchmarks and tests use)
    _quality,
    _stable_hash63,
    _timestamp,
)
from transforms.dedup.minhash import *  # noqa: F403
from transforms.dedup.minhash import _empty_value, _input_hashes, _shingle_bytes  # noqa: F401
from transforms.schema import DEDUP_COLUMN_NAMES, DEDUP_COLUMNS  # noqa: F401

_BEAM_NAMES = {
    "Deduplicate",
    "ConnectedComponents",
    "ReadIndexFile",
    "read_index",
    "index_files",
    "check_index",
    "INDEX_FILE_PREFIX",
}


def __getattr__(name):
    if name in _BEAM_NAMES:
        from transforms.dedup import beam

        return getattr(beam, name)
    raise AttributeError(f"module 'transforms.dedup' has no attribute {name!r}")
