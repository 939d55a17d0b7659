"""What the read stage emits: a row per HTML response (`response_row`), per unreadable record or file
(`unreadable_row`), per JSONL / Parquet text document (`text_document_row`, `parse_json_line`)."""

from __future__ import annotations

import json
import posixpath

from transforms.read.record import Record
from transforms.schema import document_id, domain_of, failed, new_row


def response_row(rec: Record, crawl: str | None) -> dict:
    """The provenance columns of an HTML response record."""
    return new_row(
        id=document_id(posixpath.basename(rec.warc_filename), rec.warc_record_id, rec.warc_offset),
        url=rec.url,
        domain=domain_of(rec.url),
        crawl=crawl or rec.crawl,
        fetch_date=rec.fetch_date,
        warc_filename=rec.warc_filename,
        warc_offset=rec.warc_offset,
        warc_record_id=rec.warc_record_id,
        payload_digest=rec.payload_digest,
        digest_verified=rec.digest_verified,
        http_status=rec.http_status,
        content_type=rec.content_type,
        html_bytes=len(rec.body) if rec.body is not None else None,
    )


def unreadable_row(rec: Record, crawl: str | None) -> dict:
    """The failed row of an unreadable record or file (`unreadable_input`): provenance and the reason."""
    row = response_row(rec, crawl)
    row["id"] = document_id(
        posixpath.basename(rec.warc_filename), rec.warc_record_id, rec.warc_offset, "unreadable"
    )
    row["html_bytes"] = None
    return failed(row, rec.failure_reason, rec.failure_detail)


def repair_utf8(value):
    """Strings (also inside lists and dicts) with lone UTF-16 surrogates, which JSON allows ("\\ud800") but
    no UTF-8 coder or Parquet file accepts, with each one replaced by U+FFFD; other values unchanged."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, list):
        return [repair_utf8(v) for v in value]
    if isinstance(value, dict):
        return {repair_utf8(k): repair_utf8(v) for k, v in value.items()}
    return value


def text_document_row(record: dict, source: str, crawl: str | None) -> dict:
    """A JSONL/Parquet document (fields text, optional id, url, crawl) -> a row ready for language ID."""
    # JSON may carry lone UTF-16 surrogates ("\\ud800"), which no UTF-8 coder or Parquet file accepts
    text, doc_id, url, record_crawl = (repair_utf8(record.get(k)) for k in ("text", "id", "url", "crawl"))
    url = str(url) if url is not None else None
    row = new_row(
        id=str(doc_id)
        if doc_id is not None
        else document_id(source, text if isinstance(text, str) else None),
        url=url,
        domain=domain_of(url),
        crawl=crawl or (str(record_crawl) if record_crawl is not None else None),
        warc_filename=source,
        extractor="none",
    )
    if not isinstance(text, str):
        return failed(row, "missing_text", f"field 'text' is {type(text).__name__}, not a string")
    row["text"] = text
    return row


def parse_json_line(item: tuple[str, int, str], crawl: str | None) -> dict:
    """(path, line number, line) of a JSONL file -> a row; a line that is not a JSON object is a failed row
    (``bad_json``) whose detail names the line (``line 7: not JSON: ...``)."""
    path, number, line = item
    try:
        record = json.loads(line)
        if not isinstance(record, dict):
            raise ValueError(f"a JSON {type(record).__name__}, not an object")
    except ValueError as exc:
        # json's "line 1 column N" is within this one line, not the file: say the file's line and the column
        detail = f"{exc.msg} (column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else str(exc)
        return failed(
            new_row(id=document_id(path, str(number), line), crawl=crawl, warc_filename=path),
            "bad_json",
            f"line {number}: not JSON: {detail}",
        )
    row = text_document_row(record, path, crawl)
    if row.get("failure_reason") and row.get("failure_detail"):
        row["failure_detail"] = f"line {number}: {row['failure_detail']}"
    return row
