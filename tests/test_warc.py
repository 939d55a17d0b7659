"""transforms/read/ on the real sample files in ../shared/data/warc-samples (read-only)."""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import struct
import time
import zlib
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import brotli
import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from transforms.crawl import crawl_id
from transforms.read import (
    MAX_BODY_BYTES,
    Record,
    crawl_from_filename,
    decode_html,
    iter_records,
    iter_records_from_stream,
    read_record_at,
)

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "warc-samples"
MANIFEST = {m["file"]: m for m in map(json.loads, (SAMPLES / "MANIFEST.jsonl").read_text().splitlines())}

# Files warcio could not read (MANIFEST warcio_error), with what they really hold. The whole-file
# gzip ones match MANIFEST fallback_count; example-wrong-chunks.warc.gz is a response whose gzip
# member ends in mid-record, followed by a request: read as one stream it is two intact records.
UNREADABLE_BY_WARCIO = {
    "commoncrawl/small-sample-1213893279526_0.arc": ({"warcinfo": 1, "response": 145}, 139),
    "clueweb/0000tw-00.warc.gz": ({"warcinfo": 1, "response": 3}, 3),
    "edge-cases/example-bad-non-chunked.warc.gz": (
        {"warcinfo": 2, "response": 1, "request": 2, "revisit": 1},
        1,
    ),
    "edge-cases/example-bad.warc.gz.bad": ({"warcinfo": 1, "response": 2, "request": 2, "revisit": 1}, 2),
    "edge-cases/example-wrong-chunks.warc.gz": ({"response": 1, "request": 1}, 1),
}
# Where our HTML count differs from MANIFEST html_responses (which counts text/html payloads):
HTML_RESPONSES = {
    # the second response's status line is "HTTPX/1.1 200 OK": no HTTP status, so no HTML response
    "edge-cases/example-extra.warc": 1,
    # the HTML is a `resource` record (a stored file), not an HTTP response
    "edge-cases/example-resource.warc.gz": 0,
}
# Every failure reported on a sample file (no sample file has an `unreadable` marker).
FAILURES = {
    "edge-cases/clipped.warc.gz": {("response", "truncated_record"): 1},  # gzip member cut short
    "edge-cases/example-space-in-url.arc": {("response", "truncated_record"): 1},  # 12 bytes short
    "edge-cases/example-trunc.warc": {("response", "bad_content_length"): 1},  # 4 bytes past its length
    "edge-cases/bad.arc": {("warcinfo", "bad_content_length"): 1, ("response", "bad_content_length"): 2},
}


def read(path: Path | str, data: bytes | None = None, **kwargs) -> list[Record]:
    """All records of a file (opened through Beam's FileSystems), or of `data` named `path`."""
    if data is None:
        return list(iter_records(str(path), **kwargs))
    return list(iter_records_from_stream(io.BytesIO(data), str(path), **kwargs))


@pytest.fixture(scope="module")
def html_page() -> bytes:
    """Real HTML: the Wikipedia page of Common Crawl's whirlwind sample."""
    [page] = [r.body for r in read(SAMPLES / "commoncrawl/whirlwind.warc.gz") if r.is_html]
    return page


def warc_response(
    payload: bytes,
    http_headers: list[tuple[str, str]],
    status: str = "200 OK",
    warc_headers: dict | None = None,
) -> bytes:
    """A one-record WARC (gzip per record) written by warcio's WARCWriter."""
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    http = StatusAndHeaders(status, http_headers, protocol="HTTP/1.1")
    record = writer.create_warc_record(
        "http://example.com/page",
        "response",
        payload=io.BytesIO(payload),
        http_headers=http,
        warc_headers_dict=warc_headers or {},
    )
    writer.write_record(record)
    return out.getvalue()


def only_response(data: bytes, **kwargs) -> Record:
    [record] = read("synthetic.warc.gz", data, **kwargs)
    assert record.record_type == "response"
    return record


