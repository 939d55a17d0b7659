"""Hostile input for transforms/read/: damaged real WARC/ARC samples and pathological payloads.

What is checked on every damaged file:

- `iter_records` never raises and ends within `WATCHDOG_S` (a SIGALRM watchdog, raised as a
  BaseException that the reader's ``except Exception`` cannot swallow), yields only `Record`s with the
  file name, an offset inside the file and, for failures, a named ``failure_reason`` and a detail.
- Nothing lost: every record of the intact file whose bytes the damage did not touch (its gzip member
  in a per-record gzip file, its bytes up to the next record in an uncompressed one) is yielded again
  unchanged (same id, url, body, digest check; offsets moved by what was inserted or deleted before
  it). In a per-record gzip file a damaged member costs that record only, and it is still counted: by a
  Record with a ``failure_reason`` at its offset (or harmless damage leaves it unchanged).

Deterministic tests cover each kind of damage named in the issue (truncation at and between every
record boundary, bad gzip members, wrong Content-Length, bogus headers); the hypothesis tests mutate
the samples at random (fixed seed, bounded examples: the suite stays deterministic and under a minute).
A member whose gzip header is wholly destroyed together with the end of the member before it leaves
no trace of itself; it counts when it lies in the range of bytes the failure before it says it skipped.

`run_campaign` is the same check for a long run by hand:
``python -m tests.test_warc_fuzz COUNT [SEED [DIR]]`` (mutated inputs; DIR keeps the ones that fail).
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import random
import re
import signal
import struct
import sys
import time
import zlib
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import brotli
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from transforms.read import MAX_BODY_BYTES, Record, iter_records_from_stream, read_record_at

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "warc-samples"
WATCHDOG_S = 5.0  # the largest file mutated here reads in ~20 ms

# Small real files of every layout: "members" = gzip per record, "plain" = uncompressed,
# "single" = whole-file gzip (one deflate stream: damage loses the rest of it, no resync possible).
FUZZ_FILES = {
    "commoncrawl/whirlwind.warc.gz": "members",
    "commoncrawl/warcfile.warc.gz": "members",
    "commoncrawl/whirlwind.warc.wet.gz": "members",
    "edge-cases/example.warc.gz": "members",
    "edge-cases/dupes.warc.gz": "members",
    "edge-cases/example.arc.gz": "members",
    "edge-cases/IAH-20080430204825-00000-blackbook-truncated.arc.gz": "members",
    "commoncrawl/whirlwind.warc": "plain",
    "edge-cases/example.warc": "plain",
    "edge-cases/example-iana.org-chunked.warc": "plain",
    "edge-cases/example.arc": "plain",
    "clueweb/0000tw-00.warc.gz": "single",
}
FAILURE_REASONS = {
    "truncated_record",
    "bad_gzip",
    "truncated_gzip",
    "trailing_garbage",
    "junk_between_members",
    "junk_between_records",
    "bad_record",
    "missing_content_length",
    "bad_content_length",
    "no_records",
    "empty_file",
    "not_warc",
    "payload_too_large",
    "bad_chunked_encoding",
    "bad_content_encoding",
    "http_header_too_large",
    "binary_payload",
}


class Hang(BaseException):  # noqa: N818 - not an Exception on purpose: the reader catches those
    pass


@contextmanager
def watchdog(seconds: float = WATCHDOG_S):
    def alarm(signum, frame):
        raise Hang(f"reading took over {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def read(name: str, data: bytes) -> list[Record]:
    """All records of `data`, under the watchdog, checking the reader's contract on the way."""
    started = time.perf_counter()
    with watchdog():
        records = list(iter_records_from_stream(io.BytesIO(data), name))
    assert time.perf_counter() - started < WATCHDOG_S
    assert records, "every file yields at least one Record"
    for r in records:
        assert isinstance(r, Record) and r.warc_filename == name
        assert isinstance(r.warc_offset, int) and r.warc_offset >= 0  # (whole-file gzip: past the end)
        assert re.fullmatch(r"[a-z][a-z0-9_-]*", r.record_type), r.record_type
        if r.record_type == "unreadable":
            assert r.failure_reason and r.failure_detail, r
        if r.failure_reason:
            assert r.failure_reason in FAILURE_REASONS, r.failure_reason
            assert r.failure_detail
        assert r.body is None or (r.is_html and r.failure_reason is None)
        assert r.digest_verified in (True, False, None)
    return records


_ORIGINALS: dict[str, tuple[bytes, list[Record]]] = {}


