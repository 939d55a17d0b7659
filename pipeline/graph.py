"""build(pipeline, options): the whole job, top to bottom.

WARC paths -> byte ranges -> reshuffle -> records + extract (one step) -> score (language, quality, synthetic) -> dedup -> decide -> Parquet
               |                                  |-> synthetic share per domain ---^ (content farms)
               |                                  '-> synthetic_by_domain.parquet, stats.json
               '-> per-file record counts ------------------------------------------------> stats.json
"""

from __future__ import annotations

import json
import logging
import posixpath
import time
from contextlib import contextmanager

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from pipeline import progress, provenance
from pipeline.corpus import repair_utf8
from pipeline.options import PristineOptions
from pipeline.stats import (
    UNREADABLE_INPUTS,
    UNREADABLE_LISTED,
    MergeCounts,
    read_stats,
    row_counts,
    write_recurated_stats,
    write_stats,
)
from transforms import httpfs, signals, synthetic, warc
from transforms.decide import decide, load_thresholds
from transforms.dedup import DedupConfig, Deduplicate
from transforms.extract import KIND_CASCADE, KIND_TRAFILATURA, Extractor
from transforms.extract.cascade import load_cascade
from transforms.extract.reuse import PayloadCache, extract_response
from transforms.schema import STATUS_FAILED, document_id, domain_of, new_row
from transforms.sink import WriteDocuments, partition_values
from transforms.synthetic import beam as synthetic_beam

SCORE_BATCH = 256
DEDUP_INDEX = "dedup_index"  # this run's MinHash signature index, for --dedup-against in later runs
assert httpfs  # imported for its side effect: http(s):// inputs on every worker


def response_row(rec: warc.Record, crawl: str | None) -> dict:
    """The provenance columns of an HTML response record."""
    return new_row(
        id=document_id(posixpath.basename(rec.warc_filename), rec.warc_record_id, rec.warc_offset),
        url=rec.url,
        domain=domain_of(rec.url),
        crawl=crawl or rec.crawl,
        fetch_date=rec.fetch_date,
        warc_filename=rec.warc_filename,
        warc_offset=rec.warc_offset,
        warc_record_id=rec.warc_record_id,
        payload_digest=rec.payload_digest,
        digest_verified=rec.digest_verified,
        http_status=rec.http_status,
        content_type=rec.content_type,
        html_bytes=len(rec.body) if rec.body is not None else None,
    )


def unreadable_row(rec: warc.Record, crawl: str | None) -> dict:
    """The failed row of an unreadable record or file (`warc.unreadable_input`): provenance and the reason."""
    row = response_row(rec, crawl)
    row["id"] = document_id(
        posixpath.basename(rec.warc_filename), rec.warc_record_id, rec.warc_offset, "unreadable"
    )
    row["html_bytes"] = None
    return failed(row, rec.failure_reason, rec.failure_detail)


def failed(row: dict, reason: str, detail: str | None) -> dict:
    row.update(status=STATUS_FAILED, failure_reason=reason, failure_detail=(detail or "")[:1000] or None)
    return row


def dead_letter(row: dict, stage: str, exc: BaseException) -> dict:
    """A row whose stage raised: failed as '<stage>_error' with the error, instead of failing the job."""
    Metrics.counter("dead_letter", stage).inc()
    logging.getLogger(__name__).warning(
        "%s failed on %s @ %s: %r", stage, row.get("warc_filename"), row.get("warc_offset"), exc
    )
    return failed(row, f"{stage}_error", f"{type(exc).__name__}: {exc}")


STAGE_TIME = "stage_microseconds"  # Beam counter namespace: wall time per stage, summed over workers


@contextmanager
def stage_clock(stage: str):
    start = time.perf_counter()
    try:
        yield
    finally:
        Metrics.counter(STAGE_TIME, stage).inc(int((time.perf_counter() - start) * 1e6))


def byte_ranges(metadata) -> list[tuple[str, int, int | None]]:
    """A matched file -> (path, start, end) ranges read independently (warc.split_ranges); the last range
    ends at None (the end of the file), so its reader knows the file is done."""
    ranges = warc.split_ranges(metadata.path, metadata.size_in_bytes)
    ranges[-1] = (ranges[-1][0], None)
    return [(metadata.path, start, end) for start, end in ranges]


