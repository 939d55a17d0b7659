"""Training the quality classifier of `pristine train quality` (scored at run time by `transforms.signals.quality_model`).

A bigram fastText classifier of positives against negatives (DCLM and FineWeb-Edu style), with a held-out
share to report accuracy, precision, recall and the spread of held-out scores.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

from pipeline.train.fasttext import train_supervised
from transforms.signals.quality_model import NEGATIVE, POSITIVE, QualityModel, to_line


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
    if not positives or not negatives:
        raise ValueError("training a quality model needs at least one positive and one negative text")
    examples = [(POSITIVE, t) for t in positives] + [(NEGATIVE, t) for t in negatives]
    examples = [(label, to_line(t)) for label, t in examples if to_line(t)]
    random.Random(settings.seed).shuffle(examples)
    n_test = int(len(examples) * settings.holdout)
    test, train = examples[:n_test], examples[n_test:]
    model = train_supervised(
        [f"{label} {line}" for label, line in train],
        settings.seed,
        epoch=settings.epoch,
        lr=settings.lr,
        dim=settings.dim,
        wordNgrams=settings.word_ngrams,
        minCount=settings.min_count,
        bucket=settings.bucket,
    )
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