# ------------------------------------------------------------------------------------ all sample files


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_every_sample_file(name):
    entry = MANIFEST[name]
    records = read(SAMPLES / name)

    assert records and all(isinstance(r, Record) for r in records)
    types = Counter(r.record_type for r in records)
    html = [r for r in records if r.is_html]
    expected_types, expected_html = UNREADABLE_BY_WARCIO.get(
        name, (entry["records"], entry["html_responses"])
    )
    assert dict(types) == expected_types
    assert len(html) == HTML_RESPONSES.get(name, expected_html)

    failures = Counter((r.record_type, r.failure_reason) for r in records if r.failure_reason)
    assert dict(failures) == FAILURES.get(name, {})
    for r in records:
        assert r.body is None or (r.is_html and r.failure_reason is None)
        if r.is_html:
            assert r.record_type == "response" and r.http_status is not None
            assert (r.body is None) == (r.failure_reason is not None)
        assert r.url is None or (not r.url.startswith("<") and " " not in r.url)
        assert r.fetch_date is None or r.fetch_date.tzinfo is UTC
        assert r.warc_record_id
    offsets = [r.warc_offset for r in records]
    assert offsets == sorted(set(offsets))


def test_offsets_match_warcio_on_files_it_reads():
    for name, entry in MANIFEST.items():
        if entry["warcio_error"]:
            continue
        with open(SAMPLES / name, "rb") as f:
            it = ArchiveIterator(f, arc2warc=True)
            theirs = [it.get_record_offset() for _ in it]
        assert [r.warc_offset for r in read(SAMPLES / name)] == theirs, name


def test_bodies_match_warcio():
    """For clean per-record files, our decoded body equals warcio's content_stream()."""
    for name in ["commoncrawl/warcfile.warc.gz", "other-crawls/example.warc.gz", "edge-cases/dupes.warc.gz"]:
        ours = {r.warc_offset: r.body for r in read(SAMPLES / name) if r.is_html}
        theirs = {}
        with open(SAMPLES / name, "rb") as f:
            it = ArchiveIterator(f, arc2warc=True)
            for rec in it:
                theirs[it.get_record_offset()] = rec.content_stream().read()
        assert ours and all(body == theirs[offset] for offset, body in ours.items()), name


def test_cc_2008_arc():
    records = read(SAMPLES / "commoncrawl/small-sample-1213893279526_0.arc")
    assert len(records) == 146
    assert records[0].record_type == "warcinfo"
    html = [r for r in records if r.is_html]
    assert len(html) == 139
    assert all(r.body is not None and r.failure_reason is None for r in html)
    # the headers say gzip + chunked, the stored payloads are plain HTML (one is empty)
    assert Counter(r.body.lstrip(b"\xef\xbb\xbf").lstrip()[:1] for r in html) == {b"<": 138, b"": 1}
    assert Counter(r.content_type for r in records if r.record_type == "response" and not r.is_html) == {
        "application/pdf": 6
    }
    first = html[0]
    assert first.url == "http://cineciudad.com/pelicula/index/502"
    assert first.fetch_date == datetime(2008, 5, 9, 19, 2, 41, tzinfo=UTC)
    assert first.warc_record_id.startswith("<urn:sha1:")
    assert first.crawl is None


def test_arc_and_warc_of_the_same_crawl_agree():
    arc = read(SAMPLES / "other-crawls/IAH-20080430204825-00000-blackbook.arc.gz")
    warc = read(SAMPLES / "other-crawls/example.warc.gz")
    arc_html = {(r.url, r.fetch_date): r.body for r in arc if r.is_html}
    warc_html = {(r.url, r.fetch_date): r.body for r in warc if r.is_html}
    assert len(arc_html) == len(warc_html) == 140
    assert arc_html == warc_html


def test_revisits_and_non_responses_are_not_html():
    records = read(SAMPLES / "other-crawls/iana.warc.gz")
    revisits = [r for r in records if r.record_type == "revisit"]
    assert len(revisits) == 123
    assert not any(r.is_html or r.body for r in revisits)
    for name in ["commoncrawl/whirlwind.warc.wat.gz", "commoncrawl/whirlwind.warc.wet.gz"]:
        assert not any(r.is_html or r.body for r in read(SAMPLES / name))


