"""The fixed benchmark corpus: real HTML packed into Common Crawl-style WARC files, deterministically.

    .venv/bin/python -m bench.make_corpus [--out bench/corpus] [--responses 5000] [--seed 20260101]

Sources (``../shared/data``): every distinct HTML payload of the WARC samples (read with pristine's own
reader, so chunking, content codings and charsets are undone as the pipeline undoes them) and the 181
pages of the Zyte extraction benchmark (urls from its index.jsonl). Each distinct page appears several
times, as a crawl does: the first copy as it is, then copies under other URLs and fetch dates, of which
``NEAR_DUP_SHARE`` get small text edits (a few words changed in a few text runs: near-duplicates) and the
rest are byte-identical payloads (exact duplicates). The responses are shuffled (seeded) and written as
per-record-gzip WARC/1.0 files of ``--per-file`` responses each: one ``warcinfo`` record, then a
``request`` / ``response`` pair per page with ``WARC-Identified-Payload-Type``, ``WARC-Concurrent-To``,
payload and block digests and Common Crawl's HTTP headers (payload stored decoded, the original
``Content-Encoding`` kept as ``X-Crawler-Content-Encoding``).

Same seed and sources -> byte-identical files (record ids and dates come from the seed, gzip has no
mtime). The corpus is a local cache under ``bench/corpus/`` (gitignored): page content belongs to its
publishers and stays out of git. ``manifest.json`` beside the files records counts and the sha256 of each.
"""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import gzip
import hashlib
import io
import json
import os
import random
import re
import uuid
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_OUT = Path(__file__).resolve().parent / "corpus"
CRAWL = "CC-MAIN-2026-08"
NEAR_DUP_SHARE = 0.6  # of the repeated copies; the rest are exact duplicates
EDIT_WORDS = ("update", "report", "today", "local", "people", "market", "season", "city", "data", "new")
_TEXT_RUN = re.compile(rb">([^<>]{60,2000})<")
_WORD = re.compile(rb"[A-Za-z]{4,}")


def warc_sample_pages(data: Path) -> list[dict]:
    """Distinct HTML payloads of the WARC samples, as pristine's reader yields them (file order)."""
    from transforms.read import iter_records

    pages, seen = [], set()
    files = sorted(glob.glob(str(data / "warc-samples" / "**" / "*"), recursive=True))
    for path in files:
        if not os.path.isfile(path) or path.endswith((".md", ".jsonl")):
            continue
        for rec in iter_records(path):
            if not rec.is_html or rec.body is None or rec.failure_reason:
                continue
            digest = hashlib.sha1(rec.body).digest()
            if digest in seen:
                continue
            seen.add(digest)
            pages.append(
                {
                    "url": rec.url or f"http://example.invalid/{len(pages)}",
                    "body": rec.body,
                    "content_type": rec.content_type or "text/html",
                    "charset": rec.charset_header,
                    "status": rec.http_status or 200,
                    "source": "warc-samples",
                }
            )
    return pages


def aeb_pages(data: Path) -> list[dict]:
    root = data / "html-extraction-scrapinghub-aeb"
    pages = []
    with open(root / "index.jsonl", encoding="utf-8") as index:
        for line in index:
            if line.strip():
                entry = json.loads(line)
                with gzip.open(root / entry["html_file"], "rb") as f:
                    body = f.read()
                pages.append(
                    {
                        "url": entry["url"],
                        "body": body,
                        "content_type": "text/html",
                        "charset": "UTF-8",
                        "status": 200,
                        "source": "aeb",
                    }
                )
    return pages


def near_duplicate(body: bytes, rng: random.Random) -> bytes:
    """A few words changed in up to 3 text runs between tags (page text differs by a few words)."""
    runs = list(_TEXT_RUN.finditer(body))
    if not runs:
        return body + b"\n<!-- " + str(rng.random()).encode() + b" -->"
    out, pos = [], 0
    for run in sorted(rng.sample(runs, min(3, len(runs))), key=lambda m: m.start()):
        text = run.group(1)
        words = list(_WORD.finditer(text))
        if words:
            w = rng.choice(words)
            text = text[: w.start()] + rng.choice(EDIT_WORDS).encode() + text[w.end() :]
        out += [body[pos : run.start(1)], text]
        pos = run.end(1)
    out.append(body[pos:])
    return b"".join(out)


def variant_url(url: str, copy: int, rng: random.Random) -> str:
    sep = "&" if "?" in url else "?"
    return rng.choice(
        [
            f"{url}{sep}utm_source=feed&ref={copy}",
            f"{url}{sep}page={copy}",
            url.replace("://", f"://m{copy}.", 1)
            if "://www." not in url
            else url.replace("://www.", "://m.", 1),
            f"{url}#c{copy}",
        ]
    )


def build_responses(pages: list[dict], n: int, rng: random.Random) -> list[dict]:
    """n responses: every page once as is, then copies (near or exact duplicates) until n, shuffled."""
    responses = [dict(p, kind="original", copy=0) for p in pages]
    copy = 0
    while len(responses) < n:
        copy += 1
        for page in rng.sample(pages, min(len(pages), n - len(responses))):
            near = rng.random() < NEAR_DUP_SHARE
            responses.append(
                dict(
                    page,
                    body=near_duplicate(page["body"], rng) if near else page["body"],
                    url=variant_url(page["url"], copy, rng),
                    kind="near_duplicate" if near else "exact_duplicate",
                    copy=copy,
                )
            )
    rng.shuffle(responses)
    return responses


