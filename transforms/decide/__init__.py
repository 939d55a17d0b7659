"""The decide stage: a thresholds config turns a scored row into kept or rejected (with every failed rule).

Modules: ``thresholds`` (the config: read once per run, checked, `Thresholds`), ``rules`` (``decide``:
a pure function of a row and a config), ``urlfilter`` (the URL block lists and the url_* signals) and
``beam`` (the ``Decide`` composite, with the content-farm verdicts of the synthetic-share estimates).
"""

from transforms.decide.rules import cohort_of, decide, failed_rules
from transforms.decide.thresholds import (
    CHATGPT_RELEASE,
    COHORT_NOT_KEPT,
    COHORTS,
    LANGUAGE_NOT_KEPT,
    LANGUAGE_SCORE,
    SYNTHETIC,
    SYNTHETIC_DOMAIN,
    SYNTHETIC_MODES,
    Rule,
    Thresholds,
    as_config,
    default_thresholds_path,
    load_thresholds,
    read_thresholds,
    thresholds_from_config,
    thresholds_from_dict,
)
from transforms.decide.urlfilter import UrlLists, normalize_url, read_list, url_signals

__all__ = [
    "CHATGPT_RELEASE",
    "COHORTS",
    "COHORT_NOT_KEPT",
    "LANGUAGE_NOT_KEPT",
    "LANGUAGE_SCORE",
    "SYNTHETIC",
    "SYNTHETIC_DOMAIN",
    "SYNTHETIC_MODES",
    "Rule",
    "Thresholds",
    "UrlLists",
    "as_config",
    "cohort_of",
    "decide",
    "default_thresholds_path",
    "failed_rules",
    "load_thresholds",
    "normalize_url",
    "read_list",
    "read_thresholds",
    "thresholds_from_config",
    "thresholds_from_dict",
    "url_signals",
]
