"""pristine: the command line.

pristine run --input PATH_OR_GLOB... --output DIR [--crawl ID] [--runner R] [any Beam option]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipeline import graph, options
from pipeline.stats import read_stats, summary
from transforms.sink import ROOT_OF_STATUS

MANAGED_OUTPUTS = [*ROOT_OF_STATUS.values(), "stats.json"]


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


def prepare_output(output_dir: str, overwrite: bool) -> None:
    """The output directory must be new or empty (or --overwrite), and writable."""
    present = [name for name in MANAGED_OUTPUTS if FileSystems.exists(FileSystems.join(output_dir, name))]
    if present and not overwrite:
        raise UsageError(f"output {output_dir!r} already holds a run ({', '.join(present)}); use --overwrite")
    try:
        if present:
            FileSystems.delete([FileSystems.join(output_dir, name) for name in present])
        if not FileSystems.exists(output_dir):
            FileSystems.mkdirs(output_dir)
        probe = FileSystems.join(output_dir, ".pristine-write-probe")
        with FileSystems.create(probe) as f:
            f.write(b"ok")
        FileSystems.delete([probe])
    except Exception as exc:
        raise UsageError(f"output {output_dir!r} is not writable: {exc}") from exc


def run(argv: list[str]) -> int:
    try:
        opts = options.parse(argv)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    ours = opts.view_as(options.PristineOptions)
    n_files = check_inputs(ours.input)
    prepare_output(ours.output, ours.overwrite)
    if ours.thresholds:
        from transforms.decide import load_thresholds

        try:
            load_thresholds(ours.thresholds)
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
    started = time.monotonic()
    pipeline = beam.Pipeline(options=opts)
    graph.build(pipeline, ours)
    pipeline.run().wait_until_finish()
    seconds = time.monotonic() - started
    stats = read_stats(ours.output)
    docs = stats["documents_read"]
    print(summary(stats))
    print(
        f"{n_files} input file(s), {docs:,} documents in {seconds:.1f} s ({docs / max(seconds, 1e-9):.1f} docs/s)"
    )
    print(f"output: {ours.output}  (curated/, rejected/, failed/, stats.json)")
    return 0 if stats["accounting_ok"] else 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="pristine", description=__doc__.strip().splitlines()[0])
    parser.add_argument(
        "command", choices=["run"], help="what to do; `pristine COMMAND --help` for its flags"
    )
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in ("run",):
        parser.error(f"unknown command {command!r}")
    if "-h" in rest or "--help" in rest:
        help_parser = argparse.ArgumentParser(
            prog=f"pristine {command}",
            description="flags of pristine run; "
            "any Beam pipeline option (--runner, --direct_num_workers, ...) too",
        )
        options.PristineOptions._add_argparse_args(help_parser)
        help_parser.print_help()
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return run(rest)
    except UsageError as exc:
        print(f"pristine {command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
