"""Dedup benchmark: a generated corpus with injected near-duplicates through the Beam ``Deduplicate``.

    python -m bench.dedup_bench --n 100000               # generate, run, evaluate, print a report
    python -m bench.dedup_bench --n 1000000 --no-eval    # the scale run (`make bench-dedup`)
    python -m bench.dedup_bench --webis                  # the human-judged Webis pairs: settings and transfer
    python -m bench.dedup_bench --webis --exact-jaccard  # the same, verifying on the exact Jaccard
    python -m bench.dedup_bench --shuffle-bytes          # bytes per document each dedup shuffle carries

Options: --threshold, --verify estimate|none, --verify-threshold (the DedupConfig knobs), --workers 2
(FnApiRunner multi_processing), --keep (reuse the corpus in --workdir), --seed.

The corpus (deterministic for a --seed) is built from real sentences: the ~130k distinct sentences of the
shared L2R passages (``shared/data/synthetic-text-l2r``), 8-20 per document (~250 words), written as Parquet
(2,000-row row groups) and read with ``ReadFromParquet`` like a ``--input-format parquet`` run. Documents come
in groups whose ground truth is known:

- unique      a document of its own
- family      an original and 1-3 copies, each with word edits (substitute / delete / insert, in equal
              parts) at one rate of EDIT_RATES, applied to the original: the injected near-duplicates
- exact       an original and 1-3 copies differing only in case, punctuation and whitespace
- footer      an original and a copy with 1-3 sentences of boilerplate appended
- hard_neg    an original and a document sharing 40-80% of its sentences (the rest new)
- template    30-300 pages from one 150-word template with 2-8 slots filled at random (product pages):
              pairwise Jaccard 0.55-0.9, right around the threshold, the hard case
- boilerplate empty text, "404 Not Found" and similar: giant exact groups

Evaluation against the exact Jaccard of the same word 5-gram shingles. Every pair inside a generated group
and inside a predicted cluster gets its exact Jaccard (groups / clusters of more than 400 distinct texts
are sampled; documents with the same text are weighted, not repeated):

- recall@0.85          pairs with J >= 0.85 that end in the same cluster (also at J >= threshold)
- cluster precision    pairs in the same predicted cluster that are linked by a chain of pairs with exact
                       J >= threshold inside that cluster (clusters are transitive, so this is the
                       precision of "same cluster"); also against J >= threshold - 0.05, because a MinHash
                       estimate from 128 values has a standard deviation of ~0.04 around 0.7
- pair precision       the stricter share of same-cluster pairs whose own J >= threshold
- flagged documents    share of documents flagged as duplicates whose exact J to their survivor
                       (duplicate_of) is >= threshold, and >= 0.5
- per group kind, and the match rate per Jaccard bin (the measured S-curve)

Numbers, not pass/fail. Peak memory is ru_maxrss of this process and of the largest child process. The
FnApiRunner keeps every shuffled PCollection in memory (decoded, then re-encoded when read), so peak memory
here grows with the corpus; a distributed runner's shuffle does not.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import random
import re
import resource
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.run import counter_totals
from transforms import dedup
from transforms.dedup import DedupConfig, Deduplicate, normalize_text
from transforms.heap import fix_mmap_threshold
from transforms.schema import new_row

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
L2R = SHARED_DATA / "synthetic-text-l2r" / "l2r.jsonl.gz"
EDIT_RATES = (0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.2)
CRAWLS = ("CC-MAIN-2019-04", "CC-MAIN-2021-10", "CC-MAIN-2023-06", "CC-MAIN-2024-22")
CRAWL_START = {
    c: dt.datetime(int(c[8:12]), 1, 1, tzinfo=dt.UTC) + dt.timedelta(weeks=int(c[13:15])) for c in CRAWLS
}
BOILERPLATE = ("", "404 Not Found", "Please enable JavaScript to view this page.", "Access denied.")
# group kind -> share of documents (roughly)
MIX = {
    "unique": 0.55,
    "family": 0.22,
    "exact": 0.07,
    "footer": 0.04,
    "hard_neg": 0.08,
    "template": 0.03,
    "boilerplate": 0.01,
}
SHARD_DOCS = 50_000
ROW_GROUP_DOCS = 2_000  # small row groups: a reader holds one at a time
TOLERANCE = 0.05  # precision is also reported against J >= threshold - TOLERANCE
CORPUS_COLUMNS = ("id", "url", "crawl", "fetch_date", "text", "quality_score")


# --------------------------------------------------------------------------------------------------
# Corpus
# --------------------------------------------------------------------------------------------------


def sentence_pool(path: Path = L2R) -> list[str]:
    """Distinct sentences (>= 4 words) of the L2R passages, in file order."""
    seen: dict[str, None] = {}
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            for s in re.split(r"(?<=[.!?])\s+", json.loads(line)["text"]):
                s = " ".join(s.split())
                if len(s.split()) >= 4:
                    seen.setdefault(s, None)
    return list(seen)


class Generator:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.np = np.random.default_rng(seed)
        self.pool = sentence_pool()
        self.vocab = sorted({w for s in self.pool[:20000] for w in s.split()})

    def sentences(self, k: int) -> list[str]:
        return [self.pool[i] for i in self.np.integers(0, len(self.pool), k)]

    def document(self) -> list[str]:
        return self.sentences(int(self.np.integers(8, 21)))

    def edit(self, text: str, rate: float) -> str:
        """Word edits at `rate` per word: substitute, delete or insert a random word, in equal parts."""
        words = text.split()
        hits = np.flatnonzero(self.np.random(len(words)) < rate)
        ops = self.np.integers(0, 3, len(hits))
        for i, op in zip(hits[::-1], ops[::-1], strict=True):  # from the end, so indexes stay valid
            word = self.vocab[int(self.np.integers(0, len(self.vocab)))]
            if op == 0:
                words[i] = word
            elif op == 1:
                del words[i]
            else:
                words.insert(i, word)
        return " ".join(words)

    def restyle(self, text: str) -> str:
        """Same normalised text: other case, punctuation and whitespace."""
        style = self.rng.randrange(3)
        if style == 0:
            return text.upper()
        if style == 1:
            return text.replace(". ", ".\n\n").replace(",", " ,")
        return "  " + text.replace(" ", "  ") + " !"

    def group(self, kind: str) -> list[tuple[str, float | None]]:
        """(text, edit rate) of each document of one group; the first is the original."""
        if kind == "unique":
            return [(" ".join(self.document()), None)]
        original = self.document()
        text = " ".join(original)
        if kind == "family":
            return [(text, None)] + [
                (self.edit(text, self.rng.choice(EDIT_RATES)), None) for _ in range(self.rng.randint(1, 3))
            ]
        if kind == "exact":
            return [(text, None)] + [(self.restyle(text), 0.0) for _ in range(self.rng.randint(1, 3))]
        if kind == "footer":
            return [(text, None), (text + " " + " ".join(self.sentences(self.rng.randint(1, 3))), None)]
        if kind == "hard_neg":
            keep = self.rng.uniform(0.4, 0.8)
            mixed = [s if self.rng.random() < keep else self.sentences(1)[0] for s in original]
            return [(text, None), (" ".join(mixed), None)]
        if kind == "template":
            words = " ".join(self.sentences(8)).split()[:150]
            slots = self.rng.sample(range(len(words)), self.rng.randint(2, 8))
            docs = []
            for _ in range(self.rng.randint(30, 300)):
                filled = list(words)
                for s in slots:
                    filled[s] = self.vocab[self.rng.randrange(len(self.vocab))]
                docs.append((" ".join(filled), None))
            return docs
        if kind == "boilerplate":
            return [(self.rng.choice(BOILERPLATE), None) for _ in range(self.rng.randint(5, 50))]
        raise ValueError(kind)


def generate(n: int, seed: int, workdir: Path) -> tuple[Path, Path]:
    """Write n documents as Parquet shards (corpus/) and their groups (truth.parquet)."""
    gen = Generator(seed)
    corpus_dir = workdir / "corpus"
    corpus_dir.mkdir(parents=True)
    kinds, weights = list(MIX), list(MIX.values())
    mean_size = {
        "unique": 1,
        "family": 3,
        "exact": 3,
        "footer": 2,
        "hard_neg": 2,
        "template": 165,
        "boilerplate": 27.5,
    }
    group_weights = [w / mean_size[k] for k, w in zip(kinds, weights, strict=True)]
    docs: list[dict] = []
    truth: dict[str, list] = defaultdict(list)
    shard = 0
    group_id = 0

    def flush():
        nonlocal docs, shard
        if docs:
            pq.write_table(
                pa.Table.from_pylist(docs),
                corpus_dir / f"part-{shard:05d}.parquet",
                compression="zstd",
                row_group_size=ROW_GROUP_DOCS,
            )
            shard += 1
            docs = []

    made = 0
    while made < n:
        kind = gen.rng.choices(kinds, group_weights)[0]
        for member, (text, rate) in enumerate(gen.group(kind)[: n - made]):
            crawl = gen.rng.choice(CRAWLS)
            doc_id = f"d{made:08d}"
            docs.append(
                {
                    "id": doc_id,
                    "url": f"https://site{gen.rng.randrange(50_000)}.example/{doc_id}",
                    "crawl": crawl,
                    "fetch_date": CRAWL_START[crawl] + dt.timedelta(seconds=gen.rng.randrange(14 * 86400)),
                    "text": text,
                    "quality_score": round(gen.rng.random(), 3),
                }
            )
            truth["id"].append(doc_id)
            truth["group"].append(group_id)
            truth["kind"].append(kind)
            truth["member"].append(member)
            truth["edit_rate"].append(rate)
            made += 1
            if len(docs) == SHARD_DOCS:
                flush()
        group_id += 1
    flush()
    truth_path = workdir / "truth.parquet"
    pq.write_table(pa.table(truth), truth_path)
    return corpus_dir, truth_path


# --------------------------------------------------------------------------------------------------
# The Beam run
# --------------------------------------------------------------------------------------------------


def to_row(record: dict) -> dict:
    row = new_row(
        id=record["id"],
        url=record["url"],
        crawl=record["crawl"],
        fetch_date=record["fetch_date"],
        text=record["text"],
    )
    row["quality_score"] = record["quality_score"]
    return row


RESULT_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("dup_cluster_id", pa.string()),
        ("dup_cluster_size", pa.int32()),
        ("exact_duplicate", pa.bool_()),
        ("near_duplicate", pa.bool_()),
        ("duplicate_of", pa.string()),
    ]
)


def run_dedup(
    corpus_dir: Path, out_dir: Path, config: DedupConfig, workers: int, prism: str | None = None
) -> dict:
    options = {"runner": "FnApiRunner"}
    if prism:
        options = {"runner": "PrismRunner", "prism_location": prism}
    elif workers > 1:
        options.update(direct_num_workers=workers, direct_running_mode="multi_processing")
    start, cpu_start = time.perf_counter(), cpu_seconds()
    pipeline = beam.Pipeline(options=PipelineOptions(flags=[], **options))
    _ = (
        pipeline
        | "read corpus" >> beam.io.ReadFromParquet(str(corpus_dir / "*.parquet"))
        | "to rows" >> beam.Map(to_row)
        | "deduplicate" >> Deduplicate(config)
        | "project" >> beam.Map(lambda r: {name: r[name] for name in RESULT_SCHEMA.names})
        | "write results"
        >> beam.io.WriteToParquet(str(out_dir / "result"), RESULT_SCHEMA, file_name_suffix=".parquet")
    )
    result = pipeline.run()
    result.wait_until_finish()
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu_start
    counters = {
        c.key.metric.name: c.committed
        for c in result.metrics().query()["counters"]
        if c.key.metric.namespace == "dedup"
    }
    return {"seconds": seconds, "cpu_seconds": cpu, "counters": counters}


def read_results(out_dir: Path) -> pa.Table:
    """A run's verdicts, sorted by id."""
    return pq.read_table(sorted(out_dir.glob("result*.parquet")), schema=RESULT_SCHEMA).sort_by("id")


def cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (the machine may be shared)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def peak_rss_mb() -> dict:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"self_mb": round(own), "largest_child_mb": round(children)}


# --------------------------------------------------------------------------------------------------
# Evaluation against exact Jaccard
# --------------------------------------------------------------------------------------------------


def shingle_array(text: str, n: int = 5) -> np.ndarray:
    words = normalize_text(text).split()
    grams = {" ".join(words[i : i + n]) for i in range(max(1, len(words) - n + 1))} if words else set()
    return np.unique(np.fromiter((hash(g) for g in grams), dtype=np.int64, count=len(grams)))


def exact_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    if not len(a) and not len(b):
        return 1.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)


def _pairs(items: list, rng: random.Random, limit: int):
    """All pairs of up to `limit` items; beyond, a sample of limit * (limit - 1) / 2 pairs."""
    if len(items) <= limit:
        return [(items[i], items[j]) for i in range(len(items)) for j in range(i + 1, len(items))]
    return [tuple(rng.sample(items, 2)) for _ in range(limit * (limit - 1) // 2)]


def _components(items: list, edges) -> dict:
    parent = {m: m for m in items}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        parent[find(a)] = find(b)
    return {m: find(m) for m in items}


def evaluate(corpus_dir: Path, truth_path: Path, out_dir: Path, threshold: float, limit: int = 400) -> dict:
    """Recall / precision of "same cluster" against exact Jaccard, overall and per group kind."""
    truth = pq.read_table(truth_path, columns=["id", "group", "kind"]).to_pydict()
    result = pq.read_table([str(p) for p in sorted(out_dir.glob("result*.parquet"))]).to_pydict()
    cluster = dict(zip(result["id"], result["dup_cluster_id"], strict=True))
    group_of = dict(zip(truth["id"], truth["group"], strict=True))
    kind_of = dict(zip(truth["id"], truth["kind"], strict=True))
    by_group: dict[int, list[str]] = defaultdict(list)
    for doc_id, group, kind in zip(truth["id"], truth["group"], truth["kind"], strict=True):
        if kind != "unique":
            by_group[group].append(doc_id)
    by_cluster: dict[str, list[str]] = defaultdict(list)
    for doc_id, cluster_id, size in zip(
        result["id"], result["dup_cluster_id"], result["dup_cluster_size"], strict=True
    ):
        if size > 1:
            by_cluster[cluster_id].append(doc_id)
    groups, clusters = list(by_group.values()), [sorted(m) for _, m in sorted(by_cluster.items())]
    flagged = [
        (doc_id, dup)
        for doc_id, dup, exact, near in zip(
            result["id"],
            result["duplicate_of"],
            result["exact_duplicate"],
            result["near_duplicate"],
            strict=True,
        )
        if exact or near
    ]
    needed = {d for members in groups + clusters for d in members} | {d for pair in flagged for d in pair}
    shingles, text_of = {}, {}
    for f in sorted(corpus_dir.glob("*.parquet")):
        t = pq.read_table(f, columns=["id", "text"])
        for doc_id, text in zip(t["id"].to_pylist(), t["text"].to_pylist(), strict=True):
            if doc_id in needed:
                key = normalize_text(text)
                text_of[doc_id] = key
                if key not in shingles:
                    shingles[key] = shingle_array(text)
    jac_cache: dict = {}

    def jac(a: str, b: str) -> float:
        ka, kb = sorted((text_of[a], text_of[b]))
        if ka == kb:
            return 1.0
        if (ka, kb) not in jac_cache:
            jac_cache[ka, kb] = exact_jaccard(shingles[ka], shingles[kb])
        return jac_cache[ka, kb]

    def pair_kind(a: str, b: str) -> str:
        return kind_of[a] if group_of[a] == group_of[b] else "across groups"

    # recall side: (kind, exact J, same cluster) for the pairs inside generated groups
    rng = random.Random(0)
    truth_pairs = [
        (kind_of[members[0]], jac(a, b), cluster[a] == cluster[b])
        for members in groups
        for a, b in _pairs(members, rng, limit)
    ]
    # precision side: (kind, weight, J >= threshold, connected by J >= threshold pairs inside the cluster)
    # for the pairs inside predicted clusters; documents with the same text are weighted, not repeated
    predicted = []
    for members in clusters:
        by_text: dict[str, list[str]] = defaultdict(list)
        for m in members:
            by_text[text_of[m]].append(m)
        for docs in by_text.values():  # documents with the same text: J = 1, one weighted entry
            if len(docs) > 1:
                predicted.append(
                    (pair_kind(docs[0], docs[1]), len(docs) * (len(docs) - 1) / 2, 1.0, True, True)
                )
        texts = sorted(by_text)
        if len(texts) < 2:
            continue
        pairs = _pairs(texts, rng, limit)
        sims = {(a, b): jac(by_text[a][0], by_text[b][0]) for a, b in pairs}
        comp = _components(texts, [p for p, s in sims.items() if s >= threshold])
        comp_low = _components(texts, [p for p, s in sims.items() if s >= threshold - TOLERANCE])
        cross = sum(len(by_text[a]) * len(by_text[b]) for a, b in pairs)
        all_cross = (len(members) ** 2 - sum(len(d) ** 2 for d in by_text.values())) // 2
        for (a, b), sim in sims.items():
            weight = len(by_text[a]) * len(by_text[b]) * all_cross / cross
            predicted.append(
                (
                    pair_kind(by_text[a][0], by_text[b][0]),
                    weight,
                    sim,
                    comp[a] == comp[b],
                    comp_low[a] == comp_low[b],
                )
            )

    def summary(kind: str | None) -> dict:
        tp = [(j, same) for k, j, same in truth_pairs if kind in (None, k)]
        pp = [entry[1:] for entry in predicted if kind in (None, entry[0])]
        at85 = [same for j, same in tp if j >= 0.85]
        at_t = [same for j, same in tp if j >= threshold]
        total = sum(w for w, *_ in pp)

        def share(ok) -> float | None:
            return round(sum(w for w, *rest in pp if ok(*rest)) / total, 4) if total else None

        return {
            "pairs_at_0.85": len(at85),
            "recall_at_0.85": round(sum(at85) / len(at85), 4) if at85 else None,
            "recall_at_threshold": round(sum(at_t) / len(at_t), 4) if at_t else None,
            "predicted_pairs": round(total),
            "cluster_precision": share(lambda sim, linked, linked_low: linked),
            f"cluster_precision_at_{threshold - TOLERANCE:.2f}": share(
                lambda sim, linked, linked_low: linked_low
            ),
            "pair_precision": share(lambda sim, linked, linked_low: sim >= threshold),
        }

    curve = []
    bins = [0, 0.3, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0001]
    for lo, hi in zip(bins[:-1], bins[1:], strict=True):
        sel = [same for _, j, same in truth_pairs if lo <= j < hi]
        curve.append((lo, hi, len(sel), sum(sel) / len(sel) if sel else float("nan")))
    doc_sims = [jac(doc_id, dup) for doc_id, dup in flagged]
    kinds = sorted({k for k, _, _ in truth_pairs} | {entry[0] for entry in predicted})
    return {
        "all": summary(None),
        "by_kind": {k: summary(k) for k in kinds},
        "flagged_documents": len(flagged),
        "flagged_with_J_to_survivor_at_threshold": round(
            sum(s >= threshold for s in doc_sims) / len(doc_sims), 4
        ),
        "flagged_with_J_to_survivor_at_0.5": round(sum(s >= 0.5 for s in doc_sims) / len(doc_sims), 4),
        "clusters": len(clusters),
        "curve": curve,
    }


# --------------------------------------------------------------------------------------------------
# Human-judged pairs (Webis ECIR 2020): which settings find what people call near duplicates
# --------------------------------------------------------------------------------------------------

WEBIS = SHARED_DATA / "near-duplicates-webis-ecir20" / "pairs.jsonl.gz"


def webis_pairs(path: Path = WEBIS) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def cluster_reference(
    texts: dict[str, str], config: DedupConfig, exact_jaccard: bool = False
) -> dict[str, str]:
    """{id: cluster root} as ``Deduplicate`` clusters these texts (one crawl, no URLs), on one machine:
    exact groups, LSH buckets, every pair of a bucket verified as ``config.verify`` says (or, with
    ``exact_jaccard``, on the exact Jaccard of the shingle sets), union-find."""
    ids = sorted(texts)
    rows = [{"id": i, "text": texts[i]} for i in ids]
    contents = [dedup.content_text(texts[i], config.min_line_words, config.min_line_share) for i in ids]
    hashes = [dedup._input_hashes(dedup._shingle_bytes(c, config.ngram), config.scheme) for c in contents]
    sigs = dedup.signatures_from_hashes(hashes, config.num_perm, config.seed, config.scheme)
    sets = [dedup.hash_set_bytes(h) for h in hashes]
    dtype = dedup.signature_dtype(config.scheme).newbyteorder("<")
    parent = {i: i for i in ids}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    by_text: dict[bytes, str] = {}
    for r in rows:
        key = dedup.text_hash(normalize_text(r["text"]))
        parent[find(r["id"])] = find(by_text.setdefault(key, r["id"]))
    n_bands, n_rows = config.band_params
    buckets: dict[bytes, list[int]] = defaultdict(list)
    for k, (h, sig) in enumerate(zip(hashes, sigs, strict=True)):
        if len(h):
            for key in dedup.band_keys(sig, n_bands, n_rows):
                buckets[key].append(k)
    candidates = {(a, b) for m in buckets.values() for i, a in enumerate(m) for b in m[i + 1 :]}
    for a, b in sorted(candidates):
        if exact_jaccard:
            sim = dedup.hash_set_jaccard(sets[a], sets[b], dtype)
        elif config.verify == "estimate":
            sim = dedup.verification_similarity(sigs[a], sigs[b])
        else:
            sim = 1.0
        if sim >= config.min_similarity:
            parent[find(ids[a])] = find(ids[b])
    return {i: find(i) for i in ids}


def webis_scores(
    pairs: list[dict], config: DedupConfig, exact_jaccard: bool = False
) -> dict[str, tuple[float, float, float]]:
    """(precision, recall, F1) of "same cluster" against the judgement: all pairs, and per subset."""
    texts = {}
    for p in pairs:
        texts[p["doc_a_id"]], texts[p["doc_b_id"]] = p["text_a"], p["text_b"]
    root = cluster_reference(texts, config, exact_jaccard)
    out = {}
    for subset in ("all", *sorted({p["corpus"] for p in pairs})):
        chosen = [p for p in pairs if subset in ("all", p["corpus"])]
        same = np.array([root[p["doc_a_id"]] == root[p["doc_b_id"]] for p in chosen])
        truth = np.array([p["is_near_duplicate"] for p in chosen])
        tp, fp, fn = (same & truth).sum(), (same & ~truth).sum(), (~same & truth).sum()
        precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
        out[subset] = (precision, recall, 2 * precision * recall / max(precision + recall, 1e-12))
    return out


def webis_report(base: DedupConfig, exact_jaccard: bool = False, seeds=(1, 2, 3, 4, 5)) -> None:
    """P / R / F1 per subset for thresholds x shingling around ``base`` (medians over MinHash seeds), and the
    cross-subset transfer: the threshold best on one subset, applied to the other."""
    import dataclasses

    pairs = webis_pairs()
    thresholds = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75)
    shinglings = {
        "word-5, all lines": dict(min_line_words=0),
        "word-5, lines of 5+ words": dict(min_line_words=5),
        "word-5, lines of 8+ words": dict(min_line_words=8),
        "word-5, lines of 12+ words": dict(min_line_words=12),
        "word-3, lines of 8+ words": dict(ngram=3, min_line_words=8),
    }
    verify = "exact Jaccard" if exact_jaccard else base.verify
    print(f"Webis pairs: {len(pairs)}; verify={verify}; median of MinHash seeds {list(seeds)}")
    print(f"{'shingles':28s} {'J':>5s} {'bands':>6s}  {'P':>5s} {'R':>5s} {'F1':>5s}  | web F1 | core F1")
    for name, change in shinglings.items():
        f1 = {}
        for t in thresholds:
            config = dataclasses.replace(base, threshold=t, bands=None, rows=None, **change)
            runs = [webis_scores(pairs, dataclasses.replace(config, seed=s), exact_jaccard) for s in seeds]
            med = {k: np.median([r[k] for r in runs], axis=0) for k in runs[0]}
            f1[t] = {k: v[2] for k, v in med.items()}
            bands, rows = config.band_params
            p, r, f = med["all"]
            print(
                f"{name:28s} {t:5.2f} {bands:3d}x{rows:<2d}  {p:.3f} {r:.3f} {f:.3f}  |  {med['web'][2]:.3f} |  {med['core'][2]:.3f}"
            )
        for source, target in (("web", "core"), ("core", "web")):
            best = max(thresholds, key=lambda t: f1[t][source])
            print(
                f"{'':28s} transfer: best on {source} J={best} -> {target} F1 {f1[best][target]:.3f} "
                f"(best on {target}: {max(f1[t][target] for t in thresholds):.3f})"
            )
        worst = max(thresholds, key=lambda t: min(f1[t]["web"], f1[t]["core"]))
        print(f"{'':28s} best worse-subset F1 at J={worst}: {min(f1[worst]['web'], f1[worst]['core']):.3f}")


# --------------------------------------------------------------------------------------------------
# Shuffle bytes
# --------------------------------------------------------------------------------------------------


def shuffle_bytes(rows: list[dict], config: DedupConfig, index_dir: Path | None = None) -> dict:
    """Run ``Deduplicate`` with ``measure_shuffle`` on the FnApiRunner: bytes per shuffle (Beam's coders),
    documents and duplicates found (and the signature index, written to ``index_dir``)."""
    pipeline = beam.Pipeline(options=PipelineOptions(flags=[], runner="FnApiRunner"))
    _ = (
        pipeline
        | beam.Create(rows, reshuffle=False)
        | Deduplicate(config, index_dir=str(index_dir) if index_dir else None, measure_shuffle=True)
    )
    result = pipeline.run()
    result.wait_until_finish()
    return counter_totals(result, "dedup")  # summed over the steps of a name: every components round


def real_pages() -> list[dict]:
    """Real extracted web pages and news articles: the 432 distinct documents of the Webis pairs."""
    texts = {}
    for p in webis_pairs():
        texts[p["doc_a_id"]], texts[p["doc_b_id"]] = p["text_a"], p["text_b"]
    return [
        to_row(
            {
                "id": f"webis-{doc_id}",
                "url": f"https://{doc_id[:6]}.example/{doc_id}",
                "crawl": "CC-MAIN-2024-22",
                "fetch_date": dt.datetime(2024, 5, 1, tzinfo=dt.UTC),
                "text": text,
                "quality_score": 0.5,
            }
        )
        for doc_id, text in sorted(texts.items())
    ]


def real_web_pages() -> list[dict]:
    """Real web pages as ``pristine run`` extracts them: web-pages-pre2022, the AEB pages and every HTML
    response of the WARC samples (``pipeline.train.web_text``, cached), every language: a crawl's mix, where
    most pages have no near duplicate."""
    from pipeline.train.web_text import load_web_text

    return [
        to_row(
            {
                "id": f"{r['source']}-{r['key']}",
                "url": r["url"],
                "crawl": "CC-MAIN-2024-22",
                "fetch_date": dt.datetime(2024, 5, 1, tzinfo=dt.UTC),
                "text": r["text"],
                "quality_score": 0.5,
            }
        )
        for r in load_web_text()
    ]


def shuffle_report(workdir: Path, seed: int, n: int = 20_000) -> None:
    """Bytes per document and per unique document of every dedup shuffle, on n generated pages and on real
    pages."""
    work = workdir / f"n{n}-seed{seed}"
    if not (work / "truth.parquet").exists():
        shutil.rmtree(work, ignore_errors=True)
        generate(n, seed, work)
    generated = [
        to_row(r)
        for f in sorted((work / "corpus").glob("*.parquet"))
        for r in pq.read_table(f, columns=list(CORPUS_COLUMNS)).to_pylist()
    ]
    for name, rows in (
        (f"generated pages ({n:,})", generated),
        ("real pages (Webis documents, every one in a judged pair)", real_pages()),
        ("real web pages (pre-2022 pages, AEB, WARC samples; the pipeline's extraction)", real_web_pages()),
    ):
        index_dir = work / f"index-{len(rows)}"
        shutil.rmtree(index_dir, ignore_errors=True)
        counters = shuffle_bytes(rows, DedupConfig(), index_dir)
        docs = counters["documents"]
        index_bytes = sum(f.stat().st_size for f in index_dir.glob("*.parquet"))
        unique = docs - sum(
            counters.get(k, 0) for k in ("exact_duplicates", "near_duplicates", "url_duplicates")
        )
        words = np.mean([len(r["text"].split()) for r in rows])
        print(f"{name}: {docs:,} documents, {unique:,} unique, {words:.0f} words on average")
        steps = sorted(k[len("shuffle_bytes_") :] for k in counters if k.startswith("shuffle_bytes_"))
        total = 0
        for step in steps:
            b = counters[f"shuffle_bytes_{step}"]
            total += b
            print(
                f"  {step:12s} {counters[f'shuffle_elements_{step}']:>10,} elements {b / docs:8.0f} B/doc {b / unique:8.0f} B/unique doc"
            )
        print(f"  {'all':12s} {'':>19s} {total / docs:8.0f} B/doc {total / unique:8.0f} B/unique doc")
        print(f"  signature index: {index_bytes / docs:.0f} B/doc on disk (Parquet, zstd)")


# --------------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=int, default=100_000, help="documents to generate")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed")
    parser.add_argument("--threshold", type=float, default=DedupConfig.threshold)
    parser.add_argument(
        "--verify", choices=dedup.VERIFY_MODES, default=DedupConfig.verify, help="how candidates become edges"
    )
    parser.add_argument(
        "--verify-threshold",
        type=float,
        default=None,
        help="default: --threshold + DedupConfig.verify_margin",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="FnApiRunner worker processes (2 = multi_processing)"
    )
    parser.add_argument(
        "--prism", metavar="BINARY", help="run on Beam's Prism runner (its binary: `make prism`) instead"
    )
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/pristine-dedup-bench"))
    parser.add_argument("--no-eval", action="store_true", help="skip the evaluation against exact Jaccard")
    parser.add_argument("--keep", action="store_true", help="reuse a corpus already generated in --workdir")
    parser.add_argument(
        "--webis", action="store_true", help="only the settings table on the human-judged Webis pairs"
    )
    parser.add_argument(
        "--exact-jaccard",
        action="store_true",
        help="--webis: verify on the exact Jaccard of the shingle sets",
    )
    parser.add_argument(
        "--shuffle-bytes",
        action="store_true",
        help="only the bytes per document of each dedup shuffle, on generated and on real pages",
    )
    args = parser.parse_args(argv)
    fix_mmap_threshold()  # as `pristine run` does: 100k documents peak at 1.9 GB instead of 2.2
    if args.webis:
        webis_report(DedupConfig(verify=args.verify), args.exact_jaccard)
        return 0
    if args.shuffle_bytes:
        shuffle_report(args.workdir, args.seed)
        return 0

    config = DedupConfig(threshold=args.threshold, verify=args.verify, verify_threshold=args.verify_threshold)
    work = args.workdir / f"n{args.n}-seed{args.seed}"
    corpus_dir, truth_path = work / "corpus", work / "truth.parquet"
    if not (args.keep and truth_path.exists()):
        shutil.rmtree(work, ignore_errors=True)
        start = time.perf_counter()
        corpus_dir, truth_path = generate(args.n, args.seed, work)
        print(f"generated {args.n:,} documents in {time.perf_counter() - start:.0f} s -> {work}", flush=True)
    out_dir = work / f"result-t{config.threshold}-{config.verify}-{config.min_similarity}-w{args.workers}"
    shutil.rmtree(out_dir, ignore_errors=True)
    bands, rows = config.band_params
    print(
        f"dedup: threshold {config.threshold}, {bands} bands x {rows} rows, verify={config.verify}, workers={args.workers}",
        flush=True,
    )
    run = run_dedup(corpus_dir, out_dir, config, args.workers, args.prism)
    report = {
        "n": args.n,
        "threshold": config.threshold,
        "bands_rows": [bands, rows],
        "verify": config.verify,
        "workers": args.workers,
        "seconds": round(run["seconds"], 1),
        "docs_per_s": round(args.n / run["seconds"]),
        "us_per_doc": round(run["seconds"] / args.n * 1e6),
        "cpu_seconds": round(run["cpu_seconds"], 1),
        "cpu_us_per_doc": round(run["cpu_seconds"] / args.n * 1e6),
        "load_average": [round(x, 1) for x in os.getloadavg()],
        "peak_rss": peak_rss_mb(),
        "counters": run["counters"],
    }
    print(json.dumps(report, indent=1), flush=True)
    # determinism: the same settings with another worker count or runner must give identical verdicts
    this = read_results(out_dir)
    for other in sorted(work.glob(f"{out_dir.name.rsplit('-w', 1)[0]}-w*")):
        if other != out_dir and any(other.glob("result*.parquet")):
            print(f"verdicts identical to {other.name}: {read_results(other).equals(this)}", flush=True)
    if not args.no_eval:
        start = time.perf_counter()
        metrics = evaluate(corpus_dir, truth_path, out_dir, config.threshold)
        curve = metrics.pop("curve")
        print(
            json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()}, indent=1)
        )
        print("exact Jaccard bin -> pairs, share in the same cluster")
        for lo, hi, count, rate in curve:
            print(f"  [{lo:.2f}, {min(hi, 1):.2f}{']' if hi > 1 else ')'}  {count:8d}  {rate:.3f}")
        print(f"evaluated in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
