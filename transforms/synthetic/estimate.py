"""The synthetic-share estimates per domain, crawl and cohort, as pure functions: what
``transforms.synthetic.beam.EstimateSyntheticShare`` runs in Beam, and `estimate_shares_reference`, the
same on one machine in plain loops (for tests and the bare-loop benchmark).

rows -> count vectors per (crawl, domain, cohort) -> joined by domain with the reference's histograms ->
per-domain estimates (``population.domain_estimate``) and their parts of the per-crawl and per-cohort
estimates, which add up per group (``population.add_parts``) before being estimated.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from transforms.decide import (
    COHORT_NOT_KEPT,
    SYNTHETIC,
    SYNTHETIC_DOMAIN,
    as_config,
    decide,
    thresholds_from_config,
)
from transforms.synthetic.population import (
    MIN_REFERENCE_DOCS,
    OWN_PRE_LLM,
    REFERENCE_OWN_PRE_LLM,
    ScoreBins,
    add_parts,
    domain_estimate,
    group_estimate,
    row_vector,
    shipped_bins,
)

#: Rules that do not make a page junk: the synthetic ones themselves and the cohort filter.
NOT_QUALITY_RULES = frozenset({SYNTHETIC, SYNTHETIC_DOMAIN, COHORT_NOT_KEPT})
PRE_LLM = "pre_llm"  # the cohort whose documents are this run's own human reference


def passes_quality(decided: dict) -> bool:
    """A decided row fails no rule other than NOT_QUALITY_RULES."""
    return not (set(decided.get("failed_rules") or ()) - NOT_QUALITY_RULES)


def count_row(row: dict, bins: ScoreBins, thresholds) -> tuple[tuple, np.ndarray]:
    """row -> ((crawl, domain, cohort), its count vector); the row is decided (a pure function) for its
    cohort and whether it passes the quality rules. `thresholds`: a ``thresholds_from_config`` result."""
    decided = decide(row, thresholds)
    key = (row.get("crawl"), row.get("domain"), decided.get("cohort"))
    return key, row_vector(row, bins, passes_quality(decided))


def own_pool(pre_llm_total: np.ndarray | None, bins: ScoreBins) -> dict | None:
    """The sum of this run's pre_llm count vectors -> the pool every domain's reference leans on, or None
    below MIN_REFERENCE_DOCS scored documents."""
    if pre_llm_total is None or pre_llm_total[1 : 1 + bins.n_bins].sum() < MIN_REFERENCE_DOCS:
        return None
    return {"vector": pre_llm_total, "label": OWN_PRE_LLM, "kind": REFERENCE_OWN_PRE_LLM}


def estimate_domain(joined, bins: ScoreBins, pool: dict | None, later: dict):
    """(domain, {"target": [(crawl, cohort, vector)], "reference": [vector]}) -> per crawl of the domain:
    (its estimate, its parts of the group estimates) (``population.domain_estimate``)."""
    domain, groups = joined
    reference = next(iter(groups["reference"]), None)
    per_crawl: dict = {}
    for crawl, cohort, vector in groups["target"]:
        per_crawl.setdefault(crawl, {})[cohort] = vector
    for crawl, cohorts in per_crawl.items():
        own_pre = pool is not None and pool["kind"] == REFERENCE_OWN_PRE_LLM
        crawl_pool = None if own_pre and crawl not in later else pool
        yield domain_estimate(crawl, domain, cohorts, bins, reference, crawl_pool)


def group_record(kind: str, group, part: dict, bins: ScoreBins) -> dict:
    """A group's summed parts -> its estimate, with the group under `kind` ("crawl" or "cohort")."""
    return {kind: group, **group_estimate(part, bins)}


def estimate_shares_reference(
    rows: Iterable[dict],
    thresholds: dict | str | None = None,
    bins: ScoreBins | None = None,
    skip_statuses: Iterable[str] = ("failed",),
) -> dict[str, list[dict]]:
    """EstimateSyntheticShare without Beam, with this run's pre_llm documents as the reference (its
    default without reference files): {"domain": [...], "crawl": [...], "cohort": [...]}, the same records."""
    bins = bins or shipped_bins()
    th = thresholds_from_config(as_config(thresholds))
    skip = frozenset(skip_statuses)
    counts: dict = {}  # (crawl, domain, cohort) -> count vector
    for row in rows:
        if row.get("status") in skip:
            continue
        key, v = count_row(row, bins, th)
        counts[key] = v if key not in counts else counts[key] + v
    reference: dict = {}  # domain -> its pre_llm count vector
    targets: dict = {}  # domain -> [(crawl, cohort, vector)]
    for (crawl, domain, cohort), v in counts.items():
        if cohort == PRE_LLM:
            reference[domain] = v if domain not in reference else reference[domain] + v
        targets.setdefault(domain, []).append((crawl, cohort, v))
    pool = own_pool(np.sum(list(reference.values()), axis=0) if reference else None, bins)
    later = {crawl: True for crawl, _, cohort in counts if cohort != PRE_LLM}
    out: dict[str, list[dict]] = {"domain": [], "crawl": [], "cohort": []}
    parts: dict = {}  # (kind, group) -> its parts
    for domain, target in targets.items():
        joined = (domain, {"target": target, "reference": [reference[domain]] if domain in reference else []})
        for record, record_parts in estimate_domain(joined, bins=bins, pool=pool, later=later):
            out["domain"].append(record)
            for key, part in record_parts:
                parts.setdefault(key, []).append(part)
    for (kind, group), group_parts in parts.items():
        out[kind].append(group_record(kind, group, add_parts(group_parts), bins))
    return out
