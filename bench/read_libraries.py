"""The WARC reader's hand-written parts against the libraries that do the same job (warcio, FastWARC).

    .venv/bin/python -m bench.read_libraries
        every record of every file in ../shared/data/warc-samples, read by transforms.read, by warcio's
        ArchiveIterator and by FastWARC's: records read, files a library raises on, and digest verdicts
        (warcio's check_digests, FastWARC's verify_block_digest) against digest_verified

    READ_LIBRARY_SWAP=dechunk|coding .venv/bin/python -m pytest -p bench.read_libraries -p no:cacheprovider \\
        tests/test_warc.py tests/test_warc_fuzz.py
        the reader's tests with warcio's ChunkedDataReader (dechunk) or DecompressingBufferedReader (gzip,
        deflate, br) in place of transforms/read/payload.py: the tests that fail are what the library loses

Numbers, not pass/fail.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "warc-samples"


def sample_files() -> list[Path]:
    return sorted(p for p in SAMPLES.rglob("*") if p.is_file() and p.suffix not in (".jsonl", ".md"))


def _read_all(reader) -> bytes:
    parts = []
    while data := reader.read(1 << 16):
        parts.append(data)
    return b"".join(parts)


def swap_in_warcio(mode: str) -> None:
    """Replace the hand-written de-chunking or content decoding with warcio's readers."""
    from warcio.bufferedreaders import ChunkedDataReader, DecompressingBufferedReader

    from transforms.read import digests, payload

    if mode == "dechunk":
        payload.dechunk = digests.dechunk = lambda data: _read_all(ChunkedDataReader(io.BytesIO(data)))
    elif mode == "coding":
        hand_written = payload._decode_coding

        def decode_coding(data: bytes, coding: str, cap: int) -> bytes:
            if coding not in ("gzip", "x-gzip", "deflate", "br"):
                return hand_written(data, coding, cap)
            kind = "gzip" if coding == "x-gzip" else coding
            try:
                out = _read_all(DecompressingBufferedReader(io.BytesIO(data), decomp_type=kind))
            except Exception as e:  # noqa: BLE001 - whatever the library raises: the payload is undecodable
                if payload.looks_like_markup(data):
                    return data
                raise payload.PayloadError("bad_content_encoding", f"{coding}: {e}") from e
            if len(out) > cap:
                raise payload.PayloadError("payload_too_large", f"decoded HTTP payload over {cap} bytes")
            return out

        payload._decode_coding = decode_coding
    else:
        raise SystemExit(f"READ_LIBRARY_SWAP={mode!r}: dechunk or coding")


if os.environ.get("READ_LIBRARY_SWAP"):  # loaded as a pytest plugin
    swap_in_warcio(os.environ["READ_LIBRARY_SWAP"])


def warcio_records(path: Path) -> tuple[dict[str, bool | None], str | None]:
    """{WARC-Record-ID: check_digests verdict} of the records warcio reads, and the error it raised."""
    from warcio.archiveiterator import ArchiveIterator

    verdicts: dict[str, bool | None] = {}
    try:
        with open(path, "rb") as f:
            it = ArchiveIterator(f, check_digests=True)
            for record in it:
                record.content_stream().read()
                it.read_to_end(record)
                verdicts[record.rec_headers.get_header("WARC-Record-ID")] = record.digest_checker.passed
    except Exception as e:  # noqa: BLE001 - what the library does with the file is the measurement
        return verdicts, type(e).__name__
    return verdicts, None


def fastwarc_records(path: Path) -> tuple[dict[str, bool | None], str | None]:
    """{WARC-Record-ID: verify_block_digest verdict or None} of the records FastWARC reads, and its error."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    verdicts: dict[str, bool | None] = {}
    try:
        with open(path, "rb") as f:
            for record in ArchiveIterator(f, parse_http=False, record_types=WarcRecordType.any_type):
                has_digest = bool(record.headers.get("WARC-Block-Digest"))
                verdicts[record.record_id] = record.verify_block_digest(consume=True) if has_digest else None
    except Exception as e:  # noqa: BLE001
        return verdicts, type(e).__name__
    return verdicts, None


def main() -> None:
    from transforms.read import iter_records

    files = sample_files()
    ours: dict[Path, dict[str, bool | None]] = {}
    for path in files:
        records = [r for r in iter_records(str(path)) if r.record_type != "unreadable"]
        ours[path] = {r.warc_record_id: r.digest_verified for r in records}
    total = sum(len(v) for v in ours.values())
    print(f"{len(files)} files in {SAMPLES}; transforms.read: {total} records")
    for name, read in (("warcio", warcio_records), ("FastWARC", fastwarc_records)):
        n = raised = fewer = compared = different = 0
        for path in files:
            verdicts, error = read(path)
            n += len(verdicts)
            raised += error is not None
            fewer += len(verdicts) < len(ours[path])
            for record_id, verdict in verdicts.items():
                if record_id in ours[path] and (name == "warcio" or verdict is not None):
                    compared += 1
                    mine = ours[path][record_id]
                    different += (mine if name == "warcio" else mine is True) != verdict
        print(
            f"{name:9s} {n} records; raises on {raised} files; fewer records on {fewer} files; "
            f"digest verdicts compared {compared}, different {different}"
        )


if __name__ == "__main__":
    main()
