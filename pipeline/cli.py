"""pristine: curate web crawls into human-written, deduplicated Parquet with provenance.

pristine run --input PATH_OR_GLOB... --output DIR [--crawl ID] [--runner R] [any Beam option]
pristine recurate --input RUN_DIR --config THRESHOLDS.toml --output NEW_DIR [any Beam option]
pristine score --input FILE --output FILE [--quality-model MODEL]
pristine train quality --positive FILE --negative FILE --output MODEL
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import uuid
from contextlib import contextmanager

from apache_beam.io.filesystems import FileSystems

from pipeline import options
from pipeline.stats import nest, read_stats, summary, write_stats_file
from transforms import httpfs
from transforms.sink import ROOT_OF_STATUS

assert httpfs  # registers http(s):// with Beam's FileSystems for --input URLs

MANAGED_OUTPUTS = [
    *ROOT_OF_STATUS.values(),
    "stats.json",
    "report.html",
    "synthetic_by_domain.parquet",
    "dedup_index",
]


class UsageError(Exception):
    """A mistake in the command line or its inputs: printed as one line, exit code 2."""


def check_inputs(patterns: list[str]) -> int:
    """Every pattern must match at least one file; returns the number of files."""
    total = 0
    for pattern in patterns:
        try:
            matched = FileSystems.match([pattern])[0].metadata_list
        except Exception as exc:
            raise UsageError(f"cannot list input {pattern!r}: {exc}") from exc
        if not matched:
            raise UsageError(f"input {pattern!r} matches no file")
        total += len(matched)
    return total


def prepare_output(output_dir: str, overwrite: bool) -> bool:
    """The output directory must be new or empty (or --overwrite), and writable; True if created here.

    Nothing is deleted here: a run writes into a staging directory and replaces the old outputs only once
    it has succeeded (`commit_output`).
    """
    present = [name for name in MANAGED_OUTPUTS if FileSystems.exists(FileSystems.join(output_dir, name))]
    if present and not overwrite:
        raise UsageError(f"output {output_dir!r} already holds a run ({', '.join(present)}); use --overwrite")
    created = not FileSystems.exists(output_dir)
    try:
        if created:
            FileSystems.mkdirs(output_dir)
        probe = FileSystems.join(output_dir, ".pristine-write-probe")
        with FileSystems.create(probe) as f:
            f.write(b"ok")
        FileSystems.delete([probe])
    except Exception as exc:
        raise UsageError(f"output {output_dir!r} is not writable: {exc}") from exc
    return created


@contextmanager
def output_removed_on_failure(output_dir: str, created: bool):
    """A run that fails leaves nothing behind: the output directory it created is removed if still empty."""
    try:
        yield
    except BaseException:
        if created and "://" not in output_dir:
            try:
                os.rmdir(output_dir)  # only if empty
            except OSError:
                pass
        raise


def staging_dir(output_dir: str) -> str:
    """Where a run writes until it has finished: readers of output_dir never see half a run."""
    return FileSystems.join(output_dir, f"_incomplete-{uuid.uuid4().hex[:12]}")


def commit_output(staging: str, output_dir: str) -> None:
    """Replace output_dir's previous run (if any) by the finished run in `staging`."""
    old = [
        FileSystems.join(output_dir, n)
        for n in MANAGED_OUTPUTS
        if FileSystems.exists(FileSystems.join(output_dir, n))
    ]
    if old:
        FileSystems.delete(old)
    files = [m.path for m in FileSystems.match([FileSystems.join(staging, "**")])[0].metadata_list]
    moves = [(src, FileSystems.join(output_dir, src[len(staging) :].lstrip("/"))) for src in files]
    # stats.json last: its presence means the run is complete
    moves.sort(key=lambda m: m[1].endswith("stats.json"))
    for src, dst in moves:
        parent = dst.rsplit("/", 1)[0]
        if not FileSystems.exists(parent):
            FileSystems.mkdirs(parent)
        FileSystems.rename([src], [dst])
    FileSystems.delete([staging])


def check_thresholds(path: str | None) -> None:
    from transforms.decide import load_thresholds

    try:
        load_thresholds(path)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def check_model(path: str | None, what: str) -> None:
    if path is None:
        return
    from transforms.quality_model import QualityModel

    try:
        QualityModel.load(path)
    except (RuntimeError, ValueError) as exc:
        raise UsageError(f"{what} {path!r}: {exc}") from exc


