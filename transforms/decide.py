"""decide: the one place where scores become keep / reject, driven by one thresholds config.

Rules are data (pipeline/thresholds.toml): each names a column and inclusive bounds. A row is kept when
it fails no enabled rule; otherwise `reject_reason` is the first failed rule in config order and
`failed_rules` lists them all. Rows that already failed (extraction timeout, unreadable record) are
passed through untouched: a failure is not a quality judgement.
"""

from __future__ import annotations

import datetime
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow as pa

from transforms.schema import COLUMN_NAMES, SCHEMA, STATUS_FAILED, STATUS_KEPT, STATUS_REJECTED
from transforms.synthetic import sample_weight
from transforms.urlfilter import UrlLists, url_signals

URL_LIST_KEYS = {"domains", "urls", "hard_words", "soft_words"}

# Rules whose threshold or switch lives in a table ([language], [synthetic]) instead of on the rule.
LANGUAGE_SCORE = "language_score"
LANGUAGE_NOT_KEPT = "language_not_kept"
SYNTHETIC = "synthetic"
SYNTHETIC_DOMAIN = "synthetic_domain"
COHORT_NOT_KEPT = "cohort_not_kept"
STRING_RULES = (LANGUAGE_NOT_KEPT, COHORT_NOT_KEPT)  # membership rules on a string column
SYNTHETIC_MODES = ("flag", "weight", "drop")
COHORTS = ("pre_llm", "post_llm")
COHORT_KEYS = {"cutoff", "keep", "post_llm_weight"}
CHATGPT_RELEASE = datetime.date(2022, 11, 30)
SYNTHETIC_KEYS = {"mode", "drop_above", "reject_domains", "domain_max_share", "domain_min_docs"}


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
    synthetic_mode: str = "flag"
    synthetic_drop_above: float = 0.9
    reject_synthetic_domains: bool = False
    synthetic_domain_max_share: float = 0.5
    synthetic_domain_min_docs: int = 10
    cohort_cutoff: datetime.date = CHATGPT_RELEASE
    cohort_keep: frozenset[str] = frozenset()
    post_llm_weight: float = 1.0


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
    paths = {key: _list_path(base_dir, value) for key, value in table.items()}
    for key, p in paths.items():
        if not p.is_file():
            raise ValueError(
                f"{source}: [url_filter] {key} = {str(table[key])!r} is not a file next to the config ({p}) "
                f"nor among the shipped lists ({default_thresholds_path().parent})"
            )
    return UrlLists.from_files(**paths)


def _list_path(base_dir: Path, value: str) -> Path:
    """A block list path: as written (absolute), next to the config, else the shipped list of that name
    (so a copy of pipeline/thresholds.toml works wherever it is saved)."""
    beside = base_dir / value
    if beside.is_file():
        return beside
    shipped = default_thresholds_path().parent / value
    return shipped if shipped.is_file() else beside


