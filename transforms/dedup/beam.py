"""Deduplicate: URL, exact and MinHash LSH near duplicates, clustered by connected components in Beam.

    rows -> sketch --+-- rows to spill files; (id64, file key) -----------------------------+
                     +-- (url, fetch) -> newest fetch -> marks ----+                          |
                     +-- (text id, node, check, info) -------------+-> per distinct text ---+ |
                     +-- (shard, entries) -> capped buckets -> pairs-+   exact edges, pairs | |
                                                                        -> verify -> edges  | |
                                                   connected components <-------------------+ |
                                 -> verdicts (id64) -> (file key, verdict) by id64 <----------+
                                 -> per spill file: read its rows back, each with its verdict

Only 63-bit ints (document ids, text ids, bucket ids, file keys), 30-byte nodes, the 96-byte verification
sketch and the duplicate's names travel through the dedup shuffles; rows wait in spill files
(``transforms/dedup/spill.py``) and never enter a shuffle.
"""

from __future__ import annotations

from collections.abc import Sequence

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.coders import FastPrimitivesCoder
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindows

from transforms.beam_util import DocumentRow, of_type
from transforms.dedup.clusters import (
    BUCKET_FLUSH,
    CLUSTER,
    EXCLUDE,
    TIER_CURRENT,
    TIER_EARLIER,
    DedupConfig,
    bucket_groups,
    bucket_members,
    bucket_pairs,
    canonical_edge,
    check_metadata,
    decode_node,
    doc_info,
    encode_node,
    has_text,
    index_record,
    index_schema,
    large_star,
    node_tier,
    pack_bucket_entries,
    pack_row,
    resolve_text,
    sketch_rows,
    small_star,
    unpack_row,
    url_marks,
    verdict_columns,
)
from transforms.dedup.minhash import (
    _empty_value,
    band_keys,
    bucket_id,
    signature_dtype,
    sketch_similarity,
    text_id,
    verification_sketch,
)
from transforms.dedup.spill import PASSTHROUGH, RowSpill, default_spill_dir, read_spill, remove_spills
from transforms.memo import TextMemo

INDEX_FILE_PREFIX = "signatures"
_INDEX_READ_COLUMNS = ["id", "url", "crawl", "fetch_date", "quality_score", "text_hash", "signature"]


# --------------------------------------------------------------------------------------------------
# DoFns
# --------------------------------------------------------------------------------------------------


class SketchDocuments(beam.DoFn):
    """[row, ...] -> each row written to the bundle's spill file, and (id64, file key) for a row with text (a
    row without text waits in the file too, untouched: no Flatten after the read-back, which would make the
    local runner hold every row); on the other outputs what each shuffle needs:

    'texts'    (text id, (node, check, info))
    'fetches'  (url key, (fetch ts, id64, text id)) for rows with a url
    'buckets'  (shard, packed (bucket id, text id) entries): every band of the bundle's texts, packed per
               shard of bucket ids (``pack_bucket_entries``) every BUCKET_FLUSH entries and at the end
    'index'    the row's index record (with an index directory)
    'spills'   (file key, path) of the bundle's spill file, when it is complete
    """

    TEXTS, FETCHES, BUCKETS, INDEX, SPILLS = "texts", "fetches", "buckets", "index", "spills"

    def __init__(self, config: DedupConfig, write_index: bool, spill_dir: str):
        self.config = config
        self.write_index = write_index
        self.spill_dir = spill_dir
        self.documents = Metrics.counter("dedup", "documents")
        self.passthrough = Metrics.counter("dedup", "passthrough_rows")
        self.spilled = Metrics.counter("dedup", "rows_spilled")

    def setup(self):
        self.memo = TextMemo()  # a text seen again by this worker is not sketched again

    def start_bundle(self):
        self.spill = None
        self.entries = BucketEntries()

    def process(self, batch: list[dict]):
        if self.spill is None:
            self.spill = RowSpill(self.spill_dir)
        todo = []
        for row in batch:
            if has_text(row):
                todo.append(row)
            else:
                self.passthrough.inc()
                self.spill.write(PASSTHROUGH, pack_row(row))
        for row, s in zip(todo, sketch_rows(todo, self.config, self.memo), strict=True):
            self.documents.inc()
            self.spill.write(s.id64, pack_row(row))
            yield s.id64, self.spill.key
            yield beam.pvalue.TaggedOutput(self.TEXTS, (s.text_id, (s.node, s.check, s.info)))
            if s.url_key is not None:
                yield beam.pvalue.TaggedOutput(self.FETCHES, (s.url_key, (s.fetch_ts, s.id64, s.text_id)))
            self.entries.add(s.buckets, s.text_id)
            if self.write_index:
                yield beam.pvalue.TaggedOutput(self.INDEX, index_record(row, s))
        if len(self.entries) >= BUCKET_FLUSH:
            for packed in self.entries.flush():
                yield beam.pvalue.TaggedOutput(self.BUCKETS, packed)

    def finish_bundle(self):
        for packed in self.entries.flush():
            yield beam.pvalue.TaggedOutput(self.BUCKETS, GlobalWindows.windowed_value(packed))
        if self.spill is not None:
            spill, self.spill = self.spill, None
            spill.close()
            self.spilled.inc(spill.rows)
            yield beam.pvalue.TaggedOutput(self.SPILLS, GlobalWindows.windowed_value((spill.key, spill.path)))


