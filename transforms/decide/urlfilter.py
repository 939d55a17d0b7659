"""URL signals: block-listed domains and URLs, hard and soft banned words (one `url_*` column each).

Lists are plain text, one entry per line, `#` starts a comment, blank lines are ignored, matching is
case-insensitive:

- domains: `example.com` blocks example.com and every subdomain (www.example.com, a.b.example.com).
- urls: a full URL; matched after normalisation (scheme and `www.` dropped, trailing `/` dropped), so
  `http://www.example.com/page/` and `https://example.com/page` are the same entry.
- banned words (hard): a URL containing one of them as a token (URL split on non-alphanumerics) is blocked.
- soft banned words: counted; the thresholds config decides how many are too many (FineWeb: 2 or more).

The lists a run uses are named in the thresholds config's `[url_filter]` table; the defaults ship in
`pipeline/blocklists/` and are small on purpose: bring your own (e.g. the UT1 blacklists) for production.
This module measures; `decide` rejects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from transforms.schema import URL_COLUMN_NAMES

_TOKEN = re.compile(r"[^a-z0-9]+")


def read_list(path: str | Path) -> frozenset[str]:
    """Entries of a plain-text list (comments and blank lines dropped, lower-cased)."""
    entries = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            entry = line.split("#", 1)[0].strip().lower()
            if entry:
                entries.add(entry)
    return frozenset(entries)


def normalize_url(url: str) -> str:
    """'HTTP://www.Example.com/a/?q=1' -> 'example.com/a?q=1' (scheme, www., trailing slash dropped)."""
    url = url.strip().lower()
    try:
        parts = urlsplit(url if "://" in url else "http://" + url)
        host = parts.hostname or ""
    except ValueError:
        return url
    host = host.removeprefix("www.")
    path = parts.path.rstrip("/")
    return host + path + (f"?{parts.query}" if parts.query else "")


def _parent_domains(host: str):
    labels = host.split(".")
    for i in range(len(labels) - 1):
        yield ".".join(labels[i:])


@dataclass(frozen=True)
class UrlLists:
    domains: frozenset[str] = frozenset()
    urls: frozenset[str] = frozenset()
    hard_words: frozenset[str] = frozenset()
    soft_words: frozenset[str] = frozenset()

    @classmethod
    def from_files(cls, domains=None, urls=None, hard_words=None, soft_words=None) -> UrlLists:
        return cls(
            domains=frozenset(d.removeprefix("www.") for d in read_list(domains)) if domains else frozenset(),
            urls=frozenset(normalize_url(u) for u in read_list(urls)) if urls else frozenset(),
            hard_words=read_list(hard_words) if hard_words else frozenset(),
            soft_words=read_list(soft_words) if soft_words else frozenset(),
        )


def url_signals(url: str | None, lists: UrlLists) -> dict:
    """The url_* columns of one URL (all null when there is no URL)."""
    if not url:
        return dict.fromkeys(URL_COLUMN_NAMES)
    normalized = normalize_url(url)
    host = normalized.split("/", 1)[0].split("?", 1)[0]
    tokens = [t for t in _TOKEN.split(normalized) if t]
    return {
        "url_blocked_domain": any(d in lists.domains for d in _parent_domains(host)) if host else False,
        "url_blocked_url": normalized in lists.urls,
        "url_hard_banned_words": sum(t in lists.hard_words for t in tokens),
        "url_soft_banned_words": sum(t in lists.soft_words for t in tokens),
    }