def thresholds_from_dict(raw: dict, source: str = "<dict>", base_dir: Path | None = None) -> Thresholds:
    rules = []
    for i, r in enumerate(raw.get("rules", [])):
        unknown = set(r) - {"name", "column", "min", "max", "enabled"}
        if unknown or "name" not in r or "column" not in r:
            raise ValueError(f"{source}: rule #{i + 1} needs name and column, and only min/max/enabled ({r})")
        if r["column"] not in COLUMN_NAMES:
            raise ValueError(f"{source}: rule {r['name']!r} names unknown column {r['column']!r}")
        dtype = SCHEMA.field(r["column"]).type
        if r["name"] not in STRING_RULES and not (
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
    synthetic = raw.get("synthetic", {})
    unknown = set(synthetic) - SYNTHETIC_KEYS
    if unknown:
        raise ValueError(
            f"{source}: unknown [synthetic] key(s) {sorted(unknown)}; known: {sorted(SYNTHETIC_KEYS)}"
        )
    mode = synthetic.get("mode", "flag")
    if mode not in SYNTHETIC_MODES:
        raise ValueError(f"{source}: [synthetic] mode must be one of {SYNTHETIC_MODES}, not {mode!r}")
    cohort = raw.get("cohort", {})
    unknown = set(cohort) - COHORT_KEYS
    if unknown:
        raise ValueError(f"{source}: unknown [cohort] key(s) {sorted(unknown)}; known: {sorted(COHORT_KEYS)}")
    cutoff = cohort.get("cutoff", CHATGPT_RELEASE)
    if not isinstance(cutoff, datetime.date) or isinstance(cutoff, datetime.datetime):
        raise ValueError(f"{source}: [cohort] cutoff must be a date like 2022-11-30, not {cutoff!r}")
    keep = frozenset(cohort.get("keep", []))
    if keep - set(COHORTS):
        raise ValueError(
            f"{source}: [cohort] keep may name only {COHORTS}, not {sorted(keep - set(COHORTS))}"
        )
    return Thresholds(
        rules=tuple(rules),
        lang_min_score=float(lang.get("min_score", 0.65)),
        lang_min_score_by_lang={k: float(v) for k, v in lang.get("min_score_by_lang", {}).items()},
        lang_keep=frozenset(lang.get("keep", [])),
        url_lists=_url_lists(raw.get("url_filter", {}), source, base_dir or Path(".")),
        synthetic_mode=mode,
        synthetic_drop_above=float(synthetic.get("drop_above", 0.9)),
        reject_synthetic_domains=bool(synthetic.get("reject_domains", False)),
        synthetic_domain_max_share=float(synthetic.get("domain_max_share", 0.5)),
        synthetic_domain_min_docs=int(synthetic.get("domain_min_docs", 10)),
        cohort_cutoff=cutoff,
        cohort_keep=keep,
        post_llm_weight=float(cohort.get("post_llm_weight", 1.0)),
    )


def _fails(rule: Rule, row: dict, th: Thresholds) -> bool:
    value = row.get(rule.column)
    if rule.name == LANGUAGE_NOT_KEPT:
        return bool(th.lang_keep) and value not in th.lang_keep
    if rule.name == COHORT_NOT_KEPT:
        return bool(th.cohort_keep) and value not in th.cohort_keep
    if value is None:
        return False
    low, high = rule.min, rule.max
    if rule.name == LANGUAGE_SCORE:
        low = th.lang_min_score_by_lang.get(row.get("lang"), th.lang_min_score)
    elif rule.name == SYNTHETIC:
        if th.synthetic_mode != "drop":
            return False
        high = th.synthetic_drop_above
    elif rule.name == SYNTHETIC_DOMAIN and not th.reject_synthetic_domains:
        return False
    if isinstance(value, float):
        # Float columns are float32 in Parquet: compare in float32, so that a value decides the same before
        # and after a Parquet round trip (recurate), and 3/10 (0.30000001) does not fail max=0.3.
        value, low, high = _float32(value), _float32(low), _float32(high)
    return (low is not None and value < low) or (high is not None and value > high)


def _float32(bound: float | None) -> float | None:
    return None if bound is None else float(np.float32(bound))


def cohort_of(row: dict, cutoff: datetime.date) -> str | None:
    """'pre_llm' when the text was first seen before `cutoff`, else 'post_llm'; None without any date.

    First seen is the row's first_seen_date (the earliest copy in its duplicate cluster) when dedup set it,
    else its own fetch_date.
    """
    seen = row.get("first_seen_date") or row.get("fetch_date")
    if seen is None:
        return None
    day = seen.date() if isinstance(seen, datetime.datetime) else seen
    return "pre_llm" if day < cutoff else "post_llm"


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
    row["cohort"] = cohort_of(row, th.cohort_cutoff)
    weight = sample_weight(row.get("synthetic_score")) if th.synthetic_mode == "weight" else 1.0
    row["sample_weight"] = weight * (th.post_llm_weight if row["cohort"] == "post_llm" else 1.0)
    failed = failed_rules(row, th)
    row["failed_rules"] = failed
    row["reject_reason"] = failed[0] if failed else None
    row["status"] = STATUS_REJECTED if failed else STATUS_KEPT
    return row
