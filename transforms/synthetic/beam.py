"""Beam composites for the synthetic-share estimates per crawl, domain and any grouping."""

from __future__ import annotations

from collections.abc import Iterable

import apache_beam as beam

from transforms.synthetic.population import (
    DEFAULT_PRIOR_STRENGTH,
    MIN_DOCS_FOR_PRIOR,
    _operating_point,
    _row_counts,
    _sum_counts,
    domain_record,
    group_record,
    prior_strength,
)


class _CrawlPrior(beam.CombineFn):
    """Per crawl: totals over domains and the moments prior_strength needs."""

    def create_accumulator(self):
        # n_docs, n_scored, n_flagged, n_domains, qualifying domains: count, sum r, sum r^2, sum 1/n
        return [0, 0, 0, 0, 0, 0.0, 0.0, 0.0]

    def add_input(self, acc, counts):
        n_docs, n, k = counts
        acc[0] += n_docs
        acc[1] += n
        acc[2] += k
        acc[3] += 1
        if n >= MIN_DOCS_FOR_PRIOR:
            r = k / n
            acc[4] += 1
            acc[5] += r
            acc[6] += r * r
            acc[7] += 1.0 / n
        return acc

    def merge_accumulators(self, accs):
        out = self.create_accumulator()
        for a in accs:
            out = [x + y for x, y in zip(out, a, strict=True)]
        return out

    def extract_output(self, acc):
        n_docs, n, k, n_domains, q, s1, s2, sinv = acc
        rate = k / n if n else None
        strength = prior_strength(q, s1, s2, sinv, rate) if rate is not None else DEFAULT_PRIOR_STRENGTH
        return {
            "n_docs": n_docs,
            "n_scored": n,
            "n_flagged": k,
            "n_domains": n_domains,
            "flag_rate": rate,
            "prior_strength": strength,
        }


class EstimateSyntheticShare(beam.PTransform):
    """rows -> {"domain": per-(crawl, domain) estimates, "crawl": per-crawl estimates} (dicts).

    Input rows are document rows (dicts with ``crawl``, ``domain``, ``synthetic_score``, ``status``).
    Failed rows are left out; rows without a score (other languages, no words) are counted in
    ``n_docs`` but not ``n_scored``. A document is flagged when synthetic_score >= `threshold`.
    Shares are adjusted classify-and-count with the held-out `tpr` / `fpr` (module TPR / FPR by
    default); a domain's flag rate is first shrunk towards its crawl's (``shrink``, prior strength
    per crawl by ``prior_strength``). Keys: DOMAIN_ESTIMATE_FIELDS and CRAWL_ESTIMATE_FIELDS.
    """

    def __init__(
        self,
        threshold: float | None = None,
        tpr: float | None = None,
        fpr: float | None = None,
        n_pos: int | None = None,
        n_neg: int | None = None,
        skip_statuses: Iterable[str] = ("failed",),
        label: str | None = None,
    ):
        super().__init__(label)
        self.threshold, self.tpr, self.fpr, self.n_pos, self.n_neg = _operating_point(
            threshold, tpr, fpr, n_pos, n_neg
        )
        self.skip = frozenset(skip_statuses)

    def expand(self, rows):
        threshold, tpr, fpr, n_pos, n_neg = self.threshold, self.tpr, self.fpr, self.n_pos, self.n_neg
        skip = self.skip
        # row -> ((crawl, domain), (docs, scored, flagged))
        domain_counts = (
            rows
            | "skip failed" >> beam.Filter(lambda r: r.get("status") not in skip)
            | "key by crawl and domain"
            >> beam.Map(lambda r: ((r.get("crawl"), r.get("domain")), _row_counts(r, threshold)))
            | "count per domain" >> beam.CombinePerKey(_sum_counts)
        )
        # (crawl, domain) -> crawl: totals and the prior for its domains
        crawl_priors = (
            domain_counts
            | "key by crawl" >> beam.Map(lambda kv: (kv[0][0], kv[1]))
            | "combine per crawl" >> beam.CombinePerKey(_CrawlPrior())
        )

        def to_counts(c):
            return {"n_docs": c[0], "n_scored": c[1], "n_flagged": c[2]}

        def estimate_domain(kv, priors):
            (crawl, domain), c = kv
            return domain_record(crawl, domain, to_counts(c), priors[crawl], tpr, fpr, n_pos, n_neg)

        def estimate_crawl(kv):
            crawl, prior = kv
            counts = {k: prior[k] for k in ("n_docs", "n_scored", "n_flagged")}
            return {
                "crawl": crawl,
                **group_record(counts, threshold, tpr, fpr, n_pos, n_neg),
                "n_domains": prior["n_domains"],
                "prior_strength": prior["prior_strength"],
            }

        by_domain = domain_counts | "estimate per domain" >> beam.Map(
            estimate_domain, priors=beam.pvalue.AsDict(crawl_priors)
        )
        by_crawl = crawl_priors | "estimate per crawl" >> beam.Map(estimate_crawl)
        return {"domain": by_domain, "crawl": by_crawl}


class EstimateSyntheticShareBy(beam.PTransform):
    """rows -> one estimate per value of ``column`` (e.g. cohort), as ``group_record`` dicts with the
    value under ``column`` (None -> "unknown"). No shrinkage: groups are large. Failed rows are left out;
    the rates and threshold are those of EstimateSyntheticShare."""

    def __init__(self, column: str, threshold=None, tpr=None, fpr=None, n_pos=None, n_neg=None, label=None):
        super().__init__(label)
        self.column = column
        self.point = _operating_point(threshold, tpr, fpr, n_pos, n_neg)

    def expand(self, rows):
        column, point = self.column, self.point
        threshold = point[0]
        return (
            rows
            | "skip failed" >> beam.Filter(lambda r: r.get("status") != "failed")
            | f"key by {column}"
            >> beam.Map(lambda r: (r.get(column) or "unknown", _row_counts(r, threshold)))
            | f"count per {column}" >> beam.CombinePerKey(_sum_counts)
            | f"estimate per {column}"
            >> beam.MapTuple(
                lambda value, c: {
                    column: value,
                    **group_record({"n_docs": c[0], "n_scored": c[1], "n_flagged": c[2]}, *point),
                }
            )
        )
