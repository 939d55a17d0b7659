"""pristine's stages as composable Beam PTransforms, for pipelines of your own (and the pure functions below them).

    import apache_beam as beam
    from pipeline import api

    with beam.Pipeline() as p:
        rows = p | beam.Create(["a.warc.gz"]) | api.ReadWarc() | api.Score() | api.Deduplicate() | api.Decide()
        rows | api.WriteDocuments("out/mine")

Every stage takes and gives rows: dicts with the columns of `transforms.schema.SCHEMA` (`new_row`). Rows that
fail a stage become ``status="failed"`` rows with a ``failure_reason``; later stages pass them through.

PTransforms (transforms/<stage>/beam.py)   pure functions (no Beam) they wrap
  ReadWarc      paths -> rows with text   transforms.read.iter_records, transforms.extract.Extractor
  Score         rows -> signal columns    transforms.signals.score_rows (language, quality, synthetic)
  Deduplicate   rows -> dedup columns     transforms.dedup (minhash, lsh_params, ...)
  Decide        rows -> keep / reject     transforms.decide.decide, read_thresholds
  WriteDocuments rows -> Parquet          transforms.sink.partition_of, transforms.sink.beam.write_partition_file
`pipeline.graph.build` chains the same stages, plus the synthetic-share estimates
(`transforms.synthetic.beam.EstimateSyntheticShare`, which `Decide` takes for its content-farm rule) and
stats.json.
"""

from __future__ import annotations

import apache_beam as beam

from transforms.decide.beam import Decide
from transforms.dedup import DedupConfig, Deduplicate
from transforms.extract.beam import ExtractText
from transforms.read.beam import ReadHtmlResponses
from transforms.signals.beam import Score
from transforms.sink.beam import WriteDocuments

__all__ = ["DedupConfig", "Decide", "Deduplicate", "ReadWarc", "Score", "WriteDocuments"]


class ReadWarc(beam.PTransform):
    """WARC/ARC paths (or globs) -> one row per HTML response, with its extracted text (or failed), plus
    one failed row per unreadable record or file. `extract_processes`: extraction child processes per
    worker (2 keeps two cores busy with the local runner's one in-memory worker; `pristine run`'s
    --extract-processes)."""

    def __init__(
        self,
        crawl: str | None = None,
        extractor: str = "trafilatura",
        time_limit_s: float | None = None,
        extract_processes: int = 1,
    ):
        super().__init__()
        self.crawl, self.extractor, self.time_limit_s = crawl, extractor, time_limit_s
        self.extract_processes = extract_processes

    def expand(self, patterns):
        responses, _ = patterns | "read warc" >> ReadHtmlResponses(self.crawl)
        extract = ExtractText(self.extractor, self.time_limit_s, children=self.extract_processes)
        return responses | "extract text" >> extract
