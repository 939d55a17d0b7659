"""Every per-document signal in one call: language, heuristic quality, model quality, synthetic likelihood.

Used by the pipeline's scoring stage and by `pristine score` alike, so a column means the same thing
wherever it was computed. Rows are dicts with a `text` key; failed rows (`status == "failed"`) are left
alone.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING

from transforms.schema import STATUS_FAILED
from transforms.signals import langid, quality
from transforms.signals.quality_model import QualityModel

if TYPE_CHECKING:  # the synthetic scorer imports the quality module's words: load it when scoring
    from transforms.synthetic import SyntheticScorer


@dataclass
class Scorers:
    lid: object
    synthetic: SyntheticScorer
    quality_model: QualityModel | None = None

    @classmethod
    def load(cls, quality_model_path: str | None = None) -> Scorers:
        from transforms.synthetic import shipped_scorer

        return cls(
            lid=langid.load_model(),
            synthetic=shipped_scorer(),
            quality_model=QualityModel.load(quality_model_path) if quality_model_path else None,
        )


def score_rows(rows: list[dict], scorers: Scorers, clock=None) -> list[dict]:
    """Add the signal columns to each row with text (in place); returns `rows`. `clock(stage)`: a context
    manager timing the language-ID part (the pipeline's stage clock)."""
    todo = [r for r in rows if r.get("status") != STATUS_FAILED]
    texts = [r.get("text") for r in todo]
    for row, text in zip(todo, texts, strict=True):
        if not isinstance(text, str):
            raise TypeError(f"row {row.get('id')!r}: text is {type(text).__name__}, not str")
    with clock("language") if clock else nullcontext():
        identified = langid.identify(scorers.lid, texts)
    for row, (lang, score) in zip(todo, identified, strict=True):
        row.update(lang=lang, lang_score=score)
        row.update(quality.quality_signals(row["text"], lang))
    langs = [r["lang"] for r in todo]
    for row, columns in zip(todo, scorers.synthetic.columns_batch(texts, langs), strict=True):
        row.update(columns)
    if scorers.quality_model is not None:
        for row, score in zip(todo, scorers.quality_model.score(texts), strict=True):
            row["quality_score"] = score
    return rows
