"""Cost of the per-document signals beside extraction, and how many documents each rule rejects.

    .venv/bin/python -m bench.signals_bench [--repeats 5]

On the extraction benchmark's 181 real pages, side by side in one process: trafilatura extraction (as the
pipeline runs it) vs language ID + every quality signal + decide on the extracted text. Prints median
seconds per page over the repeats and the ratio. Then the per-rule rejection counts of the default
thresholds config on (a) the benchmark's ground-truth article bodies and (b) the extracted texts.
Numbers, not pass/fail.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from pathlib import Path

from pipeline.evaluate.extraction import load_aeb, load_aeb_truth
from transforms.decide import decide, load_thresholds
from transforms.extract import extract_trafilatura, prepare_html
from transforms.schema import new_row
from transforms.signals import Scorers, score_rows

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def rows_for(texts_and_urls):
    return [new_row(id=str(i), url=url, text=text) for i, (text, url) in enumerate(texts_and_urls)]


def rule_counts(rows, thresholds) -> tuple[Counter, Counter, int]:
    first, every, kept = Counter(), Counter(), 0
    for row in rows:
        row = decide(row, thresholds)
        kept += row["status"] == "kept"
        if row["reject_reason"]:
            first[row["reject_reason"]] += 1
        every.update(row["failed_rules"])
    return first, every, kept


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    pages = load_aeb(args.data)
    truth = load_aeb_truth(args.data)
    scorers = Scorers.load()
    thresholds = load_thresholds()
    prepared = [(prepare_html(html, 500_000)[0], url) for _, url, html in pages]

    extract_times, signal_times, texts = [], [], []
    for _ in range(args.repeats):
        start = time.process_time()
        texts = [(extract_trafilatura(html, url).text or "", url) for html, url in prepared]
        extract_times.append(time.process_time() - start)
        start = time.process_time()
        rows = score_rows(rows_for(texts), scorers)
        for row in rows:
            decide(row, thresholds)
        signal_times.append(time.process_time() - start)
    n = len(pages)
    ext, sig = statistics.median(extract_times) / n, statistics.median(signal_times) / n
    print(f"{n} AEB pages, median of {args.repeats} runs, CPU seconds per page (one core)")
    print("| step | ms/page | pages/s | share of extraction |")
    print("|---|---|---|---|")
    print(f"| trafilatura extraction | {ext * 1e3:.2f} | {1 / ext:.0f} | 100% |")
    print(f"| lid.176 + quality signals + decide | {sig * 1e3:.2f} | {1 / sig:.0f} | {sig / ext:.1%} |")

    for name, docs in (
        ("ground-truth article bodies", [(truth[i], url) for i, url, _ in pages]),
        ("trafilatura output", texts),
    ):
        rows = score_rows(rows_for(docs), scorers)
        first, every, kept = rule_counts(rows, thresholds)
        print(f"\n{name}: {len(rows)} documents, {kept} kept")
        print("| rule | first failed (reject_reason) | failed at all |")
        print("|---|---|---|")
        for rule, count in every.most_common():
            print(f"| {rule} | {first.get(rule, 0)} | {count} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
