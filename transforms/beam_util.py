"""What every stage's Beam wrapper shares: a dead letter for a row its stage raised on, and a stage clock.

Both report through Beam Metrics (``dead_letter/<stage>``, ``stage_microseconds/<stage>``); the row side
of a failure is ``transforms.schema.failed``.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager

from apache_beam.metrics import Metrics

from transforms.schema import failed

STAGE_TIME = "stage_microseconds"  # Beam counter namespace: wall time per stage, summed over workers


def dead_letter(row: dict, stage: str, exc: BaseException) -> dict:
    """A row whose stage raised: failed as '<stage>_error' with the error, instead of failing the job."""
    Metrics.counter("dead_letter", stage).inc()
    logging.getLogger(__name__).warning(
        "%s failed on %s @ %s: %r", stage, row.get("warc_filename"), row.get("warc_offset"), exc
    )
    return failed(row, f"{stage}_error", f"{type(exc).__name__}: {exc}")


@contextmanager
def stage_clock(stage: str):
    """Time the block into the Beam counter stage_microseconds/<stage>."""
    start = time.perf_counter()
    try:
        yield
    finally:
        Metrics.counter(STAGE_TIME, stage).inc(int((time.perf_counter() - start) * 1e6))
