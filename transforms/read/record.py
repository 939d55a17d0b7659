"""One `Record` per archive record, and the `unreadable` markers that stand for what could not be read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

MAX_BODY_BYTES = 10 * 1024 * 1024  # per HTML payload, before and after decoding
# the key of the per-range counts (and of stats.json) that lists unreadable inputs:
# [{file, offset, reason, detail}, ...], the first UNREADABLE_LISTED by file and offset (every one is a row
# in failed/)
UNREADABLE_INPUTS = "unreadable_inputs"
UNREADABLE_LISTED = 100


@dataclass
class Record:
    """One WARC/ARC record (or one ``unreadable`` marker); only HTML responses carry a body."""

    warc_filename: str
    warc_offset: int
    record_type: str
    warc_record_id: str | None = None
    url: str | None = None
    fetch_date: datetime | None = None
    payload_digest: str | None = None
    http_status: int | None = None
    content_type: str | None = None
    identified_payload_type: str | None = None
    charset_header: str | None = None
    body: bytes | None = None
    is_html: bool = False
    crawl: str | None = None
    failure_reason: str | None = None
    failure_detail: str | None = None
    digest_verified: bool | None = None  # see transforms/read/digests.py
    digest_detail: str | None = None  # which digest failed (or why none could be checked)


def unreadable_input(record: Record) -> dict | None:
    """What a failed row and the run's summary say about a record that could not be read (a marker, or a
    damaged record that is no HTML response): {file, offset, reason, detail}; None for a readable one."""
    if not record.failure_reason or record.is_html:
        return None
    return {
        "file": record.warc_filename,
        "offset": record.warc_offset,
        "reason": record.failure_reason,
        "detail": record.failure_detail,
    }


def unreadable(name: str, offset: int, crawl: str | None, kind: str, detail) -> Record:
    if isinstance(detail, BaseException):
        detail = f"{type(detail).__name__}: {detail}"
    detail = " ".join(str(detail).split())[:500]
    return Record(name, offset, "unreadable", crawl=crawl, failure_reason=kind, failure_detail=detail)


class Unreadable(Exception):
    """The record cannot be read: report it and resynchronise."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail
