"""Size and held-out quality of `pristine train quality` models, per setting, on the shared data.

    .venv/bin/python -m bench.quality_model_bench

Positives: the AEB ground-truth article bodies (human-written); negatives: the SERP pages of
warc-samples/serp-archive-query-log (extracted with resiliparse). 75% train / 25% held out, seed 0. For each
(dim, bucket) setting: model file size, held-out AUROC, and the spread of the held-out scores. Numbers only.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from pathlib import Path

from pipeline.train.quality import TrainSettings, train_quality_model
from transforms.extract import extract_resiliparse
from transforms.read import decode_html, iter_records
from transforms.signals.quality_model import QualityModel

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def texts() -> tuple[list[str], list[str]]:
    truth = json.loads((SHARED / "html-extraction-scrapinghub-aeb" / "ground-truth.json").read_text())
    good = [v["articleBody"] for _, v in sorted(truth.items())]
    bad = []
    for path in sorted((SHARED / "warc-samples" / "serp-archive-query-log").glob("*.warc.gz")):
        for rec in iter_records(str(path)):
            if rec.is_html and not rec.failure_reason:
                text = extract_resiliparse(decode_html(rec.body, rec.charset_header)[0]).text
                if text and len(text.split()) > 20:
                    bad.append(text)
    return good, bad


# (epoch, lr, dim, bucket): the former default (5, 0.1, 64, 200k) first
SETTINGS = (
    (5, 0.1, 64, 200_000),
    (5, 0.1, 16, 50_000),
    (5, 0.5, 16, 50_000),
    (5, 1.0, 16, 50_000),
    (10, 0.5, 16, 50_000),
    (5, 0.5, 16, 20_000),
)


def auroc(pos: list[float], neg: list[float]) -> float:
    pairs = [(p, n) for p in pos for n in neg]
    return sum((p > n) + 0.5 * (p == n) for p, n in pairs) / len(pairs)


def main() -> None:
    good, bad = texts()
    rng = random.Random(0)
    rng.shuffle(good)
    rng.shuffle(bad)
    cg, cb = int(len(good) * 0.75), int(len(bad) * 0.75)
    print(f"train {cg} positives / {cb} negatives, held out {len(good) - cg} / {len(bad) - cb}")
    print(f"{'epoch':>5} {'lr':>4} {'dim':>4} {'bucket':>8} {'MB':>7} {'AUROC':>6} {'score min-max':>16}")
    with tempfile.TemporaryDirectory() as tmp:
        for epoch, lr, dim, bucket in SETTINGS:
            path = os.path.join(tmp, "m.bin")
            settings = TrainSettings(epoch=epoch, lr=lr, dim=dim, bucket=bucket)
            train_quality_model(good[:cg], bad[:cb], path, settings)
            model = QualityModel.load(path)
            pos, neg = model.score(good[cg:]), model.score(bad[cb:])
            scores = [s for s in pos + neg if s is not None]
            size = os.path.getsize(path) / 1e6
            print(
                f"{epoch:>5} {lr:>4} {dim:>4} {bucket:>8} {size:>7.1f} {auroc(pos, neg):>6.3f} "
                f"{min(scores):>7.4f}-{max(scores):.4f}"
            )


if __name__ == "__main__":
    main()
