"""What a file is, when it yields no record: empty, JSON Lines, Parquet, text, binary data (`not_archive`)."""

from __future__ import annotations

import json
from collections.abc import Iterator

from transforms.read.files import head_bytes
from transforms.read.record import Record
from transforms.read.starts import MAX_LINE, is_arc_header

_MARKERS_HELD = 1000  # unreadable markers held back while a file has shown no record yet


def not_archive_named(records: Iterator[Record], path: str) -> Iterator[Record]:
    """`records`, except that a file that yields no clean record and is plainly no WARC/ARC (empty, JSON,
    Parquet, text, ...) yields one ``empty_file`` / ``not_warc`` marker saying what it is instead of the
    markers and failed records its bytes gave (``not_archive``)."""
    held: list[Record] | None = []
    for record in records:
        if held is not None and record.failure_reason and len(held) < _MARKERS_HELD:
            held.append(record)
            continue
        if held:
            yield from held
        held = None  # a clean record (or too many failures): the file is an archive, pass everything on
        yield record
    if not held:
        return
    if any(r.failure_reason in ("open_failed", "io_error") for r in held):
        yield from held  # the file could not be read at all: that is what it says, no second attempt
        return
    try:
        head = head_bytes(path)
    except Exception:  # noqa: BLE001 - cannot look again: the markers as read
        head = None
    verdict = None if head is None else not_archive(head)
    if verdict is None:
        yield from held
        return
    yield Record(
        path, 0, "unreadable", crawl=held[0].crawl, failure_reason=verdict[0], failure_detail=verdict[1]
    )


_SUGGEST = "pass --input-format {fmt} for documents with a 'text' field"


def not_archive(head: bytes) -> tuple[str, str] | None:
    """(reason, detail) when the first bytes of a file are plainly not WARC/ARC, else None.

    ``empty_file``: no bytes (or an empty gzip); ``not_warc``: JSON Lines / JSON, Parquet, other text or
    binary data, with the ``--input-format`` to use where one fits. Pure: used on files that yielded no record.
    """
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        return "empty_file", "the file is empty: no WARC/ARC record in it"
    line = stripped[:MAX_LINE].split(b"\n", 1)[0].rstrip(b"\r")
    if line.startswith(b"WARC/") or is_arc_header(line, strict=True):
        return None  # a damaged archive: its markers say where
    if head[:4] == b"PAR1":
        return "not_warc", f"a Parquet file, not WARC/ARC: {_SUGGEST.format(fmt='parquet')}"
    first_line = stripped.split(b"\n", 1)[0].strip()
    if stripped[:1] in (b"{", b"["):
        try:
            value = json.loads(first_line)
        except ValueError:
            value = None
        if isinstance(value, dict):
            return "not_warc", f"JSON Lines, not WARC/ARC: {_SUGGEST.format(fmt='jsonl')}"
        return "not_warc", f"JSON, not WARC/ARC: {_SUGGEST.format(fmt='jsonl')} (one object per line)"
    sample = stripped[:4096]
    if sum(b < 9 or 13 < b < 32 for b in sample) <= len(sample) // 100:
        shown = first_line[:60].decode("utf-8", "replace")
        return "not_warc", (
            f"text that is no WARC/ARC (first line {shown!r}); for documents as JSON Lines or Parquet, "
            "pass --input-format jsonl or parquet"
        )
    return "not_warc", f"binary data that is no WARC/ARC (first bytes {stripped[:8].hex()})"
