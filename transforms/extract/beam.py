"""The extraction stage in Beam: (row, html bytes, charset header) per HTML response -> row with its text."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms import progress
from transforms.beam_util import dead_letter, stage_clock
from transforms.decide import as_config, thresholds_from_config
from transforms.extract import KIND_CASCADE, Extractor
from transforms.extract.cascade import extractor_kind
from transforms.extract.reuse import PayloadCache, SharedPayloadCache, extract_response
from transforms.heap import fix_mmap_threshold
from transforms.schema import STATUS_FAILED, failed


class ExtractTextFn(beam.DoFn):
    """(row, html bytes, charset header) -> row with text, title, published_date (or a failure).

    A payload already extracted by this worker, or by another worker of the machine through the files of
    `payload_dir` (same verified digest, see transforms/extract/reuse.py), reuses that result. Counters:
    extract/decided_by.<extractor>, extract/trafilatura_skipped.<rule>, extract/payload_reused (of which
    extract/payload_reused_shared read from the shared files: another worker's results, or this worker's
    after its memory let them go). `thresholds`: the config (``transforms.decide.read_thresholds``) whose URL
    rules and digest check the cascade applies before any extraction (used with the cascade only).
    """

    def __init__(
        self,
        extractor: str,
        time_limit_s: float | None,
        options: dict | None = None,
        thresholds: dict | None = None,
        payload_run: str | None = None,
    ):
        if thresholds is not None and not isinstance(thresholds, dict):
            raise TypeError("thresholds: the config of transforms.decide.read_thresholds, read once per run")
        self.kind = extractor
        self.time_limit_s = time_limit_s
        self.options = options
        self.config = thresholds
        self.payload_run = payload_run

    def setup(self):
        fix_mmap_threshold()  # on remote workers too, and in the extraction children they start
        kwargs = {"time_limit_s": self.time_limit_s} if self.time_limit_s else {}
        self.extractor = Extractor(self.kind, options=self.options, **kwargs)
        self.cache = PayloadCache()
        if self.payload_run:
            try:
                self.cache = SharedPayloadCache(payload_dir(self.payload_run))
            except OSError:  # no such directory can be made on this machine: reuse within this worker
                pass
        # the cascade decides pages the URL rules or a digest mismatch reject before any extraction
        self.thresholds = thresholds_from_config(self.config) if self.kind == KIND_CASCADE else None

    def process(self, element):
        row, body, charset_header = element
        if row.get("status") == STATUS_FAILED:
            yield row
            return
        try:
            with stage_clock("extract"):
                row = self.extract(row, body, charset_header)
        except Exception as exc:
            row = dead_letter(row, "extract", exc)
        progress.tick("extracted")
        yield row

    def extract(self, row, body, charset_header) -> dict:
        shared_before = getattr(self.cache, "shared_hits", 0)
        result, reused = extract_response(
            row, body, charset_header, self.extractor, self.cache, self.thresholds
        )
        if reused:
            Metrics.counter("extract", "payload_reused").inc()
            if getattr(self.cache, "shared_hits", 0) > shared_before:
                Metrics.counter("extract", "payload_reused_shared").inc()
        else:
            if result.extractor:
                Metrics.counter("extract", f"decided_by.{result.extractor}").inc()
            if result.skipped_by:
                Metrics.counter("extract", f"trafilatura_skipped.{result.skipped_by}").inc()
        if result.html_truncated:
            Metrics.counter("extract", "html_truncated").inc()
        if result.failure_reason:
            Metrics.counter("extract", result.failure_reason).inc()
            return failed(row, result.failure_reason, result.failure_detail)
        row.update(text=result.text or "", title=result.title, published_date=result.published_date)
        return row

    def teardown(self):
        self.extractor.close()


def payload_dir(run: str) -> str:
    """Where the workers of this machine share extraction results for one run (`SharedPayloadCache`)."""
    return os.path.join(tempfile.gettempdir(), f"pristine-payloads-{run}")


_PAYLOAD_DIRS: list[str] = []  # of the ExtractText transforms built in this process


@atexit.register
def remove_payload_dirs() -> None:
    """Remove the shared-result directories of the pipelines built in this process, once they have run."""
    while _PAYLOAD_DIRS:
        shutil.rmtree(_PAYLOAD_DIRS.pop(), ignore_errors=True)


class ExtractText(beam.PTransform):
    """(row, html bytes, charset header) per HTML response -> row with text, title and published_date, or
    failed (extract_timeout, ...). Failed rows pass through.

    `extractor`: trafilatura (default) or resiliparse; with `cascade` and trafilatura, the cheap first
    pass of the thresholds config's [cascade] table decides the pages it can reject
    (``transforms.extract.cascade``). `thresholds`: the config of ``transforms.decide.read_thresholds``
    (default: the packaged one)."""

    def __init__(
        self,
        extractor: str = "trafilatura",
        time_limit_s: float | None = None,
        cascade: bool = False,
        thresholds: dict | None = None,
    ):
        super().__init__()
        self.config = as_config(thresholds) if cascade else thresholds
        self.kind, self.options = extractor_kind(extractor, cascade, self.config)
        self.time_limit_s = time_limit_s
        # results shared by the workers of a machine, in the temporary directory of the machine each worker
        # runs on; removed by `remove_payload_dirs` after the run (cloud workers' disks go with them)
        self.payload_run = uuid.uuid4().hex
        _PAYLOAD_DIRS.append(payload_dir(self.payload_run))

    def expand(self, responses):
        extract = ExtractTextFn(self.kind, self.time_limit_s, self.options, self.config, self.payload_run)
        return responses | "extract" >> beam.ParDo(extract)