class ReadWarcFile(beam.DoFn):
    """(path, start, end) byte range of a file -> (row, html bytes, charset header) per HTML response whose
    record starts in the range; record counts on 'counts' (files_read from the range at offset 0)."""

    COUNTS = "counts"

    def __init__(self, crawl: str | None):
        self.crawl = crawl

    def process(self, split: tuple[str, int, int | None]):
        path, start, end = split
        counts: dict[str, int] = {}
        records = warc.iter_records_in_range(path, start, end)
        while True:
            with stage_clock("read"):
                rec = next(records, None)
            if rec is None:
                break
            key = f"records_read.{rec.record_type}"
            counts[key] = counts.get(key, 0) + 1
            unreadable = warc.unreadable_input(rec)
            if unreadable:  # named: a failed row (file, offset, reason, detail) and a line in the summary
                key = f"unreadable.{rec.failure_reason}"
                counts[key] = counts.get(key, 0) + 1
                listed = counts.setdefault(UNREADABLE_INPUTS, [])
                if len(listed) < UNREADABLE_LISTED:
                    listed.append(unreadable)
                yield unreadable_row(rec, self.crawl), None, None
            if not rec.is_html:
                continue
            counts["html_responses"] = counts.get("html_responses", 0) + 1
            progress.tick("html")
            row = response_row(rec, self.crawl)
            if rec.failure_reason:
                yield failed(row, rec.failure_reason, rec.failure_detail), None, None
            else:
                yield row, rec.body, rec.charset_header
        for key, n in counts.items():
            if key != UNREADABLE_INPUTS:
                Metrics.counter("read", key).inc(n)
        if start == 0:
            counts["files_read"] = 1
        if end is None:  # the file's last range
            progress.tick("files", flush=True)
        yield beam.pvalue.TaggedOutput(self.COUNTS, counts)


def extractor_kind(opts: PristineOptions) -> tuple[str, dict | None]:
    """(Extractor kind, options): the cascade unless --no-cascade, another extractor, or no [cascade] rule."""
    if opts.extractor != KIND_TRAFILATURA or not opts.cascade:
        return opts.extractor, None
    cascade = load_cascade(opts.thresholds, load_thresholds(opts.thresholds))
    return (KIND_CASCADE, cascade.to_json()) if cascade.enabled else (opts.extractor, None)


class ExtractText(beam.DoFn):
    """(row, html bytes, charset header) -> row with text, title, published_date (or a failure).

    A payload already extracted by this worker (same verified digest, see transforms/extract/reuse.py)
    reuses that result. Counters: extract/decided_by.<extractor>, extract/trafilatura_skipped.<rule>,
    extract/payload_reused.
    """

    def __init__(
        self,
        extractor: str,
        time_limit_s: float | None,
        options: dict | None = None,
        thresholds_path: str | None = None,
    ):
        self.kind = extractor
        self.time_limit_s = time_limit_s
        self.options = options
        self.thresholds_path = thresholds_path

    def setup(self):
        kwargs = {"time_limit_s": self.time_limit_s} if self.time_limit_s else {}
        self.extractor = Extractor(self.kind, options=self.options, **kwargs)
        self.cache = PayloadCache()
        # the cascade decides pages the URL rules or a digest mismatch reject before any extraction
        self.thresholds = load_thresholds(self.thresholds_path) if self.kind == KIND_CASCADE else None

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
        result, reused = extract_response(
            row, body, charset_header, self.extractor, self.cache, self.thresholds
        )
        if reused:
            Metrics.counter("extract", "payload_reused").inc()
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


class ScoreDocuments(beam.DoFn):
    """[row, ...] -> rows with language and quality columns (models loaded once per worker)."""

    def __init__(self, quality_model: str | None):
        self.quality_model = quality_model

    def setup(self):
        self.scorers = signals.Scorers.load(self.quality_model)

    def process(self, batch: list[dict]):
        try:
            with stage_clock("score"):  # language ID inside it is also timed on its own ("language")
                scored = signals.score_rows(batch, self.scorers, clock=stage_clock)
            progress.tick("scored", len(batch))
            yield from scored
        except Exception:
            # find the row(s) that raise; the others are scored one by one
            for row in batch:
                try:
                    signals.score_rows([row], self.scorers)
                    yield row
                except Exception as exc:
                    yield dead_letter(row, "score", exc)


class Decide(beam.DoFn):
    """row -> row with status / reject_reason; side input: the (crawl, domain) pairs judged content farms."""

    def __init__(self, thresholds_path: str | None):
        self.thresholds_path = thresholds_path

    def setup(self):
        self.thresholds = load_thresholds(self.thresholds_path)

    def process(self, row, farms):
        row = dict(row)  # the scored row also feeds the synthetic-share estimate: never mutate an input
        try:
            with stage_clock("decide"):
                if row.get("status") != STATUS_FAILED:
                    row["synthetic_domain"] = (row.get("crawl"), row.get("domain")) in farms
                row = decide(row, self.thresholds)
        except Exception as exc:
            row = dead_letter(dict(row), "decide", exc)
        reason = row.get("reject_reason") or row.get("failure_reason")
        Metrics.counter("decide", f"{row['status']}.{reason}" if reason else row["status"]).inc()
        yield row


