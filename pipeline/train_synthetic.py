"""Train the synthetic-text model shipped in transforms/models (`make models`, `pristine train synthetic`).

    python -m pipeline.train_synthetic [--data L2R.jsonl.gz] [--output transforms/models] [--seed 0]

Data, all from ``../shared/data``:

- AI and human passages: L2R (``synthetic-text-l2r/l2r.jsonl.gz``, CC BY 3.0: human passages and their
  LLM rewrites by four generators, 20 domains), split by ``pair_id`` (a passage and its rewrites stay
  together): 70% train, 15% calibration, 15% test; unpaired rewrites only train.
- Human web text: the shared pre-LLM web pages as ``pristine run`` extracts them (``pipeline.web_text``:
  web-pages-pre2022, the AEB pages, the WARC samples fetched before 2022-11-30; English by lid.176), split
  60 / 20 / 20 by page.
- Page boilerplate around L2R passages: every L2R text is also embedded between real first / last lines
  of extracted web pages of its split (``wrap``), so that both classes carry web leftovers and "looks like
  a web page" is not a label cue. Training and calibration use the wrapped form for half of the texts.

The model (see transforms/synthetic/): every document is normalised, reduced to its prose lines (the
abstain rule leaves documents without enough prose unscored) and read through an evenly spread sample of
at most SAMPLE_CHARS characters of prose:

1. fastText bigram classifier on that sample (human lines repeated to balance the classes; thread=1 + seed:
   deterministic), quantised; scored by its raw margin.
2. A logistic-regression combiner of [fastText margin, a few style features] (``Settings.inputs``), fitted
   on *out-of-fold* margins (2 folds by page / pair, each fold's model also trained without one generator),
   so it learns how far to trust fastText on text it has not seen.
3. Isotonic calibration on the calibration split, the AI class weighing as much as the human class, and
   within the human class L2R passages and web pages weighing half each ("equal priors").
4. The flag threshold: the lowest score whose false-positive rate on the calibration split of the human
   web text is at most ``Settings.target_fpr``.

Measured on held-out data: the test split (L2R plain and wrapped in boilerplate, web text per source),
leave-one-generator-out, leave-one-web-source-out and leave-domains-out (each a full retraining), and the
drop-one ablation of each combiner input. Writes synthetic.ftz, synthetic.json (parameters, operating point,
score histograms), synthetic_metrics.json and the metrics section of SYNTHETIC_MODEL_CARD.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.corpus import read_records
from transforms import synthetic as syn
from transforms.synthetic.features import _passage_features

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "synthetic-text-l2r" / "l2r.jsonl.gz"
DEFAULT_OUTPUT = REPO / "transforms" / syn.MODEL_DIR
GENERATORS = ("GPT-3-Turbo", "GPT-4o", "Gemini-1.5-Pro", "Llama-3-70B")
WEB_SOURCES = ("web-pages-pre2022", "aeb", "warc-samples")
CARD_START = "<!-- metrics:start (written by pipeline/train_synthetic.py) -->"
CARD_END = "<!-- metrics:end -->"
#: L2R's 20 domains are held out 4 at a time (5 retrainings) for the leave-domains-out evaluation
DOMAIN_FOLDS = 5


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


# --------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------


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
    h = _unit_hash(f"{seed}:{pair_id}")
    return "train" if h < cuts[0] else "cal" if h < cuts[1] else "test"


def _unit_hash(key: str) -> float:
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
            use_wrapped = _unit_hash(f"wrap:{key}") < settings.wrap_share
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


# --------------------------------------------------------------------------------------------------
# Fitting
# --------------------------------------------------------------------------------------------------


def train_fasttext(docs: Docs, idx: np.ndarray, settings: Settings, seed: int, quantize: bool):
    """A fastText classifier on the prose of documents `idx` -> (model, synthetic minus human direction)."""
    import fasttext

    pos, neg = [], []
    for i in idx:
        for chunk in docs.train_lines[i]:
            line = syn.fasttext_line(chunk, normalized=True)
            if line:
                (pos if docs.y[i] else neg).append(line)
    repeat_human = max(1, round(len(pos) / max(1, len(neg))))
    lines = [f"{syn.LABEL_SYNTHETIC} {s}" for s in pos] + [
        f"{syn.LABEL_HUMAN} {s}" for s in neg
    ] * repeat_human
    random.Random(seed).shuffle(lines)
    fd, path = tempfile.mkstemp(suffix=".txt", prefix="synthetic-train-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        model = fasttext.train_supervised(
            path,
            dim=settings.dim,
            wordNgrams=settings.word_ngrams,
            bucket=settings.bucket,
            epoch=settings.epoch,
            lr=settings.lr,
            minCount=settings.min_count,
            minn=0,
            maxn=0,
            thread=1,  # one thread + a seed: the same model every time (fasttext-community)
            seed=seed,
            verbose=0,
        )
        labels = model.get_labels()
        out = model.get_output_matrix()
        direction = (out[labels.index(syn.LABEL_SYNTHETIC)] - out[labels.index(syn.LABEL_HUMAN)]).astype(
            np.float64
        )
        if quantize:
            model.quantize(
                input=None, qout=False, cutoff=settings.quantize_cutoff, retrain=False, qnorm=True, dsub=2
            )
    finally:
        os.unlink(path)
    return model, direction


def margins(model, direction: np.ndarray, docs: Docs, idx: np.ndarray) -> np.ndarray:
    out = np.zeros(len(idx))
    for k, i in enumerate(idx):
        line = syn.fasttext_line(docs.samples[i], normalized=True)
        out[k] = float(model.get_sentence_vector(line) @ direction) if line else 0.0
    return out


def class_weights(docs: Docs, idx: np.ndarray) -> np.ndarray:
    """AI weighs 1/2; human 1/2, split equally between L2R passages and web pages when both are present."""
    y = docs.y[idx]
    web = docs.kind[idx] == "web"
    w = np.zeros(len(idx))
    groups = [(y == 1, 0.5)]
    human_parts = [m for m in (~web & (y == 0), web & (y == 0)) if m.any()]
    groups += [(m, 0.5 / len(human_parts)) for m in human_parts]
    for m, total in groups:
        if m.any():
            w[m] = total / m.sum()
    return w * len(idx)


@dataclass
class Fitted:
    ft: object
    direction: np.ndarray
    inputs: tuple[str, ...]
    standardizer: syn.Standardizer
    coef: np.ndarray
    intercept: float
    knots_x: np.ndarray
    knots_y: np.ndarray
    threshold: float
    train_idx: np.ndarray  # scored training documents (combiner)
    train_x: np.ndarray  # their inputs (out-of-fold margins), all INPUTS columns
    cal_idx: np.ndarray
    cal_x: np.ndarray

    def params(self, settings: Settings) -> dict:
        return {
            "fasttext": {
                "file": syn.FASTTEXT_FILE,
                "direction": self.direction.tolist(),
                "settings": {k: v for k, v in dataclasses.asdict(settings).items() if k != "inputs"},
            },
            "combiner": {
                "inputs": list(self.inputs),
                "log_inputs": sorted(set(self.inputs) & syn.LOG_FEATURES),
                "standardizer": self.standardizer.to_dict(),
                "coef": self.coef.tolist(),
                "intercept": self.intercept,
            },
            "calibration": {"method": "isotonic", "x": self.knots_x.tolist(), "y": self.knots_y.tolist()},
            "abstain": {
                "min_words": syn.MIN_WORDS,
                "min_prose_words": syn.MIN_PROSE_WORDS,
                "min_prose_fraction": syn.MIN_PROSE_FRACTION,
                "min_prose_line_words": syn.MIN_PROSE_LINE_WORDS,
            },
            "sample_chars": syn.SAMPLE_CHARS,
        }


def _columns(inputs) -> np.ndarray:
    return np.array([syn.INPUTS.index(n) for n in inputs])


def fit_head(docs: Docs, train_idx, train_x, cal_idx, cal_x, inputs, settings: Settings):
    """Combiner on the training documents, isotonic calibrator and flag threshold on the calibration ones."""
    cols = _columns(inputs)
    standardizer = syn.Standardizer.fit(train_x[:, cols])
    coef, intercept = syn.fit_logistic(
        standardizer(train_x[:, cols]), docs.y[train_idx], class_weights(docs, train_idx), settings.l2
    )
    cal_logits = standardizer(cal_x[:, cols]) @ coef + intercept
    kx, ky = syn.fit_isotonic(
        cal_logits, docs.y[cal_idx], class_weights(docs, cal_idx), settings.calibration_prior
    )
    cal_scores = syn.calibrate(cal_logits, kx, ky)
    web = docs.kind[cal_idx] == "web"
    threshold = syn.threshold_at_fpr(cal_scores[web], settings.target_fpr) if web.any() else 0.5
    return standardizer, coef, intercept, kx, ky, threshold


def fit(
    docs: Docs,
    train: np.ndarray,
    cal: np.ndarray,
    settings: Settings,
    seed: int,
    quantize: bool = True,
    inputs: tuple[str, ...] | None = None,
) -> Fitted:
    """The whole model from documents `train` (fastText, combiner) and `cal` (calibration, threshold)."""
    inputs = tuple(inputs or settings.inputs)
    train = np.asarray(train)
    fold_of = np.array([int(_unit_hash(f"{seed}:fold:{f}") * settings.ood_folds) for f in docs.fold[train]])
    gens = [g for g in GENERATORS if g in set(docs.generator[train])]
    random.Random(seed).shuffle(gens)
    oof = np.full(len(docs.y), np.nan)
    for k in range(settings.ood_folds):
        held = train[fold_of == k]
        gen_out = gens[k % len(gens)] if gens else None
        fit_idx = train[(fold_of != k) & (docs.generator[train] != gen_out)]
        model, direction = train_fasttext(docs, fit_idx, settings, seed + 1 + k, quantize=False)
        held_scored = held[docs.scored[held]]
        oof[held_scored] = margins(model, direction, docs, held_scored)
    model, direction = train_fasttext(docs, train, settings, seed, quantize=quantize)
    train_idx = train[docs.scored[train]]
    train_x = docs.x[train_idx].copy()
    train_x[:, 0] = oof[train_idx]
    cal_idx = np.asarray(cal)[docs.scored[cal]]
    cal_x = docs.x[cal_idx].copy()
    cal_x[:, 0] = margins(model, direction, docs, cal_idx)
    head = fit_head(docs, train_idx, train_x, cal_idx, cal_x, inputs, settings)
    return Fitted(model, direction, inputs, *head, train_idx, train_x, cal_idx, cal_x)


def inputs_of(docs: Docs, fitted: Fitted, idx: np.ndarray) -> np.ndarray:
    x = docs.x[idx].copy()
    x[:, 0] = margins(fitted.ft, fitted.direction, docs, idx)
    return x


def score_docs(fitted: Fitted, x: np.ndarray, head: tuple | None = None, inputs=None) -> np.ndarray:
    """Calibrated scores from the inputs `x` (all INPUTS columns), exactly as SyntheticScorer computes them."""
    standardizer, coef, intercept, kx, ky, _ = head or (
        fitted.standardizer,
        fitted.coef,
        fitted.intercept,
        fitted.knots_x,
        fitted.knots_y,
        fitted.threshold,
    )
    cols = _columns(inputs or fitted.inputs)
    return syn.calibrate(standardizer(x[:, cols]) @ coef + intercept, kx, ky)


# --------------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------------


def _m(y, s, threshold) -> dict:
    return syn.binary_metrics(y, s, threshold)


def fpr_block(s: np.ndarray, threshold: float) -> dict:
    return {
        "n": int(len(s)),
        "flagged": int((s >= threshold).sum()),
        "fpr": float((s >= threshold).mean()) if len(s) else None,
    }


class Run:
    """One fit and its scores on a set of held-out documents."""

    def __init__(self, name, docs, train, cal, test, settings, seed, quantize=False):
        t0 = time.time()
        self.name = name
        self.settings = settings
        self.fitted = fit(docs, train, cal, settings, seed, quantize)
        test = np.asarray(test)
        self.test = test[docs.scored[test]]
        self.x = inputs_of(docs, self.fitted, self.test)
        self.s = score_docs(self.fitted, self.x)
        self.threshold = self.fitted.threshold
        self.seconds = time.time() - t0
        print(
            f"  {name}: {len(self.test)} scored test documents, {self.seconds:.0f} s",
            file=sys.stderr,
            flush=True,
        )

    def subset(self, docs: Docs, **conds):
        m = docs.where(**conds)[self.test]
        return docs.y[self.test][m], self.s[m]

    def ablation_scores(self, docs: Docs, name: str) -> np.ndarray:
        f = self.fitted
        inputs = tuple(i for i in f.inputs if i != name)
        head = fit_head(docs, f.train_idx, f.train_x, f.cal_idx, f.cal_x, inputs, self.settings)
        return score_docs(f, self.x, head, inputs)


def abstain_shares(web_all: list[dict]) -> dict:
    """Share of documents left unscored by the abstain rule, per source and reason (model-independent):
    over all extracted pages, and over the English pre-LLM ones."""
    out = {}
    for source in WEB_SOURCES:
        rs = [r for r in web_all if r["source"] == source]
        reasons = []
        for r in rs:
            t = syn.normalize_for_detection(r["text"])
            n_words, prose_words, _ = syn.prose_lines(t)
            reasons.append((r, syn.abstain_reason(r.get("lang"), n_words, prose_words)))
        en = [x for x in reasons if x[0].get("lang") == "en" and x[0]["pre_llm"]]

        def shares(items):
            n = len(items)
            counts = {k: sum(1 for _, why in items if why == k) for k in syn.ABSTAIN_REASONS}
            return {
                "n": n,
                "abstained": sum(counts.values()) / n if n else None,
                **{k: v / n if n else None for k, v in counts.items()},
            }

        out[source] = {"all_pages": shares(reasons), "english_pre_llm": shares(en)}
    return out


def evaluate(docs: Docs, web_all: list[dict], settings: Settings, seed: int, ood: bool) -> tuple[Run, dict]:
    splits = docs.split
    train, cal, test = (np.flatnonzero(splits == s) for s in ("train", "cal", "test"))
    main = Run("shipped model", docs, train, cal, test, settings, seed, quantize=True)
    th = main.threshold
    res: dict = {"threshold": th}
    y, s = main.subset(docs, kind="l2r")
    res["l2r_test"] = _m(y, s, th)
    res["l2r_test"]["by_generator"] = {
        g: _m(*main.subset(docs, kind="l2r", generator=[g, "human"]), th) for g in GENERATORS
    }
    res["l2r_wrapped_test"] = _m(*main.subset(docs, kind="wrapped"), th)
    res["l2r_test"]["abstained"] = float((~docs.scored[docs.where(kind="l2r", split="test")]).mean())
    res["l2r_wrapped_test"]["abstained"] = float(
        (~docs.scored[docs.where(kind="wrapped", split="test")]).mean()
    )
    web_test = {src: main.subset(docs, kind="web", source=src)[1] for src in WEB_SOURCES}
    res["web_test_fpr"] = {src: fpr_block(v, th) for src, v in web_test.items()}
    pooled_web = np.concatenate(list(web_test.values()))
    res["web_test_fpr"]["pooled"] = fpr_block(pooled_web, th)
    _, ai = main.subset(docs, kind="wrapped", y=1)
    res["web_vs_ai"] = _m(np.r_[np.zeros(len(pooled_web)), np.ones(len(ai))], np.r_[pooled_web, ai], th)
    cal_web = docs.where(kind="web")[main.fitted.cal_idx]
    res["web_cal_fpr"] = fpr_block(score_docs(main.fitted, main.fitted.cal_x)[cal_web], th)
    res["histograms"] = {
        "edges": syn.histogram([])[0],
        "human_web": syn.histogram(pooled_web)[1],
        "human_l2r": syn.histogram(main.subset(docs, kind="l2r", y=0)[1])[1],
        "ai": syn.histogram(main.subset(docs, kind="l2r", y=1)[1])[1],
    }
    res["abstain"] = abstain_shares(web_all)
    runs_logo, runs_other = [], []
    if ood:
        res["leave_one_generator_out"] = {}
        for g in GENERATORS:
            keep = docs.generator != g
            r = Run(
                f"without {g}",
                docs,
                train[keep[train]],
                cal[keep[cal]],
                test[np.isin(docs.generator[test], [g, "human"])],
                settings,
                seed,
            )
            y_l, s_l = r.subset(docs, kind="l2r")
            _, ai_g = r.subset(docs, kind="wrapped", y=1)
            web_g = r.subset(docs, kind="web")[1]
            res["leave_one_generator_out"][g] = {
                **_m(y_l, s_l, r.threshold),
                "threshold": r.threshold,
                "web_vs_ai_auroc": syn.auroc(
                    np.r_[np.zeros(len(web_g)), np.ones(len(ai_g))], np.r_[web_g, ai_g]
                ),
                "web_fpr": fpr_block(web_g, r.threshold)["fpr"],
            }
            runs_logo.append(r)
        res["leave_one_web_source_out"] = {}
        for src in WEB_SOURCES:
            keep = docs.source != src
            held = np.flatnonzero(docs.where(kind="web", source=src))  # never seen: every split is held out
            r = Run(
                f"without web source {src}", docs, train[keep[train]], cal[keep[cal]], held, settings, seed
            )
            res["leave_one_web_source_out"][src] = {**fpr_block(r.s, r.threshold), "threshold": r.threshold}
            runs_other.append(r)
        loso = res["leave_one_web_source_out"].values()
        n_flagged, n_pages = sum(b["flagged"] for b in loso), sum(b["n"] for b in loso)
        res["loso_pooled_fpr"] = {"fpr": n_flagged / n_pages, "n_neg": n_pages, "flagged": n_flagged}
        domains = sorted(set(docs.domain[docs.kind != "web"]))
        res["leave_domains_out"] = {}
        pooled_y, pooled_s = [], []
        for k in range(DOMAIN_FOLDS):
            held_d = domains[k::DOMAIN_FOLDS]
            keep = ~np.isin(docs.domain, held_d)
            # every text of the held-out domains, once (the test split in its plain form)
            one_form = (docs.kind == "l2r") | ((docs.kind == "wrapped") & (docs.split != "test"))
            held = np.flatnonzero(~keep & one_form)
            r = Run(
                f"without {', '.join(held_d)}", docs, train[keep[train]], cal[keep[cal]], held, settings, seed
            )
            yy, ss = docs.y[r.test], r.s
            res["leave_domains_out"][" + ".join(held_d)] = _m(yy, ss, r.threshold)
            pooled_y.append(yy)
            pooled_s.append(ss)
            runs_other.append(r)
        res["leave_domains_out_pooled"] = _m(np.concatenate(pooled_y), np.concatenate(pooled_s), None)
        # operating point for population estimates: TPR on AI text of generators each model never saw
        tp = np.concatenate([r.subset(docs, kind="l2r", y=1)[1] >= r.threshold for r in runs_logo])
        res["logo_pooled_tpr"] = {"tpr": float(tp.mean()), "n_pos": int(len(tp))}
    # drop-one ablation of every combiner input but the margin
    res["ablation"] = ablation(docs, main, runs_logo)
    return main, res


def _auroc_where(docs: Docs, run: Run, scores: np.ndarray, mask: np.ndarray) -> float | None:
    m = mask[run.test]
    return syn.auroc(docs.y[run.test][m], scores[m])


def ablation(docs: Docs, main: Run, runs_logo: list[Run]) -> dict:
    """AUROC lost when each combiner input but the margin is dropped (combiner and calibrator refitted)."""
    l2r = docs.where(kind="l2r")
    web_or_ai = docs.where(kind="web") | docs.where(kind="wrapped", y=1)
    out = {}
    for name in main.fitted.inputs[1:]:
        s_drop = main.ablation_scores(docs, name)
        logo_d = [
            _auroc_where(docs, r, r.s, l2r) - _auroc_where(docs, r, r.ablation_scores(docs, name), l2r)
            for r in runs_logo
        ]
        out[name] = {
            "coef": float(main.fitted.coef[list(main.fitted.inputs).index(name)]),
            "dauroc_l2r": _auroc_where(docs, main, main.s, l2r) - _auroc_where(docs, main, s_drop, l2r),
            "dauroc_web_vs_ai": _auroc_where(docs, main, main.s, web_or_ai)
            - _auroc_where(docs, main, s_drop, web_or_ai),
            "dauroc_logo_mean": float(np.mean(logo_d)) if logo_d else None,
        }
    return out


def measure_speed(scorer: syn.SyntheticScorer, texts: list[str]) -> dict:
    t0 = time.process_time()
    scorer.score_batch(texts, ["en"] * len(texts))
    dt = time.process_time() - t0
    return {"docs": len(texts), "cpu_seconds": round(dt, 3), "docs_per_second": round(len(texts) / dt, 1)}


# --------------------------------------------------------------------------------------------------
# Model card
# --------------------------------------------------------------------------------------------------


def _f(v, digits=3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def metrics_markdown(m: dict) -> str:
    """The model card's metrics section."""
    r = m["results"]
    th = r["threshold"]
    d = m["data"]
    lines = [
        f"Trained {m['trained']} with seed {m['seed']} from `{d['l2r_file']}` (sha256 `{d['l2r_sha256'][:16]}...`) "
        f"and the pipeline's extraction of the shared pre-LLM web pages (`pipeline/web_text.py`). Documents "
        f"(train / calibration / test): L2R {d['l2r']['train']} / {d['l2r']['cal']} / {d['l2r']['test']}; "
        f"web {d['web']['train']} / {d['web']['cal']} / {d['web']['test']}. Combiner inputs: "
        + ", ".join(f"`{i}`" for i in m["inputs"])
        + f". Flag threshold **{th:.3f}** (FPR {_pct(r['web_cal_fpr']['fpr'])} on the {r['web_cal_fpr']['n']} "
        "calibration web pages).",
        "",
        "Held-out human web text (test split, English, pre-LLM, scored), flagged at the threshold:",
        "",
        "| source | scored pages | flagged | FPR |",
        "|---|---|---|---|",
    ]
    for src, b in r["web_test_fpr"].items():
        lines.append(f"| {src} | {b['n']} | {b['flagged']} | {_pct(b['fpr'])} |")
    if r.get("leave_one_web_source_out"):
        lines += [
            "",
            "Leave-one-web-source-out (the source's pages in no split of training or calibration; all of its "
            "English pre-LLM scored pages tested, at that model's own threshold):",
            "",
            "| source held out | pages | flagged | FPR | threshold |",
            "|---|---|---|---|---|",
        ]
        for src, b in r["leave_one_web_source_out"].items():
            lines.append(f"| {src} | {b['n']} | {b['flagged']} | {_pct(b['fpr'])} | {b['threshold']:.3f} |")
    lines += [
        "",
        "Abstained (no score) by the rule, share of pages per source (all extracted pages / English pre-LLM):",
        "",
        "| source | pages | abstained | not_english | too_short | not_prose | English pre-LLM pages | abstained |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for src, b in r["abstain"].items():
        a, e = b["all_pages"], b["english_pre_llm"]
        lines.append(
            f"| {src} | {a['n']} | {_pct(a['abstained'])} | {_pct(a['not_english'])} | {_pct(a['too_short'])} | "
            f"{_pct(a['not_prose'])} | {e['n']} | {_pct(e['abstained'])} |"
        )
    lines += [
        "",
        "AI text (L2R rewrites) against human text, test split, scored documents:",
        "",
        "| evaluation | n | abstained | AUROC | TPR @ 1% FPR | ECE, classes balanced | TPR / FPR at the threshold |",
        "|---|---|---|---|---|---|---|",
    ]

    def row(name, b, abstained="-"):
        return (
            f"| {name} | {b['n']} | {abstained} | {_f(b['auroc'])} | {_f(b['tpr_at_1pct_fpr'])} | "
            f"{_f(b.get('ece_balanced'))} | {_f(b.get('tpr'), 2)} / {_f(b.get('fpr'), 2)} |"
        )

    lines.append(row("held-out L2R pairs", r["l2r_test"], _pct(r["l2r_test"]["abstained"])))
    lines.append(
        row(
            "held-out L2R, embedded in page boilerplate",
            r["l2r_wrapped_test"],
            _pct(r["l2r_wrapped_test"]["abstained"]),
        )
    )
    lines.append(row("held-out web pages (human) vs embedded L2R AI", r["web_vs_ai"]))
    for g, b in r["l2r_test"]["by_generator"].items():
        lines.append(row(f"held-out L2R pairs: {g}", b))
    if r.get("leave_one_generator_out"):
        for g, b in r["leave_one_generator_out"].items():
            lines.append(row(f"leave-one-generator-out: {g}", b))
        lines.append(
            f"| leave-domains-out (4 of 20 at a time), pooled | {r['leave_domains_out_pooled']['n']} | - | "
            f"{_f(r['leave_domains_out_pooled']['auroc'])} | {_f(r['leave_domains_out_pooled']['tpr_at_1pct_fpr'])} | "
            f"{_f(r['leave_domains_out_pooled']['ece_balanced'])} | - |"
        )
        worst = min(r["leave_domains_out"].items(), key=lambda kv: kv[1]["auroc"])
        lines.append(f"\nLeave-domains-out worst fold: {worst[0]} (AUROC {_f(worst[1]['auroc'])}).")
        lines.append(
            "Leave-one-generator-out against the held-out web pages (AUROC / web FPR at that model's threshold): "
            + "; ".join(
                f"{g} {_f(b['web_vs_ai_auroc'])} / {_pct(b['web_fpr'])}"
                for g, b in r["leave_one_generator_out"].items()
            )
            + "."
        )
    op = m["operating_point"]
    lines += [
        "",
        f"Operating point for population estimates (`synthetic.json`): threshold {th:.3f}, TPR "
        f"{_f(op['out_of_domain']['tpr'])} (n={op['out_of_domain']['n_pos']}, AI text of generators held out of "
        f"training), FPR {_f(op['out_of_domain']['fpr'])} (n={op['out_of_domain']['n_neg']}, human web pages of "
        "sources held out of training, pooled).",
        "",
        "Combiner inputs: standardised coefficient and the AUROC lost when the input is dropped (combiner, "
        "calibrator and threshold refitted without it):",
        "",
        "| input | coefficient | dAUROC held-out L2R | dAUROC web vs AI | dAUROC leave-one-generator-out (mean) |",
        "|---|---|---|---|---|",
    ]
    lines.append(f"| `fasttext_margin` | {m['coef'][0]:+.3f} | - | - | - |")
    for name, b in r["ablation"].items():
        lines.append(
            f"| `{name}` | {b['coef']:+.3f} | {_f(b['dauroc_l2r'], 4)} | {_f(b['dauroc_web_vs_ai'], 4)} | "
            f"{_f(b['dauroc_logo_mean'], 4)} |"
        )
    size = m["model_size_bytes"]
    files = ", ".join(f"`{k}` {v / 1e3:,.0f} KB" for k, v in size.items() if k != "total")
    lines += [
        "",
        f"Model size: {size['total'] / 1e6:.2f} MB ({files}). Training took {m['training_seconds']:.0f} s. "
        "Scoring speed: `make bench` (`python -m bench.synthetic_bench`).",
    ]
    return "\n".join(lines)


def write_card(path: Path, section: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else f"{CARD_START}\n{CARD_END}\n"
    if CARD_START not in text or CARD_END not in text:
        text = text.rstrip("\n") + f"\n\n## Metrics\n\n{CARD_START}\n{CARD_END}\n"
    head, rest = text.split(CARD_START, 1)
    _, tail = rest.split(CARD_END, 1)
    path.write_text(f"{head}{CARD_START}\n{section}\n{CARD_END}{tail}", encoding="utf-8")


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------


def parse_args(argv):
    p = argparse.ArgumentParser(prog="pristine train synthetic", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(DEFAULT_DATA), help="labelled JSON lines (L2R layout)")
    p.add_argument("--output", default=str(DEFAULT_OUTPUT), help="model directory (default: the shipped one)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--ood",
        choices=("full", "none"),
        default="full",
        help="held-out retrainings: leave-one-generator-out, -web-source-out, domains-out (full), or skip",
    )
    p.add_argument("--limit", type=int, default=None, help="use only the first N pairs (quick runs, tests)")
    p.add_argument("--epoch", type=int, default=Settings.epoch)
    p.add_argument(
        "--inputs", default=None, help="comma-separated combiner inputs (default: Settings.inputs)"
    )
    p.add_argument("--no-card", action="store_true", help="do not rewrite the model card's metrics")
    p.add_argument(
        "--card-only",
        action="store_true",
        help="only rewrite the model card's metrics from --output's synthetic_metrics.json (no training)",
    )
    return p.parse_args(argv)


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_data(args) -> tuple[list[dict], list[dict], list[dict]]:
    """(L2R rows, English pre-LLM web records, every web record)."""
    from pipeline.web_text import load_web_text

    rows = load_labelled(args.data)
    if args.limit:
        keep_pairs = set(sorted({r["pair_id"] for r in rows if r.get("pair_id")})[: args.limit])
        rows = [r for r in rows if r.get("pair_id") in keep_pairs]
    web_all = load_web_text()
    web = [r for r in web_all if r.get("lang") == "en" and r["pre_llm"]]
    return rows, web, web_all


def write_model(out_dir: Path, fitted: Fitted, settings: Settings, results: dict, args, rows) -> dict:
    params = fitted.params(settings)
    lp = results.get("logo_pooled_tpr") or {}
    lf = results.get("loso_pooled_fpr") or {
        "fpr": results["web_test_fpr"]["pooled"]["fpr"],
        "n_neg": results["web_test_fpr"]["pooled"]["n"],
    }
    in_dom = results["l2r_test"]
    params["operating_point"] = {
        "threshold": fitted.threshold,
        "target_fpr": settings.target_fpr,
        "in_domain": {
            "tpr": in_dom["tpr"],
            "fpr": in_dom["fpr"],
            "n_pos": in_dom["n_synthetic"],
            "n_neg": in_dom["n_human"],
        },
        "out_of_domain": {
            "tpr": lp.get("tpr", in_dom["tpr"]),
            "fpr": lf["fpr"],
            "n_pos": lp.get("n_pos", in_dom["n_synthetic"]),
            "n_neg": lf["n_neg"],
            "measured_on": "TPR: L2R AI test texts, each scored by a model trained without its generator; FPR: "
            "pre-LLM English web pages as pristine run extracts them, each source scored by a model trained "
            "and calibrated without it (leave-one-web-source-out, pooled)",
        },
    }
    params["histograms"] = results["histograms"]
    params["training"] = {
        "data": os.path.basename(args.data),
        "data_sha256": _sha256(args.data),
        "web_text": "pipeline/web_text.py (shared web-pages-pre2022, AEB, warc-samples before 2022-11-30)",
        "seed": args.seed,
        "licence": "L2R data: CC BY 3.0 (Hao et al., ACL 2025); see SYNTHETIC_MODEL_CARD.md",
    }
    params["version"] = 2
    fitted.ft.save_model(str(out_dir / syn.FASTTEXT_FILE))
    (out_dir / syn.PARAMS_FILE).write_text(json.dumps(params, indent=1) + "\n", encoding="utf-8")
    return params


def check_written_model(out_dir: Path, docs: Docs, main: Run) -> None:
    """The written model must score exactly as the training code did."""
    scorer = syn.SyntheticScorer.load(out_dir)
    idx = main.test[:300]
    check = np.array(scorer.score_batch([docs.texts[i] for i in idx]), dtype=float)
    if not np.allclose(check, main.s[:300], atol=1e-5):
        raise RuntimeError(
            f"shipped scorer disagrees with training: max diff {np.nanmax(np.abs(check - main.s[:300])):.2e}"
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out_dir = Path(args.output)
    if args.card_only:
        metrics = json.loads((out_dir / syn.METRICS_FILE).read_text(encoding="utf-8"))
        write_card(out_dir / syn.MODEL_CARD, metrics_markdown(metrics))
        return 0
    t_start = time.time()
    settings = Settings(epoch=args.epoch)
    if args.inputs:
        settings = dataclasses.replace(
            settings,
            inputs=("fasttext_margin", *[i for i in args.inputs.split(",") if i and i != "fasttext_margin"]),
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    rows, web, web_all = load_data(args)
    docs = build_docs(rows, web, args.seed, settings)
    print(
        f"{len(rows)} L2R texts, {len(web)} English pre-LLM web pages; {len(docs.y)} documents",
        file=sys.stderr,
    )
    main_run, results = evaluate(docs, web_all, settings, args.seed, args.ood == "full")
    write_model(out_dir, main_run.fitted, settings, results, args, rows)
    check_written_model(out_dir, docs, main_run)
    sizes = {f: (out_dir / f).stat().st_size for f in (syn.FASTTEXT_FILE, syn.PARAMS_FILE)}
    sizes["total"] = sum(sizes.values())

    def counts(kinds):
        m = np.isin(docs.kind, kinds)
        return {s: int((m & (docs.split == s)).sum()) for s in ("train", "cal", "test")}

    params = json.loads((out_dir / syn.PARAMS_FILE).read_text(encoding="utf-8"))
    metrics = {
        "trained": time.strftime("%Y-%m-%d"),
        "seed": args.seed,
        "data": {
            "l2r_file": os.path.basename(args.data),
            "l2r_sha256": params["training"]["data_sha256"],
            "l2r": counts(["l2r", "wrapped"]),
            "web": counts(["web"]),
        },
        "settings": dataclasses.asdict(settings),
        "inputs": list(main_run.fitted.inputs),
        "coef": main_run.fitted.coef.tolist(),
        "operating_point": params["operating_point"],
        "results": results,
        "model_size_bytes": sizes,
        "training_seconds": round(time.time() - t_start, 1),
    }
    (out_dir / syn.METRICS_FILE).write_text(json.dumps(metrics, indent=1) + "\n", encoding="utf-8")
    section = metrics_markdown(metrics)
    if not args.no_card:
        write_card(out_dir / syn.MODEL_CARD, section)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