class KeepNewestFetch(beam.DoFn):
    """(url key, [(fetch ts, id64, text id), ...]) -> marks for the distinct texts: each older fetch is left out
    of content dedup (EXCLUDE, keyed by its text) and named a URL duplicate of the newest (NEWEST, keyed by
    the newest's text, whose group knows its names)."""

    def __init__(self):
        self.url_duplicates = Metrics.counter("dedup", "url_duplicates")

    def process(self, element):
        _, fetches = element
        for text, mark in url_marks(fetches):
            if mark[0] == EXCLUDE:
                self.url_duplicates.inc()
            yield text, mark


class BucketEntries:
    """A worker's (bucket id, text id) entries, gathered until ``flush`` packs them per shard."""

    def __init__(self):
        self.buckets: list[int] = []
        self.texts: list[int] = []

    def __len__(self) -> int:
        return len(self.buckets)

    def add(self, buckets: list[int], text: int) -> None:
        self.buckets.extend(buckets)
        self.texts.extend([text] * len(buckets))

    def flush(self) -> list[tuple[int, bytes]]:
        packed = pack_bucket_entries(self.buckets, self.texts)
        self.buckets, self.texts = [], []
        return packed


class BucketPairs(beam.DoFn):
    """(shard, [packed entries, ...]) -> candidate pairs of distinct texts for every bucket of the shard (see
    ``bucket_pairs``), counted. A bucket over ``max_bucket_size`` texts keeps those with the smallest stable
    hash of (bucket, text): a different subset in every band. A shard holds 1/BUCKET_SHARDS of the buckets as
    16-byte entries, so even a bucket of a million pages is 16 MB, no hot key.

    Two similar texts share several bands (a pair at Jaccard 0.9 shares 10 of 14 on average): a pair this
    bundle already emitted is not emitted again (``dedup/candidate_pairs_repeated``; at most
    ``SEEN_PAIRS`` remembered). ResolveText sets the partners anyway: this only saves shuffle bytes.
    """

    SEEN_PAIRS = 200_000  # ~20 MB of Python tuples; forgotten all at once when full

    def __init__(self, config: DedupConfig):
        self.cap = config.max_bucket_size
        self.small = config.small_bucket
        self.capped = Metrics.counter("dedup", "buckets_capped")
        self.dropped = Metrics.counter("dedup", "bucket_members_dropped")
        self.sizes = Metrics.distribution("dedup", "bucket_size_over_1")
        self.pairs = Metrics.counter("dedup", "candidate_pairs")
        self.repeated = Metrics.counter("dedup", "candidate_pairs_repeated")

    def start_bundle(self):
        self.seen: set = set()

    def process(self, element):
        _, packs = element
        for key, texts in bucket_groups(packs):
            members = bucket_members(key, texts, self.cap)
            self.sizes.update(len(texts))
            if len(texts) > len(members):
                self.capped.inc()
                self.dropped.inc(len(texts) - len(members))
            for pair in bucket_pairs(members, self.small):
                if pair in self.seen:
                    self.repeated.inc()
                    continue
                if len(self.seen) >= self.SEEN_PAIRS:
                    self.seen.clear()
                self.seen.add(pair)
                self.pairs.inc()
                yield pair


