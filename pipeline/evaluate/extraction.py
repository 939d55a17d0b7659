"""Offline evaluations of pipeline stages against shared, annotated data.

Each evaluation is a loader (data dir -> inputs and ground truth) plus a scorer (predictions, truth -> a dict
of numbers). Only the text-extraction benchmark lives here so far:

AEB (Scrapinghub/Zyte Article Extraction Benchmark, ``shared/data/html-extraction-scrapinghub-aeb``):
181 news/blog pages with a hand-annotated article body each. The metric is the one the benchmark publishes
(see that directory's PROVENANCE.md), re-implemented from its description:

- tokens are the matches of the Unicode regex ``\\w+``;
- each text becomes the multiset of its token 4-gram shingles (a text with fewer than 4 tokens is one
  shingle of all its tokens; an empty text has none);
- per document, TP = sum over shingles of min(truth count, predicted count), FP = predicted surplus,
  FN = truth surplus; the three are normalised to sum to 1 so that long documents do not weigh more;
- precision = mean of TP / (TP + FP) over the documents with TP + FP > 0 (an empty prediction does not
  lower precision, only recall); recall = mean of TP / (TP + FN) over the documents with TP + FN > 0;
  F1 = 2PR / (P + R) of those two means (not a mean of per-document F1);
- accuracy = share of documents whose token sequence equals the truth's exactly.

A page that is missing from `predicted` counts as an empty prediction (all FN).

Checked against the four upstream baseline outputs shipped with the data (test_extract.py): all within 0.001
of the published F1/precision/recall. Pooling the normalised counts over documents instead (sum TP / sum
(TP + FP)) is a plausible misreading and misses readability's published F1 by 0.011.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

AEB_DIRNAME = "html-extraction-scrapinghub-aeb"

_TOKEN_RE = re.compile(r"\w+", re.UNICODE)
SHINGLE_N = 4


def tokenize(text: str | None) -> list[str]:
    """Word tokens as the AEB metric sees them (regex ``\\w+``, case kept)."""
    return _TOKEN_RE.findall(text or "")


def shingles(text: str | None, n: int = SHINGLE_N) -> Counter:
    """Multiset of token n-gram shingles; a short text (< n tokens) is one shingle, an empty one none."""
    tokens = tokenize(text)
    if not tokens:
        return Counter()
    if len(tokens) < n:
        return Counter([" ".join(tokens)])
    return Counter(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def shingle_counts(
    truth: str | None, predicted: str | None, n: int = SHINGLE_N
) -> tuple[float, float, float]:
    """Normalised (tp, fp, fn) of one document; (0, 0, 0) when both texts have no shingles."""
    t, p = shingles(truth, n), shingles(predicted, n)
    tp = sum((t & p).values())
    fp = sum((p - t).values())
    fn = sum((t - p).values())
    total = tp + fp + fn
    if total == 0:
        return 0.0, 0.0, 0.0
    return tp / total, fp / total, fn / total


def aeb_scores(predicted: dict[str, str | None], truth: dict[str, str]) -> dict:
    """Score `predicted` ({id: text}) against `truth` ({id: article body}) with the AEB metric.

    Returns ``{"precision", "recall", "f1", "accuracy", "n"}``; n is the number of truth documents scored.
    Ids in `predicted` that are not in `truth` are ignored.
    """
    precisions: list[float] = []
    recalls: list[float] = []
    exact = 0
    for doc_id, true_text in truth.items():
        pred_text = predicted.get(doc_id) or ""
        tp, fp, fn = shingle_counts(true_text, pred_text)
        if tp + fp > 0:
            precisions.append(tp / (tp + fp))
        if tp + fn > 0:
            recalls.append(tp / (tp + fn))
        exact += tokenize(true_text) == tokenize(pred_text)
    precision = sum(precisions) / len(precisions) if precisions else 0.0
    recall = sum(recalls) / len(recalls) if recalls else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    n = len(truth)
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "accuracy": exact / n if n else 0.0,
        "n": n,
    }


def aeb_dir(data_dir: str | Path) -> Path:
    """The AEB directory given either itself or the shared data directory that holds it."""
    data_dir = Path(data_dir)
    return data_dir / AEB_DIRNAME if (data_dir / AEB_DIRNAME).is_dir() else data_dir


def load_aeb(data_dir: str | Path) -> list[tuple[str, str, str]]:
    """The AEB pages as (id, url, html) in index order; `data_dir` is the AEB dir or its parent."""
    root = aeb_dir(data_dir)
    pages = []
    with open(root / "index.jsonl", encoding="utf-8") as index:
        for line in index:
            if not line.strip():
                continue
            entry = json.loads(line)
            with gzip.open(root / entry["html_file"], "rb") as f:
                html = f.read().decode("utf-8", errors="replace")
            pages.append((entry["id"], entry["url"], html))
    return pages


def load_aeb_truth(data_dir: str | Path) -> dict[str, str]:
    """Ground truth {id: article body}."""
    with open(aeb_dir(data_dir) / "ground-truth.json", encoding="utf-8") as f:
        return {doc_id: entry["articleBody"] for doc_id, entry in json.load(f).items()}


def load_aeb_baseline(data_dir: str | Path, name: str) -> dict[str, str]:
    """An upstream extractor's output {id: text} from ``baselines/<name>.json`` (e.g. "trafilatura")."""
    with open(aeb_dir(data_dir) / "baselines" / f"{name}.json", encoding="utf-8") as f:
        return {doc_id: entry.get("articleBody") or "" for doc_id, entry in json.load(f)["output"].items()}


