"""Population estimates of the synthetic share: adjusted classify-and-count, shrinkage by domain."""

from __future__ import annotations

import math
from collections.abc import Iterable
from statistics import NormalDist

from transforms.synthetic.model import FLAG_THRESHOLD, FPR, FPR_N, TPR, TPR_N

# --------------------------------------------------------------------------------------------------
# Population estimates: adjusted classify-and-count
# --------------------------------------------------------------------------------------------------

Z95 = NormalDist().inv_cdf(0.975)


def wilson_interval(k: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion k / n (k, n may be fractional pseudo-counts)."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(max(0.0, p * (1 - p) / n + z * z / (4 * n * n))) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def adjusted_share(
    n_flagged: float,
    n: float,
    tpr: float,
    fpr: float,
    z: float = Z95,
    n_pos: int | None = None,
    n_neg: int | None = None,
) -> tuple[float | None, float | None, float | None]:
    """Estimated share of synthetic documents among `n`, of which `n_flagged` scored >= the threshold at
    which the classifier has true- and false-positive rates `tpr` and `fpr` (adjusted classify-and-count,
    Forman 2008): share = (flag rate - fpr) / (tpr - fpr), clipped to [0, 1].

    Interval (default 95%): the Wilson interval of the flag rate, mapped through the same (increasing,
    linear) adjustment. When `n_pos` / `n_neg` (the sizes of the held-out sets tpr and fpr were measured
    on) are given, the uncertainty of tpr and fpr is added in quadrature by the delta method:
    var = ((1 - s)^2 fpr (1 - fpr) / n_neg + s^2 tpr (1 - tpr) / n_pos) / (tpr - fpr)^2.
    The bounds are clipped to [0, 1]. Returns (None, None, None) when n == 0.

    The estimate is unbiased only if tpr and fpr hold on the population scored; it is not valid when the
    classifier cannot separate the classes (tpr <= fpr raises).
    """
    if not tpr > fpr:
        raise ValueError(f"adjusted classify-and-count needs tpr > fpr (got tpr={tpr}, fpr={fpr})")
    if n <= 0:
        return None, None, None
    gap = tpr - fpr
    raw = (n_flagged / n - fpr) / gap
    lo_p, hi_p = wilson_interval(n_flagged, n, z)
    lo, hi = (lo_p - fpr) / gap, (hi_p - fpr) / gap
    if n_pos or n_neg:
        s = min(1.0, max(0.0, raw))
        var = 0.0
        if n_neg:
            var += (1 - s) ** 2 * fpr * (1 - fpr) / n_neg
        if n_pos:
            var += s**2 * tpr * (1 - tpr) / n_pos
        extra = z * math.sqrt(var) / gap
        lo = raw - math.hypot(raw - lo, extra)
        hi = raw + math.hypot(hi - raw, extra)

    def clip(v: float) -> float:
        return min(1.0, max(0.0, v))

    return clip(raw), clip(lo), clip(hi)


#: Prior strength (pseudo-documents) used when there are too few domains to estimate it, and its bounds.
DEFAULT_PRIOR_STRENGTH = 20.0
MIN_PRIOR_STRENGTH = 2.0
MAX_PRIOR_STRENGTH = 1000.0
#: Domains with fewer scored documents than this do not inform the prior strength (they still get shrunk).
MIN_DOCS_FOR_PRIOR = 20
MIN_DOMAINS_FOR_PRIOR = 5


def shrink(n_flagged: float, n: float, prior_rate: float, strength: float) -> tuple[float, float]:
    """Empirical-Bayes shrinkage of a domain's flag count towards the overall flag rate.

    The domain's flag rate gets a Beta(strength * prior_rate, strength * (1 - prior_rate)) prior; the
    posterior mean is (n_flagged + strength * prior_rate) / (n + strength). Returns the posterior
    pseudo-counts (flagged, n), to pass to ``adjusted_share``: a domain of 3 pages lands near the overall
    rate with a wide interval, one of 3,000 keeps its own rate.
    """
    return n_flagged + strength * prior_rate, n + strength


def prior_strength(
    n_domains: int, sum_rate: float, sum_rate_sq: float, sum_inv_n: float, pooled_rate: float
) -> float:
    """Method-of-moments beta-binomial prior strength from per-domain flag rates r_d = k_d / n_d.

    Between-domain variance = observed variance of r_d around the pooled rate minus the mean binomial
    variance pooled_rate (1 - pooled_rate) / n_d; strength = pooled_rate (1 - pooled_rate) / variance - 1,
    clipped to [MIN_PRIOR_STRENGTH, MAX_PRIOR_STRENGTH]. Domains that differ more than chance allows get
    a weak prior (little shrinkage); indistinguishable ones the strongest. DEFAULT_PRIOR_STRENGTH when
    fewer than MIN_DOMAINS_FOR_PRIOR domains are given.
    """
    if n_domains < MIN_DOMAINS_FOR_PRIOR:
        return DEFAULT_PRIOR_STRENGTH
    p = pooled_rate
    binomial = p * (1 - p)
    if binomial <= 0:
        return MAX_PRIOR_STRENGTH
    observed = (sum_rate_sq - 2 * p * sum_rate + n_domains * p * p) / n_domains
    between = observed - binomial * sum_inv_n / n_domains
    if between <= 0:
        return MAX_PRIOR_STRENGTH
    return float(min(MAX_PRIOR_STRENGTH, max(MIN_PRIOR_STRENGTH, binomial / between - 1)))


