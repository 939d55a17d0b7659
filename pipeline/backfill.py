"""Runs in batches: `pristine backfill` (whole snapshots) and `pristine run --batch-files N`.

Each batch is one pipeline run (`pipeline.run.run_staged`), committed into the output as it finishes and
recorded in its manifest.jsonl (`pipeline.snapshots`: batch plans, commits, the manifest, summed stats); a
rerun of the same command skips the recorded batches. Every batch deduplicates against the signature
indexes of the batches committed before it; in a backfill, the committed batches of older snapshots are the
human reference of the synthetic-share estimates.
"""

from __future__ import annotations

import time

from apache_beam.io.filesystems import FileSystems

from pipeline import options, outputs, snapshots
from pipeline.run import UsageError, prepare_output, print_summary, run_staged


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


def run_resumable(argv: list[str], ours, size: int) -> int:
    """`pristine run --batch-files N`: the input files in batches of N, each committed into --output as it
    finishes (as backfill does); the same command after a kill skips the finished batches."""
    files = sorted(m.path for pattern in ours.input for m in FileSystems.match([pattern])[0].metadata_list)
    batches = [
        snapshots.Batch(ours.crawl or "run", i // size, tuple(files[i : i + size]))
        for i in range(0, len(files), size)
    ]
    output = ours.output
    resuming = FileSystems.exists(FileSystems.join(output, outputs.MANIFEST))
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


def run_batches(
    batches, output: str, run_args: list[str], what: str, with_crawl: bool, strict: bool = False
) -> int:
    """Run `batches` (snapshots.Batch) one pipeline run each, committing each into `output` and recording it
    in its manifest.jsonl; batches already recorded there are skipped (a rerun resumes)."""
    from pipeline import graph

    done = snapshots.finished_batches(output)
    progress = snapshots.Progress(sum(len(b.files) for b in batches))
    todo = [b for b in batches if b.id not in done]
    progress.skip(sum(len(b.files) for b in batches if b.id in done))
    print(f"{what}: {len(batches)} batches, {len(batches) - len(todo)} already finished, {len(todo)} to run")
    index = FileSystems.join(output, outputs.DEDUP_INDEX)
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
    return print_summary(
        stats, output, time.monotonic() - progress.started, f"{n_files} input file(s),", strict
    )
