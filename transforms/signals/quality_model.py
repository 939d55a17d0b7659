"""A fastText quality classifier: trained on your positives and negatives, scored into `quality_score`.

`pristine train quality --positive A --negative B --output model.bin` trains it (`pipeline.train.quality`,
DCLM and FineWeb-Edu style: a bigram fastText classifier); `pristine run --quality-model model.bin` scores
every document with P(positive) in [0, 1].

Warning: a quality model learns the style of its positives. Trained on AI-written or AI-rewritten
"high quality" examples (as several open recipes are), it rewards synthetic style, the opposite of what
pristine is for. Use human-written positives, and keep `quality_score` and `synthetic_score` as separate
columns: pristine never feeds one into the other.
"""

from __future__ import annotations

import re

POSITIVE = "__label__hq"
NEGATIVE = "__label__lq"
MAX_CHARS = 20_000  # fastText sees one line; longer documents add little and cost time

_SPACE = re.compile(r"\s+")


def to_line(text: str) -> str:
    """One fastText input line: lower-cased, whitespace collapsed, cut to MAX_CHARS."""
    return _SPACE.sub(" ", (text or "")[:MAX_CHARS].lower()).strip()


class QualityModel:
    """P(positive) for texts, from a model trained by `pipeline.train.quality.train_quality_model`."""

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