def check_synthetic_reference(paths: list[str]) -> None:
    """--synthetic-reference: each path holds synthetic_by_domain files scored by the shipped model."""
    if not paths:
        return
    import pyarrow.parquet as pq

    from transforms.synthetic import shipped_bins
    from transforms.synthetic.beam import reference_files

    try:
        files = reference_files(paths)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    model = shipped_bins().model
    for path in files:
        try:
            with FileSystems.open(path) as f:
                table = pq.read_table(f, columns=["histogram", "synthetic_model"])
        except Exception as exc:
            raise UsageError(f"--synthetic-reference {path}: not a synthetic_by_domain file ({exc})") from exc
        models = set(table.column("synthetic_model").to_pylist())
        if models - {model}:
            raise UsageError(
                f"--synthetic-reference {path}: scored by synthetic model {sorted(map(str, models - {model}))}, "
                f"not the shipped one ({model}); scores of different models are not comparable"
            )


def builds_only(opts) -> bool:
    """A dry run or a template: pipeline.run() builds the job, but nothing runs here."""
    from apache_beam.options.pipeline_options import GoogleCloudOptions, TestOptions

    return bool(opts.view_as(TestOptions).dry_run or opts.view_as(GoogleCloudOptions).template_location)


def run_staged(build, opts, output: str) -> str | None:
    """Run a pipeline built by `build(pipeline, staging_dir)` into a fresh staging directory under `output`;
    returns that directory (None when the job was only built: --dry_run, --template_location). A failed
    run removes it and re-raises: `output` is left as it was."""
    import apache_beam as beam

    staging = staging_dir(output)
    try:
        pipeline = beam.Pipeline(options=opts)
        build(pipeline, staging)
        result = pipeline.run()
        if builds_only(opts):
            return None
        result.wait_until_finish()
        check_dedup_verdicts(result)
        check_accounting(staging)
        add_stage_seconds(staging, result)
        add_extraction_counts(staging, result)
    except BaseException:
        if FileSystems.exists(staging):
            FileSystems.delete([staging])
        raise
    return staging


@contextmanager
def watch(opts, n_files: int | None):
    """Progress lines while the job runs on the local runner; on a remote runner, where to look instead."""
    from apache_beam.options.pipeline_options import StandardOptions

    from pipeline import progress

    runner = opts.view_as(StandardOptions).runner
    hint = progress.remote_hint(runner)
    if hint or builds_only(opts):
        if hint:
            print(hint, file=sys.stderr)
        yield
        return
    with progress.Reporter(n_files):
        yield


def check_accounting(run_dir: str) -> None:
    """Every document read must be written once (stats.json accounting_ok): a runner that lost or duplicated
    rows fails the run here, before anything is committed."""
    stats = read_stats(run_dir)
    if not stats["accounting_ok"]:
        read = stats.get("html_responses", stats["documents_read"])
        written = stats["kept"] + stats["rejected"] + stats["failed"]
        raise RuntimeError(
            f"accounting broken: {read:,} documents read but {written:,} written (kept + rejected + failed); "
            "the runner lost or repeated rows; the output of this run is not committed"
        )


def check_dedup_verdicts(result) -> None:
    """Every dedup verdict emitted must reach its row (dedup/verdicts_emitted = dedup/verdicts_joined): a
    runner that lost elements fails the run here, before anything is committed. Skipped where the runner
    reports no committed counters."""
    from apache_beam.metrics.metric import MetricsFilter

    try:
        counters = result.metrics().query(MetricsFilter().with_namespace("dedup"))["counters"]
    except Exception:
        return
    totals: dict[str, int] = {}
    for c in counters:
        if c.committed is None:
            return
        totals[c.key.metric.name] = totals.get(c.key.metric.name, 0) + c.committed
    emitted, joined = totals.get("verdicts_emitted", 0), totals.get("verdicts_joined", 0)
    if emitted != joined:
        raise RuntimeError(
            f"dedup: {emitted:,} verdicts emitted but {joined:,} joined to their rows: the runner lost "
            "elements; the output of this run is not committed"
        )


def add_stage_seconds(run_dir: str, result) -> None:
    """Put the stage clocks' Beam counters into stats.json as stage_seconds (where the runner has metrics)."""
    from apache_beam.metrics.metric import MetricsFilter

    from pipeline.graph import STAGE_TIME

    try:
        counters = result.metrics().query(MetricsFilter().with_namespace(STAGE_TIME))["counters"]
    except Exception:  # a runner without metrics support: the report just has no timing chart
        return
    seconds: dict[str, float] = {}
    for c in counters:
        seconds[c.key.metric.name] = (
            seconds.get(c.key.metric.name, 0.0) + (c.committed or c.attempted or 0) / 1e6
        )
    seconds.update(transform_seconds(result, TIMED_TRANSFORMS))
    stats = read_stats(run_dir)
    stats["stage_seconds"] = {k: round(v, 3) for k, v in sorted(seconds.items())}
    write_stats_file(stats, run_dir)


