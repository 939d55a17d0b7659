"""build(pipeline, options): the whole job, top to bottom, wiring each stage's composite.

WARC paths -> byte ranges -> reshuffle -> records + extract (one step) -> score (language, quality, synthetic) -> dedup -> decide -> Parquet
               |                                  |-> synthetic share per domain ---^ (content farms)
               |                                  '-> synthetic_by_domain.parquet, stats.json
               '-> per-file record counts ------------------------------------------------> stats.json

Each stage is a composite in its folder under transforms/ (``transforms/<stage>/beam.py``); the
thresholds config is read once, here, and handed to the stages that apply it.
"""

from __future__ import annotations

import json
import posixpath

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
    merge_counts,
    read_stats,
    row_counts,
    write_recurated_stats,
    write_stats,
)
from transforms import httpfs, warc

# failed, dead_letter, stage_clock: what every stage's Beam wrapper shares (transforms/schema.py,
# transforms/beam_util.py), importable from here too
from transforms.beam_util import STAGE_TIME, dead_letter, stage_clock  # noqa: F401
from transforms.decide import read_thresholds
from transforms.decide.beam import Decide
from transforms.dedup import DedupConfig, Deduplicate
from transforms.extract.beam import ExtractText
from transforms.schema import document_id, domain_of, failed, new_row
from transforms.signals.beam import SCORE_BATCH, Score  # noqa: F401
from transforms.sink import restore_partition_columns
from transforms.sink.beam import WriteDocuments, WriteDomainEstimates
from transforms.synthetic.beam import EstimateSyntheticShare, reference_files

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


def read_documents(p, opts: PristineOptions, thresholds: dict):
    """The input stage: rows waiting for language ID, and per-file counts for stats.json. `thresholds`:
    the run's config (``read_thresholds``), for the extraction cascade."""
    patterns = p | "input patterns" >> beam.Create(opts.input)
    if opts.input_format == "warc":
        # (path, start, end) -> (row, html, charset header) per HTML response, plus per-range counts
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
        rows = read.responses | "extract text" >> ExtractText(
            opts.extractor, opts.extract_time_limit, opts.cascade, thresholds
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
    thresholds = read_thresholds(opts.thresholds)  # once per run: the stages get the parsed config
    record = provenance.run_record(
        p.options,
        extractor=opts.extractor if opts.input_format == "warc" else "none",
        thresholds=opts.thresholds,
        quality_model=opts.quality_model,
    )
    # rows waiting for language ID (WARC input: extracted text), and per-file counts
    rows, file_counts = read_documents(p, opts, thresholds)
    scored = (
        rows
        | "score" >> Score(opts.quality_model)
        | "deduplicate"
        >> Deduplicate(
            DedupConfig(threshold=opts.dedup_threshold),
            index_dir=FileSystems.join(output_dir, DEDUP_INDEX),
            dedup_against=opts.dedup_against,
        )
    )
    reference = reference_files(opts.synthetic_reference)
    decided, estimates = decide_and_write(
        scored, thresholds, reference, output_dir, opts.rows_per_file, provenance.parquet_metadata(record)
    )
    (
        (file_counts, decided | "count rows" >> beam.Map(row_counts))
        | "all counts" >> beam.Flatten()
        | "merge counts" >> beam.CombineGlobally(merge_counts)
        | "write stats.json"
        >> beam.Map(
            write_stats,
            output_dir=output_dir,
            input_format=opts.input_format,
            provenance=record,
            synthetic_by_crawl=beam.pvalue.AsList(estimates["crawl"]),
            synthetic_by_cohort=beam.pvalue.AsList(estimates["cohort"]),
        )
    )


def decide_and_write(
    scored, thresholds: dict, reference: list[str], output_dir: str, rows_per_file, metadata
):
    """scored rows -> synthetic-share estimates -> decided rows -> Parquet files and synthetic_by_domain.parquet;
    returns (decided rows, estimates). The per-domain estimates come first: the content-farm rule needs them."""
    # rows -> {"domain": per (crawl, domain), "crawl": per crawl, "cohort": per cohort}
    estimates = scored | "estimate synthetic share" >> EstimateSyntheticShare(thresholds, reference)
    decided = scored | "decide" >> Decide(thresholds, domain_estimates=estimates["domain"])
    decided | "write parquet" >> WriteDocuments(output_dir, rows_per_file, metadata=metadata)
    estimates["domain"] | "write synthetic_by_domain" >> WriteDomainEstimates(output_dir)
    return decided, estimates


def build_recurate(p, run_dir: str, thresholds: str, output: str, rows_per_file: int) -> None:
    """A previous run's rows -> decide with a new thresholds config -> a new run directory. No extraction."""
    config = read_thresholds(thresholds)
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
    decided, estimates = decide_and_write(
        previous, config, [], output, rows_per_file, provenance.parquet_metadata(record)
    )
    (
        decided
        | "count rows" >> beam.Map(row_counts)
        | "merge counts" >> beam.CombineGlobally(merge_counts)
        | "write stats.json"
        >> beam.Map(
            write_recurated_stats,
            run_dir=run_dir,
            output_dir=output,
            provenance=record,
            synthetic_by_crawl=beam.pvalue.AsList(estimates["crawl"]),
            synthetic_by_cohort=beam.pvalue.AsList(estimates["cohort"]),
        )
    )