DOMAIN_ESTIMATES_SCHEMA = synthetic.DOMAIN_ESTIMATES_SCHEMA


class EstimateAndDecide(beam.PTransform):
    """scored rows -> (decided rows, synthetic-share estimates per crawl, per cohort); per domain: a file.

    The per-domain estimates come first because the content-farm rule needs them: every row of a (crawl,
    domain) whose estimated synthetic share is confidently above [synthetic] domain_max_share gets
    synthetic_domain=True. `reference`: synthetic_by_domain files of earlier runs or snapshots, the human
    baseline of the estimates (``synthetic_beam.EstimateSyntheticShare``).
    """

    def __init__(self, thresholds_path: str | None, output_dir: str, reference: list[str] | None = None):
        super().__init__()
        self.thresholds_path = thresholds_path
        self.output_dir = output_dir
        self.reference = reference or []

    def expand(self, scored):
        th = load_thresholds(self.thresholds_path)
        max_share, min_docs = th.synthetic_domain_max_share, th.synthetic_domain_min_docs
        # rows -> {"domain": per (crawl, domain), "crawl": per crawl, "cohort": per cohort}
        estimates = scored | "estimate synthetic share" >> synthetic_beam.EstimateSyntheticShare(
            self.thresholds_path, self.reference
        )
        # estimate -> ((crawl, domain), True) for content farms only: a small side input
        farms = (
            estimates["domain"]
            | "content farms"
            >> beam.Filter(synthetic.is_content_farm, max_share=max_share, min_docs=min_docs)
            | "farm keys" >> beam.Map(lambda r: ((r["crawl"], r["domain"]), True))
        )
        decided = scored | "decide" >> beam.ParDo(
            Decide(self.thresholds_path), farms=beam.pvalue.AsDict(farms)
        )
        _ = (
            estimates["domain"]
            | "estimate columns" >> beam.Map(lambda r: {k: r.get(k) for k in DOMAIN_ESTIMATES_SCHEMA.names})
            | "write synthetic_by_domain"
            >> beam.io.WriteToParquet(
                FileSystems.join(self.output_dir, "synthetic_by_domain"),
                DOMAIN_ESTIMATES_SCHEMA,
                file_name_suffix=".parquet",
                num_shards=1,
                shard_name_template="",
                codec="zstd",
            )
        )
        return decided, estimates["crawl"], estimates["cohort"]


def text_document_row(record: dict, source: str, crawl: str | None) -> dict:
    """A JSONL/Parquet document (fields text, optional id, url, crawl) -> a row ready for language ID."""
    # JSON may carry lone UTF-16 surrogates ("\\ud800"), which no UTF-8 coder or Parquet file accepts
    text, doc_id, url, record_crawl = (repair_utf8(record.get(k)) for k in ("text", "id", "url", "crawl"))
    url = str(url) if url is not None else None
    row = new_row(
        id=str(doc_id)
        if doc_id is not None
        else document_id(source, text if isinstance(text, str) else None),
        url=url,
        domain=domain_of(url),
        crawl=crawl or (str(record_crawl) if record_crawl is not None else None),
        warc_filename=source,
        extractor="none",
    )
    if not isinstance(text, str):
        return failed(row, "missing_text", f"field 'text' is {type(text).__name__}, not a string")
    row["text"] = text
    return row


def parse_json_line(item: tuple[str, str], crawl: str | None) -> dict:
    path, line = item
    try:
        record = json.loads(line)
        if not isinstance(record, dict):
            raise ValueError(f"a JSON {type(record).__name__}, not an object")
    except ValueError as exc:
        # json's "line 1 column N" is within this one line, not the file: say the column only
        detail = (
            f"{exc.msg} (column {exc.colno} of the line)"
            if isinstance(exc, json.JSONDecodeError)
            else str(exc)
        )
        return failed(
            new_row(id=document_id(path, line), crawl=crawl, warc_filename=path),
            "bad_json",
            f"not JSON: {detail}",
        )
    return text_document_row(record, path, crawl)