def pair_endpoints(pair: tuple):
    """(a, b) text ids -> each text keyed by its partner."""
    yield pair[0], pair[1]
    yield pair[1], pair[0]


class ResolveText(beam.DoFn):
    """(text id, {docs: [(node, check, info)], marks: [...], partners: [text id]}) -> one distinct text resolved:

    main      ((smaller text id, larger), (representative node, check)) per candidate partner of the text
    'edges'   (member node, representative node): documents with this text are exact duplicates of its
              highest-priority document (older fetches of a URL left out)
    'infos'   (node, (INFO, info)) of the documents of a text in any pair or exact group: the names a
              cluster root gives its duplicates
    'verdicts' (id64, (URL, newest fetch's info)) of the older fetches the text's documents are newest of
    """

    EDGES, INFOS, VERDICTS = "edges", "infos", "verdicts"

    def __init__(self):
        self.exact = Metrics.counter("dedup", "exact_duplicate_edges")

    def process(self, element):
        text, grouped = element
        resolved = resolve_text(text, grouped["docs"], grouped["marks"], grouped["partners"])
        for verdict in resolved.url_verdicts:
            yield beam.pvalue.TaggedOutput(self.VERDICTS, verdict)
        for node, info in resolved.infos:
            yield beam.pvalue.TaggedOutput(self.INFOS, (node, (LabelClusters.INFO, info)))
        for edge in resolved.exact_edges:
            self.exact.inc()
            yield beam.pvalue.TaggedOutput(self.EDGES, edge)
        yield from resolved.sides


class VerifyPairs(beam.DoFn):
    """(text pair, [(node, check), ...]) -> (node, node) edge when the two texts' estimated Jaccard
    (``sketch_similarity`` of their checks) reaches the bar; the same test for a document of an earlier
    snapshot (its check comes from the index's signature). Pairs of two earlier documents tell nothing new."""

    def __init__(self, config: DedupConfig):
        self.verify = config.verify
        self.min_similarity = config.min_similarity
        self.kept = Metrics.counter("dedup", "pairs_verified")
        self.rejected = Metrics.counter("dedup", "pairs_rejected_by_verification")
        self.cross = Metrics.counter("dedup", "cross_snapshot_pairs")

    def process(self, element):
        _, sides = element
        by_text = {decode_node(node).text_id: (node, check) for node, check in sides}
        # fewer than two sides: a text whose every document is an older fetch of its URL
        if len(by_text) == 2:
            yield from self._verify(*by_text.values())

    def _verify(self, a: tuple, b: tuple) -> list:
        (node_a, check_a), (node_b, check_b) = a, b
        if node_tier(node_a) == TIER_EARLIER and node_tier(node_b) == TIER_EARLIER:
            return []
        if self.verify != "none" and sketch_similarity(check_a, check_b) < self.min_similarity:
            self.rejected.inc()
            return []
        self.kept.inc()
        if node_tier(node_a) != node_tier(node_b):
            self.cross.inc()
        return [(node_a, node_b)]