def test_record_fields():
    records = read(SAMPLES / "clueweb/clueweb-quirk.warc.gz")
    # WARC-Date 2008-10-294T05:21:46-0700 is invalid: no date, no exception
    assert all(r.fetch_date is None for r in records if r.record_type == "response")
    assert {r.identified_payload_type for r in records} == {None}  # empty header
    assert {r.charset_header for r in records if r.is_html} == {"EUC-JP"}

    for name in ["edge-cases/example-wget-bad-target-uri.warc.gz", "other-crawls/sample-0000.warc.gz"]:
        urls = [r.url for r in read(SAMPLES / name) if r.record_type == "response"]
        assert urls and all(u.startswith(("http://", "https://")) for u in urls)

    [page] = [r for r in read(SAMPLES / "commoncrawl/whirlwind.warc.gz") if r.is_html]
    assert page.url == "https://an.wikipedia.org/wiki/Escopete"
    assert page.fetch_date == datetime(2024, 5, 18, 1, 58, 10, tzinfo=UTC)
    assert page.http_status == 200 and page.content_type == "text/html"
    assert page.identified_payload_type == "text/html"
    assert page.payload_digest.startswith("sha1:")
    assert page.warc_record_id.startswith("<urn:uuid:")


# ------------------------------------------------------------------------------------ provenance

PROVENANCE_FILES = [
    "commoncrawl/warcfile.warc.gz",  # WARC, gzip per record
    "commoncrawl/whirlwind.warc",  # WARC, uncompressed
    "clueweb/0000tw-00.warc.gz",  # WARC, whole-file gzip
    "edge-cases/example-bad-non-chunked.warc.gz",  # WARC, whole-file gzip
    "edge-cases/example-wrong-chunks.warc.gz",  # gzip members not aligned with records
    "commoncrawl/small-sample-1213893279526_0.arc",  # ARC, uncompressed
    "other-crawls/IAH-20080430204825-00000-blackbook.arc.gz",  # ARC, gzip per record
]


@pytest.mark.parametrize("name", PROVENANCE_FILES)
def test_read_record_at_gives_the_same_record(name):
    path = str(SAMPLES / name)
    records = read(path)
    data = Path(path).read_bytes()
    html = [r for r in records if r.is_html]
    sample = html[:: max(1, len(html) // 15)] + [r for r in records if not r.is_html][:3]
    assert html
    for rec in sample:
        again = read_record_at(path, rec.warc_offset)
        assert again == dataclasses.replace(rec, crawl=again.crawl)  # crawl: from the file name only
        if data[rec.warc_offset : rec.warc_offset + 2] == b"\x1f\x8b":  # offset of a gzip member
            head = zlib.decompressobj(31).decompress(data[rec.warc_offset :], 64)
        elif data[:2] == b"\x1f\x8b":  # offset in the decompressed stream
            head = gzip.decompress(data)[rec.warc_offset :][:64]
        else:
            head = data[rec.warc_offset :][:64]
        assert head.startswith(b"WARC/") or head.decode("latin-1").startswith(rec.url[:20])


def test_whole_file_gzip_offsets_are_in_the_decompressed_stream():
    data = (SAMPLES / "clueweb/0000tw-00.warc.gz").read_bytes()
    plain = gzip.decompress(data)
    records = read("0000tw-00.warc.gz", data)
    assert [r.warc_offset for r in records] == [r.warc_offset for r in read("plain.warc", plain)]
    assert max(r.warc_offset for r in records) > len(data)  # beyond the compressed size


# ------------------------------------------------------------------------------------ payloads


def test_chunked_body_is_dechunked():
    name = "edge-cases/example-iana.org-chunked.warc"
    [rec] = [r for r in read(SAMPLES / name) if r.is_html]
    assert rec.failure_reason is None
    assert rec.body.startswith(b"<!doctype html>")
    assert rec.body.rstrip().endswith(b"</html>")
    raw = (SAMPLES / name).read_bytes()
    stored = raw[raw.index(b"\r\n\r\n", raw.index(b"HTTP/1.1 200")) + 4 :]
    # stored as one chunk of 0x1c37 bytes and the last-chunk line
    assert stored.startswith(b"001c37\r\n") and stored[8 + 0x1C37 :].startswith(b"\r\n0\r\n")
    assert rec.body == stored[8 : 8 + 0x1C37]


@pytest.mark.parametrize(
    "coding, encode",
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda b: zlib.compress(b, wbits=-15)),  # raw deflate, as some servers send it
        ("br", brotli.compress),
        ("gzip, br", lambda b: brotli.compress(gzip.compress(b))),
        ("identity", lambda b: b),
    ],
)
@pytest.mark.parametrize("chunked", [False, True])
def test_content_encodings_are_removed(html_page, coding, encode, chunked):
    payload = encode(html_page)
    headers = [("Content-Type", "text/html; charset=UTF-8"), ("Content-Encoding", coding)]
    if chunked:
        payload = (
            b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in (payload[:100], payload[100:])) + b"0\r\n\r\n"
        )
        headers.append(("Transfer-Encoding", "chunked"))
    rec = only_response(warc_response(payload, headers))
    assert (rec.is_html, rec.failure_reason, rec.charset_header) == (True, None, "UTF-8")
    assert rec.body == html_page