def read_documents(p, opts: PristineOptions):
    """The input stage: rows waiting for language ID, and per-file counts for stats.json."""
    patterns = p | "input patterns" >> beam.Create(opts.input)
    if opts.input_format == "warc":
        # (path, start, end) -> (row, html, charset header) per HTML response, plus per-range counts
        kind, options = extractor_kind(opts)
        read = (
            patterns
            | "match files" >> fileio.MatchAll()
            | "byte ranges" >> beam.FlatMap(byte_ranges)
            # spread byte ranges over workers (parallelism not tied to the number of files); reading and
            # extraction are then one fused step, so no HTML ever goes through a shuffle
            | "spread byte ranges" >> beam.Reshuffle()
            | "read warc"
            >> beam.ParDo(ReadWarcFile(opts.crawl)).with_outputs(ReadWarcFile.COUNTS, main="responses")
        )
        rows = read.responses | "extract text" >> beam.ParDo(
            ExtractText(kind, opts.extract_time_limit, options, opts.thresholds)
        )
        return rows, read[ReadWarcFile.COUNTS]
    if opts.input_format == "jsonl":
        lines = patterns | "read jsonl" >> beam.io.ReadAllFromText(with_filename=True)
        rows = lines | "parse json" >> beam.Map(parse_json_line, crawl=opts.crawl)
    else:
        crawl = opts.crawl
        records = patterns | "read parquet" >> beam.io.ReadAllFromParquet(with_filename=True)
        rows = records | "to rows" >> beam.MapTuple(lambda path, rec: text_document_row(rec, path, crawl))
    return rows | "spread documents" >> beam.Reshuffle(), p | "no file counts" >> beam.Create([])


def build(p, opts: PristineOptions, output_dir: str) -> None:
    record = provenance.run_record(
        p.options,
        extractor=opts.extractor if opts.input_format == "warc" else "none",
        thresholds=opts.thresholds,
        quality_model=opts.quality_model,
    )
    rows, file_counts = read_documents(p, opts)
    scored = (
        rows
        | "batch for scoring" >> beam.BatchElements(min_batch_size=16, max_batch_size=SCORE_BATCH)
        | "score" >> beam.ParDo(ScoreDocuments(opts.quality_model))
        | "deduplicate"
        >> Deduplicate(
            DedupConfig(threshold=opts.dedup_threshold),
            index_dir=FileSystems.join(output_dir, DEDUP_INDEX),
            dedup_against=opts.dedup_against,
        )
    )
    reference = synthetic_beam.reference_files(opts.synthetic_reference)
    decided, synthetic_by_crawl, synthetic_by_cohort = scored | "estimate and decide" >> EstimateAndDecide(
        opts.thresholds, output_dir, reference
    )
    decided | "write parquet" >> WriteDocuments(
        output_dir, opts.rows_per_file, metadata=provenance.parquet_metadata(record)
    )
    (
        (file_counts, decided | "count rows" >> beam.Map(row_counts))
        | "all counts" >> beam.Flatten()
        | "merge counts" >> beam.CombineGlobally(MergeCounts())
        | "write stats.json"
        >> beam.Map(
            write_stats,
            output_dir=output_dir,
            input_format=opts.input_format,
            provenance=record,
            synthetic_by_crawl=beam.pvalue.AsList(synthetic_by_crawl),
            synthetic_by_cohort=beam.pvalue.AsList(synthetic_by_cohort),
        )
    )


def restore_partition_columns(path: str, record: dict) -> dict:
    """A row read from one partition file gets back the columns its path holds (crawl=..., lang=...)."""
    row = new_row(**{k: v for k, v in record.items()})
    row.update(partition_values(path))
    return row


def build_recurate(p, run_dir: str, thresholds: str, output: str, rows_per_file: int) -> None:
    """A previous run's rows -> decide with a new thresholds config -> a new run directory. No extraction."""
    source = read_stats(run_dir).get("provenance")
    record = provenance.run_record(
        p.options,
        extractor=(source or {}).get("extractor"),
        thresholds=thresholds,
        quality_model=None,
        recurated_from={"run": run_dir, "provenance": source},
    )
    patterns = [
        FileSystems.join(run_dir, root, "**", "*.parquet") for root in ("curated", "rejected", "failed")
    ]
    existing = [pattern for pattern in patterns if FileSystems.match([pattern])[0].metadata_list]
    previous = (
        p
        | "previous run files" >> beam.Create(existing)
        # file path -> (path, row as written)
        | "read rows" >> beam.io.ReadAllFromParquet(with_filename=True)
        | "restore partition columns" >> beam.MapTuple(restore_partition_columns)
    )
    decided, synthetic_by_crawl, synthetic_by_cohort = previous | "estimate and decide" >> EstimateAndDecide(
        thresholds, output
    )
    decided | "write parquet" >> WriteDocuments(
        output, rows_per_file, metadata=provenance.parquet_metadata(record)
    )
    (
        decided
        | "count rows" >> beam.Map(row_counts)
        | "merge counts" >> beam.CombineGlobally(MergeCounts())
        | "write stats.json"
        >> beam.Map(
            write_recurated_stats,
            run_dir=run_dir,
            output_dir=output,
            provenance=record,
            synthetic_by_crawl=beam.pvalue.AsList(synthetic_by_crawl),
            synthetic_by_cohort=beam.pvalue.AsList(synthetic_by_cohort),
        )
    )