def add_extraction_counts(run_dir: str, result) -> None:
    """Put the extract stage's Beam counters into stats.json as `extraction`: pages decided by each
    extractor (the cascade's resiliparse pass, trafilatura), trafilatura calls skipped by rule, payloads
    reused (where the runner has metrics)."""
    from apache_beam.metrics.metric import MetricsFilter

    try:
        counters = result.metrics().query(MetricsFilter().with_namespace("extract"))["counters"]
    except Exception:
        return
    counts: dict[str, int] = {}
    for c in counters:
        counts[c.key.metric.name] = counts.get(c.key.metric.name, 0) + (c.committed or c.attempted or 0)
    if not counts:
        return
    stats = read_stats(run_dir)
    stats["extraction"] = nest(counts)
    write_stats_file(stats, run_dir)


# composite transforms timed by the runner's own per-transform clock (stage name: transform label)
TIMED_TRANSFORMS = {"dedup": "deduplicate"}


def transform_seconds(result, transforms: dict[str, str]) -> dict[str, float]:
    """{stage: seconds} summed over the steps of each composite transform, from the runner's
    ptransform_execution_time monitoring metrics (empty where the runner has none)."""
    try:
        counters = result.monitoring_metrics().query()["counters"]
    except Exception:  # noqa: BLE001 - a runner without system metrics
        return {}
    out: dict[str, float] = {}
    for c in counters:
        if "ptransform_execution_time:total_msecs" not in c.key.metric.name:
            continue
        for stage, label in transforms.items():
            if c.key.step == label or c.key.step.startswith(label + "/"):
                out[stage] = out.get(stage, 0.0) + (c.committed or 0) / 1e3
    return out


def run_beam(build, opts, output: str) -> dict | None:
    """run_staged, then replace `output`'s previous run by the new one; returns its stats.json (None when
    the job was only built, and `output` is untouched)."""
    staging = run_staged(build, opts, output)
    if staging is None:
        print("job built, not run (--dry_run / --template_location): output left as it was")
        return None
    commit_output(staging, output)
    return read_stats(output)


def report(stats: dict, output: str, seconds: float, inputs: str, strict: bool = False) -> int:
    """Print the run's summary; the exit code: 1 when accounting is broken, or (--strict) when any input
    could not be read."""
    from pipeline.report import write_report

    docs = stats["documents_read"]
    print(summary(stats))
    if "://" not in output:
        print(f"report: {write_report(output)}")
    rate = docs / max(seconds, 1e-9)
    print(f"{inputs} {docs:,} documents in {seconds:.1f} s ({rate:.1f} docs/s)")
    print(f"output: {output}  (curated/, rejected/, failed/, stats.json)")
    if not stats["accounting_ok"]:
        return 1
    unreadable = stats.get("unreadable_total", 0)
    if strict and unreadable:
        print(f"--strict: {unreadable:,} unreadable input(s), listed above: exit code 1", file=sys.stderr)
        return 1
    return 0


def cmd_run(argv: list[str]) -> int:
    from pipeline import graph

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
        return run_resumable(argv, ours, batch_files)
    created = prepare_output(ours.output, ours.overwrite)
    started = time.monotonic()
    with output_removed_on_failure(ours.output, created), watch(opts, n_files):
        stats = run_beam(lambda p, staging: graph.build(p, ours, staging), opts, ours.output)
    if stats is None:
        return 0
    return report(stats, ours.output, time.monotonic() - started, f"{n_files} input file(s),", ours.strict)


def without_flags(argv: list[str], flags: dict[str, int]) -> list[str]:
    """argv without the given flags and their values ({flag: number of values, -1: all up to the next flag})."""
    out, i = [], 0
    while i < len(argv):
        arg = argv[i]
        name = arg.split("=", 1)[0]
        if name in flags:
            i += 1
            if "=" not in arg:
                n = flags[name]
                while i < len(argv) and n != 0 and not argv[i].startswith("--"):
                    i, n = i + 1, n - 1
            continue
        out.append(arg)
        i += 1
    return out


BATCH_FILES_HELP = (
    "run the input files in batches of N, each committed into --output when it finishes; the same command "
    "after a kill skips the finished batches (as backfill does)"
)


def batch_files_flag(argv: list[str]) -> tuple[int | None, list[str]]:
    """--batch-files N of `pristine run` (a flag of the command, not of the Beam job): (N or None, the rest)."""
    parser = options._RaisingParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--batch-files", "--batch_files", dest="batch_files", type=int, default=None)
    try:
        known, rest = parser.parse_known_args(argv)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if known.batch_files is not None and known.batch_files < 1:
        raise UsageError(f"--batch-files must be at least 1, got {known.batch_files}")
    return known.batch_files, rest


