"""The read stage: WARC / ARC files -> one `Record` per archive record, never an exception, never a hang.

Every layout reads the same way:

- WARC or ARC, **gzip per record** (Common Crawl, Heritrix, IA ARC.gz): ``warc_offset`` is the byte
  offset of the record's gzip member in the file, as in the CC index; seek there and read one member.
- **uncompressed** WARC / ARC: ``warc_offset`` is the raw byte offset of the record's first line.
- **whole-file gzip** (one gzip member holding many records, e.g. ClueWeb12): ``warc_offset`` is the
  offset in the *decompressed* stream; a reader has to decompress from the start to get there.
  The first record (offset 0) is the same either way. In general: a record that starts exactly where
  a gzip member starts gets that member's file offset, any other record its decompressed offset.
  `read_record_at` tells the two apart by looking for a gzip member header at the offset.

Every record yields exactly one `Record` (warcinfo, request, metadata, revisit, ... with ``body=None``), so
a caller can count records by type. ARC records are reported as ``response`` (the ARC file header as
``warcinfo``); a WARC-Type that is no plain token is reported as ``unknown``. HTML responses (``response``
records and ARC records with an HTTP status line, any status code) carry ``is_html=True`` and ``body``, the
decoded HTTP payload, at most ``max_body_bytes`` (10 MiB by default) before and after decoding; one whose
body cannot be had carries ``body=None`` and a ``failure_reason``: ``truncated_record``,
``payload_too_large``, ``bad_chunked_encoding``, ``bad_content_encoding``, ``bad_content_length``,
``bad_gzip``, ``http_header_too_large`` (HTTP headers over 64 KiB) or ``binary_payload`` (`media.py`).

One concern per module, in the order bytes flow:

  files.py         open a path (local, gs://, s3://, http(s)://); http_reader.py: http(s) with retries
  starts.py        where records and gzip members start (to tell what a file is, to resynchronise)
  stream.py        the decompressed bytes of a file, resynchronised after a damaged gzip member
  iterator.py      warcio's record parser over that stream, with what lies between records handled our way
  archive.py       the record loop: iter_records, read_record_at; what each failure_reason means
  parse.py         one record read to its end: header fields, block, failures, HTML body
  http_message.py  the HTTP status line and headers; payload.py: de-chunking, gzip / deflate / brotli
  media.py         HTML or not, binary payloads; charset.py: HTML bytes -> text (decode_html)
  digests.py       WARC-Block-Digest / WARC-Payload-Digest checks (digest_verified)
  sniff.py         what a file that yields no record is (empty, JSON Lines, Parquet, text)
  ranges.py        byte ranges of a file read in parallel
  record.py        Record and the unreadable markers; documents.py: the rows the stage emits
  beam.py          the Beam composites (ReadHtmlResponses, ReadTextDocuments) and the http(s) FileSystem

Only beam.py imports Apache Beam (files.py opens paths through Beam's FileSystems when called).
"""

from transforms.crawl import crawl_from_filename
from transforms.read.archive import iter_records, iter_records_from_stream, read_record_at
from transforms.read.charset import decode_html
from transforms.read.digests import format_digest, parse_digest
from transforms.read.media import HTML_MEDIA_TYPES
from transforms.read.ranges import file_ranges, iter_records_in_range, split_ranges
from transforms.read.record import MAX_BODY_BYTES, Record, unreadable_input
from transforms.read.sniff import not_archive

__all__ = [
    "HTML_MEDIA_TYPES",
    "MAX_BODY_BYTES",
    "Record",
    "crawl_from_filename",
    "decode_html",
    "file_ranges",
    "format_digest",
    "iter_records",
    "iter_records_from_stream",
    "iter_records_in_range",
    "not_archive",
    "parse_digest",
    "read_record_at",
    "split_ranges",
    "unreadable_input",
]
