"""Record digests: ``WARC-Block-Digest`` over the record block, ``WARC-Payload-Digest`` over the payload,
computed while the block is read (`Digests`, `HashingReader`).

The payload of an HTTP record (request / response with an http(s) URI) is what follows the HTTP headers,
*as stored* (Content-Encoding and chunking left in: what Common Crawl, Heritrix, wget, warcio and pywb hash;
Common Crawl stores payloads already decoded, with the original headers kept as ``X-Crawler-*``); a digest
over the de-chunked body (the WARC spec's "entity-body") and one over the whole block (ClueWeb09) are
accepted too. Other records' payload is their whole block. ``digest_verified`` ``True``: every digest that
could be checked matches; ``False``: one does not (``digest_detail`` says which, with the stored and
computed values); ``None``: nothing to check (no digest, ARC, an unknown algorithm or encoding, the payload
digest of a revisit / segmented record, a block not read to its declared end). Algorithms: sha1, sha256,
sha512, sha224, sha384, md5; values in base32 (as Common Crawl writes them), hex or base64; a value that is
no digest of its algorithm (damaged) is a mismatch. A digest mismatch is no read failure: the record is read
as usual and the caller decides.

Written by hand, not warcio's ``check_digests`` or FastWARC's ``verify_*_digest``: over the shared
samples warcio gives 32 of 1,772 records another verdict (29 of them ClueWeb09's block digest in
WARC-Payload-Digest) and raises on 5 files; FastWARC's block digests differ on 1 of 497 records
(`python -m bench.read_libraries`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from transforms.read.payload import PayloadError, dechunk

_DIGEST_SIZES = {"sha1": 20, "sha256": 32, "sha512": 64, "sha224": 28, "sha384": 48, "md5": 16}


def parse_digest(value: str | None) -> tuple[str, bytes | None] | None:
    """(hashlib name, digest bytes) of a WARC digest such as ``sha1:BASE32``.

    The value may be base32 (Common Crawl, Heritrix, warcio), hex or base64 (also URL-safe); the
    algorithm name is matched without case and dashes (``SHA-1`` is sha1). None for no digest or an
    algorithm we do not know; (name, None) for a value that is no digest of that algorithm (damaged:
    it matches nothing).
    """
    algorithm, sep, encoded = (value or "").strip().partition(":")
    algorithm = algorithm.strip().lower().replace("-", "").replace("_", "")
    size = _DIGEST_SIZES.get(algorithm)
    encoded = encoded.strip().rstrip("=")
    if not sep or size is None:
        return None
    n = len(encoded)
    try:
        if n == (size * 8 + 4) // 5:
            digest = base64.b32decode(encoded.upper() + "=" * (-n % 8))
        elif n == 2 * size:
            digest = bytes.fromhex(encoded)
        elif n == (size * 4 + 2) // 3:
            digest = base64.b64decode(
                encoded.replace("-", "+").replace("_", "/") + "=" * (-n % 4), validate=True
            )
        else:
            return algorithm, None
    except (binascii.Error, ValueError):
        return algorithm, None
    return algorithm, digest


def format_digest(algorithm: str, digest: bytes) -> str:
    """``sha1:BASE32`` as Common Crawl writes it (base32 for every algorithm)."""
    return f"{algorithm}:{base64.b32encode(digest).decode('ascii')}"


def _stored(spec: tuple[str, bytes | None, str]) -> str:
    algorithm, digest, value = spec
    return format_digest(algorithm, digest) if digest is not None else repr(value[:80])


def _digest_spec(value: str | None) -> tuple[str, bytes | None, str] | None:
    parsed = parse_digest(value)
    return (*parsed, value.strip()) if parsed else None


class Digests:
    """The digests a record carries, computed while its block is read (see the module docstring)."""

    def __init__(self, block_spec, payload_spec, detail: str | None):
        self.block_spec = block_spec
        self.payload_spec = payload_spec
        self.detail = detail  # why a digest present cannot be checked
        # without a block digest, the block is hashed in the payload's algorithm: some writers
        # (ClueWeb09) put the block digest into WARC-Payload-Digest
        spec = block_spec or payload_spec
        self.block = hashlib.new(spec[0]) if spec else None
        self.payload = hashlib.new(payload_spec[0]) if payload_spec else None
        self.in_payload = False
        self.payload_known = True

    @classmethod
    def of(cls, headers, fmt: str, record_type: str) -> Digests | None:
        if fmt == "arc":
            return None
        block_value = headers.get_header("WARC-Block-Digest")
        payload_value = headers.get_header("WARC-Payload-Digest")
        notes = []
        block_spec = _digest_spec(block_value)
        if block_value and block_spec is None:
            notes.append(f"block digest {block_value.strip()[:80]!r}: unknown algorithm")
        payload_spec = None
        if payload_value:
            if record_type in ("revisit", "continuation") or headers.get_header("WARC-Segment-Number"):
                notes.append(f"payload digest of a {record_type} record refers to another record's payload")
            else:
                payload_spec = _digest_spec(payload_value)
                if payload_spec is None:
                    notes.append(f"payload digest {payload_value.strip()[:80]!r}: unknown algorithm")
        if block_spec is None and payload_spec is None:
            return cls(None, None, "; ".join(notes)) if notes else None
        return cls(block_spec, payload_spec, "; ".join(notes) or None)

    def start_payload(self, http_record: bool, header_complete: bool) -> None:
        """The payload starts here (after the HTTP headers of an HTTP record, else at the block start)."""
        self.in_payload = header_complete
        self.payload_known = header_complete
        if not http_record:  # nothing was read yet: the whole block is the payload
            self.in_payload = self.payload_known = True

    def update(self, data: bytes) -> None:
        if self.block is not None:
            self.block.update(data)
        if self.in_payload and self.payload is not None:
            self.payload.update(data)

    def verdict(self, payload: bytes | None, chunked: bool) -> tuple[bool | None, str | None]:
        """(digest_verified, detail) once the whole block has been read; `payload` is the HTTP payload
        as stored when it was kept whole."""
        results, problems = [], []
        block_digest = self.block.digest() if self.block is not None else None
        if self.block_spec:
            algorithm, stored, _ = self.block_spec
            results.append(block_digest == stored)
            if not results[-1]:
                problems.append(
                    f"block digest {_stored(self.block_spec)} != computed {format_digest(algorithm, block_digest)}"
                )
        if self.payload_spec:
            algorithm, stored, _ = self.payload_spec
            computed = self.payload.digest() if self.payload_known else None
            ok = stored is not None and computed == stored
            if not ok and stored is not None and chunked and payload is not None:  # spec's "entity-body"
                try:
                    ok = hashlib.new(algorithm, dechunk(payload)).digest() == stored
                except PayloadError:
                    pass
            block_algorithm = (self.block_spec or self.payload_spec)[0]
            if not ok and stored is not None and block_algorithm == algorithm and block_digest == stored:
                ok = True  # ClueWeb09 writes the block digest into WARC-Payload-Digest
            if ok or computed is not None:
                results.append(ok)
                if not ok:
                    problems.append(
                        f"payload digest {_stored(self.payload_spec)} != computed "
                        f"{format_digest(algorithm, computed)}"
                    )
            else:
                problems.append("payload digest not checkable: HTTP headers too long")
        if not results:
            return None, "; ".join(filter(None, [self.detail, *problems])) or None
        return all(results), "; ".join(filter(None, [*problems, self.detail])) or None


class HashingReader:
    """A record block that feeds what is read from it to the record's digests."""

    def __init__(self, stream, digests: Digests | None):
        self.stream = stream
        self.digests = digests

    def read(self, length=None) -> bytes:
        data = self.stream.read(length)
        if self.digests is not None and data:
            self.digests.update(data)
        return data

    def readline(self, length=None) -> bytes:
        data = self.stream.readline(length)
        if self.digests is not None and data:
            self.digests.update(data)
        return data
