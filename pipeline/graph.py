"""build(pipeline, options): the whole job, top to bottom, wiring each stage's composite.

WARC paths -> byte ranges -> reshuffle -> records + extract (one step) -> score (language, quality, synthetic) -> dedup -> decide -> Parquet
               |                                  |-> synthetic share per domain ---^ (content farms)
               |                                  '-> synthetic_by_domain.parquet, stats.json
               '-> per-file record counts ------------------------------------------------> stats.json

Each stage is a composite in its folder under transforms/ (``transforms/<stage>/beam.py``); the
thresholds config is read once, here, and handed to the stages that apply it.
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipeline import provenance
from pipeline.options import PristineOptions, extraction_children, shares_extraction_results
from pipeline.outputs import DEDUP_INDEX  # this run's MinHash index, for --dedup-against in later runs
from pipeline.stats import (
    merge_counts,
    read_stats,
    row_counts,
    write_recurated_stats,
    write_stats,
)

# failed, dead_letter, stage_clock: what every stage's Beam wrapper shares (transforms/schema.py,
# transforms/beam_util.py), importable from here too
from transforms.beam_util import STAGE_TIME, dead_letter, stage_clock  # noqa: F401
from transforms.decide import read_thresholds
from transforms.decide.beam import Decide
from transforms.dedup import DedupConfig, Deduplicate
from transforms.extract.beam import ExtractText
from transforms.read.beam import ReadHtmlResponses, ReadTextDocuments
from transforms.schema import failed  # noqa: F401
from transforms.signals.beam import SCORE_BATCH, Score  # noqa: F401
from transforms.sink import restore_partition_columns
from transforms.sink.beam import WriteDocuments, WriteDomainEstimates
from transforms.synthetic.beam import EstimateSyntheticShare, reference_files


def read_documents(p, opts: PristineOptions, thresholds: dict):
    """The input stage: rows waiting for language ID, and per-file counts for stats.json. `thresholds`:
    the run's config (``read_thresholds``), for the extraction cascade."""
    patterns = p | "input patterns" >> beam.Create(opts.input)
    if opts.input_format == "warc":
        # -> (row, html, charset header) per HTML response, plus per-range counts
        responses, counts = patterns | "read warc" >> ReadHtmlResponses(opts.crawl)
        rows = responses | "extract text" >> ExtractText(
            opts.extractor,
            opts.extract_time_limit,
            opts.cascade,
            thresholds,
            extraction_children(opts),
            shares_extraction_results(opts),
        )
        return rows, counts
    rows = patterns | f"read {opts.input_format}" >> ReadTextDocuments(opts.input_format, opts.crawl)
    return rows, p | "no file counts" >> beam.Create([])


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
            # rows wait here for their verdicts (removed before the job ends): storage every worker reaches
            spill_dir=FileSystems.join(output_dir, "_dedup_rows"),
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
