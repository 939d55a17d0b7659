"""Every flag of `pristine run`, documented once. Any Beam option may be given beside them."""

from __future__ import annotations

import argparse
import os

from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions, TypeOptions

INPUT_FORMATS = ("warc", "jsonl", "parquet")
EXTRACTORS = ("trafilatura", "resiliparse")


class PristineOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument(
            "--input",
            nargs="+",
            help="WARC/ARC files or globs (local, gs://, s3://); JSONL(.gz) or Parquet with --input-format",
        )
        parser.add_argument("--output", help="output directory (must be empty or new, unless --overwrite)")
        parser.add_argument(
            "--input-format",
            "--input_format",
            dest="input_format",
            default="warc",
            choices=INPUT_FORMATS,
            help="warc (default): WARC/ARC files; jsonl|parquet: documents with a 'text' field "
            "(optional id, url, crawl), which skip extraction",
        )
        parser.add_argument(
            "--crawl",
            default=None,
            help="crawl id for every document (default: warcinfo isPartOf, else CC-MAIN-YYYY-WW in the file name)",
        )
        parser.add_argument(
            "--extractor",
            default="trafilatura",
            choices=EXTRACTORS,
            help="main-text extractor (default trafilatura)",
        )
        parser.add_argument(
            "--no-cascade",
            "--no_cascade",
            dest="cascade",
            action="store_false",
            default=True,
            help="trafilatura on every page: no resiliparse first pass deciding the pages it can reject "
            "([cascade] in the thresholds config)",
        )
        parser.add_argument(
            "--extract-time-limit",
            "--extract_time_limit",
            dest="extract_time_limit",
            type=float,
            default=None,
            help="seconds one page may take to extract before it fails as extract_timeout",
        )
        parser.add_argument(
            "--extract-processes",
            "--extract_processes",
            dest="extract_processes",
            type=int,
            default=None,
            help="extraction child processes per Beam worker (default: 2 when the local runner runs in one "
            "in-memory worker, its default, on a machine with 2 or more cores; else 1)",
        )
        parser.add_argument(
            "--thresholds",
            default=None,
            help="thresholds TOML for the decide stage (default: the packaged pipeline/thresholds.toml)",
        )
        parser.add_argument(
            "--quality-model",
            "--quality_model",
            dest="quality_model",
            default=None,
            help="fastText model from `pristine train quality`: fills quality_score",
        )
        parser.add_argument(
            "--dedup-threshold",
            "--dedup_threshold",
            dest="dedup_threshold",
            type=float,
            default=0.6,
            help="MinHash LSH target Jaccard similarity for near duplicates (default 0.6)",
        )
        parser.add_argument(
            "--dedup-against",
            "--dedup_against",
            dest="dedup_against",
            nargs="+",
            default=[],
            help="signature indexes (DIR/dedup_index of earlier runs): matching documents are duplicates of them",
        )
        parser.add_argument(
            "--synthetic-reference",
            "--synthetic_reference",
            dest="synthetic_reference",
            nargs="+",
            default=[],
            help="earlier run directories (or their synthetic_by_domain*.parquet files) whose documents are the "
            "human baseline of the synthetic-share estimates (default: this run's pre_llm documents, else the "
            "model's human web histogram)",
        )
        parser.add_argument(
            "--rows-per-file",
            "--rows_per_file",
            dest="rows_per_file",
            type=int,
            default=20_000,
            help="target rows per output Parquet file",
        )
        parser.add_argument(
            "--strict",
            action="store_true",
            default=False,
            help="exit with code 1 when any input file or record could not be read (they are always "
            "failed rows and listed in the summary)",
        )
        parser.add_argument(
            "--overwrite",
            action="store_true",
            default=False,
            help="replace an existing non-empty output directory",
        )


class _RaisingParser(argparse.ArgumentParser):
    """A bad value is a ValueError naming the flag (one line), not a usage screen of every Beam option."""

    def error(self, message):
        raise ValueError(message)


def _beam_parser() -> argparse.ArgumentParser:
    """A parser knowing every registered Beam option, to reject misspelt flags instead of ignoring them."""
    parser = _RaisingParser(add_help=False, allow_abbrev=False)
    for cls in PipelineOptions.__subclasses__():
        _add_subclass_args(cls, parser)
    return parser


def _add_subclass_args(cls, parser):
    try:
        cls._add_argparse_args(parser)
    except argparse.ArgumentError:
        pass  # an option registered by two classes
    for sub in cls.__subclasses__():
        _add_subclass_args(sub, parser)