# Published upstream numbers for the bundled baselines (F1, precision, recall), see PROVENANCE.md.
AEB_PUBLISHED = {
    "trafilatura": (0.958, 0.938, 0.978),
    "readability": (0.922, 0.913, 0.931),
    "justext": (0.804, 0.858, 0.756),
    "html-text": (0.665, 0.500, 0.994),
}


# ---------------------------------------------------------------------------------------------------------
# command line: python -m pipeline.evaluate.extraction aeb [--extractor trafilatura] [--in-process] [--set fast=false]

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[3] / "shared" / "data"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def run_aeb(
    data_dir: str | Path = DEFAULT_DATA_DIR,
    extractor: str = "trafilatura",
    time_limit_s: float | None = None,
    max_html_chars: int | None = None,
) -> dict:
    """Extract every AEB page with `transforms.extract.Extractor` and score it.

    Returns aeb_scores() plus throughput (pages per wall-clock second), per-page milliseconds (p50, p90,
    p99, max) and the number of failed extractions. time_limit_s None extracts in this process.
    """
    from transforms.extract import DEFAULT_MAX_HTML_CHARS, Extractor

    pages = load_aeb(data_dir)
    truth = load_aeb_truth(data_dir)
    cap = DEFAULT_MAX_HTML_CHARS if max_html_chars is None else max_html_chars
    predicted: dict[str, str] = {}
    seconds: list[float] = []
    failed = 0
    with Extractor(extractor, time_limit_s=time_limit_s, max_html_chars=cap) as ex:
        ex.extract("<html><body><p>warm-up</p></body></html>")  # child start-up is not page time
        for doc_id, url, html in pages:
            start = time.perf_counter()
            result = ex.extract(html, url)
            seconds.append(time.perf_counter() - start)
            predicted[doc_id] = result.text or ""
            failed += result.failed
    scores = aeb_scores(predicted, truth)
    scores.update(
        extractor=extractor,
        pages_per_s=len(pages) / sum(seconds) if seconds else 0.0,
        ms_p50=1000 * _percentile(seconds, 0.5),
        ms_p90=1000 * _percentile(seconds, 0.9),
        ms_p99=1000 * _percentile(seconds, 0.99),
        ms_max=1000 * max(seconds, default=0.0),
        failed=failed,
    )
    return scores


def _parse_setting(item: str) -> tuple[str, object]:
    key, sep, value = item.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"--set wants key=value, got {item!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.evaluate.extraction", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="evaluation", required=True)
    aeb = sub.add_parser(
        "aeb", help="main-text extraction on the Scrapinghub/Zyte Article Extraction Benchmark"
    )
    aeb.add_argument("--data", default=str(DEFAULT_DATA_DIR), help="shared data dir or the AEB dir itself")
    aeb.add_argument("--extractor", default="trafilatura", help="trafilatura | resiliparse | module:function")
    aeb.add_argument("--in-process", action="store_true", help="no child process and no time limit")
    aeb.add_argument("--time-limit", type=float, default=None, help="seconds per page (default: Extractor's)")
    aeb.add_argument("--max-html-chars", type=int, default=None)
    aeb.add_argument(
        "--set",
        type=_parse_setting,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override an option of the extractor (TRAFILATURA_OPTIONS / RESILIPARSE_OPTIONS, or DATE_OPTIONS "
        "with a 'date.' prefix), e.g. --set fast=false --set favor_precision=true; needs --in-process",
    )
    aeb.add_argument("--baselines", action="store_true", help="score the bundled upstream outputs instead")
    args = parser.parse_args(argv)

    if args.baselines:
        truth = load_aeb_truth(args.data)
        for name, (f1, precision, recall) in AEB_PUBLISHED.items():
            s = aeb_scores(load_aeb_baseline(args.data, name), truth)
            print(
                f"{name:12s} F1 {s['f1']:.4f} (published {f1:.3f})  P {s['precision']:.4f} ({precision:.3f})"
                f"  R {s['recall']:.4f} ({recall:.3f})  accuracy {s['accuracy']:.3f}"
            )
        return 0

    from transforms import extract

    if args.set:
        if not args.in_process:
            parser.error("--set changes this process's settings only: add --in-process")
        options = (
            extract.RESILIPARSE_OPTIONS if args.extractor == "resiliparse" else extract.TRAFILATURA_OPTIONS
        )
        for key, value in args.set:
            if key.startswith("date."):
                extract.DATE_OPTIONS[key[5:]] = value
            else:
                options[key] = value
    time_limit = None if args.in_process else (args.time_limit or extract.DEFAULT_TIME_LIMIT_S)
    s = run_aeb(args.data, args.extractor, time_limit, args.max_html_chars)
    print(
        f"{s['extractor']} {'in-process' if args.in_process else f'child, limit {time_limit:g} s'}: "
        f"F1 {s['f1']:.4f}  P {s['precision']:.4f}  R {s['recall']:.4f}  accuracy {s['accuracy']:.3f}  n {s['n']}  "
        f"| {s['pages_per_s']:.1f} pages/s, ms/page p50 {s['ms_p50']:.1f} p90 {s['ms_p90']:.1f} "
        f"p99 {s['ms_p99']:.1f} max {s['ms_max']:.1f} | failed {s['failed']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