def original(name: str) -> tuple[bytes, list[Record]]:
    if name not in _ORIGINALS:
        data = (SAMPLES / name).read_bytes()
        _ORIGINALS[name] = data, read(name, data)
    return _ORIGINALS[name]


def extents(name: str) -> list[tuple[int, int, Record]]:
    """(first byte, end, record) of each record of an intact file: up to the next record's offset."""
    data, records = original(name)
    ends = [r.warc_offset for r in records[1:]] + [len(data)]
    return [(r.warc_offset, end, r) for r, end in zip(records, ends, strict=True)]


def same(record: Record, shift: int = 0) -> tuple:
    """A record as it must come out again: offset moved by `shift`; ``crawl`` and ``warc_record_id``
    of ARC records left out (crawl comes from the warcinfo record, which may be the damaged one; an
    ARC record's id is made from its offset)."""
    arc_id = record.warc_record_id and record.warc_record_id.startswith("<urn:sha1:")
    record = dataclasses.replace(
        record,
        warc_offset=record.warc_offset + shift,
        crawl=None,
        warc_record_id=None if arc_id else record.warc_record_id,
    )
    return tuple(getattr(record, f.name) for f in dataclasses.fields(record))


def skipped_range(record: Record) -> tuple[int, int]:
    """[offset, resumed at) of a failure after which reading resumed further on."""
    detail = record.failure_detail or ""
    if match := re.search(r"resumed at offset (\d+)", detail):
        return record.warc_offset, int(match[1])
    if match := re.search(r"no record in the (\d+) bytes after it", detail):
        return record.warc_offset, record.warc_offset + int(match[1]) + 1
    return 0, 0


def check_damage(
    name: str, mutated: bytes, lo: int, hi: int, delta: int, recompressed: bool = False
) -> list[Record]:
    """Read `mutated`: the intact file with its bytes [lo, hi) replaced by hi - lo + delta others
    (`recompressed`: a gzip member was edited and compressed again, so its checksum is right).

    Asserts the contract (see the module docstring) and returns the records.
    """
    layout = FUZZ_FILES[name]
    records = read(name, mutated)
    failures = [r for r in records if r.failure_reason]
    got = Counter(same(r) for r in records)
    lost = []
    touched = []
    expected = set()
    for start, end, rec in extents(name):
        if end <= lo:
            shift = 0
        elif start >= hi:
            shift = delta
        else:
            touched.append((start, rec))
            expected.add(same(rec))  # damage that changes nothing (a gzip file name, MTIME, ...)
            continue
        key = same(rec, shift)
        expected.add(key)
        if layout == "single" and start >= lo:
            continue  # in the one deflate stream after the damage: lost by nature, one marker says so
        # bytes inserted right before a record can become part of its header (a second WARC/1.0 line)
        also = same(rec) if start == lo == hi else None
        if got[key]:
            got[key] -= 1
        elif got[also]:
            got[also] -= 1
        else:
            lost.append(rec)
    assert not lost, f"intact records not yielded again: {[(r.record_type, r.warc_offset) for r in lost]}"
    if layout == "members" and delta >= 0:  # no bytes deleted: each damaged record is still counted
        skipped = [skipped_range(r) for r in failures]
        for start, _ in touched:
            counted = any(start <= r.warc_offset <= start + delta for r in records)
            # a member whose gzip header is destroyed together with the end of the member before it:
            # no trace of it is left but the bytes skipped, which that member's failure reports
            assert counted or any(a < start < b for a, b in skipped), f"nothing for the record at {start}"
    if layout != "plain" and not recompressed and any(same(r) not in expected for r in records):
        # gzip is checksummed: what changed is either named or caught by a digest
        assert failures or any(r.digest_verified is False for r in records), records
    return records


# ------------------------------------------------------------------------------------ truncation


