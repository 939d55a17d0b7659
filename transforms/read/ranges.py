"""Byte ranges of a file that are read independently, in parallel (`split_ranges`, `iter_records_in_range`)."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator

from transforms.crawl import crawl_from_filename
from transforms.read.archive import iter_records, iter_stream, read_record_at
from transforms.read.files import open_file
from transforms.read.record import MAX_BODY_BYTES, Record
from transforms.read.starts import GZIP_HEADER
from transforms.read.stream import READ_SIZE, SCAN_SIZE, ArchiveStream

# Byte ranges a file is read in, in parallel: enough of them to spread a crawl's files over the workers, few
# enough that opening one (a probe of the file's first member and its warcinfo) costs nothing beside reading it.
RANGE_BYTES = 4 * 1024 * 1024


def split_ranges(path: str, size: int, range_bytes: int | None = None) -> list[tuple[int, int | None]]:
    """Byte ranges [start, end) of a file that can be read independently (`iter_records_in_range`).

    A per-record gzip file (every record its own gzip member, as Common Crawl ships them) is cut every
    `range_bytes` (default RANGE_BYTES); the reader of a range starts at the first record member at or after its start, and
    reads every record that starts before its end. Any other layout (whole-file gzip, uncompressed, a file
    that cannot be opened or seeked) is one range: the whole file, (0, None).
    """
    range_bytes = range_bytes or RANGE_BYTES
    if size <= range_bytes or not _per_record_gzip(path):
        return [(0, None)]
    return [(start, min(start + range_bytes, size)) for start in range(0, size, range_bytes)]


def _per_record_gzip(path: str) -> bool:
    """Whether the file's first gzip member (within its first MiB) holds exactly one WARC record and more
    gzip members follow: the layout of Common Crawl's files, where every record is its own member."""
    try:
        with open_file(path) as fileobj:
            if not fileobj.seekable() or fileobj.read(3) != GZIP_HEADER:
                return False
            fileobj.seek(0)
            inflater = zlib.decompressobj(31)
            member, read = b"", 0
            while read < SCAN_SIZE and not inflater.eof:
                data = fileobj.read(READ_SIZE)
                if not data:
                    return False
                read += len(data)
                member += inflater.decompress(data, SCAN_SIZE)
            if not inflater.eof:
                return False
            more = inflater.unused_data[:3] == GZIP_HEADER or (
                len(inflater.unused_data) < 3 and (inflater.unused_data + fileobj.read(3))[:3] == GZIP_HEADER
            )
    except Exception:  # noqa: BLE001 - the reader reports an unreadable file; here it is just not split
        return False
    return more and _one_warc_record(member)


def _one_warc_record(data: bytes) -> bool:
    """Whether `data` is one WARC record: its header, Content-Length bytes of block and the closing CRLFs."""
    head_end = data.find(b"\r\n\r\n")
    if not data.startswith(b"WARC/") or head_end < 0:
        return False
    match = re.search(rb"\r\ncontent-length:[ \t]*(\d+)", data[:head_end], re.IGNORECASE)
    if match is None:
        return False
    block_end = head_end + 4 + int(match.group(1))
    return len(data) >= block_end and not data[block_end:].strip(b"\r\n")


def iter_records_in_range(
    path: str, start: int, end: int | None, max_body_bytes: int = MAX_BODY_BYTES
) -> Iterator[Record]:
    """The records of `path` (and unreadable markers) whose offset is in [start, end) (end None: the whole
    file, however its offsets are counted); from start 0,
    `iter_records` up to `end`; from any other start (a range of `split_ranges`), from the first gzip
    member at or after `start` that starts a record. ``crawl`` comes from the file's warcinfo as for the
    whole file (the record at offset 0), else from the file name."""
    if start == 0:
        records = iter_records(path, max_body_bytes)
    else:
        records = _iter_from_member(path, start, max_body_bytes)
    for record in records:
        if end is not None and record.warc_offset >= end:
            return
        yield record


def _iter_from_member(path: str, start: int, max_body_bytes: int) -> Iterator[Record]:
    first = read_record_at(path, 0, max_body_bytes)
    known = first.record_type == "warcinfo" and first.crawl != crawl_from_filename(path)
    crawl = first.crawl if known else crawl_from_filename(path)
    with open_file(path) as fileobj:
        probe = ArchiveStream(fileobj)
        member, _ = probe.find_member(start)
        if member is None:
            return
        fileobj.seek(member)
        stream = ArchiveStream(fileobj, start=member)
        yield from iter_stream(stream, path, max_body_bytes, crawl, crawl_known=known)


def file_ranges(path: str, size: int) -> list[tuple[str, int, int | None]]:
    """A file -> its (path, start, end) ranges (`split_ranges`); the last range ends at None (the end of the
    file), so its reader knows the file is done."""
    ranges = split_ranges(path, size)
    ranges[-1] = (ranges[-1][0], None)
    return [(path, start, end) for start, end in ranges]
