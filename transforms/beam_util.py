"""What every stage's Beam wrapper shares: a dead letter for a row its stage raised on, a stage clock, and
the coder of document rows.

The first two report through Beam Metrics (``dead_letter/<stage>``, ``stage_microseconds/<stage>``); the
row side of a failure is ``transforms.schema.failed``.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import pickle
import struct
import time
from contextlib import contextmanager

from apache_beam.coders import coder_impl, coders, typecoders
from apache_beam.metrics import Metrics

from transforms.schema import failed

STAGE_TIME = "stage_microseconds"  # Beam counter namespace: wall time per stage, summed over workers


@functools.lru_cache(maxsize=1024)
def counter(namespace: str, name: str):
    """Beam's counter namespace/name, made once per process for the counters counted per element:
    Metrics.counter builds a new one on each call (~3 us), and a counter is only a name whose inc() counts
    into the bundle running in the calling thread, so one object serves every bundle."""
    return Metrics.counter(namespace, name)


def dead_letter(row: dict, stage: str, exc: BaseException) -> dict:
    """A row whose stage raised: failed as '<stage>_error' with the error, instead of failing the job."""
    counter("dead_letter", stage).inc()
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
        counter(STAGE_TIME, stage).inc(int((time.perf_counter() - start) * 1e6))


# --------------------------------------------------------------------------------------------------
# Document rows between stages
# --------------------------------------------------------------------------------------------------

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)
_INT64 = struct.Struct("<q")
_UTC_DATETIME, _PICKLED = b"\x01", b"\x00"


def _dumps(value) -> bytes:
    if type(value) is dt.datetime and value.tzinfo is dt.UTC:
        return _UTC_DATETIME + _INT64.pack((value - _EPOCH) // _MICROSECOND)
    return _PICKLED + pickle.dumps(value, pickle.HIGHEST_PROTOCOL)


def _loads(data: bytes):
    if data[:1] == _UTC_DATETIME:
        return _EPOCH + dt.timedelta(microseconds=_INT64.unpack_from(data, 1)[0])
    return pickle.loads(data[1:])


class _UtcDatetimeCoder(coders.Coder):
    """What FastPrimitivesCoder leaves to its fallback: a UTC datetime as 8 bytes of microseconds, anything
    else pickled."""

    def _create_impl(self):
        return coder_impl.CallbackCoderImpl(_dumps, _loads)

    def to_type_hint(self):
        return object


class DocumentRowCoder(coders.FastPrimitivesCoder):
    """Beam's FastPrimitivesCoder with rows' UTC datetimes (fetch_date, first_seen_date, ...) as 8 bytes
    instead of pickles: a scored row encodes and decodes in ~30 us instead of ~51."""

    def __init__(self):
        super().__init__(fallback_coder=_UtcDatetimeCoder())

    def __eq__(self, other):
        return type(self) is type(other)

    def __hash__(self):
        return hash(type(self))


class DocumentRow(dict):
    """The type hint of a PCollection of document rows (plain dicts): they cross stages in DocumentRowCoder."""


typecoders.registry.register_coder(DocumentRow, DocumentRowCoder)


def of_type(pcoll, hint):
    """`pcoll` with element type `hint`, which picks the coder it crosses stages in. Set here, not with
    with_output_types: `pristine run` builds its graph without Beam's type inference
    (``pipeline.options.beam_options``), which is what carries such hints to a PCollection."""
    pcoll.element_type = hint
    return pcoll