@pytest.mark.parametrize("name", [n for n, layout in FUZZ_FILES.items() if layout != "single"])
def test_truncation_at_and_inside_every_record(name):
    """Cut at every record boundary (exactly the records before it, no marker) and inside every record
    (the records before it unchanged, then one Record with a failure for the one cut)."""
    data, full = original(name)
    spans = extents(name)
    for k, (start, end, rec) in enumerate(spans):
        if rec.failure_reason:  # a sample that is damaged here already
            break
        assert read(name, data[:end]) == full[: k + 1]
        for cut in sorted({start + 1, start + 9, start + 40, (start + end) // 2, end - 9, end - 1}):
            if not start < cut < end:
                continue
            records = read(name, data[:cut])
            assert records[:k] == full[:k], (k, cut)
            rest = records[k:]
            if not data[cut:end].strip():  # only the blank lines after the record are cut
                assert rest == [full[k]]
                continue
            assert len(rest) <= 2 and all(r.warc_offset == start for r in rest), rest
            assert rest[-1].failure_reason in ("truncated_record", "truncated_gzip", "bad_content_length"), (
                rest
            )
            if len(rest) == 2:  # cut in the gzip trailer: the record is whole (its digest proves it)
                assert rest[0] == full[k] and rest[0].digest_verified and rest[1].record_type == "unreadable"


def test_truncation_of_a_whole_file_gzip():
    name = "clueweb/0000tw-00.warc.gz"
    data, full = original(name)
    for cut in range(1, len(data), 97):
        records = read(name, data[:cut])
        assert records[:-1] == full[: len(records) - 1]
        assert records[-1].failure_reason


# ------------------------------------------------------------------------------------ bad gzip members


def member_damages(data: bytes, start: int, end: int):
    """(label, mutated file, lo, hi, delta) for ways to damage the gzip member data[start:end]."""
    mid = (start + end) // 2
    yield "crc", data[: end - 6] + bytes([data[end - 6] ^ 0x55]) + data[end - 5 :], end - 6, end - 5, 0
    yield "isize", data[: end - 2] + bytes([data[end - 2] ^ 0x01]) + data[end - 1 :], end - 2, end - 1, 0
    yield "deflate", data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1 :], mid, mid + 1, 0
    yield "zeros", data[: start + 20] + bytes(16) + data[start + 36 :], start + 20, start + 36, 0
    yield "cut short", data[:mid] + data[end:], mid, end, -(end - mid)
    yield "magic", data[:start] + b"\x00" + data[start + 1 :], start, start + 1, 0
    yield "method", data[: start + 2] + b"\x07" + data[start + 3 :], start + 2, start + 3, 0
    yield "flags", data[: start + 3] + b"\xe0" + data[start + 4 :], start + 3, start + 4, 0
    junk = b"this is not gzip\r\n" * 7
    yield "junk before", data[:start] + junk + data[start:], start, start, len(junk)
    yield "gzip junk before", data[:start] + b"\x1f\x8b\x08\x00" + bytes(30) + data[start:], start, start, 34


@pytest.mark.parametrize(
    "name", ["commoncrawl/warcfile.warc.gz", "edge-cases/dupes.warc.gz", "edge-cases/example.arc.gz"]
)
def test_one_bad_gzip_member_costs_one_record(name):
    data, full = original(name)
    reasons = Counter()
    spans = extents(name)
    for k in sorted(
        {0, 1, 2, 3, len(spans) - 1, *range(5, len(spans), max(1, len(spans) // 8))} & set(range(len(spans)))
    ):
        start, end, rec = spans[k]
        if rec.failure_reason:
            continue
        for label, mutated, lo, hi, delta in member_damages(data, start, end):
            records = check_damage(name, mutated, lo, hi, delta)
            before = [r for r in records if r.warc_offset < start]
            assert before == full[:k], (label, k)
            here = [r for r in records if start <= r.warc_offset < max(hi + delta, start + 1)]
            after = [same(r, -delta) for r in records if r.warc_offset >= max(hi + delta, start + 1)]
            intact = full[k:] if label.endswith("junk before") else full[k + 1 :]  # junk goes before k
            assert after == [same(r) for r in intact], (label, k)
            reasons.update(r.failure_reason for r in here)
            if label.endswith("junk before"):  # nothing lost, the junk is named
                expected = "bad_gzip" if label.startswith("gzip") else "junk_between_members"
                assert [r.failure_reason for r in here] == [expected], here
            elif label in ("crc", "isize"):  # the data is whole; only the trailer is bad
                assert len(here) in (1, 2) and here[-1].failure_reason in ("bad_gzip", "truncated_record")
            else:
                reasons_here = [r.failure_reason for r in here]
                assert len(here) == 1, (label, here)
                allowed = {"bad_gzip", "junk_between_members"}
                if k == len(spans) - 1:  # nothing after it: the file is cut, or ends in garbage
                    allowed |= {"truncated_record", "trailing_garbage"}
                assert reasons_here[0] in allowed, (label, here)
    assert reasons["bad_gzip"] and reasons["junk_between_members"]


def test_corrupt_first_member_header_resyncs():
    """The file's first bytes (its gzip magic) damaged: still read as gzip, from the second member on."""
    name = "commoncrawl/warcfile.warc.gz"
    data, full = original(name)
    records = read(name, b"XX" + data[2:])
    assert records[0].record_type == "unreadable" and records[0].warc_offset == 0
    assert [same(r) for r in records[1:]] == [same(r) for r in full[1:]]  # crawl: was in the warcinfo


def test_garbage_runs_of_any_length_between_members():
    name = "commoncrawl/whirlwind.warc.gz"
    data, full = original(name)
    at = full[2].warc_offset
    for junk in (b"\x00", b"\n" * 3, bytes(range(256)) * 4, b"\x1f\x8b" * 1000, bytes(3 << 20)):
        records = read(name, data[:at] + junk + data[at:])
        assert records[:2] == full[:2]
        reason = "bad_gzip" if junk.startswith(b"\x1f\x8b") else "junk_between_members"  # a gzip magic
        assert (records[2].failure_reason, records[2].warc_offset) == (reason, at)
        assert [same(r, -len(junk)) for r in records[3:]] == [same(r) for r in full[2:]]


def test_offsets_after_a_resync_are_seekable(tmp_path):
    """Records read after a resync (gzip) or a rewind (uncompressed) are found again by read_record_at."""
    data, full = original("commoncrawl/warcfile.warc.gz")
    spans = extents("commoncrawl/warcfile.warc.gz")
    (a, _, _), (b, _, _) = spans[10], spans[20]
    damaged = data[: a + 40] + bytes(20) + data[a + 60 : b] + b"junk" * 50 + data[b:]
    plain, _ = original("commoncrawl/whirlwind.warc")
    at = plain.index(b"Content-Length: ", 1000) + len(b"Content-Length: ")
    overrun = plain[:at] + b"9" + plain[at:]  # the response's length 10x too long: it swallows the rest
    for name, mutated in [("damaged.warc.gz", damaged), ("overrun.warc", overrun)]:
        path = tmp_path / name
        path.write_bytes(mutated)
        records = read(str(path), mutated)
        assert any(r.failure_reason for r in records)
        clean = [r for r in records if not r.failure_reason]
        assert len(clean) >= 3
        for rec in clean:
            again = read_record_at(str(path), rec.warc_offset)
            assert again == dataclasses.replace(rec, crawl=again.crawl), name  # crawl: from the file name


# ------------------------------------------------------------------------------------ Content-Length


def rewrite_member(data: bytes, start: int, end: int, edit) -> bytes:
    """The file with the record in gzip member data[start:end] edited and compressed again."""
    return data[:start] + gzip.compress(edit(zlib.decompress(data[start:end], 31)), mtime=0) + data[end:]


def set_length(record: bytes, value: bytes) -> bytes:
    return re.sub(rb"(?m)^Content-Length: *\d+", b"Content-Length: " + value, record, count=1)


def only_blanks_moved(record: bytes, new_length: bytes) -> bool:
    """Whether a changed Content-Length only moves the block's end across CR/LF (undetectable without
    a digest, and harmless)."""
    length = int(re.search(rb"Content-Length: *(\d+)", record)[1])
    block = record[record.index(b"\r\n\r\n") + 4 :]
    if not new_length.isdigit():
        return False
    low, high = sorted((length, int(new_length)))
    return high <= len(block) and not block[low:high].strip()


LENGTHS = {
    "up by 1": lambda n: b"%d" % (n + 1),
    "up by 5000": lambda n: b"%d" % (n + 5000),
    "huge": lambda n: b"99999999999999",
    "down by 1": lambda n: b"%d" % (n - 1),
    "down by half": lambda n: b"%d" % (n // 2),
    "zero": lambda n: b"0",
    "non-numeric": lambda n: b"12ab",
    "negative": lambda n: b"-5",
}


@pytest.mark.parametrize("change", sorted(LENGTHS))
def test_wrong_content_length_per_record_gzip(change):
    name = "commoncrawl/warcfile.warc.gz"
    data, full = original(name)
    for k in (1, 2, 17, len(full) - 2):
        start, end, rec = extents(name)[k]
        member = zlib.decompress(data[start:end], 31)
        new = LENGTHS[change](int(re.search(rb"Content-Length: *(\d+)", member)[1]))
        mutated = rewrite_member(data, start, end, lambda r, new=new: set_length(r, new))
        delta = len(mutated) - len(data)
        records = check_damage(name, mutated, start, end, delta, recompressed=True)
        [here] = [r for r in records if r.warc_offset == start]
        assert (here.record_type, here.warc_record_id) == (rec.record_type, rec.warc_record_id)
        if not only_blanks_moved(member, new):
            assert here.failure_reason == "bad_content_length", (change, k, here)
        assert len(records) == len(full)
        assert len(records) == len(full)


@pytest.mark.parametrize("change", sorted(LENGTHS))
@pytest.mark.parametrize("name", ["commoncrawl/whirlwind.warc", "edge-cases/example.warc"])
def test_wrong_content_length_uncompressed(name, change):
    data, full = original(name)
    spans = extents(name)
    for k in range(len(full)):
        start, end, rec = spans[k]
        match = re.compile(rb"Content-Length: *(\d+)").search(data, start)
        new = LENGTHS[change](int(match[1]))
        mutated = data[: match.start(1)] + new + data[match.end(1) :]
        delta = len(new) - len(match[1])
        records = check_damage(name, mutated, start, end, delta)
        [here] = [r for r in records if r.warc_offset == start]
        assert here.warc_record_id == rec.warc_record_id
        if only_blanks_moved(data[start:end], new):
            pass
        elif k == len(full) - 1 and new.isdigit() and int(new) > int(match[1]):  # nothing to run into
            assert here.failure_reason == "truncated_record"
        else:
            assert here.failure_reason == "bad_content_length", (change, k, here)
        assert len(records) == len(full)


# ------------------------------------------------------------------------------------ bogus headers

HEADER_EDITS = {
    "no WARC-Type": (rb"WARC-Type: [^\r\n]*\r\n", b""),
    "binary WARC-Type": (rb"(WARC-Type: )[^\r\n]*", b"\\1re\x00\xff\x80sp"),
    "no Content-Length": (rb"Content-Length: [^\r\n]*\r\n", b""),
    "invalid date": (rb"(WARC-Date: )[^\r\n]*", rb"\g<1>2024-13-45T99:99:99Z"),
    "binary date": (rb"(WARC-Date: )[^\r\n]*", b"\\1\xff\xfe\x00\x01"),
    "bad version": (rb"^WARC/1\.[01]", b"WARC/9.9x"),
    "damaged version": (rb"^WARC/1\.[01]", b"WXRC/1.0"),
    "no version line": (rb"^WARC/1\.[01]\r\n", b""),
    "NUL in a header": (rb"(WARC-Record-ID: <)", b"\\1\x00\x00"),
    "header without colon": (rb"(WARC-Type): ", rb"\1 "),
    "5 MB header line": (rb"(WARC-Type: [^\r\n]*\r\n)", rb"\1X-Big: " + b"a" * (5 << 20) + rb"\r\n"),
    "70 KB line, no newline": (rb"(WARC-Type: [^\r\n]*)", rb"\1" + b"b" * 70_000),
    "header end lost": (rb"\r\n\r\n", b"\r\n"),
}


@pytest.mark.parametrize("edit", sorted(HEADER_EDITS))
@pytest.mark.parametrize("layout", ["members", "plain"])
def test_bogus_record_headers(edit, layout):
    """Each header damage in one record: that record is reported (or read as well as it can be),
    all the others come out unchanged."""
    name = "commoncrawl/warcfile.warc.gz" if layout == "members" else "commoncrawl/whirlwind.warc"
    data, full = original(name)
    pattern, replacement = HEADER_EDITS[edit]
    for k in (1, 2, len(full) - 1):
        start, end, rec = extents(name)[k]
        if layout == "members":
            mutated = rewrite_member(data, start, end, lambda r: re.sub(pattern, replacement, r, count=1))
        else:
            piece = re.sub(pattern, replacement, data[start:end], count=1, flags=re.M)
            mutated = data[:start] + piece + data[end:]
        delta = len(mutated) - len(data)
        records = check_damage(name, mutated, start, end, delta, recompressed=layout == "members")
        here = [r for r in records if start <= r.warc_offset < end + delta]
        assert here, (edit, k)
        if edit in ("no WARC-Type", "binary WARC-Type", "header without colon", "70 KB line, no newline"):
            assert here[0].record_type == "unknown" and here[0].warc_record_id == rec.warc_record_id
        elif edit in ("invalid date", "binary date"):
            assert here[0].fetch_date is None and here[0].warc_record_id == rec.warc_record_id
        elif edit in ("5 MB header line", "NUL in a header"):
            assert len(here) == 1 and here[0].record_type == rec.record_type
        else:
            assert here[0].failure_reason, (edit, k, here)


# ------------------------------------------------------------------------------------ random mutations


def mutate(data: bytes, draw_int, draw_bytes, kind: str) -> tuple[bytes, int, int, int]:
    """One contiguous damage: (mutated, lo, hi, delta) with bytes [lo, hi) replaced."""
    n = len(data)
    pos = draw_int(0, n - 1)
    if kind == "flip":
        bit = 1 << draw_int(0, 7)
        return data[:pos] + bytes([data[pos] ^ bit]) + data[pos + 1 :], pos, pos + 1, 0
    if kind == "byte":
        value = draw_int(0, 255)
        return data[:pos] + bytes([value]) + data[pos + 1 :], pos, pos + 1, 0
    if kind == "insert":
        new = draw_bytes()
        return data[:pos] + new + data[pos:], pos, pos, len(new)
    if kind == "delete":
        size = draw_int(1, 300)
        return data[:pos] + data[pos + size :], pos, min(n, pos + size), -(min(n, pos + size) - pos)
    if kind == "overwrite":
        new = draw_bytes()
        stop = min(n, pos + len(new))
        return data[:pos] + new[: stop - pos] + data[stop:], pos, stop, 0
    if kind == "truncate":
        return data[:pos], pos, n, -(n - pos)
    raise ValueError(kind)


KINDS = ["flip", "byte", "insert", "delete", "overwrite", "truncate"]
INTERESTING = [b"\r\n", b"\r\n\r\n", b"WARC/1.0\r\n", b"\x1f\x8b\x08\x00", b"\x00" * 8, b"Content-Length: 9"]


@settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.data())
def test_random_damage_loses_no_intact_record(data):
    name = data.draw(st.sampled_from(sorted(FUZZ_FILES)))
    raw, _ = original(name)
    kind = data.draw(st.sampled_from(KINDS))
    mutated, lo, hi, delta = mutate(
        raw,
        lambda a, b: data.draw(st.integers(a, b)),
        lambda: data.draw(st.one_of(st.binary(min_size=1, max_size=64), st.sampled_from(INTERESTING))),
        kind,
    )
    check_damage(name, mutated, lo, hi, delta)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(st.data())
def test_many_damages_never_raise_or_hang(data):
    """Several damages at once (no 'nothing lost' claim: they may overlap records in any way)."""
    name = data.draw(st.sampled_from(sorted(FUZZ_FILES)))
    raw, _ = original(name)
    for _ in range(data.draw(st.integers(2, 12))):
        raw, *_ = mutate(
            raw,
            lambda a, b: data.draw(st.integers(a, b)),
            lambda: data.draw(st.binary(min_size=1, max_size=64)),
            data.draw(st.sampled_from(KINDS[:-1])),
        )
        if not raw:
            break
    read(name, raw)


# ------------------------------------------------------------------------------------ hostile payloads


def warc_response(payload: bytes, http_headers: list[tuple[str, str]], status: str = "200 OK") -> bytes:
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    http = StatusAndHeaders(status, http_headers, protocol="HTTP/1.1")
    record = writer.create_warc_record(
        "http://example.com/page", "response", payload=io.BytesIO(payload), http_headers=http
    )
    writer.write_record(record)
    return out.getvalue()


def only_response(data: bytes, **kwargs) -> Record:
    records = (
        read("hostile.warc.gz", data)
        if not kwargs
        else list(iter_records_from_stream(io.BytesIO(data), "hostile.warc.gz", **kwargs))
    )
    [record] = records
    assert record.record_type == "response"
    return record


def gzip_bomb(mib: int) -> bytes:
    """A valid gzip of `mib` MiB of zeros, from one repeated deflate block (~1 KB per MiB)."""
    zeros = bytes(1 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(mib):
        crc = zlib.crc32(zeros, crc)
    body = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + block * mib + deflate.flush()
    return body + struct.pack("<II", crc, (mib << 20) & 0xFFFFFFFF)


def deflate_bomb(mib: int, raw: bool = False) -> bytes:
    """`mib` MiB of zeros as a zlib stream (or raw deflate, as some servers send "deflate")."""
    zeros = bytes(1 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    body = block * mib + deflate.flush()
    if raw:
        return body
    adler = 1
    for _ in range(mib):
        adler = zlib.adler32(zeros, adler)
    return b"\x78\x9c" + body + struct.pack(">I", adler)


HTML = b"<!DOCTYPE html><html><head><title>t</title></head><body><p>Hello, world.</p></body></html>"
STRAY_BYTES = HTML[:40] + b"\x00\x01" + HTML[40:]
BOMBS = {
    "gzip bomb, 1 GiB": (lambda: gzip_bomb(1024), [("Content-Encoding", "gzip")]),
    "deflate bomb, 1 GiB": (lambda: deflate_bomb(1024), [("Content-Encoding", "deflate")]),
    "raw deflate bomb, 1 GiB": (lambda: deflate_bomb(1024, raw=True), [("Content-Encoding", "deflate")]),
    "brotli bomb, 1 GiB": (lambda: brotli.compress(bytes(1 << 30), quality=1), [("Content-Encoding", "br")]),
    "gzip in brotli bomb": (lambda: brotli.compress(gzip_bomb(512)), [("Content-Encoding", "gzip, br")]),
    "undeclared gzip bomb": (lambda: gzip_bomb(512), []),
    "chunked gzip bomb": (
        lambda: b"%x\r\n%s\r\n0\r\n\r\n" % (len(gzip_bomb(256)), gzip_bomb(256)),
        [("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked")],
    ),
}


@pytest.mark.parametrize("bomb", sorted(BOMBS))
def test_decompression_bombs_are_capped_fast(bomb):
    make, headers = BOMBS[bomb]
    payload = make()
    assert len(payload) < 2 << 20
    started = time.perf_counter()
    rec = only_response(warc_response(payload, [("Content-Type", "text/html")] + headers))
    assert time.perf_counter() - started < 3
    assert MAX_BODY_BYTES == 10 << 20
    assert (rec.is_html, rec.body, rec.failure_reason) == (True, None, "payload_too_large"), (
        rec.failure_detail
    )


@pytest.mark.parametrize(
    "payload, headers, reason",
    [
        # says gzip, is not (and is no markup either)
        (b"\x00\x01\x02 not gzip at all" * 10, [("Content-Encoding", "gzip")], "bad_content_encoding"),
        # says gzip, is plain HTML: taken as it is (CC's 2008 ARC does this)
        (HTML, [("Content-Encoding", "gzip")], None),
        # says br, is gzip
        (gzip.compress(HTML), [("Content-Encoding", "br")], "bad_content_encoding"),
        # says gzip, br but only brotli'd: what brotli gives is markup, taken as it is
        (brotli.compress(HTML), [("Content-Encoding", "gzip, br")], None),
        # gzip, br done right, and three layers
        (brotli.compress(gzip.compress(HTML)), [("Content-Encoding", "gzip, br")], None),
        (
            zlib.compress(brotli.compress(gzip.compress(HTML))),
            [("Content-Encoding", "gzip, br, deflate")],
            None,
        ),
        # an unknown coding
        (b"\x00\x01binary", [("Content-Encoding", "zstd")], "bad_content_encoding"),
        # gzip without a Content-Encoding: unpacked
        (gzip.compress(HTML), [], None),
        # a gzip member cut short: kept as far as it goes
        (gzip.compress(HTML * 50)[:200], [("Content-Encoding", "gzip")], None),
        # declared HTML, but binary
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, [], "binary_payload"),
        (b"GIF89a" + bytes(100), [], "binary_payload"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", [], "binary_payload"),
        (b"PK\x03\x04" + bytes(60), [], "binary_payload"),
        (bytes(range(256)) * 8, [], "binary_payload"),
        (b"\x00" * 3000, [], "binary_payload"),
        # text with a few stray control bytes, and UTF-16 with a BOM: still HTML
        (STRAY_BYTES, [], None),
        ("\ufeff<html><body>é</body></html>".encode("utf-16-le"), [], None),
    ],
)
def test_lying_and_nested_encodings_and_binary_html(payload, headers, reason):
    rec = only_response(warc_response(payload, [("Content-Type", "text/html; charset=utf-8")] + headers))
    assert rec.is_html and rec.failure_reason == reason, (rec.failure_reason, rec.failure_detail)
    assert (rec.body is None) == (reason is not None)
    if reason is None:  # the HTML came out: whole, or as far as a cut gzip goes
        utf16 = payload.startswith(b"\xff\xfe")
        if utf16 or payload == STRAY_BYTES:  # (a compressed payload may hold those bytes by chance)
            assert rec.body == payload
        else:
            assert (HTML * 50).startswith(rec.body) and rec.body.startswith(HTML[:40])


@pytest.mark.parametrize(
    "charset", ["utf-8", "x-bogus", "utf-7", "utf-16", "\x00\xff", "a" * 10_000, "base64", "iso-2022-kr"]
)
def test_invalid_charsets_still_give_text(charset):
    from transforms.read import decode_html

    body = f"<html><meta charset='{charset[:200]}'><p>Grüße, 世界</p>"
    rec = only_response(warc_response(body.encode(), [("Content-Type", f"text/html; charset={charset}")]))
    assert rec.failure_reason is None
    text, used = decode_html(rec.body, rec.charset_header)
    assert "Grüße, 世界" in text and used


def test_multi_megabyte_http_header_line():
    big = "x" * (5 << 20)
    rec = only_response(warc_response(HTML, [("Content-Type", "text/html"), ("Set-Cookie", big)]))
    assert (rec.is_html, rec.body, rec.failure_reason) == (True, None, "http_header_too_large")
    rec = only_response(warc_response(HTML, [("Set-Cookie", big), ("Content-Type", "text/html")]))
    assert rec.body is None and rec.failure_reason in ("http_header_too_large", None)
    assert rec.digest_verified is not False  # the block digest still checks out


def test_many_http_headers():
    headers = [("Content-Type", "text/html")] + [(f"X-{i}", "v" * 50) for i in range(20_000)]
    rec = only_response(warc_response(HTML, headers))
    assert (rec.body, rec.failure_reason) == (None, "http_header_too_large")


# ------------------------------------------------------------------------------------ campaign


def run_campaign(count: int, seed: int = 0, keep: str | None = None) -> dict:
    """`count` random single damages over FUZZ_FILES (plus one multi-damage read each 10th); the
    inputs that break the contract are written to directory `keep` (as NAME.NUMBER.LO.HI.DELTA)."""
    rng = random.Random(seed)
    totals = Counter()
    started = time.perf_counter()
    slowest = 0.0
    for i in range(count):
        name = rng.choice(sorted(FUZZ_FILES))
        raw, _ = original(name)
        kind = rng.choice(KINDS)

        def draw_bytes():
            if rng.random() < 0.3:
                return rng.choice(INTERESTING)
            return rng.randbytes(rng.randint(1, 64))

        mutated, lo, hi, delta = mutate(raw, rng.randint, draw_bytes, kind)
        t = time.process_time()
        try:
            records = check_damage(name, mutated, lo, hi, delta)
        except Hang:
            totals["hangs"] += 1
            print(f"HANG #{i} {name} {kind} [{lo}, {hi}) {delta}", flush=True)
            continue
        except AssertionError as e:
            totals["contract violations"] += 1
            print(f"VIOLATION #{i} {name} {kind} [{lo}, {hi}) {delta}: {str(e)[:300]}", flush=True)
            if keep:
                Path(keep).mkdir(parents=True, exist_ok=True)
                (Path(keep) / f"{name.replace('/', '__')}.{i}.{lo}.{hi}.{delta}").write_bytes(mutated)
            continue
        except Exception as e:  # noqa: BLE001
            totals["crashes"] += 1
            print(f"CRASH #{i} {name} {kind} [{lo}, {hi}) {delta}: {e!r}", flush=True)
            continue
        cpu = time.process_time() - t
        if cpu > slowest:
            slowest = cpu
            totals["slowest input"] = f"#{i} {name} {kind} [{lo}, {hi}) {delta}"
        totals["inputs"] += 1
        totals["records read"] += len(records)
        totals["failure records"] += sum(1 for r in records if r.failure_reason)
        if i % 10 == 0:
            multi = mutated
            for _ in range(rng.randint(2, 12)):
                if not multi:
                    break
                multi = mutate(multi, rng.randint, draw_bytes, rng.choice(KINDS[:-1]))[0]
            try:
                read(name, multi)
                totals["multi-damage inputs"] += 1
            except Hang:
                totals["hangs"] += 1
            except Exception as e:  # noqa: BLE001
                totals["crashes"] += 1
                print(f"CRASH (multi) #{i} {name}: {e!r}", flush=True)
    totals["seconds"] = round(time.perf_counter() - started)
    totals["slowest check, CPU ms"] = round(slowest * 1000)
    return dict(totals)


if __name__ == "__main__":
    args = sys.argv[1:] + [None] * 3
    print(run_campaign(int(args[0] or 10_000), int(args[1] or 0), args[2]))
