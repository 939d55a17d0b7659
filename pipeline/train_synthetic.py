"""Train the synthetic-text model shipped in transforms/models (`make models`, `pristine train synthetic`).

    python -m pipeline.train_synthetic [--data L2R.jsonl.gz] [--output transforms/models] [--seed 0]

Data: the L2R set (``../shared/data/synthetic-text-l2r/l2r.jsonl.gz``, CC BY 3.0: human passages and their
LLM rewrites by four generators, 20 domains). Everything is split by ``pair_id`` (a human passage and its
rewrites stay together): 70% train, 15% calibration, 15% test; unpaired rewrites only train.

The model (see transforms/synthetic/):

1. fastText bigram classifier on normalised, lower-cased text (human lines repeated to balance the
   classes, thread=1 + seed: deterministic), quantised; scored by its raw margin.
2. A logistic-regression combiner of [fastText margin, style features]. Its fastText input comes from
   *out-of-domain* folds: for each of 2 folds, a fastText model trained without half of the domains and
   without one generator scores the held-out domains. The combiner therefore learns how far to trust
   fastText where it has not seen the topic or the generator, which shifts weight to the style features,
   the part that transfers.
3. Isotonic calibration (pool-adjacent-violators, classes weighted equally) on the calibration split.

Measured: the test split (in-domain), leave-one-generator-out and leave-one-domain-out (each a full
retraining without that generator / domain), per-input contributions (coefficients, mean |contribution|,
drop-one ablation), model size and scoring speed. Writes synthetic.ftz, synthetic.json (parameters and the
operating point), synthetic_metrics.json, and the metrics section of SYNTHETIC_MODEL_CARD.md.
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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.corpus import read_records
from transforms import synthetic as syn
from transforms.synthetic.features import WORD_RE, _passage_features

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "synthetic-text-l2r" / "l2r.jsonl.gz"
DEFAULT_OUTPUT = REPO / "transforms" / syn.MODEL_DIR
GENERATORS = ("GPT-3-Turbo", "GPT-4o", "Gemini-1.5-Pro", "Llama-3-70B")
CARD_START = "<!-- metrics:start (written by pipeline/train_synthetic.py) -->"
CARD_END = "<!-- metrics:end -->"


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
    split: tuple[float, float] = (0.70, 0.85)  # train below the first, calibration below the second


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
    h = int.from_bytes(hashlib.sha256(f"{seed}:{pair_id}".encode()).digest()[:8], "big") / 2**64
    return "train" if h < cuts[0] else "cal" if h < cuts[1] else "test"


@dataclass
class Corpus:
    """Texts cut into scored passages, with everything that does not depend on a model precomputed."""

    y: np.ndarray  # 1 = synthetic, per text
    lines: list[str]  # fastText line of each whole text (training input)
    passage_text: np.ndarray  # text index of each passage
    passage_lines: list[str]  # fastText line of each passage (scoring input)
    passage_x: np.ndarray  # design matrix of each passage, fastText margin column NaN
    n_words: np.ndarray
    applicable: np.ndarray

    @classmethod
    def build(cls, texts: list[str], labels: list[int]) -> Corpus:
        lines, p_text, p_lines, p_rows, n_words, ok = [], [], [], [], [], []
        for i, text in enumerate(texts):
            t = syn.normalize_for_detection(text)
            lines.append(syn.fasttext_line(t, normalized=True))
            n_words.append(len(t.split()))
            ok.append(bool(WORD_RE.search(t)))
            if not ok[-1]:
                continue
            n_phrases = syn.count_chatbot_phrases(t, normalized=True)
            for p in syn.passages(t):
                p_text.append(i)
                p_lines.append(syn.fasttext_line(p, normalized=True))
                p_rows.append(_passage_features(p, None, n_phrases))
        return cls(
            y=np.asarray(labels, dtype=np.int64),
            lines=lines,
            passage_text=np.asarray(p_text, dtype=np.int64),
            passage_lines=p_lines,
            passage_x=syn.design_matrix(p_rows),
            n_words=np.asarray(n_words),
            applicable=np.asarray(ok),
        )

    def passages_of(self, idx: np.ndarray) -> np.ndarray:
        return np.flatnonzero(np.isin(self.passage_text, idx))


# --------------------------------------------------------------------------------------------------
# Fitting
# --------------------------------------------------------------------------------------------------


def train_fasttext(corpus: Corpus, idx: np.ndarray, settings: Settings, seed: int, quantize: bool):
    """A fastText classifier on texts `idx` -> (model, direction = synthetic minus human output vector)."""
    import fasttext

    idx = [int(i) for i in idx if corpus.lines[i]]
    random.Random(seed).shuffle(idx)
    y = corpus.y
    n_syn = int(y[idx].sum())
    repeat_human = max(1, round(n_syn / max(1, len(idx) - n_syn)))
    fd, path = tempfile.mkstemp(suffix=".txt", prefix="synthetic-train-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for i in idx:
                if y[i]:
                    f.write(f"{syn.LABEL_SYNTHETIC} {corpus.lines[i]}\n")
                else:
                    f.write(f"{syn.LABEL_HUMAN} {corpus.lines[i]}\n" * repeat_human)
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


def margins(model, direction: np.ndarray, lines: list[str]) -> np.ndarray:
    return np.array([float(model.get_sentence_vector(s) @ direction) if s else 0.0 for s in lines])


@dataclass
class Fitted:
    """A trained model and the pieces the evaluation reuses (OOF inputs for the drop-one ablation)."""

    ft: object
    direction: np.ndarray
    standardizer: syn.Standardizer
    coef: np.ndarray
    intercept: float
    knots_x: np.ndarray
    knots_y: np.ndarray
    train_x: np.ndarray  # combiner inputs of the training passages (OOF margins)
    train_pass: np.ndarray
    cal_x: np.ndarray  # combiner inputs of the calibration passages (final margins)
    cal_pass: np.ndarray

    def params(self, settings: Settings) -> dict:
        return {
            "fasttext": {
                "file": syn.FASTTEXT_FILE,
                "direction": self.direction.tolist(),
                "settings": dataclasses.asdict(settings),
            },
            "combiner": {
                "inputs": list(syn.INPUTS),
                "log_inputs": sorted(syn.LOG_FEATURES),
                "standardizer": self.standardizer.to_dict(),
                "coef": self.coef.tolist(),
                "intercept": self.intercept,
            },
            "calibration": {"method": "isotonic", "x": self.knots_x.tolist(), "y": self.knots_y.tolist()},
        }


def _text_weights(corpus: Corpus, pass_idx: np.ndarray) -> np.ndarray:
    """Per-passage weights: every text weighs 1 however many passages it has, classes weigh equally."""
    texts = corpus.passage_text[pass_idx]
    _, inverse, counts = np.unique(texts, return_inverse=True, return_counts=True)
    w = 1.0 / counts[inverse]
    y = corpus.y[texts]
    for label in (0, 1):
        m = y == label
        if m.any():
            w[m] *= 0.5 * w.sum() / w[m].sum()
    return w


def _text_logits(corpus: Corpus, pass_idx: np.ndarray, passage_logits: np.ndarray, idx: np.ndarray):
    """Mean passage logit per text of `idx` (texts without passages: NaN)."""
    sums = np.zeros(len(corpus.y))
    counts = np.zeros(len(corpus.y))
    np.add.at(sums, corpus.passage_text[pass_idx], passage_logits)
    np.add.at(counts, corpus.passage_text[pass_idx], 1)
    with np.errstate(invalid="ignore"):
        return (sums / counts)[idx]


def fit_combiner_and_calibrator(
    corpus: Corpus,
    train_x,
    train_pass,
    cal_x,
    cal_pass,
    cal_idx,
    settings: Settings,
    drop: frozenset[str] = frozenset(),
):
    """Logistic combiner on the training passages, isotonic calibrator on the calibration texts."""
    keep = np.array([name not in drop for name in syn.INPUTS])
    standardizer = syn.Standardizer.fit(train_x)
    z = standardizer(train_x)[:, keep]
    coef_kept, intercept = syn.fit_logistic(
        z, corpus.y[corpus.passage_text[train_pass]], _text_weights(corpus, train_pass), settings.l2
    )
    coef = np.zeros(len(syn.INPUTS))
    coef[keep] = coef_kept
    cal_logits = _text_logits(corpus, cal_pass, standardizer(cal_x) @ coef + intercept, cal_idx)
    ok = ~np.isnan(cal_logits)
    y_cal = corpus.y[cal_idx][ok]
    w = np.where(y_cal == 1, 0.5 / y_cal.mean(), 0.5 / (1 - y_cal.mean()))
    knots_x, knots_y = syn.fit_isotonic(cal_logits[ok], y_cal, w, settings.calibration_prior)
    return standardizer, coef, intercept, knots_x, knots_y


def fit(
    corpus: Corpus,
    train_idx: np.ndarray,
    cal_idx: np.ndarray,
    domains: np.ndarray,
    generators: np.ndarray,
    settings: Settings,
    seed: int,
    quantize: bool = True,
) -> Fitted:
    """The whole model from texts `train_idx` (fastText, combiner) and `cal_idx` (calibration).

    `quantize=False` skips the quantisation of the final fastText model (16 s; the out-of-domain runs
    skip it: their margins correlate 0.99 with the quantised model's).
    """
    rng = random.Random(seed)
    train_idx = np.asarray(train_idx)
    train_pass = corpus.passages_of(train_idx)
    # out-of-domain fastText margins for the combiner: fold k hides 1/k_folds of the domains (its margins
    # come from a model that never saw them) and one generator
    oof = np.full(len(corpus.passage_lines), np.nan)
    fold_domains = sorted(set(domains[train_idx]))
    rng.shuffle(fold_domains)
    fold_gens = [g for g in GENERATORS if g in set(generators[train_idx])]
    rng.shuffle(fold_gens)
    k_folds = min(settings.ood_folds, len(fold_domains))
    for k in range(k_folds):
        held = set(fold_domains[k::k_folds])
        gen_out = fold_gens[k % len(fold_gens)] if fold_gens else None
        in_fold = np.array([d in held for d in domains[train_idx]])
        fit_idx = train_idx[~in_fold & (generators[train_idx] != gen_out)]
        model, direction = train_fasttext(corpus, fit_idx, settings, seed + 1 + k, quantize=False)
        p = corpus.passages_of(train_idx[in_fold])
        oof[p] = margins(model, direction, [corpus.passage_lines[i] for i in p])
    model, direction = train_fasttext(corpus, train_idx, settings, seed, quantize=quantize)
    train_x = corpus.passage_x[train_pass].copy()
    train_x[:, 0] = oof[train_pass]
    cal_pass = corpus.passages_of(cal_idx)
    cal_x = corpus.passage_x[cal_pass].copy()
    cal_x[:, 0] = margins(model, direction, [corpus.passage_lines[i] for i in cal_pass])
    standardizer, coef, intercept, kx, ky = fit_combiner_and_calibrator(
        corpus, train_x, train_pass, cal_x, cal_pass, cal_idx, settings
    )
    return Fitted(
        model, direction, standardizer, coef, intercept, kx, ky, train_x, train_pass, cal_x, cal_pass
    )


def score_texts(
    corpus: Corpus,
    fitted: Fitted,
    idx: np.ndarray,
    x: np.ndarray | None = None,
    pieces: tuple | None = None,
) -> np.ndarray:
    """Calibrated scores of texts `idx`, exactly as SyntheticScorer computes them (checked in main)."""
    idx = np.asarray(idx)
    p = corpus.passages_of(idx)
    if x is None:
        x = corpus.passage_x[p].copy()
        x[:, 0] = margins(fitted.ft, fitted.direction, [corpus.passage_lines[i] for i in p])
    standardizer, coef, intercept, kx, ky = pieces or (
        fitted.standardizer,
        fitted.coef,
        fitted.intercept,
        fitted.knots_x,
        fitted.knots_y,
    )
    logits = _text_logits(corpus, p, standardizer(x) @ coef + intercept, idx)
    prob = syn.calibrate(np.nan_to_num(logits), kx, ky)
    evidence = np.minimum(1.0, corpus.n_words[idx] / syn.FULL_EVIDENCE_WORDS)
    return np.clip(0.5 + (prob - 0.5) * evidence, 0.0, 1.0)


def test_inputs(corpus: Corpus, fitted: Fitted, idx: np.ndarray) -> np.ndarray:
    p = corpus.passages_of(idx)
    x = corpus.passage_x[p].copy()
    x[:, 0] = margins(fitted.ft, fitted.direction, [corpus.passage_lines[i] for i in p])
    return x


# --------------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------------

VARIANTS = {
    "combined": frozenset(),
    "fastText only": frozenset(syn.FEATURES),
    "style only": frozenset({"fasttext_margin"}),
}


def _metrics(y, s, threshold) -> dict:
    return syn.binary_metrics(y, s, threshold)


class Experiment:
    """One held-out evaluation: fit on `train`/`cal`, score `test`; also the variants and the drop-one
    ablation (combiner + calibrator refitted on the same fastText margins)."""

    def __init__(self, name, corpus, train, cal, test, domains, generators, settings, seed, quantize=False):
        t0 = time.time()
        self.name = name
        self.fitted = fit(corpus, train, cal, domains, generators, settings, seed, quantize)
        self.test = np.asarray(test)
        self.y = corpus.y[self.test]
        x = test_inputs(corpus, self.fitted, self.test)
        self.scores = {}
        for variant, drop in [*VARIANTS.items(), *((f"-{n}", frozenset({n})) for n in syn.INPUTS)]:
            if not drop:
                pieces = None
            else:
                f = self.fitted
                pieces = fit_combiner_and_calibrator(
                    corpus, f.train_x, f.train_pass, f.cal_x, f.cal_pass, cal, settings, drop
                )
            self.scores[variant] = score_texts(corpus, self.fitted, self.test, x=x, pieces=pieces)
        self.seconds = time.time() - t0
        print(f"  {name}: {len(self.test)} test texts, {self.seconds:.0f} s", file=sys.stderr, flush=True)


def group_metrics(y, s, groups: dict[str, np.ndarray], threshold: float) -> dict:
    return {g: _metrics(y[m], s[m], threshold) for g, m in groups.items() if m.any()}


def mean_of(results: list[dict], key: str) -> float | None:
    vals = [r[key] for r in results if r.get(key) is not None]
    return float(np.mean(vals)) if vals else None


def measure_speed(scorer: syn.SyntheticScorer, texts: list[str]) -> dict:
    t0 = time.perf_counter()
    scorer.score_batch(texts)
    dt = time.perf_counter() - t0
    return {"docs": len(texts), "seconds": round(dt, 3), "docs_per_second": round(len(texts) / dt, 1)}


# --------------------------------------------------------------------------------------------------
# Model card
# --------------------------------------------------------------------------------------------------


def _f(v, digits=3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def metrics_markdown(m: dict) -> str:
    """The model card's metrics section."""
    lines = [
        f"Trained {m['trained']} from `{m['data']['file']}` (sha256 `{m['data']['sha256'][:16]}...`), seed "
        f"{m['seed']}: {m['data']['train']} train / {m['data']['cal']} calibration / {m['data']['test']} test "
        "texts, split by `pair_id`.",
        "",
        "| evaluation | n | AUROC | TPR @ 1% FPR | ECE | ECE, classes balanced | TPR / FPR at the flag threshold |",
        "|---|---|---|---|---|---|---|",
    ]

    def row(name, r):
        return (
            f"| {name} | {r['n']} | {_f(r['auroc'])} | {_f(r['tpr_at_1pct_fpr'])} | {_f(r['ece'])} | "
            f"{_f(r['ece_balanced'])} | {_f(r.get('tpr'), 2)} / {_f(r.get('fpr'), 2)} |"
        )

    lines.append(row("in-domain (held-out L2R pairs)", m["in_domain"]["overall"]))
    if m.get("leave_one_generator_out"):
        for g, r in m["leave_one_generator_out"].items():
            lines.append(row(f"leave-one-generator-out: {g}", r))
    if m.get("leave_one_domain_out"):
        lodo = m["leave_one_domain_out"]
        lines.append(row("leave-one-domain-out: all 20 pooled", lodo["pooled"]))
        lines.append(
            f"| leave-one-domain-out: mean / worst domain | - | {_f(lodo['mean']['auroc'])} / "
            f"{_f(lodo['worst']['auroc'])} ({lodo['worst']['domain']}) | {_f(lodo['mean']['tpr_at_1pct_fpr'])} | "
            f"{_f(lodo['mean']['ece'])} | {_f(lodo['mean']['ece_balanced'])} | - |"
        )
    lines += [
        "",
        f"Flag threshold {m['operating_point']['threshold']}: TPR/FPR used by the population estimate "
        f"(out-of-domain, pooled) {_f(m['operating_point']['out_of_domain'].get('tpr'))} / "
        f"{_f(m['operating_point']['out_of_domain'].get('fpr'))}; in-domain "
        f"{_f(m['operating_point']['in_domain']['tpr'])} / {_f(m['operating_point']['in_domain']['fpr'])}.",
        "",
        "Variants (same splits; AUROC, in-domain / leave-one-generator-out mean / leave-one-domain-out mean):",
        "",
        "| model | in-domain | LOGO mean | LODO mean |",
        "|---|---|---|---|",
    ]
    for v, r in m["variants"].items():
        lines.append(f"| {v} | {_f(r['in_domain'])} | {_f(r.get('logo'))} | {_f(r.get('lodo'))} |")
    lines += [
        "",
        "Per-input contributions: standardised combiner coefficient (logit per standard deviation), mean "
        "|contribution| to a test document's logit, and the AUROC lost when the input is dropped (combiner "
        "and calibrator refitted without it), in-domain and averaged over the out-of-domain runs:",
        "",
        "| input | coefficient | mean abs contribution | drop-one dAUROC in-domain | drop-one dAUROC OOD |",
        "|---|---|---|---|---|",
    ]
    for name, c in m["contributions"].items():
        lines.append(
            f"| `{name}` | {c['coef']:+.3f} | {c['mean_abs_contribution']:.3f} | "
            f"{_f(c['drop_one_dauroc_in_domain'], 4)} | {_f(c.get('drop_one_dauroc_ood'), 4)} |"
        )
    lines += [
        "",
        "Per domain (in-domain test split):",
        "",
        "| domain | n | AUROC | TPR @ 1% FPR | ECE | ECE, classes balanced |",
        "|---|---|---|---|---|---|",
    ]
    for d, r in m["in_domain"]["by_domain"].items():
        lines.append(
            f"| {d} | {r['n']} | {_f(r['auroc'])} | {_f(r['tpr_at_1pct_fpr'])} | {_f(r['ece'])} | "
            f"{_f(r['ece_balanced'])} |"
        )
    size = m["model_size_bytes"]
    files = ", ".join(f"`{k}` {v / 1e3:,.0f} KB" for k, v in size.items() if k != "total")
    speed = m["speed"]
    lines += [
        "",
        f"Model size: {size['total'] / 1e6:.2f} MB ({files}). Scoring speed on one core "
        f"(`SyntheticScorer.score_batch`, measured while training): {speed['l2r_passages']['docs_per_second']:,.0f} "
        f"L2R passages/s, {speed['long_documents']['docs_per_second']:,.0f} documents/s on "
        f"{speed['long_documents']['chars'] / 1e3:.1f} KB documents (12 passages joined). "
        f"Training took {m['training_seconds']:.0f} s.",
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
        help="out-of-domain evaluation: leave-one-generator-out and leave-one-domain-out (full), or skip",
    )
    p.add_argument("--limit", type=int, default=None, help="use only the first N pairs (quick runs, tests)")
    p.add_argument("--epoch", type=int, default=Settings.epoch)
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.card_only:
        metrics = json.loads((Path(args.output) / syn.METRICS_FILE).read_text(encoding="utf-8"))
        write_card(Path(args.output) / syn.MODEL_CARD, metrics_markdown(metrics))
        return 0
    t_start = time.time()
    settings = Settings(epoch=args.epoch)
    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = load_labelled(args.data)
    if args.limit:
        keep_pairs = sorted({r["pair_id"] for r in rows if r.get("pair_id")})[: args.limit]
        keep_pairs = set(keep_pairs)
        rows = [r for r in rows if r.get("pair_id") in keep_pairs]
    print(f"{len(rows)} texts from {args.data}", file=sys.stderr)
    y = [int(r["label"] == "synthetic") for r in rows]
    domains = np.array([r.get("domain") or "unknown" for r in rows])
    generators = np.array(
        [r.get("generator") or ("human" if r["label"] == "human" else "unknown") for r in rows]
    )
    splits = np.array([split_of(r.get("pair_id"), args.seed, settings.split) for r in rows])
    corpus = Corpus.build([r["text"] for r in rows], y)
    train, cal, test = (np.flatnonzero(splits == s) for s in ("train", "cal", "test"))
    threshold = 0.5

    print("fitting the shipped model", file=sys.stderr)
    main_exp = Experiment(
        "in-domain", corpus, train, cal, test, domains, generators, settings, args.seed, quantize=True
    )
    fitted = main_exp.fitted
    yt, st = main_exp.y, main_exp.scores["combined"]
    in_domain = {
        "overall": _metrics(yt, st, threshold),
        "by_generator": group_metrics(
            yt, st, {g: np.isin(generators[test], [g, "human"]) for g in GENERATORS}, threshold
        ),
        "by_domain": group_metrics(yt, st, {d: domains[test] == d for d in sorted(set(domains))}, threshold),
    }

    # out-of-domain runs: every part of the model retrained without the held-out generator / domain
    logo, lodo, ood_runs = {}, {}, []
    if args.ood == "full":
        for g in GENERATORS:
            if g not in set(generators):
                continue
            keep = generators != g
            test_g = test[np.isin(generators[test], [g, "human"])]
            e = Experiment(
                f"without {g}",
                corpus,
                train[keep[train]],
                cal[keep[cal]],
                test_g,
                domains,
                generators,
                settings,
                args.seed,
            )
            logo[g] = _metrics(e.y, e.scores["combined"], threshold)
            ood_runs.append(e)
        lodo_exps = []
        for d in sorted(set(domains)):
            keep = domains != d
            e = Experiment(
                f"without {d}",
                corpus,
                train[keep[train]],
                cal[keep[cal]],
                np.flatnonzero(~keep),
                domains,
                generators,
                settings,
                args.seed,
            )
            lodo[d] = _metrics(e.y, e.scores["combined"], threshold)
            lodo_exps.append(e)
            ood_runs.append(e)
        pooled_y = np.concatenate([e.y for e in lodo_exps])
        pooled_s = np.concatenate([e.scores["combined"] for e in lodo_exps])
        worst = min(lodo, key=lambda d: lodo[d]["auroc"] if lodo[d]["auroc"] is not None else 1.0)
        lodo_summary = {
            "pooled": _metrics(pooled_y, pooled_s, threshold),
            "mean": {
                k: mean_of(list(lodo.values()), k)
                for k in ("auroc", "tpr_at_1pct_fpr", "ece", "ece_balanced")
            },
            "worst": {"domain": worst, **lodo[worst]},
            "by_domain": lodo,
        }
    else:
        lodo_summary = None

    # operating point for the population estimate
    op_in = {
        "tpr": in_domain["overall"]["tpr"],
        "fpr": in_domain["overall"]["fpr"],
        "n_pos": in_domain["overall"]["n_synthetic"],
        "n_neg": in_domain["overall"]["n_human"],
    }
    if ood_runs:
        oy = np.concatenate([e.y for e in ood_runs]).astype(bool)
        os_ = np.concatenate([e.scores["combined"] for e in ood_runs])
        op_ood = {
            "tpr": float((os_[oy] >= threshold).mean()),
            "fpr": float((os_[~oy] >= threshold).mean()),
            # distinct documents behind the pooled rates (the LOGO runs reuse the test humans)
            "n_pos": int(corpus.y.sum()),
            "n_neg": int(len(corpus.y) - corpus.y.sum()),
            "runs": len(ood_runs),
        }
    else:
        op_ood = dict(op_in, note="no out-of-domain evaluation run: in-domain rates")
    operating_point = {"threshold": threshold, "in_domain": op_in, "out_of_domain": op_ood}

    # variants and per-input contributions
    variants = {}
    for v in VARIANTS:
        variants[v] = {
            "in_domain": syn.auroc(main_exp.y, main_exp.scores[v]),
            "logo": mean_of([{"a": syn.auroc(e.y, e.scores[v])} for e in ood_runs[: len(logo)]], "a")
            if logo
            else None,
            "lodo": mean_of([{"a": syn.auroc(e.y, e.scores[v])} for e in ood_runs[len(logo) :]], "a")
            if lodo
            else None,
        }
    base_in = syn.auroc(main_exp.y, main_exp.scores["combined"])
    x_test = test_inputs(corpus, fitted, test)
    contributions_test = np.abs(fitted.standardizer(x_test) * fitted.coef).mean(axis=0)
    contributions = {}
    for j, name in enumerate(syn.INPUTS):
        drop_in = base_in - syn.auroc(main_exp.y, main_exp.scores[f"-{name}"])
        drop_ood = None
        if ood_runs:
            drop_ood = float(
                np.mean(
                    [
                        syn.auroc(e.y, e.scores["combined"]) - syn.auroc(e.y, e.scores[f"-{name}"])
                        for e in ood_runs
                    ]
                )
            )
        contributions[name] = {
            "coef": float(fitted.coef[j]),
            "mean_abs_contribution": float(contributions_test[j]),
            "drop_one_dauroc_in_domain": float(drop_in),
            "drop_one_dauroc_ood": drop_ood,
        }

    # write the model
    params = fitted.params(settings)
    params["operating_point"] = operating_point
    params["training"] = {
        "data": os.path.basename(args.data),
        "data_sha256": _sha256(args.data),
        "seed": args.seed,
        "texts": {"train": len(train), "cal": len(cal), "test": len(test)},
        "licence": "L2R data: CC BY 3.0 (Hao et al., ACL 2025); see SYNTHETIC_MODEL_CARD.md",
    }
    params["version"] = 1
    fitted.ft.save_model(str(out_dir / syn.FASTTEXT_FILE))
    (out_dir / syn.PARAMS_FILE).write_text(json.dumps(params, indent=1) + "\n", encoding="utf-8")

    # the written model must score exactly as the training code did
    scorer = syn.SyntheticScorer.load(out_dir)
    check = np.array(scorer.score_batch([rows[i]["text"] for i in test[:300]]), dtype=float)
    if not np.allclose(check, st[:300], atol=1e-5):
        raise RuntimeError(
            f"shipped scorer disagrees with training: max diff {np.abs(check - st[:300]).max():.2e}"
        )

    passages_texts = [rows[i]["text"] for i in test]
    long_texts = [
        "\n\n".join(rows[j]["text"] for j in test[k : k + 12]) for k in range(0, min(len(test), 1200), 12)
    ]
    speed = {
        "l2r_passages": measure_speed(scorer, passages_texts),
        "long_documents": {
            **measure_speed(scorer, long_texts),
            "chars": int(np.mean([len(t) for t in long_texts])),
        },
    }
    sizes = {f: (out_dir / f).stat().st_size for f in (syn.FASTTEXT_FILE, syn.PARAMS_FILE)}
    sizes["total"] = sum(sizes.values())
    metrics = {
        "trained": time.strftime("%Y-%m-%d"),
        "seed": args.seed,
        "data": {
            "file": os.path.basename(args.data),
            "sha256": params["training"]["data_sha256"],
            "train": len(train),
            "cal": len(cal),
            "test": len(test),
        },
        "settings": dataclasses.asdict(settings),
        "operating_point": operating_point,
        "in_domain": in_domain,
        "leave_one_generator_out": logo or None,
        "leave_one_domain_out": lodo_summary,
        "variants": variants,
        "contributions": contributions,
        "model_size_bytes": sizes,
        "speed": speed,
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