class LabelClusters(beam.DoFn):
    """(node, [(UP, smaller), (DOWN, larger), (INFO, info), ...]) of the final star edges -> (id64, verdict)
    per member of the cluster this node is the root of."""

    UP, DOWN, INFO = 0, 1, 2

    def __init__(self):
        self.unconverged = Metrics.counter("dedup", "components_unconverged")
        self.clusters = Metrics.counter("dedup", "clusters")
        self.near = Metrics.counter("dedup", "near_duplicates")
        self.exact = Metrics.counter("dedup", "exact_duplicates")
        self.cross = Metrics.counter("dedup", "cross_snapshot_duplicates")
        self.later = Metrics.counter("dedup", "cross_snapshot_matched_later_crawl")

    def process(self, element):
        node, links = element
        has_up, downs, info = False, 0, None
        for direction, other in links:  # first pass (a GroupByKey result can be iterated again)
            if direction == self.UP:
                has_up = True
            elif direction == self.DOWN:
                downs += 1
            else:
                info = other
        if downs:  # a leaf's verdict comes from its root's group
            yield from self._cluster(node, links, has_up, downs + 1, info)

    def _cluster(self, node, links, has_up, size, info):
        if has_up:
            self.unconverged.inc()  # not a star yet: this intermediate node names the cluster of its subtree
        else:
            self.clusters.inc()
        root = decode_node(node)
        if not has_up and root.tier == TIER_CURRENT:
            yield root.id64, (CLUSTER, node, size, False, info)
        for direction, other in links:
            if direction != self.DOWN or node_tier(other) != TIER_CURRENT:
                continue
            member = decode_node(other)
            exact = member.text_id == root.text_id
            (self.exact if exact else self.near).inc()
            if root.tier == TIER_EARLIER:
                self.cross.inc()
                if crawl_rank(node) > crawl_rank(other):
                    self.later.inc()  # e.g. a backfill of an older crawl against a newer index
            yield member.id64, (CLUSTER, node, size, exact, info)


def crawl_rank(node: bytes) -> bytes:
    """The crawl part of a node (crawl_order as bytes)."""
    return bytes((node[0] & 3,)) + node[1:5]


def link_both_ends(node, root):
    """A final star edge -> (node, (UP, root)) and (root, (DOWN, node))."""
    yield node, (LabelClusters.UP, root)
    yield root, (LabelClusters.DOWN, node)


def _count(element, counter):
    counter.inc()
    return element


class LocateVerdicts(beam.DoFn):
    """(id64, {files: [file key], verdicts: [...]}) -> (file key, (id64, verdict)) for each spill file holding
    a row of a document with a verdict (the smallest, should a runner repeat one)."""

    def __init__(self):
        self.verdicts = Metrics.counter("dedup", "verdicts_joined")
        self.orphans = Metrics.counter("dedup", "verdicts_without_row")

    def process(self, element):
        id64, grouped = element
        verdicts = grouped["verdicts"]
        if not verdicts:
            return
        self.verdicts.inc(len(verdicts))
        files = set(grouped["files"])
        if not files:
            self.orphans.inc(len(verdicts))
        verdict = min(verdicts)
        for key in sorted(files):
            yield key, (id64, verdict)


class AddDedupColumns(beam.DoFn):
    """(file key, {paths: [spill file], verdicts: [(id64, verdict)]}) -> each row of the spill file, read back;
    those with text with the dedup columns."""

    def __init__(self):
        self.rows = Metrics.counter("dedup", "rows_read_back")

    def process(self, element):
        _, grouped = element
        verdicts = dict(grouped["verdicts"])
        for path in set(grouped["paths"]):
            for id64, packed in read_spill(path):
                row = unpack_row(packed)
                if id64 != PASSTHROUGH:
                    row.update(verdict_columns(row, verdicts.get(id64)))
                self.rows.inc()
                yield row


# --------------------------------------------------------------------------------------------------
# Signature index (cross-snapshot)
# --------------------------------------------------------------------------------------------------


def index_files(index_dirs) -> list[str]:
    """The Parquet files of signature index directories (ValueError when a directory has none)."""
    paths = []
    for directory in index_dirs:
        pattern = FileSystems.join(directory, f"{INDEX_FILE_PREFIX}*.parquet")
        found = sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)
        if not found:
            raise ValueError(f"no signature index files in {directory} ({pattern})")
        paths.extend(found)
    return paths


