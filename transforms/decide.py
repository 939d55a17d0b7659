"""decide: the one place where scores become keep / reject, driven by one thresholds config.

Rules are data (pipeline/thresholds.toml): each names a column and inclusive bounds. A row is kept when
it fails no enabled rule; otherwise `reject_reason` is the first failed rule in config order and
`failed_rules` lists them all. Rows that already failed (extraction timeout, unreadable record) are
passed through untouched: a failure is not a quality judgement.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow as pa

from transforms.schema import COLUMN_NAMES, SCHEMA, STATUS_FAILED, STATUS_KEPT, STATUS_REJECTED
from transforms.urlfilter import UrlLists, url_signals

URL_LIST_KEYS = {"domains", "urls", "hard_words", "soft_words"}

# Rules whose threshold lives in the [language] table instead of on the rule.
LANGUAGE_SCORE = "language_score"
LANGUAGE_NOT_KEPT = "language_not_kept"


@dataclass(frozen=True)
class Rule:
    name: str
    column: str
    min: float | None = None
    max: float | None = None
    enabled: bool = True


@dataclass(frozen=True)
class Thresholds:
    rules: tuple[Rule, ...]
    lang_min_score: float = 0.65
    lang_min_score_by_lang: dict[str, float] = field(default_factory=dict)
    lang_keep: frozenset[str] = frozenset()
    url_lists: UrlLists = UrlLists()


def default_thresholds_path() -> Path:
    return Path(str(resources.files("pipeline").joinpath("thresholds.toml")))


def load_thresholds(path: str | Path | None = None) -> Thresholds:
    """Read and check a thresholds TOML file; errors name the file and the offending rule."""
    path = Path(path) if path else default_thresholds_path()
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except OSError as exc:
        raise ValueError(f"cannot read thresholds config {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"thresholds config {path} is not valid TOML: {exc}") from exc
    return thresholds_from_dict(raw, source=str(path), base_dir=path.parent)


def _url_lists(table: dict, source: str, base_dir: Path) -> UrlLists:
    unknown = set(table) - URL_LIST_KEYS
    if unknown:
        raise ValueError(
            f"{source}: unknown [url_filter] key(s) {sorted(unknown)}; known: {sorted(URL_LIST_KEYS)}"
        )
    paths = {key: base_dir / value for key, value in table.items()}
    for key, p in paths.items():
        if not p.is_file():
            raise ValueError(f"{source}: [url_filter] {key} = {str(p)!r} is not a file")
    return UrlLists.from_files(**paths)


def thresholds_from_dict(raw: dict, source: str = "<dict>", base_dir: Path | None = None) -> Thresholds:
    rules = []
    for i, r in enumerate(raw.get("rules", [])):
        unknown = set(r) - {"name", "column", "min", "max", "enabled"}
        if unknown or "name" not in r or "column" not in r:
            raise ValueError(f"{source}: rule #{i + 1} needs name and column, and only min/max/enabled ({r})")
        if r["column"] not in COLUMN_NAMES:
            raise ValueError(f"{source}: rule {r['name']!r} names unknown column {r['column']!r}")
        dtype = SCHEMA.field(r["column"]).type
        if r["name"] != LANGUAGE_NOT_KEPT and not (
            pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_boolean(dtype)
        ):
            raise ValueError(
                f"{source}: rule {r['name']!r}: column {r['column']!r} is {dtype}, not a number or boolean"
            )
        rules.append(Rule(**r))
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise ValueError(f"{source}: rule names must be unique: {names}")
    lang = raw.get("language", {})
    return Thresholds(
        rules=tuple(rules),
        lang_min_score=float(lang.get("min_score", 0.65)),
        lang_min_score_by_lang={k: float(v) for k, v in lang.get("min_score_by_lang", {}).items()},
        lang_keep=frozenset(lang.get("keep", [])),
        url_lists=_url_lists(raw.get("url_filter", {}), source, base_dir or Path(".")),
    )


def _fails(rule: Rule, row: dict, th: Thresholds) -> bool:
    value = row.get(rule.column)
    if rule.name == LANGUAGE_NOT_KEPT:
        return bool(th.lang_keep) and value not in th.lang_keep
    if value is None:
        return False
    low, high = rule.min, rule.max
    if rule.name == LANGUAGE_SCORE:
        low = th.lang_min_score_by_lang.get(row.get("lang"), th.lang_min_score)
    if isinstance(value, float):
        # Float signals are float32 (as Parquet stores them): 3/10 is 0.30000001, which must not fail max=0.3.
        low, high = _float32(low), _float32(high)
    return (low is not None and value < low) or (high is not None and value > high)


def _float32(bound: float | None) -> float | None:
    return None if bound is None else float(np.float32(bound))


def failed_rules(row: dict, th: Thresholds) -> list[str]:
    """Names of every enabled rule the row fails, in config order."""
    return [r.name for r in th.rules if r.enabled and _fails(r, row, th)]


def decide(row: dict, th: Thresholds) -> dict:
    """Set status, reject_reason and failed_rules on a scored row (a new dict).

    The URL signals are computed here, from the config's block lists, so that a new config (`pristine
    recurate`) re-applies new lists as well as new thresholds.
    """
    row = dict(row)
    if row.get("status") == STATUS_FAILED:
        return row
    row.update(url_signals(row.get("url"), th.url_lists))
    failed = failed_rules(row, th)
    row["failed_rules"] = failed
    row["reject_reason"] = failed[0] if failed else None
    row["status"] = STATUS_REJECTED if failed else STATUS_KEPT
    return row
