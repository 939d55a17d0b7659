"""How far resiliparse's text can decide a page without trafilatura: the measurements behind [cascade].

    .venv/bin/python -m bench.cascade_bench measure [--sources warc,corpus,pre2022,aeb] [--jobs 2]
    .venv/bin/python -m bench.cascade_bench report [--config pipeline/thresholds.toml]

``measure`` extracts every HTML page of each source three times, with trafilatura, resiliparse and the
cascade's cheap pass (resiliparse's whole-page text; the pipeline's settings, through `Extractor.extract`'s
preparation), scores each text (language ID and the
quality signals) and decides both rows with the thresholds config (no dedup: duplicates are judged across
documents, not per page), then writes one JSON line per distinct page to
``bench/results/cascade_signals.jsonl`` (signals only, no text). Sources (``../shared/data``):

    warc      every HTML response of the 185 WARC samples
    corpus    the benchmark corpus (bench/make_corpus.py), each distinct payload once, weighted by its copies
    pre2022   the 533 pages of web-pages-pre2022
    aeb       the 181 pages of the Zyte extraction benchmark

``report`` replays the cascade's skip rule (transforms/extract/cascade.py, margins from the config's
[cascade] section) on the page-text signals and prints, per source: pages trafilatura-everywhere keeps, how
many of those the cascade would lose (kept-set agreement), trafilatura calls skipped, extraction CPU with
the cascade over trafilatura everywhere, and per rule the margin measured: among pages whose trafilatura
text passes the rule, the lowest page-text value over the rule's bound (the configured factor must stay
below it). URL and digest rules (decided before extraction) are not replayed here.

``learned`` asks whether a learned skip rule would pay: a logistic regression of every page-text signal and
the HTML length, predicting trafilatura's verdict, fitted on two of the three independent sources (WARC
samples, pre2022, AEB; the corpus is made of the WARC samples' and AEB's pages) with a margin of 0.8 x the
lowest probability of a kept training page, is replayed on the third (pages skipped only where the page text
fails a rule too, so decide rejects them). Its CPU is then measured in this process, page by page: the
cheap pass it needs (page text + every signal) against trafilatura. Prints, per held-out source, pages
skipped, kept pages lost, trafilatura CPU skipped and the extraction CPU ratio over trafilatura everywhere.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import hashlib
import json
import os
import sys
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "bench" / "results"
SIGNALS_FILE = RESULTS / "cascade_signals.jsonl"
SOURCES = ("warc", "corpus", "pre2022", "aeb")


def _keep_columns() -> tuple[str, ...]:
    from transforms.schema import QUALITY_COLUMN_NAMES

    return ("lang", "lang_score", *QUALITY_COLUMN_NAMES)


def _warc_pages(paths: list[str]) -> list[tuple[str, str | None, bytes, str | None, int]]:
    """(key, url, body, charset header, copies) per distinct HTML payload of these WARC files."""
    from transforms.read import iter_records

    pages: dict[str, list] = {}
    for path in paths:
        for rec in iter_records(path):
            if not rec.is_html or rec.body is None or rec.failure_reason:
                continue
            key = hashlib.sha1(rec.body + (rec.charset_header or "").encode()).hexdigest()
            if key in pages:
                pages[key][4] += 1
            else:
                pages[key] = [key, rec.url, rec.body, rec.charset_header, 1]
    return [tuple(p) for p in pages.values()]


def load_pages(source: str) -> list[tuple[str, str | None, str, int]]:
    """(id, url, html, copies) of one source."""
    from transforms.read import decode_html

    if source in ("warc", "corpus"):
        if source == "warc":
            files = sorted(glob.glob(str(DATA / "warc-samples" / "**" / "*"), recursive=True))
            files = [f for f in files if os.path.isfile(f) and not f.endswith((".md", ".jsonl"))]
        else:
            files = sorted(glob.glob(str(ROOT / "bench" / "corpus" / "*.warc.gz")))
            if not files:
                raise SystemExit("no bench corpus: run `make bench-corpus` first")
        out = []
        for key, url, body, charset_header, copies in _warc_pages(files):
            html, _ = decode_html(body, charset_header)
            out.append((key, url, html, copies))
        return out
    if source == "pre2022":
        pages = []
        for path in sorted(glob.glob(str(DATA / "web-pages-pre2022" / "pages" / "*.html.gz"))):
            with gzip.open(path, "rb") as f:
                html, _ = decode_html(f.read(), None)
            pages.append((os.path.basename(path), None, html, 1))
        return pages
    if source == "aeb":
        from pipeline.evaluate.extraction import load_aeb

        return [(doc_id, url, html, 1) for doc_id, url, html in load_aeb(DATA)]
    raise ValueError(f"unknown source {source!r}")


_STATE: dict = {}


def _init() -> None:
    from transforms.decide import load_thresholds
    from transforms.extract import Extractor
    from transforms.signals import langid

    _STATE["lid"] = langid.load_model()
    _STATE["thresholds"] = load_thresholds()
    _STATE["extractors"] = {
        kind: Extractor(kind, time_limit_s=None) for kind in ("trafilatura", "resiliparse")
    }
    _STATE["extractors"]["page_text"] = Extractor("resiliparse_page", time_limit_s=None)


def _judge(text: str, url: str | None) -> dict:
    """Signals and decision of one text, as the pipeline would make them (dedup aside)."""
    from transforms.decide import decide
    from transforms.schema import new_row
    from transforms.signals import langid, quality

    lang, score = langid.identify(_STATE["lid"], [text])[0]
    row = new_row(id="x", url=url, text=text, lang=lang, lang_score=score)
    row.update(quality.quality_signals(text, lang))
    row = decide(row, _STATE["thresholds"])
    out = {k: row.get(k) for k in _keep_columns()}
    out.update(status=row["status"], reason=row.get("reject_reason"), rules=row.get("failed_rules"))
    return out


def _measure_one(page: tuple) -> dict:
    import time

    doc_id, url, html, copies = page
    from transforms.extract import DEFAULT_MAX_HTML_CHARS, prepare_html

    out = {"id": doc_id, "copies": copies, "html_chars": len(prepare_html(html, DEFAULT_MAX_HTML_CHARS)[0])}
    for kind, extractor in _STATE["extractors"].items():
        start = time.process_time()
        result = extractor.extract(html, url)
        out[f"{kind}_cpu_s"] = time.process_time() - start
        if result.failed:
            out[kind] = {"status": "failed", "reason": result.failure_reason}
            continue
        out[kind] = _judge(result.text or "", url)
    return out


def measure(sources: list[str], jobs: int) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    previous = []
    if SIGNALS_FILE.exists():
        with open(SIGNALS_FILE, encoding="utf-8") as f:
            previous = [json.loads(line) for line in f if json.loads(line)["source"] not in sources]
    rows = list(previous)
    with ProcessPoolExecutor(jobs, initializer=_init) as pool:
        for source in sources:
            pages = load_pages(source)
            print(f"{source}: {len(pages)} distinct pages", file=sys.stderr)
            for result in pool.map(_measure_one, pages, chunksize=4):
                result["source"] = source
                rows.append(result)
    with open(SIGNALS_FILE, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    print(f"wrote {SIGNALS_FILE} ({len(rows)} pages)", file=sys.stderr)


def load_measurements() -> list[dict]:
    with open(SIGNALS_FILE, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def report(config: str | None) -> dict:
    from transforms.decide import read_thresholds, thresholds_from_config
    from transforms.extract.cascade import load_cascade, skip_reason

    settings = read_thresholds(config)
    thresholds, cascade = thresholds_from_config(settings), load_cascade(settings)
    rows = load_measurements()
    table = {}
    for source in (*SOURCES, "all"):
        todo = [r for r in rows if source in ("all", r["source"])]
        if not todo:
            continue
        t = Counter()
        lost_reasons: Counter = Counter()
        skipped_by = Counter()
        for r in todo:
            n = r["copies"]
            tr, rp = r["trafilatura"], r["page_text"]
            t["pages"] += n
            kept = tr["status"] == "kept"
            t["trafilatura_kept"] += n * kept
            if rp["status"] == "failed":
                continue
            why = skip_reason(rp, cascade) if r["html_chars"] <= cascade.max_html_chars else None
            if why:
                t["skipped"] += n
                skipped_by[why] += n
                if kept:
                    t["lost"] += n
                    lost_reasons[why] += n
                if rp["status"] != "rejected":
                    t["skipped_but_not_rejected"] += n  # must stay 0: decide rejects every skipped page
            t["trafilatura_cpu_s"] += n * r["trafilatura_cpu_s"]
            if not why:
                t["cascade_cpu_s"] += n * r["trafilatura_cpu_s"]
            if r["html_chars"] <= cascade.max_html_chars:  # longer pages skip the cheap pass
                t["cascade_cpu_s"] += n * r["page_text_cpu_s"]
        kept = t["trafilatura_kept"]
        table[source] = {
            "pages": t["pages"],
            "trafilatura_kept": kept,
            "cascade_kept": kept - t["lost"],
            "kept_agreement": round((kept - t["lost"]) / kept, 4) if kept else None,
            "trafilatura_skipped": t["skipped"],
            "skipped_share": round(t["skipped"] / t["pages"], 3),
            "skipped_by": dict(skipped_by),
            "lost_by": dict(lost_reasons),
            "skipped_but_not_rejected": t["skipped_but_not_rejected"],
            "extract_cpu_ratio": round(t["cascade_cpu_s"] / t["trafilatura_cpu_s"], 3)
            if t["trafilatura_cpu_s"]
            else None,
        }
        # per rule: the lowest page-text value among pages whose trafilatura text passes the rule, over the
        # rule's bound (the configured factor must stay below it)
        margins = {}
        by_name = {rule.name: rule for rule in thresholds.rules}
        for skip in cascade.rules:
            minimum = skip.bound / skip.factor if skip.factor else None
            values = [
                r["page_text"][skip.column]
                for r in todo
                if r["page_text"].get(skip.column) is not None
                and (r["trafilatura"].get(skip.column) or 0) >= (minimum or 0)
            ]
            if values and minimum:
                margins[skip.name] = {
                    "configured_factor": skip.factor,
                    "measured_margin": round(min(values) / minimum, 3),
                    "rule_min": by_name[skip.name].min,
                }
        table[source]["margins"] = margins
    return table


def margins(source_filter: str | None = None) -> dict:
    """For each candidate signal: its page-text values on pages trafilatura keeps (min, 1st percentile)."""
    rows = load_measurements()
    out = defaultdict(dict)
    for column in ("gopher_n_words", "gopher_stop_words", "c4_n_sentences", "lang_score"):
        for source in (*SOURCES, "all"):
            kept = [
                r["page_text"].get(column)
                for r in rows
                if source in ("all", r["source"])
                and r["trafilatura"]["status"] == "kept"
                and r["page_text"].get("status") != "failed"
            ]
            kept = sorted(v for v in kept if v is not None)
            if kept:
                out[column][source] = {"n": len(kept), "min": kept[0], "p1": kept[len(kept) // 100]}
    return dict(out)


INDEPENDENT = ("warc", "pre2022", "aeb")
_COUNTS = ("gopher_n_words", "gopher_stop_words", "c4_n_lines", "c4_n_sentences", "c4_n_sentences_terminal")


def _learned_features(signals: dict, html_chars: int) -> list[float]:
    """Every page-text signal (counts as log1p), English or not, log1p of the HTML length."""
    import math

    out = []
    for name in _keep_columns():
        if name == "lang":
            out.append(float(signals.get("lang") == "en"))
            continue
        value = float(signals.get(name) or 0)
        out.append(math.log1p(value) if name in _COUNTS else value)
    return [*out, math.log1p(html_chars)]


def _fit_logistic(x, y, l2: float = 1e-3):
    """The synthetic model's logistic regression (balanced classes, intercept not penalised) on standardised
    features, L2 per page -> probability function."""
    import numpy as np

    from transforms.synthetic.model import fit_logistic

    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    coef, intercept = fit_logistic((x - mean) / scale, y, l2=l2 * len(x))
    return lambda xs: 1 / (1 + np.exp(-(((xs - mean) / scale) @ coef + intercept)))


def _cheap_pass_cpu(source: str) -> dict[str, tuple[float, float]]:
    """{page id: (trafilatura CPU, page text + every signal CPU)}, measured alternately page by page."""
    import time

    from transforms.extract import (
        DEFAULT_MAX_HTML_CHARS,
        extract_page_text,
        extract_trafilatura,
        prepare_html,
    )
    from transforms.extract.cascade import text_signals
    from transforms.signals import langid

    lid = langid.load_model()
    out = {}
    for i, (doc_id, url, html, _) in enumerate(load_pages(source)):
        html, _ = prepare_html(html, DEFAULT_MAX_HTML_CHARS)
        costs = {}
        for step in ("trafilatura", "cheap") if i % 2 else ("cheap", "trafilatura"):
            start = time.process_time()
            if step == "trafilatura":
                extract_trafilatura(html, url)
            else:
                text_signals(extract_page_text(html, url).text or "", lid)
            costs[step] = time.process_time() - start
        out[doc_id] = (costs["trafilatura"], costs["cheap"])
    return out


def learned() -> dict:
    """Held-out replay and measured CPU of a learned skip rule (see the module docstring)."""
    import numpy as np

    rows = [
        r
        for r in load_measurements()
        if r["source"] in INDEPENDENT
        and r["page_text"]["status"] != "failed"
        and r["trafilatura"]["status"] != "failed"
    ]
    missing = set(INDEPENDENT) - {r["source"] for r in rows}
    if missing:
        raise SystemExit(
            f"no measurements of {sorted(missing)}: run `measure --sources {','.join(INDEPENDENT)}`"
        )
    x = np.array([_learned_features(r["page_text"], r["html_chars"]) for r in rows])
    kept = np.array([r["trafilatura"]["status"] == "kept" for r in rows])
    fails = np.array([r["page_text"]["status"] == "rejected" for r in rows])
    source = np.array([r["source"] for r in rows])
    table = {}
    for held in INDEPENDENT:
        train, test = source != held, source == held
        probability = _fit_logistic(x[train], kept[train])
        bound = 0.8 * probability(x[train][kept[train]]).min()
        skip = (probability(x[test]) < bound) & fails[test]
        cpu = _cheap_pass_cpu(held)
        ids = [r["id"] for r in rows if r["source"] == held]
        trafilatura = np.array([cpu[i][0] for i in ids])
        cheap = np.array([cpu[i][1] for i in ids])
        # each distinct page once (copies reuse its extraction in the pipeline)
        table[held] = {
            "pages": int(test.sum()),
            "trafilatura_kept": int(kept[test].sum()),
            "skipped": int(skip.sum()),
            "kept_lost": int((skip & kept[test]).sum()),
            "trafilatura_cpu_skipped_share": round(float(trafilatura[skip].sum() / trafilatura.sum()), 3),
            "cheap_pass_cpu_share": round(float(cheap.sum() / trafilatura.sum()), 3),
            "extract_cpu_ratio": round(
                float((cheap.sum() + trafilatura[~skip].sum()) / trafilatura.sum()), 3
            ),
        }
    return table


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--sources", default=",".join(SOURCES))
    m.add_argument("--jobs", type=int, default=2)
    r = sub.add_parser("report")
    r.add_argument("--config", default=None)
    sub.add_parser("margins")
    sub.add_parser("learned")
    args = parser.parse_args(argv)
    if args.cmd == "measure":
        measure(args.sources.split(","), args.jobs)
    elif args.cmd == "margins":
        print(json.dumps(margins(), indent=1))
    elif args.cmd == "learned":
        print(json.dumps(learned(), indent=1))
    else:
        print(json.dumps(report(args.config), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
