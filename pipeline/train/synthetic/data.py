"""The synthetic-text model's labelled documents: L2R passages and rewrites, human web pages, splits.

Everything about a document that does not depend on a model (its split, its out-of-fold group, its prose
sample, its style features, its abstain reason) is computed once here, into `Docs`.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.corpus import read_records
from transforms import synthetic as syn
from transforms.synthetic.features import _passage_features

GENERATORS = ("GPT-3-Turbo", "GPT-4o", "Gemini-1.5-Pro", "Llama-3-70B")
WEB_SOURCES = ("web-pages-pre2022", "aeb", "warc-samples")


@dataclass(frozen=True)
class Settings:
    dim: int = 16
    word_ngrams: int = 2
    bucket: int = 200_000  # the default 2 M would make a ~1 GB model
    epoch: int = 10
    lr: float = 0.2
    min_count: int = 2
    quantize_cutoff: int = 50_000  # keep the 50k input rows of largest norm (words + bigram buckets)
    ood_folds: int = 2
    l2: float = 1.0
    calibration_prior: float = 1.0
    split: tuple[float, float] = (0.70, 0.85)  # L2R: train below the first, calibration below the second
    target_fpr: float = 0.015  # flag threshold: false-positive rate on the calibration web text
    wrap_share: float = 0.5  # training / calibration texts of L2R embedded in page boilerplate
    inputs: tuple[str, ...] = ("fasttext_margin", "chatbot_phrases")


def load_labelled(path: str | Path) -> list[dict]:
    """Records (JSON lines, optionally .gz, or Parquet) with `text` and `label` in {human, synthetic}; other
    fields kept."""
    rows = []
    for n, row in enumerate(read_records(path), 1):
        if row.get("label") not in ("human", "synthetic") or not isinstance(row.get("text"), str):
            raise ValueError(f"{path}: record {n} needs a text and a label in {{human, synthetic}}")
        rows.append(row)
    return rows


def split_of(pair_id: str | None, seed: int, cuts: tuple[float, float]) -> str:
    """train | cal | test by a hash of (seed, pair_id): every rewrite of a passage lands with it."""
    if pair_id is None:
        return "train"
    h = unit_hash(f"{seed}:{pair_id}")
    return "train" if h < cuts[0] else "cal" if h < cuts[1] else "test"


def unit_hash(key: str) -> float:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64


def boilerplate_pools(web: list[dict]) -> dict[str, list[str]]:
    """Per split: the first and last 3 lines of every extracted web page that are not long prose (menus,
    titles, bylines, share and copyright lines, short captions), the page furniture of real extractions."""
    pools: dict[str, list[str]] = {"train": [], "cal": [], "test": []}
    for r in web:
        lines = [ln for ln in syn.normalize_for_detection(r["text"]).split("\n") if ln.strip()]
        for ln in lines[:3] + lines[-3:] if len(lines) > 6 else lines:
            if len(ln.split()) < 25:
                pools[r["split"]].append(ln)
    return pools


def wrap(text: str, pool: list[str], key: str) -> str:
    """`text` between 1-4 boilerplate lines above and 1-4 below, drawn from `pool` (deterministic by key)."""
    rng = random.Random(key)
    head = [pool[rng.randrange(len(pool))] for _ in range(rng.randint(1, 4))]
    tail = [pool[rng.randrange(len(pool))] for _ in range(rng.randint(1, 4))]
    return "\n".join([*head, text, *tail])


@dataclass
class Docs:
    """Every labelled document and everything about it that does not depend on a model."""

    y: np.ndarray  # 1 = synthetic
    kind: np.ndarray  # l2r | wrapped | web
    source: np.ndarray  # l2r or the web source
    domain: np.ndarray
    generator: np.ndarray  # generator, or "human"
    split: np.ndarray
    fold: np.ndarray  # out-of-fold group: a pair or a page
    texts: list[str]
    reason: np.ndarray  # abstain reason ("" = scored)
    samples: list[str]  # the prose sample that is scored
    train_lines: list[list[str]]  # fastText training lines (prose chunks)
    x: np.ndarray  # every INPUTS value of the sample (fastText margin column NaN)
    meta: dict = field(default_factory=dict)

    @property
    def scored(self) -> np.ndarray:
        return self.reason == ""

    def where(self, **conds) -> np.ndarray:
        m = np.ones(len(self.y), bool)
        for k, v in conds.items():
            arr = getattr(self, k)
            m &= np.isin(arr, v) if isinstance(v, (list, tuple, set)) else arr == v
        return m


def prose_chunks(lines: list[str], max_chars: int) -> list[str]:
    """Consecutive prose lines in pieces of at most ~max_chars (training lines of long pages)."""
    chunks, cur, size = [], [], 0
    for ln in lines:
        if cur and size + len(ln) > max_chars:
            chunks.append("\n".join(cur))
            cur, size = [], 0
        cur.append(ln)
        size += len(ln) + 1
    if cur:
        chunks.append(syn.prose_sample(cur, max_chars))
    return chunks


def build_docs(l2r: list[dict], web: list[dict], seed: int, settings: Settings) -> Docs:
    pools = boilerplate_pools(web)
    cols: dict[str, list] = {
        k: [] for k in ("y", "kind", "source", "domain", "generator", "split", "fold", "texts")
    }

    def add(y, kind, source, domain, generator, split, fold, text):
        for k, v in zip(cols, (y, kind, source, domain, generator, split, fold, text), strict=True):
            cols[k].append(v)

    for i, r in enumerate(l2r):
        y = int(r["label"] == "synthetic")
        split = split_of(r.get("pair_id"), seed, settings.split)
        gen = r.get("generator") or ("human" if not y else "unknown")
        fold = r.get("pair_id") or f"unpaired:{i}"
        key = f"{seed}:{i}"
        wrapped = wrap(r["text"], pools[split], key)
        if split == "test":  # both forms are measured
            add(y, "l2r", "l2r", r.get("domain") or "unknown", gen, split, fold, r["text"])
            add(y, "wrapped", "l2r", r.get("domain") or "unknown", gen, split, fold, wrapped)
        else:
            use_wrapped = unit_hash(f"wrap:{key}") < settings.wrap_share
            add(
                y,
                "wrapped" if use_wrapped else "l2r",
                "l2r",
                r.get("domain") or "unknown",
                gen,
                split,
                fold,
                wrapped if use_wrapped else r["text"],
            )
    for r in web:
        add(0, "web", r["source"], "web", "human", r["split"], f"web:{r['group']}", r["text"])

    n = len(cols["y"])
    reasons, samples, train_lines, rows = [], [], [], []
    for text in cols["texts"]:
        t = syn.normalize_for_detection(text)
        n_words, prose_words, lines = syn.prose_lines(t)
        reasons.append(syn.abstain_reason(None, n_words, prose_words) or "")
        sample = syn.prose_sample(lines)
        samples.append(sample)
        train_lines.append(prose_chunks(lines, syn.SAMPLE_CHARS) if lines else [])
        n_phrases = syn.count_chatbot_phrases(t, normalized=True)
        rows.append(_passage_features(sample, None, n_phrases) if sample else {})
    return Docs(
        y=np.asarray(cols["y"], dtype=np.int64),
        kind=np.asarray(cols["kind"]),
        source=np.asarray(cols["source"]),
        domain=np.asarray(cols["domain"]),
        generator=np.asarray(cols["generator"]),
        split=np.asarray(cols["split"]),
        fold=np.asarray(cols["fold"]),
        texts=cols["texts"],
        reason=np.asarray(reasons),
        samples=samples,
        train_lines=train_lines,
        x=syn.design_matrix(rows),
        meta={"n": n},
    )