def check_index(index_dirs, config: DedupConfig) -> list[str]:
    """The index files, each checked to have been written with settings compatible with ``config``."""
    paths = index_files(index_dirs)
    for path in paths:
        with FileSystems.open(path) as f:
            check_metadata(path, pq.read_schema(f).metadata, config)
    return paths


def read_index(index_dirs, config: DedupConfig | None = None) -> pa.Table:
    """The signature index of one or more runs as one Arrow table (checked against ``config`` if given)."""
    dirs = [index_dirs] if isinstance(index_dirs, str) else list(index_dirs)
    tables = []
    for path in index_files(dirs):
        with FileSystems.open(path) as f:
            table = pq.read_table(f)
        if config is not None:
            check_metadata(path, table.schema.metadata, config)
        tables.append(table.replace_schema_metadata(None))
    return pa.concat_tables(tables)


class ReadIndexFile(beam.DoFn):
    """A signature index file -> each earlier document as a tier-0 text entry (main) and its bucket entries
    ('buckets', recomputed for this run's bands, packed per shard as SketchDocuments packs them)."""

    BUCKETS = "buckets"

    def __init__(self, config: DedupConfig):
        self.config = config
        self.documents = Metrics.counter("dedup", "index_documents_read")

    def process(self, path: str):
        n_bands, n_rows = self.config.band_params
        dtype = signature_dtype(self.config.scheme).newbyteorder("<")
        empty = _empty_value(self.config.scheme)
        entries = BucketEntries()
        with FileSystems.open(path) as f:
            parquet = pq.ParquetFile(f)
            check_metadata(path, parquet.schema_arrow.metadata, self.config)
            for batch in parquet.iter_batches(batch_size=4096, columns=_INDEX_READ_COLUMNS):
                for rec in batch.to_pylist():
                    sig = np.frombuffer(rec["signature"], dtype=dtype)
                    node = encode_node(
                        rec["id"],
                        rec["crawl"],
                        rec["fetch_date"],
                        rec["quality_score"],
                        rec["text_hash"],
                        tier=TIER_EARLIER,
                    )
                    text = text_id(rec["text_hash"])
                    info = doc_info(rec["id"], rec["url"], rec["crawl"], rec["fetch_date"])
                    self.documents.inc()
                    yield text, (node, verification_sketch(sig), info)
                    if not bool(np.all(sig == empty)):
                        entries.add([bucket_id(key) for key in band_keys(sig, n_bands, n_rows)], text)
                if len(entries) >= BUCKET_FLUSH:
                    for packed in entries.flush():
                        yield beam.pvalue.TaggedOutput(self.BUCKETS, packed)
        for packed in entries.flush():
            yield beam.pvalue.TaggedOutput(self.BUCKETS, packed)


# --------------------------------------------------------------------------------------------------
# Shuffle accounting (benchmarks)
# --------------------------------------------------------------------------------------------------


class CountShuffleBytes(beam.DoFn):
    """Counts what a (key, value) element costs a shuffle with Beam's coder for untyped elements
    (FastPrimitivesCoder for the key and for the value): dedup/shuffle_bytes_<name>."""

    def __init__(self, name: str):
        self.name = name
        self.coder = FastPrimitivesCoder()

    def setup(self):
        self.bytes = Metrics.counter("dedup", f"shuffle_bytes_{self.name}")
        self.elements = Metrics.counter("dedup", f"shuffle_elements_{self.name}")

    def process(self, element):
        key, value = element
        self.bytes.inc(len(self.coder.encode(key)) + len(self.coder.encode(value)))
        self.elements.inc()
        yield element


# --------------------------------------------------------------------------------------------------
# Composites
# --------------------------------------------------------------------------------------------------


