"""What an HTTP payload is: HTML by its declared media type or its first bytes, or evidently binary.

A candidate is HTML when, in this order, the non-empty ``WARC-Identified-Payload-Type``, else the HTTP
``Content-Type``, else the first bytes of the decoded body say text/html or application/xhtml+xml. A body
declared HTML that is evidently not text (a PNG / GIF / JPEG / PDF / ZIP / ... signature, or more than 10%
of the first 1 KiB are control bytes that no HTML charset uses; UTF-16 / UTF-32 with a byte-order mark is
text) is a ``binary_payload``.
"""

from __future__ import annotations

import re

HTML_MEDIA_TYPES = frozenset({"text/html", "application/xhtml+xml"})

_SNIFF_BYTES = 1024

# Media types that say nothing (browsers sniff these as if there were no Content-Type).
_UNKNOWN_MEDIA_TYPES = frozenset(
    {"application/octet-stream", "binary/octet-stream", "unknown/unknown", "application/unknown", "*/*"}
)


def declared_html(identified: str | None, content_type: str | None) -> bool | None:
    for media_type in (identified, content_type):
        if media_type and media_type not in _UNKNOWN_MEDIA_TYPES:
            return media_type in HTML_MEDIA_TYPES
    return None


_HTML_START = re.compile(rb"\s*(?:<!doctype\s+html|<html|<head|<body)", re.IGNORECASE)


def sniff_html(data: bytes | None) -> bool:
    data = (data or b"")[:_SNIFF_BYTES]
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return _HTML_START.match(data) is not None


# Signatures of formats that are no text (WHATWG MIME sniffing's image, audio/video and archive patterns).
_BINARY_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"RIFF", "RIFF media (WebP, WAV, AVI)"),
    (b"\x00\x00\x01\x00", "icon"),
    (b"BM", None),  # BMP: only with its header size check below
    (b"II*\x00", "TIFF image"),
    (b"MM\x00*", "TIFF image"),
    (b"%PDF-", "PDF document"),
    (b"PK\x03\x04", "ZIP archive (or docx, xlsx, jar, ...)"),
    (b"\x1f\x8b\x08", "gzip data"),
    (b"7z\xbc\xaf\x27\x1c", "7z archive"),
    (b"Rar!\x1a\x07", "RAR archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "OLE document (doc, xls, ppt)"),
    (b"OggS\x00", "Ogg media"),
    (b"ID3", "MP3 audio"),
    (b"fLaC", "FLAC audio"),
    (b"\x1a\x45\xdf\xa3", "WebM / Matroska video"),
    (b"wOFF", "WOFF font"),
    (b"wOF2", "WOFF2 font"),
    (b"\x00\x01\x00\x00\x00", "TrueType font"),
    (b"\x00asm", "WebAssembly"),
    (b"\x7fELF", "ELF executable"),
    (b"\xca\xfe\xba\xbe", "Java class"),
)
# C0 control bytes no HTML charset uses (WHATWG's "binary data bytes"; ESC stays: ISO-2022-JP)
_BINARY_BYTES = bytes([*range(0, 9), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20)])


def binary_kind(data: bytes) -> str | None:
    """What a payload declared HTML really is when it is evidently not text, else None."""
    head = data[:_SNIFF_BYTES]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None  # UTF-16 / UTF-32 with a byte-order mark: text
    for signature, kind in _BINARY_SIGNATURES:
        if head.startswith(signature):
            if kind is None:  # "BM" also starts words: a BMP has its file size next
                if len(head) < 6 or int.from_bytes(head[2:6], "little") != len(data):
                    continue
                kind = "BMP image"
            return kind
    if head[4:8] == b"ftyp":
        return "MP4 / ISO media"
    controls = len(head) - len(head.translate(None, _BINARY_BYTES))
    if controls * 10 > len(head):
        return f"binary data ({controls} control bytes in the first {len(head)})"
    return None


def looks_like_markup(data: bytes) -> bool:
    return data[:_SNIFF_BYTES].lstrip(b"\xef\xbb\xbf \t\r\n\f").startswith(b"<")
