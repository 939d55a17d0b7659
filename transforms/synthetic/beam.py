"""Beam composites for the synthetic-share estimates per domain, crawl and cohort (one pass), over the pure
functions of transforms/synthetic/estimate.py: its docstring gives the steps, and its
`estimate_shares_reference` is the same in plain loops."""

from __future__ import annotations

from collections.abc import Iterable

import apache_beam as beam
import numpy as np

from transforms.decide import as_config, thresholds_from_config
from transforms.synthetic.estimate import (
    PRE_LLM,
    count_row,
    estimate_domain,
    group_record,
    own_pool,
)
from transforms.synthetic.population import (
    REFERENCE_EXTERNAL,
    ScoreBins,
    add_parts,
    shipped_bins,
    vector_of,
)


class _SumVectors(beam.CombineFn):
    """Count vectors -> their sum (None for none)."""

    def create_accumulator(self):
        return None

    def add_input(self, acc, v):
        v = np.asarray(v, dtype=np.int64)
        return v.copy() if acc is None else acc + v

    def merge_accumulators(self, accs):
        out = None
        for a in accs:
            if a is not None:
                out = a.copy() if out is None else out + a
        return out

    def extract_output(self, acc):
        return acc


class _Pool(beam.CombineFn):
    """Reference (crawl, vector) pairs -> {"vector", "label"}: their sum and the crawls they come from."""

    def create_accumulator(self):
        return None, set()

    def add_input(self, acc, item):
        crawl, v = item
        total, crawls = acc
        v = np.asarray(v, dtype=np.int64)
        return (v.copy() if total is None else total + v), crawls | {crawl or "unknown"}

    def merge_accumulators(self, accs):
        out = self.create_accumulator()
        for total, crawls in accs:
            if total is not None:
                out = self.add_input(out, (None, total))
                out = (out[0], (out[1] - {"unknown"}) | crawls)
        return out

    def extract_output(self, acc):
        total, crawls = acc
        return None if total is None else {"vector": total, "label": ", ".join(sorted(crawls))}


def reference_files(paths: Iterable[str]) -> list[str]:
    """Run directories, files or globs -> the synthetic_by_domain Parquet files they hold (a run's
    ``synthetic_by_domain.parquet``, which a backfill merges from its ``synthetic_by_domain-<batch>.parquet``:
    those where it has not); ValueError
    naming a path that holds none."""
    from apache_beam.io.filesystems import FileSystems

    files = []
    for path in paths:
        if path.endswith(".parquet") or "*" in path:
            pattern = path
        elif FileSystems.exists(FileSystems.join(path, "synthetic_by_domain.parquet")):
            pattern = FileSystems.join(path, "synthetic_by_domain.parquet")  # a run, or a backfill's merge
        else:
            pattern = FileSystems.join(path, "synthetic_by_domain-*.parquet")  # a backfill's batches
        found = sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)
        if not found:
            raise ValueError(f"synthetic reference {path!r}: no synthetic_by_domain*.parquet there")
        files += found
    return files


class _CountRow(beam.DoFn):
    """row -> ((crawl, domain, cohort), its count vector); the row is decided (a pure function) for its
    cohort and whether it passes the quality rules."""

    def __init__(self, bins: ScoreBins, skip: frozenset, thresholds: dict):
        self.bins, self.skip, self.config = bins, skip, thresholds

    def setup(self):
        self.th = thresholds_from_config(self.config)

    def process(self, row):
        if row.get("status") in self.skip:
            return
        yield count_row(row, self.bins, self.th)


