"""An HTML payload's bytes -> text, in the charset a browser would use (`decode_html`)."""

from __future__ import annotations

import codecs
import re

from resiliparse.parse.encoding import detect_encoding, map_encoding_to_html5

_META_BYTES = 4096


def decode_html(body: bytes, charset_header: str | None = None) -> tuple[str, str]:
    """(text, charset used) of an HTML payload; never raises.

    Order: byte-order mark, the HTTP header charset, ``<meta charset>`` / ``http-equiv`` in the first
    4 KB, strict UTF-8, detection (uchardet via Resiliparse), cp1252 with replacement characters.
    Charset names are mapped as browsers do (WHATWG: iso-8859-1 -> cp1252, gb2312 -> gb18030, ...);
    unknown names are skipped. A declared charset is used only if the bytes decode with it, and loses
    to UTF-8 when the bytes are valid non-ASCII UTF-8 (servers that default to iso-8859-1 for UTF-8
    pages are common; text in another charset is practically never valid UTF-8).
    """
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(codec, errors="replace"), codec
    utf8 = _utf8_or_none(body)  # decoded once: most pages are UTF-8
    for declared in (charset_header, _meta_charset(body)):
        codec = _codec(declared)
        if codec is None:
            continue
        if utf8 is not None and not body.isascii():
            return utf8, "utf-8"
        try:
            return body.decode(codec), codec
        except UnicodeDecodeError:
            continue
    if utf8 is not None:
        return utf8, "utf-8"
    codec = _codec(detect_encoding(body, html5_compatible=False)) or "cp1252"
    return body.decode(codec, errors="replace"), codec


_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
# WHATWG decodes these labels with the superset codec
_SUPERSETS = {
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "shift_jis": "cp932",
    "euc_kr": "cp949",
    "big5": "big5hkscs",
}
# Python codecs that are no charset a web page can be in
_NOT_HTML_CODECS = frozenset(
    {"idna", "punycode", "raw-unicode-escape", "unicode-escape", "utf-7", "undefined"}
)
_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([a-zA-Z0-9_:.+-]+)""",
    re.IGNORECASE,
)


def _codec(name: str | bytes | None) -> str | None:
    """Python codec for a charset label, browser-style; None for unknown or unusable labels."""
    if isinstance(name, bytes):
        name = name.decode("ascii", "replace")
    name = (name or "").strip().strip("\"';").strip()
    if not name:
        return None
    try:
        codec = map_encoding_to_html5(name, fallback_utf8=False) or codecs.lookup(name).name
    except (LookupError, ValueError):
        return None
    if codec.startswith(("utf-16", "utf-32")) or codec in _NOT_HTML_CODECS:
        return None  # a declared UTF-16 without a BOM is treated as unknown (browsers: as UTF-8)
    codec = _SUPERSETS.get(codec, codec)
    try:
        b"a".decode(codec)  # rejects bytes-to-bytes codecs (base64, zlib, rot13, ...)
    except (LookupError, UnicodeDecodeError):
        return None
    return codec


def _meta_charset(body: bytes) -> bytes | None:
    match = _META_CHARSET.search(body[:_META_BYTES])
    return match[1] if match else None


def _utf8_or_none(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None
