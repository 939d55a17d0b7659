"""pristine: curate web crawls into human-written, deduplicated Parquet with provenance.

pristine run --input PATH_OR_GLOB... --output DIR [--crawl ID] [--runner R] [any Beam option]
pristine recurate --input RUN_DIR --config THRESHOLDS.toml --output NEW_DIR [any Beam option]
pristine score --input FILE --output FILE [--quality-model MODEL]
pristine train quality --positive FILE --negative FILE --output MODEL
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from pipeline import outputs
from pipeline.usage import UsageError, check_model, check_thresholds
from transforms.heap import fix_mmap_threshold

# Beam is loaded by the commands that run pipelines (run, recurate, backfill), not at import: `score`,
# `train`, `evaluate`, `report` and every --help start without it.
__all__ = ["UsageError", "check_model", "check_thresholds", "main"]


def cmd_run(argv: list[str]) -> int:
    from pipeline import graph, options
    from pipeline.run import (
        check_inputs,
        check_synthetic_reference,
        output_removed_on_failure,
        prepare_output,
        print_summary,
        run_beam,
        watch,
    )

    batch_files, argv = batch_files_flag(argv)
    try:
        opts = options.parse(argv)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    ours = opts.view_as(options.PristineOptions)
    n_files = check_inputs(ours.input)
    check_thresholds(ours.thresholds)
    check_model(ours.quality_model, "--quality-model")
    check_synthetic_reference(ours.synthetic_reference)
    if batch_files:
        from pipeline.backfill import run_resumable

        return run_resumable(argv, ours, batch_files)
    created = prepare_output(ours.output, ours.overwrite)
    started = time.monotonic()
    with output_removed_on_failure(ours.output, created), watch(opts, n_files):
        stats = run_beam(lambda p, staging: graph.build(p, ours, staging), opts, ours.output)
    if stats is None:
        return 0
    return print_summary(
        stats, ours.output, time.monotonic() - started, f"{n_files} input file(s),", ours.strict
    )


BATCH_FILES_HELP = (
    "run the input files in batches of N, each committed into --output when it finishes; the same command "
    "after a kill skips the finished batches (as backfill does)"
)


def batch_files_flag(argv: list[str]) -> tuple[int | None, list[str]]:
    """--batch-files N of `pristine run` (a flag of the command, not of the Beam job): (N or None, the rest)."""
    from pipeline import options

    parser = options._RaisingParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--batch-files", "--batch_files", dest="batch_files", type=int, default=None)
    try:
        known, rest = parser.parse_known_args(argv)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if known.batch_files is not None and known.batch_files < 1:
        raise UsageError(f"--batch-files must be at least 1, got {known.batch_files}")
    return known.batch_files, rest


def cmd_recurate(argv: list[str]) -> int:
    from apache_beam.io.filesystems import FileSystems

    from pipeline import graph, options
    from pipeline.run import output_removed_on_failure, prepare_output, print_summary, run_beam

    parser = argparse.ArgumentParser(
        prog="pristine recurate",
        description="re-apply a thresholds config to a previous run's rows, without re-extraction; "
        "any Beam option may follow",
    )
    parser.add_argument("--input", required=True, help="output directory of a previous `pristine run`")
    parser.add_argument("--config", required=True, help="the new thresholds TOML")
    parser.add_argument("--output", required=True, help="new run directory")
    parser.add_argument("--rows-per-file", type=int, default=20_000)
    parser.add_argument("--overwrite", action="store_true")
    args, beam_args = parser.parse_known_args(argv)
    try:
        opts = options.beam_options(beam_args)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if not FileSystems.exists(FileSystems.join(args.input, outputs.STATS)):
        raise UsageError(f"--input {args.input!r} is not a pristine run directory (no stats.json)")
    check_thresholds(args.config)
    created = prepare_output(args.output, args.overwrite)
    started = time.monotonic()
    with output_removed_on_failure(args.output, created):
        stats = run_beam(
            lambda p, staging: graph.build_recurate(p, args.input, args.config, staging, args.rows_per_file),
            opts,
            args.output,
        )
    if stats is None:
        return 0
    return print_summary(
        stats, args.output, time.monotonic() - started, f"the rows of {args.input} re-decided:"
    )


def cmd_score(argv: list[str]) -> int:
    from pipeline.score import score_file

    parser = argparse.ArgumentParser(
        prog="pristine score",
        description="add every signal column to the documents of a JSONL(.gz) or Parquet file, "
        "keeping every input field; no filtering, no deduplication",
    )
    parser.add_argument("--input", required=True, help="JSONL, JSONL.gz or Parquet with a 'text' field")
    parser.add_argument("--output", required=True, help="JSONL, JSONL.gz or Parquet (by extension)")
    parser.add_argument("--quality-model", default=None, help="fastText model from `pristine train quality`")
    args = parser.parse_args(argv)
    check_model(args.quality_model, "--quality-model")
    started = time.monotonic()
    try:
        n = score_file(args.input, args.output, quality_model=args.quality_model)
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    seconds = time.monotonic() - started
    print(f"scored {n:,} documents in {seconds:.1f} s ({n / max(seconds, 1e-9):.1f} docs/s): {args.output}")
    return 0


def cmd_train(argv: list[str]) -> int:
    if argv[:1] == ["synthetic"]:
        from pipeline.train.synthetic import main as train_synthetic

        return train_synthetic(argv[1:])
    from pipeline.corpus import read_texts
    from pipeline.train.quality import TrainSettings, train_quality_model

    parser = argparse.ArgumentParser(prog="pristine train", description="train a model")
    sub = parser.add_subparsers(dest="model", required=True)
    sub.add_parser("synthetic", help="the shipped synthetic-text model (make models); --help for its flags")
    q = sub.add_parser("quality", help="fastText quality classifier for --quality-model")
    q.add_argument("--positive", required=True, nargs="+", help="JSONL/Parquet files of good ('text' field)")
    q.add_argument("--negative", required=True, nargs="+", help="JSONL/Parquet files of bad ('text' field)")
    q.add_argument("--output", required=True, help="model file to write (.bin)")
    defaults = TrainSettings()
    for name in ("epoch", "lr", "dim", "word_ngrams", "min_count", "bucket", "seed"):
        q.add_argument(
            f"--{name.replace('_', '-')}", type=type(getattr(defaults, name)), default=getattr(defaults, name)
        )
    args = parser.parse_args(argv)
    try:
        positives = [t for path in args.positive for t in read_texts(path)]
        negatives = [t for path in args.negative for t in read_texts(path)]
        settings = TrainSettings(
            **{
                k: getattr(args, k)
                for k in ("epoch", "lr", "dim", "word_ngrams", "min_count", "bucket", "seed")
            }
        )
        metrics = train_quality_model(positives, negatives, args.output, settings)
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    warning = metrics.pop("warning", None)
    print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()))
    print(f"model: {args.output} ({metrics['model_mb']:.1f} MB)")
    if warning:
        print(f"pristine train quality: warning: {warning}", file=sys.stderr)
    return 0


def cmd_backfill(argv: list[str]) -> int:
    from apache_beam.io.filesystems import FileSystems

    from pipeline import snapshots
    from pipeline.backfill import run_batches

    parser = argparse.ArgumentParser(
        prog="pristine backfill",
        description="run whole Common Crawl snapshots, oldest first, in resumable batches; any Beam option may follow",
    )
    parser.add_argument(
        "--crawl", action="append", required=True, help="snapshot id, e.g. CC-MAIN-2024-10 (repeat)"
    )
    parser.add_argument("--output", required=True, help="one dataset for every snapshot, plus manifest.jsonl")
    parser.add_argument(
        "--source", default="https", help="s3 | https | a local mirror laid out as Common Crawl's bucket"
    )
    parser.add_argument(
        "--files", type=int, default=None, help="only the first N WARC files of each snapshot"
    )
    parser.add_argument(
        "--batch-files", type=int, default=10, help="WARC files per pipeline run (default 10)"
    )
    args, run_args = parser.parse_known_args(argv)
    if args.batch_files < 1 or (args.files is not None and args.files < 1):
        raise UsageError("--files and --batch-files must be at least 1")
    try:
        batches = snapshots.plan(args.crawl, args.source, args.files, args.batch_files)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if not FileSystems.exists(args.output):
        FileSystems.mkdirs(args.output)
    return run_batches(batches, args.output, run_args, "backfill", with_crawl=True)


def cmd_evaluate(argv: list[str]) -> int:
    if argv[:1] != ["synthetic"]:
        print("usage: pristine evaluate synthetic --input LABELLED.jsonl[.gz] [--json OUT]", file=sys.stderr)
        return 2
    from pipeline.evaluate.synthetic import main as evaluate_synthetic

    return evaluate_synthetic(argv[1:])


def cmd_verify(argv: list[str]) -> int:
    from pipeline.verify import main as verify_main

    return verify_main(argv)


def cmd_report(argv: list[str]) -> int:
    from pipeline.report import main as report_main

    return report_main(argv)


COMMANDS = {
    "run": (cmd_run, "WARC/ARC (or JSONL/Parquet text) in, curated Parquet out"),
    "recurate": (cmd_recurate, "re-decide a previous run with a new thresholds config"),
    "backfill": (cmd_backfill, "whole snapshots, oldest first, resumable batches"),
    "report": (cmd_report, "(re)write RUN_DIR/report.html"),
    "verify": (cmd_verify, "re-read output rows from their WARC records: id, digest, text"),
    "score": (cmd_score, "add signal columns to a JSONL/Parquet corpus, nothing dropped"),
    "train": (cmd_train, "train a model: quality, synthetic"),
    "evaluate": (cmd_evaluate, "AUROC, TPR at 1% FPR, calibration of the synthetic score on labelled text"),
}


def usage() -> str:
    lines = [__doc__.strip(), "", "commands:"]
    lines += [f"  {name:<10} {text}" for name, (_, text) in COMMANDS.items()]
    lines.append("\n`pristine COMMAND --help` lists a command's flags.")
    return "\n".join(lines)


def run_help() -> None:
    from pipeline import options

    parser = argparse.ArgumentParser(
        prog="pristine run",
        description="flags of pristine run; any Beam pipeline option (--runner, --direct_num_workers, ...) too",
    )
    options.PristineOptions._add_argparse_args(parser)
    parser.add_argument("--batch-files", metavar="N", type=int, help=BATCH_FILES_HELP)
    parser.print_help()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"pristine: error: unknown command {command!r} (one of {', '.join(COMMANDS)})", file=sys.stderr)
        return 2
    if command == "run" and ("-h" in rest or "--help" in rest):
        run_help()
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    fix_mmap_threshold()  # before any worker starts: they inherit it (transforms/heap.py)
    try:
        return COMMANDS[command][0](rest)
    except UsageError as exc:
        print(f"pristine {command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
