"""Opening an input file: local, gs://, s3://, http(s):// (`transforms.read.beam` registers http), as bytes."""

from __future__ import annotations

import zlib
from typing import BinaryIO

from transforms.read.starts import GZIP_MAGIC


def open_file(path: str) -> BinaryIO:
    from apache_beam.io.filesystem import CompressionTypes  # Beam is slow to import: only here
    from apache_beam.io.filesystems import FileSystems

    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def head_bytes(path: str, size: int = 1 << 16) -> bytes:
    """The first `size` bytes of a file, gunzipped when it is gzip (as far as they decompress)."""
    with open_file(path) as f:
        raw = f.read(size)
    if raw[:2] != GZIP_MAGIC:
        return raw
    inflater = zlib.decompressobj(31)
    try:
        return inflater.decompress(raw, size)
    except zlib.error:
        return raw
