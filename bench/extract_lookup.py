"""trafilatura with and without transforms/extract/fast_trafilatura.py (lxml's C element class lookup and
guarded regular-expression tests in trafilatura's XPaths).

    .venv/bin/python -m bench.extract_lookup [--pages 400] [--rounds 3]

Distinct HTML pages of the benchmark corpus (bench/make_corpus.py), extracted in this process by
``extract_trafilatura``, alternating the two settings; prints CPU seconds per round, the medians and how
many pages' (text, title, date) differ (0 expected). Measured 2026-12-06 on all 4,536 shared and benchmark
pages, one process, alternating per page: -17.2% (77.7 -> 64.3 CPU-s), no page differed.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import random
import statistics
import time

from bench.pipeline_bench import CORPUS, corpus_files


def corpus_pages(limit: int) -> list[tuple[str, str | None]]:
    from transforms.read import decode_html, iter_records

    pages, seen = [], set()
    for path in corpus_files(CORPUS):
        for rec in iter_records(path):
            if not rec.is_html or not rec.body:
                continue
            digest = hashlib.sha1(rec.body).digest()
            if digest not in seen:
                seen.add(digest)
                html = decode_html(rec.body, rec.charset_header)
                pages.append((html[0] if isinstance(html, tuple) else html, rec.url))
    random.Random(1).shuffle(pages)
    return pages[:limit]


def main(argv=None) -> int:
    from transforms.extract import extract_trafilatura, fast_trafilatura

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pages", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    logging.disable(logging.CRITICAL)
    pages = corpus_pages(args.pages)
    cpu: dict[bool, list[float]] = {True: [], False: []}
    outputs: dict[bool, list] = {}
    try:
        for round_ in range(args.rounds):
            for enabled in (True, False) if round_ % 2 == 0 else (False, True):
                fast_trafilatura.ENABLED = enabled
                fast_trafilatura.undo()
                start = time.process_time()
                results = [extract_trafilatura(html, url) for html, url in pages]
                cpu[enabled].append(time.process_time() - start)
                outputs[enabled] = [(r.text, r.title, r.published_date) for r in results]
    finally:
        fast_trafilatura.ENABLED = True
    differ = sum(a != b for a, b in zip(outputs[True], outputs[False], strict=True))
    python, c = statistics.median(cpu[False]), statistics.median(cpu[True])
    print(f"{len(pages)} pages, {args.rounds} rounds: trafilatura as shipped {python:.2f} CPU-s {cpu[False]}")
    print(
        f"  fast_trafilatura {c:.2f} CPU-s {cpu[True]}: {100 * (c / python - 1):+.1f}%; pages that differ: {differ}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
