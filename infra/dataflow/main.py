"""Flex Template entry point (FLEX_TEMPLATE_PYTHON_PY_FILE): build the pristine job, submit it, return.

The Dataflow launcher runs this file with the template's parameters (metadata.json: pristine's own flags)
and the Dataflow options (--runner, --project, --region, --temp_location, --sdk_container_image, ...).
It makes the same checks as `pristine run` (inputs match files, thresholds and model load, the output holds
no run), then submits the job without waiting for it, as a launcher must.

Unlike `pristine run`, which writes into a staging directory and moves the finished run into place from the
machine that waits for the job, a job launched from a template writes straight into --output: the launcher
is gone before the job ends. So --output must be new or empty, and a failed job leaves a partial directory
without stats.json (stats.json is written last: its presence means the run is complete).
"""

from __future__ import annotations

import sys

import apache_beam as beam

from pipeline import graph, options, run, usage


def build_job(argv: list[str]) -> beam.Pipeline:
    """The pipeline for `argv` (pristine flags and Beam options), after the command line's checks."""
    try:
        opts = options.parse(argv)
    except ValueError as exc:
        raise usage.UsageError(str(exc)) from exc
    ours = opts.view_as(options.PristineOptions)
    if ours.overwrite:
        raise usage.UsageError("--overwrite is not available to template launches: give a new --output")
    run.check_inputs(ours.input)
    usage.check_thresholds(ours.thresholds)
    usage.check_model(ours.quality_model, "--quality-model")
    run.check_synthetic_reference(ours.synthetic_reference)
    run.prepare_output(ours.output, overwrite=False)
    pipeline = beam.Pipeline(options=opts)
    graph.build(pipeline, ours, ours.output)
    return pipeline


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        pipeline = build_job(argv)
    except usage.UsageError as exc:
        print(f"pristine (flex template): error: {exc}", file=sys.stderr)
        return 2
    result = pipeline.run()  # submits (or, for a template or a dry run, only builds); no wait
    try:
        job_id = result.job_id()
    except (AttributeError, NotImplementedError):  # a dry run or a template: no job was created
        job_id = None
    print(f"submitted job {job_id}" if job_id else "job built, not submitted (dry run or template)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