def test_payload_stored_decoded_under_encoding_headers(html_page):
    """Like CC's 2008 ARC: the headers say gzip + chunked, the payload is plain HTML."""
    headers = [("Content-Type", "text/html"), ("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked")]
    rec = only_response(warc_response(html_page, headers))
    assert rec.failure_reason is None and rec.body == html_page


@pytest.mark.parametrize(
    "payload, headers, reason",
    [
        (b"\x1f\x8b\x08\x00garbage" * 20, [("Content-Encoding", "gzip")], "bad_content_encoding"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), [("Content-Encoding", "br")], "bad_content_encoding"),
        (b"\x00\x01binary", [("Content-Encoding", "compress")], "bad_content_encoding"),
        (b"5\r\n<html\r\nZZ\r\n<body>", [("Transfer-Encoding", "chunked")], "bad_chunked_encoding"),
        (b"5\r\n<htmlXX3\r\n<p>\r\n0\r\n\r\n", [("Transfer-Encoding", "chunked")], "bad_chunked_encoding"),
    ],
)
def test_undecodable_html_payload_is_a_failed_html_response(payload, headers, reason):
    rec = only_response(warc_response(payload, [("Content-Type", "text/html")] + headers))
    assert (rec.is_html, rec.body, rec.failure_reason) == (True, None, reason)
    assert rec.failure_detail