class ConnectedComponents(beam.PTransform):
    """edges (a, b) -> star edges (node, smallest node of its component), for every node with an edge.

    Up to ``rounds`` alternating large-star / small-star rounds (Kiveris et al., SoCC 2014), unrolled (a Beam
    graph is static), two fused stages per round and no global combine. Each bundle of a round that re-wires
    edges says so (one count per bundle); the next round's large-star reads those counts as iterable side
    inputs: both empty means the components converged, and it sends the edges it was handed to the output
    instead of on, so later rounds shuffle nothing.
    """

    def __init__(self, rounds: int, measure: bool = False):
        super().__init__()
        self.rounds = rounds
        self.measure = measure

    def expand(self, edges):
        # (a, b) -> (larger, smaller) -> both directions
        both = (
            edges
            | "canonical edges" >> beam.MapTuple(canonical_edge)
            | "round 1: both directions" >> beam.FlatMapTuple(both_directions)
        )
        converged, changed = [], ()
        for i in range(1, self.rounds + 1):
            if self.measure:
                both = both | f"round {i}: bytes" >> beam.ParDo(CountShuffleBytes("components"))
            counter = Metrics.counter("dedup", f"components_round_{i:02d}_changes")
            large = (
                both
                # -> (node, all neighbours)
                | f"round {i}: neighbours" >> beam.GroupByKey()
                # -> (larger neighbour, smallest of the neighbourhood); changes on 'changes'; the edges as
                # they are on 'done' once the previous round changed nothing
                | f"round {i}: large-star"
                >> beam.ParDo(_LargeStar(counter), *(beam.pvalue.AsIter(c) for c in changed)).with_outputs(
                    "changes", "done", main="edges"
                )
            )
            converged.append(large.done)
            small = (
                large.edges
                # -> (node, smaller neighbours)
                | f"round {i}: smaller neighbours" >> beam.GroupByKey()
                | f"round {i}: small-star"
                >> beam.ParDo(_SmallStar(counter)).with_outputs("changes", main="edges")
            )
            changed = (large.changes, small.changes)
            if i < self.rounds:
                both = small.edges | f"round {i + 1}: both directions" >> beam.FlatMapTuple(both_directions)
        return (*converged, small.edges) | "final star edges" >> beam.Flatten()


def both_directions(hi, lo):
    """An edge -> (node, neighbour) for both of its ends."""
    return (hi, lo), (lo, hi)


class _StarRound(beam.DoFn):
    """A large-star or small-star step; each bundle that re-wires edges emits one count on "changes"."""

    def __init__(self, counter):
        self.counter = counter

    def start_bundle(self):
        self.changes = 0

    def finish_bundle(self):
        if self.changes:
            self.counter.inc(self.changes)
            yield beam.pvalue.TaggedOutput("changes", GlobalWindows.windowed_value(self.changes))


class _LargeStar(_StarRound):
    """Large-star, or, when the previous round's change counts (side inputs) are all empty, each edge of the
    node's neighbourhood once, as (larger, smaller), on "done"."""

    def start_bundle(self):
        super().start_bundle()
        self.converged = None

    def process(self, element, *changes):
        node, neighbors = element
        if self.converged is None:  # the side inputs are the same for the whole bundle: read them once
            self.converged = bool(changes) and all(next(iter(c), None) is None for c in changes)
        if self.converged:
            for m in neighbors:
                if m < node:
                    yield beam.pvalue.TaggedOutput("done", (node, m))
            return
        out = large_star(node, neighbors)
        self.changes += sum(1 for _, m in out if m != node)
        yield from out


class _SmallStar(_StarRound):
    def process(self, element):
        node, smaller = element
        out = small_star(node, smaller)
        self.changes += len(out) - 1  # every smaller neighbour but the smallest is re-wired
        yield from out


