"""Every per-document signal in one call: language, heuristic quality, model quality, synthetic likelihood.

Used by the pipeline's scoring stage and by `pristine score` alike, so a column means the same thing
wherever it was computed. Rows are dicts with a `text` key; failed rows (`status == "failed"`) are left
alone.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING

from transforms.memo import TextMemo, once_per_text
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


def score_rows(rows: list[dict], scorers: Scorers, clock=None, memo: TextMemo | None = None) -> list[dict]:
    """Add the signal columns to each row with text (in place); returns `rows`. `clock(stage)`: a context
    manager timing the language-ID part (the pipeline's stage clock). A text is scored once: repeated
    texts in `rows`, and with `memo` texts scored in earlier calls, get the columns computed before (every
    column is a function of the text alone)."""
    todo = [r for r in rows if r.get("status") != STATUS_FAILED]
    texts = [r.get("text") for r in todo]
    for row, text in zip(todo, texts, strict=True):
        if not isinstance(text, str):
            raise TypeError(f"row {row.get('id')!r}: text is {type(text).__name__}, not str")
    columns = once_per_text(texts, lambda batch: _text_columns(batch, scorers, clock), memo)
    for row, text_columns in zip(todo, columns, strict=True):
        row.update(text_columns)
    return rows


def _text_columns(texts: list[str], scorers: Scorers, clock=None) -> list[dict]:
    """The signal columns of each text: language, heuristic quality, synthetic, model quality."""
    with clock("language") if clock else nullcontext():
        identified = langid.identify(scorers.lid, texts) if texts else []
    out = []
    for text, (lang, score) in zip(texts, identified, strict=True):
        out.append({"lang": lang, "lang_score": score, **quality.quality_signals(text, lang)})
    langs = [c["lang"] for c in out]
    for columns, synthetic in zip(out, scorers.synthetic.columns_batch(texts, langs), strict=True):
        columns.update(synthetic)
    if scorers.quality_model is not None:
        for columns, score in zip(out, scorers.quality_model.score(texts), strict=True):
            columns["quality_score"] = score
    return out
