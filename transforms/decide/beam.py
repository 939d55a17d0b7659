"""The decide stage in Beam: scored rows -> kept / rejected rows, with the content-farm verdicts."""

from __future__ import annotations

import apache_beam as beam

from transforms.beam_util import DocumentRow, counter, dead_letter, of_type, stage_clock
from transforms.decide.rules import decide
from transforms.decide.thresholds import as_config, thresholds_from_config
from transforms.schema import STATUS_FAILED
from transforms.synthetic import is_content_farm


class DecideFn(beam.DoFn):
    """row -> row with status / reject_reason; side input `farms`: the (crawl, domain) pairs judged
    content farms. `thresholds`: the config of ``read_thresholds``."""

    def __init__(self, thresholds: dict):
        self.config = thresholds

    def setup(self):
        self.thresholds = thresholds_from_config(self.config)

    def process(self, row, farms):
        row = dict(row)  # the scored row also feeds the synthetic-share estimate: never mutate an input
        try:
            with stage_clock("decide"):
                if row.get("status") != STATUS_FAILED:
                    row["synthetic_domain"] = (row.get("crawl"), row.get("domain")) in farms
                row = decide(row, self.thresholds)
        except Exception as exc:
            row = dead_letter(dict(row), "decide", exc)
        reason = row.get("reject_reason") or row.get("failure_reason")
        counter("decide", f"{row['status']}.{reason}" if reason else row["status"]).inc()
        yield row


class Decide(beam.PTransform):
    """scored rows -> status kept / rejected (reject_reason, failed_rules) by a thresholds config.

    `thresholds`: the config of ``transforms.decide.read_thresholds``, or a path to read (default: the
    packaged pipeline/thresholds.toml). `domain_estimates`: the per-(crawl, domain) synthetic-share
    estimates (``transforms.synthetic.beam.EstimateSyntheticShare``'s "domain"): every row of a (crawl,
    domain) whose share is confidently above [synthetic] domain_max_share gets synthetic_domain=True.
    Without them no row does."""

    def __init__(self, thresholds: dict | str | None = None, domain_estimates=None):
        super().__init__()
        self.config = as_config(thresholds)
        self.domain_estimates = domain_estimates

    def expand(self, scored):
        farms = {}
        if self.domain_estimates is not None:
            th = thresholds_from_config(self.config)
            farms = beam.pvalue.AsDict(
                self.domain_estimates
                | "content farms"
                >> beam.Filter(
                    is_content_farm,
                    max_share=th.synthetic_domain_max_share,
                    min_docs=th.synthetic_domain_min_docs,
                )
                # estimate -> ((crawl, domain), True) for content farms only: a small side input
                | "farm keys" >> beam.Map(lambda r: ((r["crawl"], r["domain"]), True))
            )
        return of_type(scored | "decide" >> beam.ParDo(DecideFn(self.config), farms=farms), DocumentRow)
