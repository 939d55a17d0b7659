"""A fastText quality classifier: trained on your positives and negatives, scored into `quality_score`.

`pristine train quality --positive A --negative B --output model.bin` trains it (DCLM and FineWeb-Edu
style: a bigram fastText classifier); `pristine run --quality-model model.bin` scores every document with
P(positive) in [0, 1].

Warning: a quality model learns the style of its positives. Trained on AI-written or AI-rewritten
"high quality" examples (as several open recipes are), it rewards synthetic style, the opposite of what
pristine is for. Use human-written positives, and keep `quality_score` and `synthetic_score` as separate
columns: pristine never feeds one into the other.
"""

from __future__ import annotations

import os
import random
import re
import tempfile
from dataclasses import dataclass

POSITIVE = "__label__hq"
NEGATIVE = "__label__lq"
MAX_CHARS = 20_000  # fastText sees one line; longer documents add little and cost time

_SPACE = re.compile(r"\s+")


def to_line(text: str) -> str:
    """One fastText input line: lower-cased, whitespace collapsed, cut to MAX_CHARS."""
    return _SPACE.sub(" ", (text or "")[:MAX_CHARS].lower()).strip()


@dataclass(frozen=True)
class TrainSettings:
    """Defaults measured by `python -m bench.quality_model_bench` (AEB article bodies vs SERP pages, 25% held
    out): the former lr 0.1, dim 64, bucket 200k gave a 53.9 MB model whose held-out scores all lay in
    0.4999-0.5001 (AUROC 0.958); lr 1.0, dim 16, bucket 50k give 4.0 MB, scores 0.0005-0.97, AUROC 0.980."""

    epoch: int = 5
    lr: float = 1.0
    dim: int = 16
    word_ngrams: int = 2
    min_count: int = 2
    bucket: int = 50_000  # bigram hash buckets: the model is ~bucket x dim x 4 bytes (fastText's 2 M: 0.8 GB)
    seed: int = 0
    holdout: float = 0.1


MIN_SCORE_SPREAD = 0.2  # held-out scores closer together than this: the model barely separates the classes


def train_quality_model(
    positives: list[str], negatives: list[str], output: str, settings=TrainSettings()
) -> dict:
    """Train, save to `output`, and return held-out accuracy / precision / recall and counts."""
    import fasttext

    if not positives or not negatives:
        raise ValueError("training a quality model needs at least one positive and one negative text")
    examples = [(POSITIVE, t) for t in positives] + [(NEGATIVE, t) for t in negatives]
    examples = [(label, to_line(t)) for label, t in examples if to_line(t)]
    random.Random(settings.seed).shuffle(examples)
    n_test = int(len(examples) * settings.holdout)
    test, train = examples[:n_test], examples[n_test:]
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        for label, line in train:
            f.write(f"{label} {line}\n")
        train_path = f.name
    try:
        model = fasttext.train_supervised(
            train_path,
            epoch=settings.epoch,
            lr=settings.lr,
            dim=settings.dim,
            wordNgrams=settings.word_ngrams,
            minCount=settings.min_count,
            bucket=settings.bucket,
            seed=settings.seed,
            thread=1,  # one thread: the same data and seed give the same model
            verbose=0,
        )
    finally:
        os.unlink(train_path)
    model.save_model(output)
    metrics = {
        "train": len(train),
        "test": len(test),
        "positives": len(positives),
        "negatives": len(negatives),
    }
    if test:
        scores = QualityModel(model).score_lines([line for _, line in test])
        predicted = [s >= 0.5 for s in scores]
        actual = [label == POSITIVE for label, _ in test]
        tp = sum(p and a for p, a in zip(predicted, actual, strict=True))
        metrics["accuracy"] = sum(p == a for p, a in zip(predicted, actual, strict=True)) / len(test)
        metrics["precision"] = tp / max(1, sum(predicted))
        metrics["recall"] = tp / max(1, sum(actual))
        metrics["score_min"], metrics["score_max"] = min(scores), max(scores)
    metrics["model_mb"] = round(os.path.getsize(output) / 1e6, 1)
    warning = degenerate(metrics)
    if warning:
        metrics["warning"] = warning
    return metrics


def degenerate(metrics: dict) -> str | None:
    """Why a trained model cannot be trusted (no held-out texts, or scores bunched together), else None."""
    if not metrics.get("test"):
        return "no held-out texts to check the model on: give more examples"
    low, high = metrics["score_min"], metrics["score_max"]
    if high - low < MIN_SCORE_SPREAD:
        return (
            f"every held-out score lies in {low:.4f}-{high:.4f}: the model barely separates positives from "
            "negatives, whatever its accuracy; give more examples, or more --epoch / a higher --lr"
        )
    return None


class QualityModel:
    """P(positive) for texts, from a model trained by `train_quality_model`."""

    def __init__(self, model):
        self.model = model
        labels = set(model.get_labels())
        if labels != {POSITIVE, NEGATIVE}:
            raise ValueError(f"not a pristine quality model: labels {sorted(labels)}")

    @classmethod
    def load(cls, path: str) -> QualityModel:
        from transforms.signals.langid import load_model

        return cls(load_model(path))

    def score_lines(self, lines: list[str]) -> list[float]:
        labels, probs = self.model.predict(lines, k=2)
        out = []
        for labs, ps in zip(labels, probs, strict=True):
            p = dict(zip(labs, ps, strict=True)).get(POSITIVE, 0.0)
            out.append(min(1.0, max(0.0, float(p))))
        return out

    def score(self, texts: list[str]) -> list[float | None]:
        """P(positive) per text; None for a text with no words."""
        lines = [to_line(t) for t in texts]
        todo = [i for i, line in enumerate(lines) if line]
        out: list[float | None] = [None] * len(lines)
        for i, s in zip(todo, self.score_lines([lines[i] for i in todo]), strict=True):
            out[i] = s
        return out
