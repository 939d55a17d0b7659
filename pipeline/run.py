"""The run lifecycle: check the inputs, stage the run, check it, commit it, print its summary.

A run writes into a staging directory under its output (``_incomplete-*``) and replaces the output's
previous run only once it has finished and its accounting holds (`run_beam`); a run that fails leaves the
output as it was. `pipeline.cli` parses the command line and calls these; `pipeline.backfill` runs batches
through `run_staged`.
"""

from __future__ import annotations

import os
import sys
import uuid
from contextlib import contextmanager

from apache_beam.io.filesystems import FileSystems

from pipeline import outputs
from pipeline.stats import nest, read_stats, summary, write_stats_file
from pipeline.usage import UsageError
from transforms.read import beam as read_beam

assert read_beam  # registers http(s):// with Beam's FileSystems, for --input URLs


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
    present = [name for name in outputs.MANAGED if FileSystems.exists(FileSystems.join(output_dir, name))]
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
    return FileSystems.join(output_dir, f"{outputs.STAGING_PREFIX}{uuid.uuid4().hex[:12]}")


def commit_output(staging: str, output_dir: str) -> None:
    """Replace output_dir's previous run (if any) by the finished run in `staging`."""
    old = [
        FileSystems.join(output_dir, n)
        for n in outputs.MANAGED
        if FileSystems.exists(FileSystems.join(output_dir, n))
    ]
    if old:
        FileSystems.delete(old)
    files = [m.path for m in FileSystems.match([FileSystems.join(staging, "**")])[0].metadata_list]
    moves = [(src, FileSystems.join(output_dir, src[len(staging) :].lstrip("/"))) for src in files]
    # stats.json last: its presence means the run is complete
    moves.sort(key=lambda m: m[1].endswith(outputs.STATS))
    for src, dst in moves:
        parent = dst.rsplit("/", 1)[0]
        if not FileSystems.exists(parent):
            FileSystems.mkdirs(parent)
        FileSystems.rename([src], [dst])
    FileSystems.delete([staging])


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

    from pipeline.beam_cache import cached_inspection
    from transforms.extract.beam import remove_payload_dirs

    staging = staging_dir(output)
    try:
        with cached_inspection():  # building, translating and (locally) running the graph
            pipeline = beam.Pipeline(options=opts)
            build(pipeline, staging)
            result = pipeline.run()
            if builds_only(opts):
                return None
            result.wait_until_finish()
        check_dedup_verdicts(result)
        check_accounting(staging)
        add_run_metrics(staging, result)
    except BaseException:
        if FileSystems.exists(staging):
            FileSystems.delete([staging])
        raise
    finally:
        remove_payload_dirs()  # the extraction results the local workers shared
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


def counter_totals(result, namespace: str, committed_only: bool = False) -> dict[str, float] | None:
    """{counter name: its total over workers} of one Beam metrics namespace; None where the runner reports no
    metrics (or, `committed_only`, no committed values). Otherwise the committed value, else the attempted."""
    from apache_beam.metrics.metric import MetricsFilter

    try:
        counters = result.metrics().query(MetricsFilter().with_namespace(namespace))["counters"]
    except Exception:  # a runner without metrics support
        return None
    totals: dict[str, float] = {}
    for c in counters:
        value = c.committed if committed_only else (c.committed or c.attempted or 0)
        if value is None:
            return None
        totals[c.key.metric.name] = totals.get(c.key.metric.name, 0) + value
    return totals


def check_dedup_verdicts(result) -> None:
    """Every dedup verdict emitted must reach its row (dedup/verdicts_emitted = dedup/verdicts_joined): a
    runner that lost elements fails the run here, before anything is committed. Skipped where the runner
    reports no committed counters."""
    totals = counter_totals(result, "dedup", committed_only=True)
    if totals is None:
        return
    emitted, joined = totals.get("verdicts_emitted", 0), totals.get("verdicts_joined", 0)
    if emitted != joined:
        raise RuntimeError(
            f"dedup: {emitted:,} verdicts emitted but {joined:,} joined to their rows: the runner lost "
            "elements; the output of this run is not committed"
        )


def add_run_metrics(run_dir: str, result) -> None:
    """Put the run's Beam metrics into stats.json (where the runner has them): `stage_seconds`, the stage
    clocks and the runner's own time of TIMED_TRANSFORMS; `extraction`, the extract stage's counters (pages
    decided by each extractor, trafilatura calls skipped by rule, payloads reused)."""
    from transforms.beam_util import STAGE_TIME

    micros = counter_totals(result, STAGE_TIME)
    extraction = counter_totals(result, "extract")
    if micros is None and not extraction:  # the report just has no timing chart
        return
    stats = read_stats(run_dir)
    if micros is not None:
        seconds = {name: value / 1e6 for name, value in micros.items()}
        seconds.update(transform_seconds(result, TIMED_TRANSFORMS))
        stats["stage_seconds"] = {k: round(v, 3) for k, v in sorted(seconds.items())}
    if extraction:
        stats["extraction"] = nest({name: int(n) for name, n in extraction.items()})
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


def print_summary(stats: dict, output: str, seconds: float, inputs: str, strict: bool = False) -> int:
    """Print the run's summary; the exit code: 1 when accounting is broken, or (--strict) when any input
    could not be read."""
    from pipeline.report import write_report

    docs = stats["documents_read"]
    print(summary(stats))
    if "://" not in output:
        print(f"report: {write_report(output)}")
    rate = docs / max(seconds, 1e-9)
    print(f"{inputs} {docs:,} documents in {seconds:.1f} s ({rate:.1f} docs/s)")
    print(f"output: {output}  ({', '.join(f'{root}/' for root in outputs.ROOTS)}, {outputs.STATS})")
    if not stats["accounting_ok"]:
        return 1
    unreadable = stats.get("unreadable_total", 0)
    if strict and unreadable:
        print(f"--strict: {unreadable:,} unreadable input(s), listed above: exit code 1", file=sys.stderr)
        return 1
    return 0