def beam_options(argv: list[str]) -> PipelineOptions:
    """Pipeline options from argv; ValueError naming any flag no Beam options class knows."""
    _, unknown = _beam_parser().parse_known_args(argv)
    if unknown:
        raise ValueError(f"unknown argument(s): {' '.join(unknown)}")
    options = PipelineOptions(argv)
    # Beam's construction-time type check of pristine's own graph (always passes: tests/test_pipeline.py
    # builds the graph with it on) costs ~0.5 CPU-s per run; off, as --no_pipeline_type_check would set it
    options.view_as(TypeOptions).pipeline_type_check = False
    standard = options.view_as(StandardOptions)
    check_runner(standard.runner)
    if standard.runner in (None, "DirectRunner", "direct"):
        # The DirectRunner first tries to download the Prism runner (impossible offline), then falls back to
        # the FnApiRunner. Go there directly: same engine, same --direct_* options, no download attempt.
        standard.runner = "FnApiRunner"
    if options.view_as(DirectOptions).direct_running_mode == "multi_threading":
        raise ValueError(
            "--direct_running_mode multi_threading is not supported: on the 5,000-response benchmark corpus it "
            "lost a row in 1 of 2 runs and crashed decoding a shuffle in 2 others; use multi_processing"
        )
    return options


def extraction_children(options: PipelineOptions) -> int:
    """Extraction child processes per Beam worker: --extract-processes, else 2 for the local runner's
    default of one in-memory worker on a machine with 2 or more cores (that worker then keeps two cores
    busy: measured on 2 cores against two multi_processing workers with one child each, 8-18% less CPU,
    about half the memory, wall time -19% to +5%; README "Benchmarks"), else 1 (multi_processing workers,
    and Dataflow and Flink, whose SDK workers are one per core already)."""
    chosen = options.view_as(PristineOptions).extract_processes
    if chosen is not None:
        return chosen
    return 2 if _local_in_memory(options) and (os.cpu_count() or 1) >= 2 else 1


def shares_extraction_results(options: PipelineOptions) -> bool:
    """Whether the extraction step's workers share results through files (`SharedPayloadCache`): not on the
    local runner's default of one in-memory worker, which has no other worker to share with (its memory
    cache reuses payloads as well: the same counts on the benchmark corpus)."""
    workers = options.view_as(DirectOptions).direct_num_workers
    one_worker = workers == 1 or (workers == 0 and (os.cpu_count() or 1) == 1)  # 0: one per core
    return not (_local_in_memory(options) and one_worker)


def _local_in_memory(options: PipelineOptions) -> bool:
    runner = options.view_as(StandardOptions).runner
    local = runner in (None, "DirectRunner", "direct", "FnApiRunner")
    return local and options.view_as(DirectOptions).direct_running_mode in (None, "in_memory")


def check_runner(name: str | None) -> None:
    """ValueError (one line) for a --runner Beam does not know, before anything is created."""
    if name is None:
        return
    from apache_beam.runners.runner import create_runner

    try:
        create_runner(name)
    except (ValueError, ImportError) as exc:
        first = str(exc).split(". Valid values")[0].split("\n")[0]
        raise ValueError(
            f"--runner {name}: {first}; e.g. DirectRunner, DataflowRunner, FlinkRunner, PortableRunner"
        ) from exc


def check_values(ours: PristineOptions) -> None:
    """ValueError (one line) for an option value out of range, before anything is created."""
    if not ours.input:
        raise ValueError("--input is required: one or more WARC files or globs")
    if not ours.output:
        raise ValueError("--output is required: the directory to write Parquet and stats.json into")
    if ours.rows_per_file < 1:
        raise ValueError(f"--rows-per-file must be at least 1, got {ours.rows_per_file}")
    if not 0.0 < ours.dedup_threshold < 1.0:
        raise ValueError(
            f"--dedup-threshold is a Jaccard similarity strictly between 0 and 1, got {ours.dedup_threshold}"
        )
    if ours.extract_processes is not None and ours.extract_processes < 1:
        raise ValueError(f"--extract-processes must be at least 1, got {ours.extract_processes}")
    if ours.extract_time_limit is not None and not ours.extract_time_limit > 0:
        raise ValueError(
            f"--extract-time-limit must be a positive number of seconds, got {ours.extract_time_limit}"
        )


def parse(argv: list[str]) -> PipelineOptions:
    """Parse `pristine run` arguments; raises ValueError naming unknown flags or missing ones."""
    options = beam_options(argv)
    check_values(options.view_as(PristineOptions))
    return options
