"""pristine's stages as composable Beam PTransforms, for pipelines of your own (and the pure functions below them).

    import apache_beam as beam
    from pipeline import api

    with beam.Pipeline() as p:
        rows = p | beam.Create(["a.warc.gz"]) | api.ReadWarc() | api.Score() | api.Deduplicate() | api.Decide()
        rows | api.WriteDocuments("out/mine")

Every stage takes and gives rows: dicts with the columns of `transforms.schema.SCHEMA` (`new_row`). Rows that
fail a stage become ``status="failed"`` rows with a ``failure_reason``; later stages pass them through.

PTransforms                              pure functions (no Beam) they wrap
  ReadWarc      paths -> rows with text   transforms.read.iter_records, transforms.extract.Extractor
  Score         rows -> signal columns    transforms.signals.score_rows (language, quality, synthetic)
  Deduplicate   rows -> dedup columns     transforms.dedup (minhash, lsh_params, ...)
  Decide        rows -> keep / reject     transforms.decide.decide, load_thresholds
  WriteDocuments rows -> Parquet          transforms.sink.partition_of, write_partition_file
`pipeline.graph.build` chains the same stages, plus the synthetic-share estimates and stats.json.
"""

from __future__ import annotations

import apache_beam as beam

from pipeline import graph
from transforms.dedup import DedupConfig, Deduplicate
from transforms.read.beam import ReadHtmlResponses
from transforms.sink import WriteDocuments

__all__ = ["DedupConfig", "Decide", "Deduplicate", "ReadWarc", "Score", "WriteDocuments"]


class ReadWarc(beam.PTransform):
    """WARC/ARC paths (or globs) -> one row per HTML response, with its extracted text (or failed), plus
    one failed row per unreadable record or file."""

    def __init__(
        self, crawl: str | None = None, extractor: str = "trafilatura", time_limit_s: float | None = None
    ):
        super().__init__()
        self.crawl, self.extractor, self.time_limit_s = crawl, extractor, time_limit_s

    def expand(self, patterns):
        responses, _ = patterns | "read warc" >> ReadHtmlResponses(self.crawl)
        return responses | "extract text" >> beam.ParDo(graph.ExtractText(self.extractor, self.time_limit_s))


class Score(beam.PTransform):
    """rows with text -> rows with language, quality and synthetic columns (quality_score with a model)."""

    def __init__(self, quality_model: str | None = None):
        super().__init__()
        self.quality_model = quality_model

    def expand(self, rows):
        return (
            rows
            | "batch" >> beam.BatchElements(min_batch_size=16, max_batch_size=graph.SCORE_BATCH)
            | "score" >> beam.ParDo(graph.ScoreDocuments(self.quality_model))
        )


class Decide(beam.PTransform):
    """scored rows -> status kept / rejected (reject_reason, failed_rules) by a thresholds config (default:
    the packaged one). Content-farm verdicts need the synthetic-share estimates: `graph.EstimateAndDecide`."""

    def __init__(self, thresholds: str | None = None):
        super().__init__()
        self.thresholds = thresholds

    def expand(self, rows):
        return rows | "decide" >> beam.ParDo(graph.Decide(self.thresholds), farms={})
