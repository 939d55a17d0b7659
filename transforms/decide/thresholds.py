"""The thresholds config: read once per run, checked, and turned into `Thresholds` where it is applied.

Rules are data (pipeline/thresholds.toml): each names a column and inclusive bounds (``rules.decide``
applies them). A run reads the file once, at launch (``read_thresholds``): the config travels to every
stage as plain JSON-able data (the file's tables, with the block lists' entries in place of their file
names), so workers need neither the file nor its lists; each stage builds its `Thresholds` from it
(``thresholds_from_config``).
"""

from __future__ import annotations

import dataclasses
import datetime
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pyarrow as pa

from transforms.decide.urlfilter import UrlLists
from transforms.schema import COLUMN_NAMES, SCHEMA

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


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as exc:
        raise ValueError(f"cannot read thresholds config {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"thresholds config {path} is not valid TOML: {exc}") from exc


def load_thresholds(path: str | Path | None = None) -> Thresholds:
    """Read and check a thresholds TOML file; errors name the file and the offending rule."""
    path = Path(path) if path else default_thresholds_path()
    return thresholds_from_dict(_read_toml(path), source=str(path), base_dir=path.parent)


def read_thresholds(path: str | Path | None = None) -> dict:
    """A thresholds TOML file (default: the packaged one) -> the config as plain JSON-able data, checked.

    The file's tables, with ``source`` (the file), the [url_filter] lists' entries (sorted) in place of
    their file names and the [cohort] cutoff as an ISO date. `thresholds_from_config` turns it into
    `Thresholds` without reading any file; the [cascade] table is there as written."""
    path = Path(path) if path else default_thresholds_path()
    raw = _read_toml(path)
    th = thresholds_from_dict(raw, source=str(path), base_dir=path.parent)
    config = {**raw, "source": str(path)}
    config["url_filter"] = {key: sorted(getattr(th.url_lists, key)) for key in raw.get("url_filter", {})}
    if "cutoff" in raw.get("cohort", {}):
        config["cohort"] = {**raw["cohort"], "cutoff": th.cohort_cutoff.isoformat()}
    return config


def thresholds_from_config(config: dict) -> Thresholds:
    """The config of `read_thresholds` -> Thresholds (no file is read)."""
    raw = {key: value for key, value in config.items() if key not in ("source", "url_filter")}
    if "cutoff" in raw.get("cohort", {}):
        raw["cohort"] = {**raw["cohort"], "cutoff": datetime.date.fromisoformat(raw["cohort"]["cutoff"])}
    th = thresholds_from_dict(raw, source=config.get("source", "<config>"))
    lists = {key: frozenset(entries) for key, entries in config.get("url_filter", {}).items()}
    return dataclasses.replace(th, url_lists=UrlLists(**lists))


def as_config(thresholds: dict | str | Path | None) -> dict:
    """A config from `read_thresholds` as it is; a path (or None: the packaged file) read and checked."""
    return thresholds if isinstance(thresholds, dict) else read_thresholds(thresholds)


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
