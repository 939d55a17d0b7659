"""The record loop: a WARC/ARC file -> one `Record` per archive record, never an exception, never a hang.

warcio 1.8.1's record parser (`RecordIterator`) reads our decompressing stream (`ArchiveStream`); each
record it parses is read to its end by `read_record`. Whatever cannot be read is reported with
``failure_reason``, ``failure_detail`` and ``warc_offset``, either on the record it hit or as a
``Record(record_type="unreadable")`` marker, and reading goes on after it whenever the file can be
resynchronised (time stays linear in the file size; only an uncompressed record whose Content-Length is
too long costs a re-read of what it swallowed):

- ``truncated_record``: the data ends inside the record (the file is cut short), also inside its
  header or first line.
- ``bad_gzip``: a gzip member that does not decompress (corrupt header, deflate data, CRC or length;
  a member cut short in mid-file; a damaged header flag that makes zlib read on to the end of the
  file). The record read from it carries the failure (a marker stands for it when not even its
  header could be read), then reading resumes at the next gzip member in the file that decompresses
  to a record header; every gzip header passed over on the way that does not is one more ``bad_gzip``
  marker, and the failure's detail says how many bytes were skipped ("reading resumed at offset N (M
  bytes skipped)", or "no record in the M bytes after it"). So one bad member costs one record, not
  the rest of the file. A record whose data came out whole before its member failed its check keeps
  its body if its digest proves it intact (the marker then names the member).
- ``junk_between_members`` (``trailing_garbage`` after the last member): bytes that are no gzip member;
  one marker, then reading resumes at the next member that starts a record. A file whose first bytes
  are damaged is still read as gzip (or as uncompressed) from what follows.
- ``bad_record`` / ``missing_content_length``: a record header that cannot be parsed (damaged first
  line, binary garbage, no length); a marker, then reading resumes at the next line after its start
  that starts a record (``WARC/x.y``; an ARC header line). A header whose first line is damaged but
  is followed by WARC fields (or whose first line is what is left of a ``WARC/1.x`` line, right after
  the blank lines that end a record; for ARC, a line like an ARC header with a bad field) is found
  while skipping junk and is one more ``bad_record`` marker; the record before it stays clean.
- ``bad_content_length`` / ``junk_between_records``: junk after a record's declared end is skipped up
  to the next record (any amount; junk glued in front of a record's first line too). Right after the
  record's block it is the record's: ``bad_content_length`` (a Content-Length too short). After the
  blank lines that end a record, or when the record's block digest proves its length right, it is a
  ``junk_between_records`` marker and the record stays clean (a block digest that fails blames the
  record). A Content-Length that is too long runs into the next record: in per-record gzip files the
  block is cut where it enters the next gzip member that starts a record; in uncompressed files a
  record followed by junk or a damaged header, or cut by the end of the file, is searched for a record
  start inside it; either way the record gets ``bad_content_length`` and reading resumes at the record
  it swallowed. (A length too long for the last record is indistinguishable from a cut file.)
- ``io_error``: the file could not be read on (reported, not raised).

Limits: a whole-file gzip cannot be resynchronised inside its one deflate stream (the records before
the damage are kept, the rest of the member is lost and named by one marker); a gzip member whose
header is wholly destroyed together with the end of the member before it leaves no trace but the
skipped bytes the failure before it reports; input that cannot seek is read without resync or rewind.
A ``failure_reason`` on a record that is not HTML always means the file is damaged at that record.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from transforms.crawl import crawl_from_filename
from transforms.read.files import open_file
from transforms.read.iterator import RecordIterator
from transforms.read.parse import read_record
from transforms.read.record import MAX_BODY_BYTES, Record, Unreadable, unreadable
from transforms.read.sniff import not_archive_named
from transforms.read.starts import GZIP_HEADER, GZIP_MAGIC
from transforms.read.stream import ArchiveStream


def iter_records(path: str, max_body_bytes: int = MAX_BODY_BYTES) -> Iterator[Record]:
    """Records of the WARC/ARC file at `path` (local, gs://, s3://, ...); see the package docstring."""
    try:
        fileobj = open_file(path)
    except Exception as e:  # noqa: BLE001 - a file that cannot be opened is reported, not raised
        yield unreadable(path, 0, crawl_from_filename(path), "open_failed", e)
        return
    with fileobj:
        yield from not_archive_named(iter_records_from_stream(fileobj, path, max_body_bytes), path)


def iter_records_from_stream(
    fileobj: BinaryIO, warc_filename: str, max_body_bytes: int = MAX_BODY_BYTES
) -> Iterator[Record]:
    """Records of an open WARC/ARC file (read from its current position, offsets counted from there)."""
    crawl = crawl_from_filename(warc_filename)
    try:
        stream = ArchiveStream(fileobj)
    except Exception as e:  # noqa: BLE001
        yield unreadable(warc_filename, 0, crawl, "io_error", e)
        return
    yield from iter_stream(stream, warc_filename, max_body_bytes, crawl)


def read_record_at(path: str, offset: int, max_body_bytes: int = MAX_BODY_BYTES) -> Record:
    """The record at `warc_offset` `offset` of `path`, read on its own (to verify provenance).

    Per-record gzip and uncompressed files are read from `offset` on; for a whole-file gzip the
    stream is decompressed from the start up to `offset`. ``crawl`` comes from the file name only
    (the warcinfo record is not read).
    """
    crawl = crawl_from_filename(path)
    try:
        with open_file(path) as fileobj:
            gzipped = fileobj.read(2) == GZIP_MAGIC
            fileobj.seek(offset)
            if gzipped and fileobj.read(3) != GZIP_HEADER:
                fileobj.seek(0)
                stream = ArchiveStream(fileobj, skip=offset)
            else:
                fileobj.seek(offset)
                stream = ArchiveStream(fileobj, start=offset)
            for record in iter_stream(stream, path, max_body_bytes, crawl):
                return record
    except Exception as e:  # noqa: BLE001
        return unreadable(path, offset, crawl, "read_failed", e)
    return unreadable(path, offset, crawl, "no_record", "no record at this offset")


def iter_stream(
    stream: ArchiveStream, name: str, max_body_bytes: int, crawl: str | None, crawl_known: bool = False
) -> Iterator[Record]:
    """The records (and markers) of `stream`, resynchronising after damage; the first isPartOf of a warcinfo
    record becomes the file's crawl unless `crawl_known`."""
    it = RecordIterator(stream)
    yielded = False  # anything yielded yet
    if it.lead_junk:
        detail = f"{it.lead_junk} bytes that are no record before the first record"
        yield unreadable(
            name, stream.file_offset(it.offset - it.lead_junk), crawl, "junk_between_records", detail
        )
        yielded = True
    reported = False  # the stream's current error was reported on a record
    # the first isPartOf of a warcinfo record is the file's crawl (crawl_known: it was found already)
    while True:
        pos = it.offset
        result = None
        try:
            raw = next(it, None)
            if raw is not None:
                result = read_record(raw, it, stream, name, crawl, max_body_bytes)
        except Exception as e:  # noqa: BLE001 - warcio's parse errors and anything unexpected
            if stream.error is None:  # else: the data ended inside a record header, reported below
                reason, detail = (e.reason, e.detail) if isinstance(e, Unreadable) else ("bad_record", e)
                if stream.at_end() and not it.reader.rem_length():
                    reason, detail = "truncated_record", f"the data ends inside the record header ({detail})"
                yield unreadable(name, stream.file_offset(pos), crawl, reason, detail)
                yielded = True
                # the parser may have read on into the next record: look for it from just after here
                it = RecordIterator(stream, _reader_back_at(stream, it, pos), stream.format, resync=True)
                continue
        if result is None:  # end of the data, or of what can be read
            if stream.error is None:
                if not yielded:
                    yield unreadable(
                        name, stream.file_offset(pos), crawl, "no_records", "no record in the file"
                    )
                return
            markers, resume = _stream_error(stream, name, crawl, reported)
            yield from markers
            if resume is None:
                return
            stream.restart(resume)
            it = RecordIterator(stream, fmt=stream.format)
            yielded, reported = True, False
            continue
        reported = reported or result.carried_error
        if result.is_part_of and not crawl_known:
            crawl = result.record.crawl = result.is_part_of
            crawl_known = True
        yield result.record
        yielded = True
        for kind, offset, detail in result.markers:
            yield unreadable(name, offset, crawl, kind, detail)
        if result.restart is not None:
            stream.restart(result.restart)
            it = RecordIterator(stream, fmt=stream.format)
            reported = False


def _stream_error(
    stream: ArchiveStream, name: str, crawl: str | None, reported: bool
) -> tuple[list[Record], int | None]:
    """The markers of the error that ended `stream` (none for it when a record `reported` it already; one
    ``bad_gzip`` per gzip header skipped), and the file offset to resume at (None: nothing after it)."""
    kind, detail, offset = stream.error
    resume, bad = stream.resync()
    if resume is not None:  # there is more after it: no end of the file, nor of the gzip data
        kind = {"trailing_garbage": "junk_between_members", "truncated_gzip": "bad_gzip"}.get(kind, kind)
    detail = f"{detail}{stream.resync_note(offset)}"
    markers = [] if reported else [unreadable(name, offset, crawl, kind, detail)]
    skipped = "gzip member that does not decompress to a record"
    markers += [unreadable(name, at, crawl, "bad_gzip", skipped) for at in bad]
    return markers, resume


def _reader_back_at(stream: ArchiveStream, it: RecordIterator, pos: int):
    """`it`'s reader, moved back to one byte after stream position `pos` if it has read beyond (None:
    the stream was restarted there, a new reader is needed)."""
    reader = it.reader
    back = stream.tell() - reader.rem_length() - (pos + 1)
    if back <= 0:
        return reader
    if reader.buff is not None and reader.buff.tell() >= back:  # still in its buffer
        reader.buff.seek(reader.buff.tell() - back)
        return reader
    if not stream.can_seek:
        return reader
    if not stream.gzipped:
        stream.restart(pos + 1)
        return None
    member = stream.record_member_after(pos, stream.tell() - reader.rem_length())
    if member is None:
        return reader
    stream.restart(member)
    return None
