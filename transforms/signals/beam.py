"""The signals stage in Beam: rows with text -> rows with language, quality and synthetic columns."""

from __future__ import annotations

import apache_beam as beam

from transforms import progress
from transforms.beam_util import dead_letter, stage_clock
from transforms.memo import TextMemo
from transforms.signals.score import Scorers, score_rows

SCORE_BATCH = 256  # rows per scoring call: language ID and the synthetic model run on batches


class ScoreBatchFn(beam.DoFn):
    """[row, ...] -> rows with language and quality columns (models loaded once per worker; a text is
    scored once per worker)."""

    def __init__(self, quality_model: str | None):
        self.quality_model = quality_model

    def setup(self):
        self.scorers = Scorers.load(self.quality_model)
        self.memo = TextMemo()  # a text seen again by this worker is not scored again

    def process(self, batch: list[dict]):
        try:
            with stage_clock("score"):  # language ID inside it is also timed on its own ("language")
                scored = score_rows(batch, self.scorers, clock=stage_clock, memo=self.memo)
            progress.tick("scored", len(batch))
            yield from scored
        except Exception:
            # find the row(s) that raise; the others are scored one by one
            for row in batch:
                try:
                    score_rows([row], self.scorers)
                    yield row
                except Exception as exc:
                    yield dead_letter(row, "score", exc)


class Score(beam.PTransform):
    """rows with text -> rows with language, quality and synthetic columns (quality_score with a model:
    the fastText file of `pristine train quality`). Failed rows pass through."""

    def __init__(self, quality_model: str | None = None):
        super().__init__()
        self.quality_model = quality_model

    def expand(self, rows):
        # row -> [row, ...]: the models score batches
        batches = rows | "batch" >> beam.BatchElements(min_batch_size=16, max_batch_size=SCORE_BATCH)
        return batches | "score" >> beam.ParDo(ScoreBatchFn(self.quality_model))