def _record_id(rng: random.Random) -> str:
    return f"<urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}>"


def write_warc(path: Path, responses: list[dict], rng: random.Random, start: dt.datetime) -> None:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    fetch = start
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=True, warc_version="WARC/1.0")
        info_id = _record_id(rng)
        info = (
            f"isPartOf: {CRAWL}\r\npublisher: pristine bench (not Common Crawl)\r\n"
            "format: WARC File Format 1.0\r\nrobots: checked via crawler-commons\r\n"
        ).encode()
        writer.write_record(
            writer.create_warc_record(
                "",
                "warcinfo",
                payload=io.BytesIO(info),
                length=len(info),
                warc_content_type="application/warc-fields",
                warc_headers_dict={
                    "WARC-Record-ID": info_id,
                    "WARC-Date": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "WARC-Filename": path.name,
                },
            )
        )
        for r in responses:
            fetch += dt.timedelta(seconds=rng.randint(1, 40))
            date = fetch.strftime("%Y-%m-%dT%H:%M:%SZ")
            ip = f"{rng.randint(11, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
            host = re.sub(r"^[a-z]+://([^/:?#]+).*$", r"\1", r["url"])
            req_id, resp_id = _record_id(rng), _record_id(rng)
            request = (
                f"GET /{r['url'].split('/', 3)[3] if r['url'].count('/') >= 3 else ''} HTTP/1.1\r\n"
                f"User-Agent: CCBot/2.0 (https://commoncrawl.org/faq/)\r\nAccept: text/html,*/*;q=0.8\r\n"
                f"Accept-Encoding: br,gzip\r\nHost: {host}\r\nConnection: Keep-Alive\r\n\r\n"
            ).encode("utf-8", "replace")
            common = {"WARC-Date": date, "WARC-IP-Address": ip, "WARC-Warcinfo-ID": info_id}
            writer.write_record(
                writer.create_warc_record(
                    r["url"],
                    "request",
                    payload=io.BytesIO(request),
                    length=len(request),
                    warc_content_type="application/http; msgtype=request",
                    warc_headers_dict={"WARC-Record-ID": req_id, **common},
                )
            )
            content_type = r["content_type"] + (f"; charset={r['charset']}" if r["charset"] else "")
            http = StatusAndHeaders(
                f"{r['status']} {'OK' if r['status'] == 200 else 'Status'}",
                [
                    ("Date", fetch.strftime("%a, %d %b %Y %H:%M:%S GMT")),
                    ("Server", rng.choice(["nginx", "Apache", "cloudflare"])),
                    ("Content-Type", content_type),
                    ("X-Crawler-Content-Encoding", "gzip"),
                    ("Content-Length", str(len(r["body"]))),
                ],
                protocol="HTTP/1.1",
            )
            writer.write_record(
                writer.create_warc_record(
                    r["url"],
                    "response",
                    payload=io.BytesIO(r["body"]),
                    length=len(r["body"]),
                    http_headers=http,
                    warc_content_type="application/http; msgtype=response",
                    warc_headers_dict={
                        "WARC-Record-ID": resp_id,
                        "WARC-Concurrent-To": req_id,
                        "WARC-Identified-Payload-Type": r["content_type"],
                        **common,
                    },
                )
            )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--responses", type=int, default=5000, help="HTML responses in all")
    parser.add_argument("--per-file", type=int, default=500)
    parser.add_argument("--seed", type=int, default=20260101)
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    pages = warc_sample_pages(args.data) + aeb_pages(args.data)
    responses = build_responses(pages, args.responses, rng)
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("*.warc.gz"):
        old.unlink()
    start = dt.datetime(2026, 2, 16, tzinfo=dt.UTC)
    files = []
    n_files = -(-len(responses) // args.per_file)
    for i in range(n_files):
        chunk = responses[i * args.per_file : (i + 1) * args.per_file]
        path = args.out / f"{CRAWL}-bench-{i:05d}.warc.gz"
        write_warc(path, chunk, rng, start + dt.timedelta(hours=i))
        files.append(
            {
                "file": path.name,
                "bytes": path.stat().st_size,
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                "responses": len(chunk),
            }
        )
    kinds: dict[str, int] = {}
    sources: dict[str, int] = {}
    for r in responses:
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
        sources[r["source"]] = sources.get(r["source"], 0) + 1
    manifest = {
        "seed": args.seed,
        "distinct_pages": len(pages),
        "responses": len(responses),
        "html_bytes": sum(len(r["body"]) for r in responses),
        "by_kind": kinds,
        "by_source": sources,
        "files": files,
    }
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(
        f"{len(responses)} responses ({kinds}) from {len(pages)} distinct pages {sources} "
        f"-> {len(files)} files, {sum(f['bytes'] for f in files) / 1e6:.1f} MB in {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
