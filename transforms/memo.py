"""Work done once per distinct text: a bounded memo of per-text results (pure, no Beam).

A crawl holds the same text many times (the same payload fetched again, mirrors, boilerplate pages): the
extract step already reuses a payload's text (``transforms.extract.reuse``), and the steps after it score
and sketch a text once per worker through a `TextMemo`. Results are pure functions of the text, so a row
gets exactly the columns it would have got. Keys are 128-bit digests of the text, so the memo never holds
texts; it keeps the `max_entries` most recently used results.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Sequence

MAX_ENTRIES = 8192  # per memo and worker: a few KB of columns each


def text_key(text: str) -> bytes:
    """The memo key of a text: blake2b-128 of its UTF-8 bytes (lone surrogates kept)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class TextMemo:
    """Least-recently-used map from `text_key` to a result; `hits` counts reuses."""

    def __init__(self, max_entries: int = MAX_ENTRIES):
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._results: OrderedDict[bytes, object] = OrderedDict()
        self.hits = 0

    def __len__(self) -> int:
        return len(self._results)

    def get(self, key: bytes):
        result = self._results.get(key)
        if result is not None:
            self._results.move_to_end(key)
            self.hits += 1
        return result

    def put(self, key: bytes, result) -> None:
        self._results[key] = result
        self._results.move_to_end(key)
        while len(self._results) > self.max_entries:
            self._results.popitem(last=False)


def distinct(texts: list[str], memo: TextMemo | None) -> tuple[list[bytes], dict[bytes, object], list[int]]:
    """(key of each text, results already known by key, index of the first text of each key still to do).
    Texts repeated within `texts` are done once even without a memo."""
    keys = [text_key(t) for t in texts]
    known: dict[bytes, object] = {}
    todo: list[int] = []
    for i, key in enumerate(keys):
        if key in known:
            continue
        result = memo.get(key) if memo is not None else None
        known[key] = result
        if result is None:
            todo.append(i)
    return keys, {k: v for k, v in known.items() if v is not None}, todo


def once_per_text(texts: Sequence[str], compute: Callable[[list[str]], list], memo: TextMemo | None) -> list:
    """The result of each text, calling `compute` (a batch of texts -> their results, in order) once, on the
    distinct texts neither repeated earlier in `texts` nor known to `memo`; new results go into `memo`."""
    keys, known, todo = distinct(list(texts), memo)
    for i, result in zip(todo, compute([texts[i] for i in todo]), strict=True):
        known[keys[i]] = result
        if memo is not None:
            memo.put(keys[i], result)
    return [known[key] for key in keys]