def test_decompression_bomb_is_capped_fast():
    """A valid gzip of 200 MiB of zeros (207 KB), built from one repeated deflate block."""
    mib = bytes(1 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = deflate.compress(mib) + deflate.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(200):
        crc = zlib.crc32(mib, crc)
    bomb = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + block * 200 + deflate.flush()
    bomb += struct.pack("<II", crc, (200 << 20) & 0xFFFFFFFF)
    data = warc_response(bomb, [("Content-Type", "text/html"), ("Content-Encoding", "gzip")])
    start = time.perf_counter()
    rec = only_response(data)
    assert time.perf_counter() - start < 5
    assert MAX_BODY_BYTES == 10 * 1024 * 1024
    assert (rec.is_html, rec.body, rec.failure_reason) == (True, None, "payload_too_large")


def test_size_cap_applies_before_and_after_decoding(html_page):
    plain = warc_response(html_page, [("Content-Type", "text/html")])
    assert only_response(plain, max_body_bytes=len(html_page)).body == html_page
    assert only_response(plain, max_body_bytes=len(html_page) - 1).failure_reason == "payload_too_large"
    packed = warc_response(
        gzip.compress(html_page), [("Content-Type", "text/html"), ("Content-Encoding", "gzip")]
    )
    assert only_response(packed, max_body_bytes=len(html_page) - 1).failure_reason == "payload_too_large"


@pytest.mark.parametrize(
    "http_headers, warc_headers, payload, is_html",
    [
        ([("Content-Type", "text/html")], {}, b"<p>x", True),  # the declared type decides
        ([("Content-Type", "application/xhtml+xml")], {}, b"<?xml version='1.0'?><html/>", True),
        ([("Content-Type", "text/plain")], {"WARC-Identified-Payload-Type": "text/html"}, b"x", True),
        ([("Content-Type", "text/html")], {"WARC-Identified-Payload-Type": "application/pdf"}, b"x", False),
        ([("Content-Type", "text/html")], {"WARC-Identified-Payload-Type": ""}, b"x", True),
        ([], {}, b"\xef\xbb\xbf \n<!DOCTYPE html><p>x", True),  # no Content-Type: sniffed
        ([], {}, b"<HTML><body>x", True),
        ([], {}, b"<?xml version='1.0'?><rss/>", False),
        ([("Content-Type", "application/octet-stream")], {}, b"<head><title>x", True),
        ([("Content-Type", "image/png")], {}, b"<html>", False),
    ],
)
def test_html_detection(http_headers, warc_headers, payload, is_html):
    rec = only_response(warc_response(payload, http_headers, warc_headers=warc_headers))
    assert rec.is_html is is_html
    assert (rec.body == payload) is is_html


def test_binary_payload_declared_html_is_a_named_failure():
    """Declared HTML decides is_html; a body that is evidently no text gets no body and a reason
    (see tests/test_warc_fuzz.py for the signatures and the control-byte rule)."""
    rec = only_response(warc_response(b"%PDF-1.4\n%\xe2\xe3", [("Content-Type", "text/html")]))
    assert (rec.is_html, rec.body, rec.failure_reason) == (True, None, "binary_payload")
    assert rec.failure_detail == "PDF document, declared text/html"


def test_any_http_status_is_kept():
    rec = only_response(
        warc_response(b"<html>gone</html>", [("Content-Type", "text/html")], status="404 Not Found")
    )
    assert (rec.is_html, rec.http_status, rec.body) == (True, 404, b"<html>gone</html>")


def test_dates_are_utc():
    warc_headers = {"WARC-Date": "2008-10-29T05:21:46-07:00"}
    rec = only_response(warc_response(b"<html>", [("Content-Type", "text/html")], warc_headers=warc_headers))
    assert rec.fetch_date == datetime(2008, 10, 29, 12, 21, 46, tzinfo=UTC)


# ------------------------------------------------------------------------------------ charsets


def test_decode_html_charsets():
    assert decode_html("é€".encode("cp1252"), "iso-8859-1") == ("é€", "cp1252")  # as browsers do
    assert decode_html("中文".encode("gb18030"), "gb2312") == ("中文", "gb18030")
    assert decode_html("\ufeffé".encode(), "iso-8859-1") == ("é", "utf-8")  # BOM first
    assert decode_html(b"\xff\xfe" + "é".encode("utf-16-le"), None) == ("é", "utf-16-le")
    meta = '<html><head><meta charset="windows-1251"><title>Привет</title>'.encode("cp1251")
    assert decode_html(meta, None) == (meta.decode("cp1251"), "cp1251")
    equiv = '<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">日本'.encode("cp932")
    assert decode_html(equiv, None)[1] == "cp932"
    assert decode_html("déjà".encode(), "iso-8859-1") == ("déjà", "utf-8")  # valid UTF-8 beats latin-1
    assert decode_html(b"plain ascii", None) == ("plain ascii", "utf-8")


@pytest.mark.parametrize(
    "charset", ["bogus", "x-unknown", "rot13", "base64", "zlib", "utf-7", "", '"', "utf-8\x00"]
)
def test_decode_html_survives_bad_charset_names(charset):
    body = "<p>Grüße</p>".encode("cp1252")
    text, used = decode_html(body, charset)
    assert text == "<p>Grüße</p>" and used == "cp1252"
    body = f'<meta charset="{charset}"><p>Grüße</p>'.encode()
    assert decode_html(body, None)[0].endswith("<p>Grüße</p>")


def test_decode_html_detects_undeclared_charsets():
    text = "東京都の天気は晴れです。明日も晴れるでしょう。" * 20
    assert decode_html(text.encode("euc_jp"), None) == (text, "euc_jp")
    assert decode_html(b"caf\xe9 \xff\xfe", "no-such-charset")[0].startswith("caf")  # never raises


def test_chinese_pages_decode_to_chinese():
    records = [r for r in read(SAMPLES / "commoncrawl/warcfile.warc.gz") if r.is_html]
    charsets = Counter()
    for rec in records:
        text, charset = decode_html(rec.body, rec.charset_header)
        charsets[charset] += 1
        assert "\ufffd" not in text
        if charset == "gb18030":  # gb2312 / gbk, declared in the page's <meta> or the header
            assert sum("\u4e00" <= c <= "\u9fff" for c in text) > 100
    assert charsets == {"utf-8": 7, "gb18030": 6, "cp1252": 2, "cp1251": 1}


# ------------------------------------------------------------------------------------ damaged files


def test_truncated_per_record_gzip():
    """Cut inside the k-th gzip member: records 0..k-1 unchanged, then exactly one marker."""
    name = "commoncrawl/warcfile.warc.gz"
    data = (SAMPLES / name).read_bytes()
    full = read(name, data)
    starts = [r.warc_offset for r in full] + [len(data)]
    for k, (start, end) in enumerate(zip(starts, starts[1:], strict=False)):
        for cut in sorted({start + 1, start + 9, (start + end) // 2, end - 1}):
            records = read(name, data[:cut])
            assert records[:k] == full[:k], (k, cut)
            if records[k:-1] == [full[k]]:  # cut in the gzip trailer: the record is whole
                marker = records[-1]
            else:
                [marker] = records[k:]
            assert marker.failure_detail and marker.warc_offset == start
            if marker.record_type == "unreadable":  # cut in the gzip header or trailer
                assert marker.failure_reason == "truncated_gzip"
            else:
                assert (marker.record_type, marker.failure_reason) == (
                    full[k].record_type,
                    "truncated_record",
                )
                assert marker.body is None and marker.is_html == full[k].is_html
        assert read(name, data[:end]) == full[: k + 1]  # a cut between members: no marker


@pytest.mark.parametrize(
    "name",
    [
        "commoncrawl/whirlwind.warc",
        "clueweb/0000tw-00.warc.gz",
        "commoncrawl/small-sample-1213893279526_0.arc",
    ],
)
def test_truncated_uncompressed_and_whole_file_gzip(name):
    data = (SAMPLES / name).read_bytes()
    full = read(name, data)
    for fraction in (0.0001, 0.01, 0.3, 0.5, 0.77, 0.999):
        cut = int(len(data) * fraction)
        records = read(name, data[:cut])
        assert records[:-1] == full[: len(records) - 1]
        assert records[-1].failure_reason and records[-1].failure_detail


def test_garbage_in_the_middle_is_skipped_and_named():
    name = "commoncrawl/warcfile.warc.gz"
    data = (SAMPLES / name).read_bytes()
    full = read(name, data)
    at = full[10].warc_offset
    junk = b"this is not gzip\n" * 10
    records = read(name, data[:at] + junk + data[at:])
    assert records[:10] == full[:10]
    assert (records[10].record_type, records[10].failure_reason) == ("unreadable", "junk_between_members")
    assert records[10].warc_offset == at and "resumed at offset" in records[10].failure_detail
    assert [dataclasses.replace(r, warc_offset=r.warc_offset - len(junk)) for r in records[11:]] == full[10:]

    corrupt = bytearray(data)  # zeros inside the 11th gzip member: that record only
    corrupt[at + 40 : at + 60] = bytes(20)
    records = read(name, bytes(corrupt))
    assert records[:10] == full[:10] and records[11:] == full[11:]
    assert (records[10].warc_offset, records[10].failure_reason) == (at, "bad_gzip")

    # junk after a record is skipped up to the next WARC/ line. Right after the record's block, it is
    # the record's (its length is too short); after the blank lines that end it, it is named on its own
    plain = (SAMPLES / "commoncrawl/whirlwind.warc").read_bytes()
    full = read("x.warc", plain)
    at = full[2].warc_offset
    for junk in (b"\x00" * 5000 + b"\r\n", b"\x00\n" * (1 << 20)):  # any amount
        records = read("x.warc", plain[:at] + junk + plain[at:])
        assert records[:2] == full[:2]
        assert (records[2].failure_reason, records[2].warc_offset) == ("junk_between_records", at)
        assert [dataclasses.replace(r, warc_offset=r.warc_offset - len(junk)) for r in records[3:]] == full[
            2:
        ]
    end_of_block = plain.rindex(b"\r\n\r\n", 0, at)
    records = read("x.warc", plain[:end_of_block] + b"tail of the block" + plain[end_of_block:])
    assert [r.record_type for r in records] == [r.record_type for r in full]
    assert records[1].failure_reason == "bad_content_length" and records[1].warc_offset == full[1].warc_offset
    assert records[2].body == full[2].body and records[2].failure_reason is None


@pytest.mark.parametrize("data", [b"", b"\n\n", b"\x1f\x8b", b"WARC/1.0\r\n", b"hello world\n", bytes(1000)])
def test_tiny_inputs_yield_one_marker(data):
    [record] = read("tiny.warc", data)
    assert record.failure_reason


# Random damage (bit flips, insertions, deletions, truncation) is in tests/test_warc_fuzz.py.


# ------------------------------------------------------------------------------------ crawl, API


def test_crawl_ids():
    assert crawl_from_filename("CC-MAIN-2024-22") == "CC-MAIN-2024-22"
    path = "s3://commoncrawl/crawl-data/CC-MAIN-2023-50/segments/1700679099281.67/warc/CC-MAIN-20231128083443-20231128113443-00000.warc.gz"
    assert crawl_from_filename(path) == "CC-MAIN-2023-50"
    assert crawl_from_filename("CC-MAIN-20231128083443-20231128113443-00000.warc.gz") is None
    assert crawl_from_filename("whirlwind.warc.gz") is None
    # one crawl-id function for the reader, dedup's crawl order and backfills
    assert crawl_id("CC-MAIN-2024-10") == ("CC-MAIN-2024-10", 2024, 10)
    assert crawl_id("CC-MAIN-2012")[1:] == (2012, 0) and crawl_id("CC-MAIN-2008-2009")[1:] == (2008, 2009)
    assert crawl_id("x/CC-MAIN-2024-10") is None and crawl_id("x/CC-MAIN-2024-10", anywhere=True)[2] == 10
    assert (
        crawl_id("CC-MAIN-2024-10-b00001-x")[0] == "CC-MAIN-2024-10"
    )  # a backfill batch starts with its crawl
    assert crawl_id("CC-MAIN-20231128083443") is None and crawl_id("CC-MAIN-2024-100") is None

    assert {r.crawl for r in read(SAMPLES / "commoncrawl/warcfile.warc.gz")} == {"CC-MAIN-2020-34"}
    for name in ["whirlwind.warc.gz", "whirlwind.warc", "whirlwind.warc.wet.gz"]:
        assert {r.crawl for r in read(SAMPLES / "commoncrawl" / name)} == {"CC-MAIN-2024-22"}
    assert {r.crawl for r in read(SAMPLES / "commoncrawl/whirlwind.warc.wat.gz")} == {None}  # no isPartOf
    # the first isPartOf wins; records before any warcinfo fall back to the file name
    assert {r.crawl for r in read(SAMPLES / "edge-cases/example.warc")} == {"Temporary%20Collection"}
    assert {
        r.crawl for r in read("CC-MAIN-2019-04.arc", (SAMPLES / "edge-cases/example.arc").read_bytes())
    } == {"CC-MAIN-2019-04"}


def test_iter_records_opens_through_beam_filesystems():
    path = str(SAMPLES / "commoncrawl/warcfile.warc.gz")
    assert list(iter_records(path)) == read(path, Path(path).read_bytes())
    [missing] = iter_records(str(SAMPLES / "no-such-file.warc.gz"))
    assert (missing.record_type, missing.failure_reason) == ("unreadable", "open_failed")
    assert read_record_at(str(SAMPLES / "no-such-file.warc.gz"), 0).failure_reason == "read_failed"