def share_record(
    counts: dict, tpr: float, fpr: float, n_pos: int | None = None, n_neg: int | None = None
) -> dict:
    """counts {n_docs, n_scored, n_flagged} -> + flag_rate, share, share_low, share_high (no shrinkage)."""
    n, k = counts["n_scored"], counts["n_flagged"]
    share, low, high = adjusted_share(k, n, tpr, fpr, n_pos=n_pos, n_neg=n_neg)
    return {**counts, "flag_rate": k / n if n else None, "share": share, "share_low": low, "share_high": high}


def domain_record(
    crawl,
    domain,
    counts: dict,
    prior: dict,
    tpr: float,
    fpr: float,
    n_pos: int | None = None,
    n_neg: int | None = None,
) -> dict:
    """One per-domain estimate: raw adjusted share and the shrunk one (``share``, with its interval)."""
    n, k = counts["n_scored"], counts["n_flagged"]
    raw, _, _ = adjusted_share(k, n, tpr, fpr)
    if n:
        k_s, n_s = shrink(k, n, prior["flag_rate"] or 0.0, prior["prior_strength"])
        share, low, high = adjusted_share(k_s, n_s, tpr, fpr, n_pos=n_pos, n_neg=n_neg)
    else:  # nothing scored (no English text): no estimate, rather than the prior dressed up as one
        share = low = high = None
    return {
        "crawl": crawl,
        "domain": domain,
        **counts,
        "flag_rate": k / n if n else None,
        "share_unshrunk": raw,
        "share": share,
        "share_low": low,
        "share_high": high,
        "prior_rate": prior["flag_rate"],
        "prior_strength": prior["prior_strength"],
    }


def is_content_farm(record: dict, max_share: float, min_docs: int = 10, bound: str = "share_low") -> bool:
    """Suggested rule for rejecting a whole domain (reject_reason = synthetic_domain): at least `min_docs`
    scored documents and the `bound` of its estimated share (by default the lower end of the interval:
    reject only when confident) above `max_share`."""
    value = record.get(bound)
    return record.get("n_scored", 0) >= min_docs and value is not None and value > max_share


# Estimate records: their keys, for the Parquet writer.
DOMAIN_ESTIMATE_FIELDS = (
    "crawl",
    "domain",
    "n_docs",
    "n_scored",
    "n_flagged",
    "flag_rate",
    "share_unshrunk",
    "share",
    "share_low",
    "share_high",
    "prior_rate",
    "prior_strength",
)
CRAWL_ESTIMATE_FIELDS = (
    "crawl",
    "n_docs",
    "n_scored",
    "n_flagged",
    "n_domains",
    "flag_rate",
    "share",
    "share_low",
    "share_high",
    "prior_strength",
    "threshold",
    "tpr",
    "fpr",
    "n_pos",
    "n_neg",
)


def group_record(counts: dict, threshold: float, tpr: float, fpr: float, n_pos=None, n_neg=None) -> dict:
    """counts of any group of rows (a cohort, a crawl summed over batches) -> its estimate, with the rates
    used, so that records of the same group can be summed and re-estimated later (``merge_group_records``)."""
    rec = share_record(counts, tpr, fpr, n_pos, n_neg)
    return {**rec, "threshold": threshold, "tpr": tpr, "fpr": fpr, "n_pos": n_pos, "n_neg": n_neg}


def merge_group_records(records: Iterable[dict]) -> dict:
    """Estimates of disjoint parts of one group (e.g. backfill batches) -> the group's estimate.

    Counts add up; the share and its interval are recomputed from the sums (not averaged). The parts must
    have been estimated with the same threshold and rates."""
    records = list(records)
    rates = {tuple(r.get(k) for k in ("threshold", "tpr", "fpr", "n_pos", "n_neg")) for r in records}
    if len(rates) != 1:
        raise ValueError(
            f"estimates made with different thresholds or rates cannot be merged: {sorted(rates)}"
        )
    threshold, tpr, fpr, n_pos, n_neg = rates.pop()
    counts = {k: sum(r[k] for r in records) for k in ("n_docs", "n_scored", "n_flagged")}
    return group_record(counts, threshold, tpr, fpr, n_pos, n_neg)


def _sum_counts(counts: Iterable[tuple[int, int, int]]) -> tuple[int, int, int]:
    """(docs, scored, flagged) triples -> their sum (a CombinePerKey function)."""
    return tuple(sum(c) for c in zip(*counts, strict=True)) or (0, 0, 0)


def _row_counts(row: dict, threshold: float) -> tuple[int, int, int]:
    score = row.get("synthetic_score")
    if score is None:
        return 1, 0, 0
    return 1, 1, int(score >= threshold)


def _operating_point(threshold, tpr, fpr, n_pos, n_neg) -> tuple:
    """(threshold, tpr, fpr, n_pos, n_neg) with the shipped model's values for what is not given."""
    threshold = FLAG_THRESHOLD if threshold is None else threshold
    if tpr is None and fpr is None:
        n_pos, n_neg = (TPR_N if n_pos is None else n_pos), (FPR_N if n_neg is None else n_neg)
    tpr, fpr = (TPR if tpr is None else tpr), (FPR if fpr is None else fpr)
    if tpr is None or fpr is None:
        raise ValueError("no TPR / FPR: train the synthetic model (make models) or pass them")
    return threshold, tpr, fpr, n_pos, n_neg
