"""Fitting the synthetic-text model: fastText on prose, the logistic combiner on out-of-fold margins, the
isotonic calibrator and the flag threshold (module docstring of ``pipeline.train.synthetic``)."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass

import numpy as np

from pipeline.train.fasttext import train_supervised
from pipeline.train.synthetic.data import GENERATORS, Docs, Settings, unit_hash
from transforms import synthetic as syn


def train_fasttext(docs: Docs, idx: np.ndarray, settings: Settings, seed: int, quantize: bool):
    """A fastText classifier on the prose of documents `idx` -> (model, synthetic minus human direction)."""
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
    model = train_supervised(
        lines,
        seed,
        dim=settings.dim,
        wordNgrams=settings.word_ngrams,
        bucket=settings.bucket,
        epoch=settings.epoch,
        lr=settings.lr,
        minCount=settings.min_count,
        minn=0,
        maxn=0,
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
    fold_of = np.array([int(unit_hash(f"{seed}:fold:{f}") * settings.ood_folds) for f in docs.fold[train]])
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