class EstimateSyntheticShare(beam.PTransform):
    """rows -> {"domain": per-(crawl, domain) estimates, "crawl": per crawl, "cohort": per cohort}.

    Input rows are document rows (``crawl``, ``domain``, ``synthetic_score``, ...), scored or decided;
    failed rows are left out. Rows are decided here with `thresholds` (a pure function; the config of
    ``transforms.decide.read_thresholds`` or a path to read, default the packaged one) to know their
    cohort and whether they pass the quality rules. The human reference is, in order: the
    ``synthetic_by_domain`` Parquet files `reference` (earlier runs or snapshots scored by the same
    model), else this run's pre_llm documents for the others (when at least MIN_REFERENCE_DOCS are
    scored; a crawl with only pre_llm documents is measured against the shipped histogram), else the
    shipped model's human web histogram. Keys: population.DOMAIN_ESTIMATE_FIELDS and,
    per group, ``group_estimate``'s record with the group's value under ``crawl`` / ``cohort``.
    """

    def __init__(
        self,
        thresholds: dict | str | None = None,
        reference: Iterable[str] = (),
        bins: ScoreBins | None = None,
        skip_statuses: Iterable[str] = ("failed",),
        label: str | None = None,
    ):
        super().__init__(label)
        self.config = as_config(thresholds)
        self.reference = list(reference)
        self.bins = bins or shipped_bins()
        self.skip = frozenset(skip_statuses)

    def expand(self, rows):
        bins = self.bins
        # row -> ((crawl, domain, cohort), its count vector), summed per key
        counts = (
            rows
            | "count per row" >> beam.ParDo(_CountRow(bins, self.skip, self.config))
            | "sum per crawl, domain, cohort" >> beam.CombinePerKey(_SumVectors())
        )
        # the human reference: domain -> its count vector, and one pool of them all (or None)
        if self.reference:
            domain_to_reference, pool = rows.pipeline | "external reference" >> _ExternalReference(
                self.reference, bins.model
            )
        else:
            domain_to_reference, pool = counts | "own pre_llm reference" >> _OwnPreLlmReference(bins)
        domain_to_reference = domain_to_reference | "sum reference per domain" >> beam.CombinePerKey(
            _SumVectors()
        )
        domain_to_target = counts | "key by domain" >> beam.MapTuple(lambda k, v: (k[1], (k[0], k[2], v)))
        # crawl -> True, for crawls with documents not in the pre_llm cohort: only those are measured
        # against pre_llm ones
        later = (
            counts
            | "not pre_llm" >> beam.Filter(lambda kv: kv[0][2] != PRE_LLM)
            | "their crawls" >> beam.Map(lambda kv: (kv[0][0], True))
            | "distinct crawls" >> beam.CombinePerKey(any)
        )
        # per (crawl, domain): (its estimate, its parts of the per-crawl and per-cohort estimates)
        estimated = (
            {"target": domain_to_target, "reference": domain_to_reference}
            | "join reference" >> beam.CoGroupByKey()
            | "estimate per domain"
            >> beam.FlatMap(
                estimate_domain,
                bins=bins,
                pool=beam.pvalue.AsSingleton(pool),
                later=beam.pvalue.AsDict(later),
            )
        )
        # (group kind, group) -> the sum of its parts
        group_parts = (
            estimated
            | "group parts" >> beam.FlatMap(lambda rp: rp[1])
            | "sum parts" >> beam.CombinePerKey(add_parts)
        )
        return {
            "domain": estimated | "domain records" >> beam.Map(lambda rp: rp[0]),
            "crawl": group_parts | "per crawl" >> _GroupEstimates("crawl", bins),
            "cohort": group_parts | "per cohort" >> _GroupEstimates("cohort", bins),
        }


def reference_row(row: dict, model: str) -> tuple:
    """A row of a synthetic_by_domain file -> (domain, (crawl, count vector)); ValueError when another
    synthetic model scored it."""
    if row.get("synthetic_model") != model:
        raise ValueError(
            f"reference rows of {row.get('crawl')} were scored by synthetic model "
            f"{row.get('synthetic_model')}, not the shipped {model}: rerun the reference"
        )
    return row.get("domain"), (row.get("crawl"), vector_of(row["histogram"], row["histogram_quality"]))


class _ExternalReference(beam.PTransform):
    """pipeline -> (domain -> count vector, the pool of all): from synthetic_by_domain files."""

    def __init__(self, files: list[str], model: str):
        super().__init__()
        self.files, self.model = files, model

    def expand(self, pipeline):
        # domain -> (crawl, count vector)
        reference = (
            pipeline
            | "reference files" >> beam.Create(self.files)
            | "read reference"
            >> beam.io.ReadAllFromParquet(
                columns=["crawl", "domain", "histogram", "histogram_quality", "synthetic_model"]
            )
            | "reference by domain" >> beam.Map(reference_row, model=self.model)
        )
        pool = (
            reference
            | "reference pairs" >> beam.Values()
            | "reference pool" >> beam.CombineGlobally(_Pool())
            | "external pool" >> beam.Map(lambda p: None if p is None else {**p, "kind": REFERENCE_EXTERNAL})
        )
        return reference | "reference vectors" >> beam.MapTuple(lambda d, cv: (d, cv[1])), pool


class _OwnPreLlmReference(beam.PTransform):
    """((crawl, domain, cohort), vector) -> (domain -> pre_llm count vector, the pool of all, or None
    below MIN_REFERENCE_DOCS scored documents): this run's pre_llm documents."""

    def __init__(self, bins: ScoreBins):
        super().__init__()
        self.bins = bins

    def expand(self, counts):
        bins = self.bins
        pre = counts | "pre_llm only" >> beam.Filter(lambda kv: kv[0][2] == PRE_LLM)
        pool = (
            pre
            | "pre_llm pairs" >> beam.MapTuple(lambda k, v: (k[0], v))
            | "pre_llm pool" >> beam.CombineGlobally(_Pool())
            | "own pool" >> beam.Map(lambda p: own_pool(None if p is None else p["vector"], bins))
        )
        return pre | "pre_llm by domain" >> beam.MapTuple(lambda k, v: (k[1], v)), pool


class _GroupEstimates(beam.PTransform):
    """((kind, group), summed parts) of every kind -> the estimate of each group of `kind`
    (``population.group_estimate``, with the group under `kind`)."""

    def __init__(self, kind: str, bins: ScoreBins):
        super().__init__()
        self.kind, self.bins = kind, bins

    def expand(self, group_parts):
        kind, bins = self.kind, self.bins
        return (
            group_parts
            | "parts" >> beam.Filter(lambda kv: kv[0][0] == kind)
            | "estimate" >> beam.MapTuple(lambda key, part: group_record(kind, key[1], part, bins))
        )
