"""What every stage does to a row that fails, and the per-stage clock: shared by the stages' Beam wrappers.

Beam's Metrics is imported when a counter is incremented (inside a DoFn, where Beam is loaded), so this
module stays importable without Beam.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager

from transforms.schema import STATUS_FAILED

STAGE_TIME = "stage_microseconds"  # Beam counter namespace: wall time per stage, summed over workers


def failed(row: dict, reason: str, detail: str | None) -> dict:
    row.update(status=STATUS_FAILED, failure_reason=reason, failure_detail=(detail or "")[:1000] or None)
    return row


def dead_letter(row: dict, stage: str, exc: BaseException) -> dict:
    """A row whose stage raised: failed as '<stage>_error' with the error, instead of failing the job."""
    from apache_beam.metrics import Metrics

    Metrics.counter("dead_letter", stage).inc()
    logging.getLogger(__name__).warning(
        "%s failed on %s @ %s: %r", stage, row.get("warc_filename"), row.get("warc_offset"), exc
    )
    return failed(row, f"{stage}_error", f"{type(exc).__name__}: {exc}")


@contextmanager
def stage_clock(stage: str):
    from apache_beam.metrics import Metrics

    start = time.perf_counter()
    try:
        yield
    finally:
        Metrics.counter(STAGE_TIME, stage).inc(int((time.perf_counter() - start) * 1e6))
