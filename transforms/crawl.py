"""Common Crawl snapshot ids (``CC-MAIN-2024-10``): the one pattern the reader, dedup and backfills share.

Kept apart from the reader (``transforms/read/``) because dedup's crawl order needs it on every row and
`transforms.schema` imports dedup: the WARC reader (warcio, brotli, Resiliparse) stays out of that import.
"""

from __future__ import annotations

import re

# CC-MAIN-YYYY-WW (weekly, since 2013) and the two older ids CC-MAIN-2008-2009 and CC-MAIN-2012
_CRAWL_ID = re.compile(r"CC-MAIN-(\d{4})(?:-(\d{4}|\d{2}))?(?!\d|-\d)")


def crawl_id(text: str | None, anywhere: bool = False) -> tuple[str, int, int] | None:
    """(id, year, week) of the Common Crawl snapshot id `text` starts with (`anywhere`: the first one in it).

    ``CC-MAIN-2024-10`` -> ("CC-MAIN-2024-10", 2024, 10); ``CC-MAIN-2012`` -> (..., 2012, 0) and
    ``CC-MAIN-2008-2009`` -> (..., 2008, 2009), so (year, week) sorts every snapshot by time. None: no id
    (a WARC file name such as ``CC-MAIN-20240522...-00000.warc.gz`` holds a timestamp, not the id).
    """
    match = (_CRAWL_ID.search if anywhere else _CRAWL_ID.match)(text or "")
    return (match[0], int(match[1]), int(match[2] or 0)) if match else None


def crawl_from_filename(name: str | None) -> str | None:
    """The Common Crawl snapshot id found anywhere in a path or file name, else None."""
    found = crawl_id(name, anywhere=True)
    return found[0] if found else None