def run_resumable(argv: list[str], ours, size: int) -> int:
    """`pristine run --batch-files N`: the input files in batches of N, each committed into --output as it
    finishes (as backfill does); the same command after a kill skips the finished batches."""
    from pipeline import snapshots

    files = sorted(m.path for pattern in ours.input for m in FileSystems.match([pattern])[0].metadata_list)
    batches = [
        snapshots.Batch(ours.crawl or "run", i // size, tuple(files[i : i + size]))
        for i in range(0, len(files), size)
    ]
    output = ours.output
    resuming = FileSystems.exists(FileSystems.join(output, snapshots.MANIFEST))
    if not resuming:
        if ours.overwrite:
            raise UsageError(
                "--batch-files resumes a run in --output: --overwrite does not apply (use a new --output)"
            )
        prepare_output(output, overwrite=False)
    value_flags = {"--input": -1, "--output": 1}
    run_args = without_flags(without_flags(argv, value_flags), {"--dedup-against": -1, "--dedup_against": -1})
    run_args += ["--dedup-against", *ours.dedup_against] if ours.dedup_against else []
    return run_batches(batches, output, run_args, "run", with_crawl=False, strict=ours.strict)


def cmd_recurate(argv: list[str]) -> int:
    from pipeline import graph

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
    if not FileSystems.exists(FileSystems.join(args.input, "stats.json")):
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
    return report(stats, args.output, time.monotonic() - started, f"the rows of {args.input} re-decided:")


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
        from pipeline.train_synthetic import main as train_synthetic

        return train_synthetic(argv[1:])
    from pipeline.corpus import read_texts
    from transforms.quality_model import TrainSettings, train_quality_model

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
    from pipeline import snapshots

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


def run_batches(
    batches, output: str, run_args: list[str], what: str, with_crawl: bool, strict: bool = False
) -> int:
    """Run `batches` (snapshots.Batch) one pipeline run each, committing each into `output` and recording it
    in its manifest.jsonl; batches already recorded there are skipped (a rerun resumes)."""
    from pipeline import graph, snapshots

    done = snapshots.finished_batches(output)
    progress = snapshots.Progress(sum(len(b.files) for b in batches))
    todo = [b for b in batches if b.id not in done]
    progress.skip(sum(len(b.files) for b in batches if b.id in done))
    print(f"{what}: {len(batches)} batches, {len(batches) - len(todo)} already finished, {len(todo)} to run")
    index = FileSystems.join(output, graph.DEDUP_INDEX)
    user_against = (
        options.parse(["--input", "x", "--output", "x", *run_args])
        .view_as(options.PristineOptions)
        .dedup_against
    )
    for batch in todo:
        # every batch deduplicates against the indexes of the batches committed before it (older first)
        against = [*user_against, index] if FileSystems.exists(index) else list(user_against)
        # a backfill's human baseline for the synthetic estimates: the committed batches of older snapshots
        reference: list[str] = []
        if with_crawl and not any(
            a.startswith(("--synthetic-reference", "--synthetic_reference")) for a in run_args
        ):
            older = snapshots.reference_files(output, batch.crawl)
            reference = ["--synthetic-reference", *older] if older else []
        batch_argv = [
            "--input",
            *batch.files,
            "--output",
            output,
            *(["--crawl", batch.crawl] if with_crawl else []),
            *run_args,
            *(["--dedup-against", *against] if against else []),
            *reference,
        ]
        try:
            opts = options.parse(batch_argv)
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
        ours = opts.view_as(options.PristineOptions)
        staging = run_staged(lambda p, staging, ours=ours: graph.build(p, ours, staging), opts, output)
        if staging is None:
            raise UsageError(f"{what} runs its batches: --dry_run and --template_location do not apply")
        stats = snapshots.commit_batch(staging, output, batch)
        snapshots.append_manifest(
            output,
            {
                "batch": batch.id,
                "crawl": batch.crawl,
                "files": list(batch.files),
                "kept": stats["kept"],
                "html_responses": stats["html_responses"],
            },
        )
        progress.update(batch, stats["documents_read"])
    stats = snapshots.merge_stats(output)
    n_files = sum(len(b.files) for b in batches)
    return report(stats, output, time.monotonic() - progress.started, f"{n_files} input file(s),", strict)


def cmd_evaluate(argv: list[str]) -> int:
    if argv[:1] != ["synthetic"]:
        print("usage: pristine evaluate synthetic --input LABELLED.jsonl[.gz] [--json OUT]", file=sys.stderr)
        return 2
    from pipeline.evaluate_synthetic import main as evaluate_synthetic

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
    try:
        return COMMANDS[command][0](rest)
    except UsageError as exc:
        print(f"pristine {command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
