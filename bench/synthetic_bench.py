"""Throughput of the synthetic-text scorer on web pages of 2 KB and 6 KB, documents per CPU-second.

    .venv/bin/python -m bench.synthetic_bench [--docs 3000] [--repeats 5]

Documents are the pipeline's own extraction of the shared pre-LLM web pages (``pipeline.train.web_text``), English,
cut or joined to 2,000 and 6,000 characters (at a line break), and, for contrast, L2R passages joined to the
same sizes. Each set is scored with ``SyntheticScorer.columns_batch`` (what the pipeline's scoring stage
calls) in this one process; the figure is documents per CPU-second of this process (= per core), median over
the repeats, with the share of documents that abstained (they cost the abstain test only). Numbers, not
pass/fail.
"""

from __future__ import annotations

import argparse
import statistics
import time

from pipeline.train.synthetic import DEFAULT_DATA, load_labelled
from pipeline.train.web_text import load_web_text
from transforms import synthetic as syn


def sized(texts: list[str], size: int, n: int) -> list[str]:
    """`n` documents of ~`size` characters: each text joined with the following ones, cut at a line break."""
    out, i = [], 0
    while len(out) < n:
        doc = ""
        while len(doc) < size:
            doc += texts[i % len(texts)] + "\n"
            i += 1
        cut = doc.rfind("\n", 0, size)
        out.append(doc[: cut if cut > size // 2 else size])
    return out


def measure(scorer: syn.SyntheticScorer, docs: list[str], repeats: int) -> tuple[float, float]:
    langs = ["en"] * len(docs)
    rates = []
    for _ in range(repeats):
        t0 = time.process_time()
        cols = scorer.columns_batch(docs, langs)
        rates.append(len(docs) / (time.process_time() - t0))
    abstained = sum(c["synthetic_score"] is None for c in cols) / len(cols)
    return statistics.median(rates), abstained


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--docs", type=int, default=3000)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    scorer = syn.shipped_scorer()
    web = [r["text"] for r in load_web_text() if r.get("lang") == "en" and r["pre_llm"]]
    l2r = [r["text"] for r in load_labelled(DEFAULT_DATA)]
    print(f"synthetic scorer: {args.docs} documents per set, median of {args.repeats} repeats, one process")
    print(f"{'documents':<34} {'chars':>6} {'docs/s per core':>16} {'abstained':>10}")
    for name, texts in (("pre-LLM web pages (pipeline text)", web), ("L2R passages joined", l2r)):
        for size in (2000, 6000):
            docs = sized(texts, size, args.docs)
            rate, abstained = measure(scorer, docs, args.repeats)
            chars = sum(map(len, docs)) / len(docs)
            print(f"{name:<34} {chars:>6.0f} {rate:>16,.0f} {100 * abstained:>9.1f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
