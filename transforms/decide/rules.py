"""decide: the one place where scores become keep / reject (a pure function of a row and a thresholds config).

A row is kept when it fails no enabled rule; otherwise `reject_reason` is the first failed rule in config
order and `failed_rules` lists them all. Rows that already failed (extraction timeout, unreadable record)
are passed through untouched: a failure is not a quality judgement.
"""

from __future__ import annotations

import datetime
import functools
import struct

import numpy as np

from transforms.decide.thresholds import (
    COHORT_NOT_KEPT,
    LANGUAGE_NOT_KEPT,
    LANGUAGE_SCORE,
    SYNTHETIC,
    SYNTHETIC_DOMAIN,
    Rule,
    Thresholds,
)
from transforms.decide.urlfilter import url_signals
from transforms.schema import STATUS_FAILED, STATUS_KEPT, STATUS_REJECTED
from transforms.synthetic import sample_weight


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
        value, low, high = _float32(value), _bound32(low), _bound32(high)
    return (low is not None and value < low) or (high is not None and value > high)


_F32 = struct.Struct("<f")


def _float32(value: float) -> float:
    """`value` rounded to float32 as numpy rounds it (a struct round trip: 160 ns against numpy's 380)."""
    try:
        return _F32.unpack(_F32.pack(value))[0]
    except OverflowError:  # beyond float32's range: numpy's infinity
        return float(np.float32(value))


@functools.lru_cache(maxsize=4096)
def _bound32(bound: float | None) -> float | None:
    """A rule's bound in float32 (a config holds few distinct bounds)."""
    return None if bound is None else _float32(bound)


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