class Deduplicate(beam.PTransform):
    """rows -> the same rows; those with text carry ``DEDUP_COLUMNS`` (see transforms/dedup/__init__.py).

    config          DedupConfig
    index_dir       write this run's signature index into this directory, which must hold none yet
    dedup_against   signature index directories of earlier runs: matching documents are their duplicates
    spill_dir       where rows wait for their verdicts (``transforms/dedup/spill.py``), a directory that must
                    hold nothing else and that the transform deletes when the rows are read back; storage
                    every worker reaches (default: under the pipeline's temp_location, else a local
                    temporary directory)
    batch_size      rows per vectorised MinHash batch
    measure_shuffle count the bytes of every dedup shuffle (dedup/shuffle_bytes_*; benchmarks)
    """

    def __init__(
        self,
        config: DedupConfig | None = None,
        index_dir: str | None = None,
        dedup_against: Sequence[str] = (),
        spill_dir: str | None = None,
        batch_size: int = 256,
        measure_shuffle: bool = False,
    ):
        super().__init__()
        self.config = config or DedupConfig()
        self.index_dir = index_dir
        self.dedup_against = list(dedup_against)
        self.spill_dir = spill_dir
        self.batch_size = batch_size
        self.measure = measure_shuffle

    def _bytes(self, pcoll, name: str):
        return pcoll | f"bytes: {name}" >> beam.ParDo(CountShuffleBytes(name)) if self.measure else pcoll

    def expand(self, rows):
        spill_dir = self.spill_dir or default_spill_dir(rows.pipeline.options)
        # row -> spill file; (id64, file key) | texts | fetches | bucket entries | index records | spill files
        sketched, texts, buckets = self._sketch(rows, spill_dir)
        # 1. URL dedup: (url key, fetch) -> (text id, mark) for the older fetches
        url_marks = (
            self._bytes(sketched[SketchDocuments.FETCHES], "url")
            | "group fetches of a url" >> beam.GroupByKey()
            | "keep newest fetch" >> beam.ParDo(KeepNewestFetch())
        )
        # 2. LSH: (shard, packed (bucket id, text id) entries) -> (text id, text id) candidate pairs
        pairs = self._candidate_pairs(buckets)
        # 3. per distinct text -> exact edges, names, verdicts; candidate pairs -> verified near edges
        resolved, near_edges = self._resolve(texts, url_marks, pairs)
        # 4. + 5. edges -> connected components -> (id64, verdict) for every member of a cluster
        verdicts = self._verdicts(resolved, near_edges)
        # 6. (id64, file key) + (id64, verdict) -> (file key, verdict) -> each spill file's rows read back
        return self._read_back(sketched, verdicts, spill_dir)

    def _read_back(self, sketched, verdicts, spill_dir: str):
        """Verdicts to the spill files holding their rows -> every spilled row with the dedup columns; the
        spill directory is deleted once every file was read back."""
        located = (
            {
                "files": self._bytes(sketched.id_to_file, "row_files"),
                "verdicts": self._bytes(verdicts, "verdicts"),
            }
            | "verdicts to row files" >> beam.CoGroupByKey()
            | "locate verdicts" >> beam.ParDo(LocateVerdicts())
        )
        deduplicated = of_type(
            {
                "paths": sketched[SketchDocuments.SPILLS],
                "verdicts": self._bytes(located, "file_verdicts"),
            }
            | "verdicts per spill file" >> beam.CoGroupByKey()
            | "read rows back with dedup columns" >> beam.ParDo(AddDedupColumns()),
            DocumentRow,
        )
        _ = (
            deduplicated.pipeline
            | "spill directory" >> beam.Create([spill_dir])
            | "remove spill files"
            >> beam.Map(
                lambda d, _done: remove_spills(d),
                beam.pvalue.AsSingleton(deduplicated | "rows read back" >> beam.combiners.Count.Globally()),
            )
        )
        return deduplicated

    def _sketch(self, rows, spill_dir: str):
        """rows -> (the sketch outputs, (text id, ...) texts, (shard, packed entries) buckets), this run's with
        the earlier runs' (--dedup-against); writes this run's signature index and spills the rows."""
        cfg = self.config
        if self.index_dir:
            existing = FileSystems.match([FileSystems.join(self.index_dir, f"{INDEX_FILE_PREFIX}*.parquet")])
            if existing[0].metadata_list:
                raise ValueError(
                    f"{self.index_dir} already holds a signature index: remove it or use a new directory"
                )
        S = SketchDocuments
        sketched = (
            rows
            | "batch rows"
            >> beam.BatchElements(min_batch_size=min(16, self.batch_size), max_batch_size=self.batch_size)
            | "sketch documents"
            >> beam.ParDo(S(cfg, bool(self.index_dir), spill_dir)).with_outputs(
                S.TEXTS, S.FETCHES, S.BUCKETS, S.INDEX, S.SPILLS, main="id_to_file"
            )
        )
        texts, buckets = sketched[S.TEXTS], sketched[S.BUCKETS]
        if self.index_dir:
            _ = sketched[S.INDEX] | "write signature index" >> beam.io.WriteToParquet(
                FileSystems.join(self.index_dir, INDEX_FILE_PREFIX),
                index_schema(cfg),
                codec="zstd",
                file_name_suffix=".parquet",
            )
        if self.dedup_against:
            earlier = (
                rows.pipeline
                | "earlier index files" >> beam.Create(check_index(self.dedup_against, cfg))
                | "spread index files" >> beam.Reshuffle()
                # index file -> (text id, (tier-0 node, check, info)) | (shard, packed bucket entries)
                | "read earlier index"
                >> beam.ParDo(ReadIndexFile(cfg)).with_outputs(ReadIndexFile.BUCKETS, main="texts")
            )
            texts = (texts, earlier.texts) | "this run's and earlier texts" >> beam.Flatten()
            buckets = (
                buckets,
                earlier[ReadIndexFile.BUCKETS],
            ) | "this run's and earlier buckets" >> beam.Flatten()
        return sketched, texts, buckets

    def _candidate_pairs(self, buckets):
        """(shard, packed bucket entries) -> every bucket of a shard, capped -> (text id, text id) pairs."""
        return (
            self._bytes(buckets, "buckets")
            | "group bucket shards" >> beam.GroupByKey()
            | "pairs per bucket" >> beam.ParDo(BucketPairs(self.config))
        )

    def _resolve(self, texts, url_marks, pairs):
        """Per distinct text: its documents, URL marks and pairs -> exact edges, names, verdicts and pair
        sides; (pair, side) -> both sides -> (node, node) edge where the estimated Jaccard reaches the bar."""
        resolved = (
            {
                "docs": self._bytes(texts, "texts"),
                "marks": self._bytes(url_marks, "url_marks"),
                "partners": self._bytes(
                    pairs | "key pairs by text" >> beam.FlatMap(pair_endpoints), "pair_ends"
                ),
            }
            | "group by distinct text" >> beam.CoGroupByKey()
            | "resolve texts"
            >> beam.ParDo(ResolveText()).with_outputs(
                ResolveText.EDGES, ResolveText.INFOS, ResolveText.VERDICTS, main="sides"
            )
        )
        near_edges = (
            self._bytes(resolved.sides, "pair_sides")
            | "both sides of a pair" >> beam.GroupByKey()
            | "verify similarity" >> beam.ParDo(VerifyPairs(self.config))
        )
        return resolved, near_edges

    def _verdicts(self, resolved, near_edges):
        """Exact and near edges -> (node, root) star edges -> (id64, verdict) for every member of a cluster,
        with the verdicts of texts outside any cluster (counted: dedup/verdicts_emitted)."""
        stars = (
            (resolved[ResolveText.EDGES], near_edges)
            | "exact and near edges" >> beam.Flatten()
            | "connected components" >> ConnectedComponents(self.config.rounds, self.measure)
        )
        links = (
            stars | "link both ends" >> beam.FlatMapTuple(link_both_ends),
            resolved[ResolveText.INFOS],
        ) | "links and names" >> beam.Flatten()
        cluster_verdicts = (
            self._bytes(links, "links")
            | "group links per node" >> beam.GroupByKey()
            | "label clusters" >> beam.ParDo(LabelClusters())
        )
        verdicts = (resolved[ResolveText.VERDICTS], cluster_verdicts) | "all verdicts" >> beam.Flatten()
        return verdicts | "count verdicts" >> beam.Map(_count, Metrics.counter("dedup", "verdicts_emitted"))
