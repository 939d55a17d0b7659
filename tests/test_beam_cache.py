"""pipeline.beam_cache: the caches change how often Beam inspects, never what it finds."""

from __future__ import annotations

import copy

import apache_beam as beam
import pytest
from apache_beam.coders import VarIntCoder
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions, TypeOptions
from apache_beam.portability.api import beam_runner_api_pb2
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms import userstate

from pipeline import graph, options
from pipeline.beam_cache import cached_inspection
from tests.conftest import REPO

BAG = userstate.BagStateSpec("seen", VarIntCoder())
TIMER = userstate.TimerSpec("flush", userstate.TimeDomain.WATERMARK)
SEEN, FLUSH = beam.DoFn.StateParam(BAG), beam.DoFn.TimerParam(TIMER)  # Beam's parameter defaults


class _Stateful(beam.DoFn):
    def process(self, element, seen=SEEN):
        key, value = element
        seen.add(value)
        yield key, sorted(seen.read())


class _WithTimer(beam.DoFn):
    def process(self, element, flush=FLUSH):
        yield element

    @userstate.on_timer(TIMER)
    def on_flush(self):
        yield "flushed"


class _TwoBags(beam.DoFn):  # invalid: the same state parameter twice
    def process(self, element, a=SEEN, b=SEEN):
        yield element


class _Plain(beam.DoFn):
    def process(self, element):
        yield element


class _Holder:
    def process(self, element, seen=SEEN):
        yield element


def _specs(dofn):
    state, timers = userstate.get_dofn_specs(dofn)
    return sorted(s.name for s in state), sorted(t.name for t in timers)


def test_dofn_specs_are_beams(tmp_path):
    """Stateful, timer, plain and wrapped DoFns, and one holding a bound method of its own (whose specs
    come from that method, not its class): the same specs with the cache, twice, as without it."""
    bound = _Plain()
    bound.keep = _Holder().process  # an instance attribute that is a bound method with a state param
    dofns = [_Stateful(), _WithTimer(), beam.Map(str).fn, beam.FlatMap(lambda x: [x]).fn, _Plain(), bound]
    without = [_specs(d) for d in dofns]
    assert without[:2] == [(["seen"], []), ([], ["ts-flush"])]
    assert without[4:] == [([], []), (["seen"], [])]
    with cached_inspection():
        assert [_specs(d) for d in dofns] == without
        assert [_specs(type(d)() if i < 2 else d) for i, d in enumerate(dofns)] == without
        first = userstate.get_dofn_specs(dofns[0])[0]
        first.clear()  # a caller changing its sets does not change the next caller's
        assert _specs(dofns[0]) == without[0]
        for _ in range(2):  # an invalid DoFn is refused every time, as without the cache
            with pytest.raises(ValueError, match="duplicate"):
                userstate.validate_stateful_dofn(_TwoBags())


def test_stateful_dofn_runs_with_the_cache():
    """A DoFn's state is found when the local runner builds its bundle processors inside the block."""
    with cached_inspection():
        with beam.Pipeline(options=PipelineOptions(runner="FnApiRunner")) as p:
            out = p | beam.Create([("a", 1), ("a", 2), ("b", 5)]) | beam.ParDo(_Stateful())
            last = out | beam.CombinePerKey(lambda lists: max(lists, key=len))
            assert_that(last, equal_to([("a", [1, 2]), ("b", [5])]))


def _translated(proto):
    """The graph's proto without its pickles (cloudpickle's bytes differ between two builds of one graph);
    every ParDo's other fields (state and timer specs, stateful processing, side inputs) stay."""
    proto = type(proto).FromString(proto.SerializeToString())
    for transform in proto.components.transforms.values():
        if transform.spec.urn == "beam:transform:pardo:v1":
            payload = beam_runner_api_pb2.ParDoPayload.FromString(transform.spec.payload)
            payload.do_fn.payload = b""
            transform.spec.payload = payload.SerializeToString()
        elif transform.spec.urn == "beam:transform:pickled_python:v1":
            transform.spec.payload = b""
    return proto


def test_pristine_graph_is_the_same_with_the_caches(tmp_path):
    opts = options.parse(["--input", str(REPO / "sample" / "whirlwind.warc.gz"), "--output", str(tmp_path)])
    ours = opts.view_as(options.PristineOptions)

    def build():
        pipeline = beam.Pipeline(options=opts)
        graph.build(pipeline, ours, str(tmp_path / "staging"))
        return _translated(pipeline.to_runner_api())

    without = build()
    with cached_inspection():
        cached = build()
    pardos = [t for t in without.components.transforms.values() if t.spec.urn == "beam:transform:pardo:v1"]
    assert len(pardos) > 100
    assert cached == without


def test_views_share_their_values():
    opts = PipelineOptions(["--runner", "FnApiRunner"])
    with cached_inspection():
        view = opts.view_as(StandardOptions)
        assert opts.view_as(StandardOptions) is view
        view.runner = "DirectRunner"
        assert opts.view_as(StandardOptions).runner == "DirectRunner"
        assert opts.get_all_options()["runner"] == "DirectRunner"
        opts.view_as(TypeOptions).pipeline_type_check = False
        assert view.view_as(TypeOptions).pipeline_type_check is False  # a view of a view: the same values
        twin = copy.deepcopy(opts)  # as beam.Pipeline copies its options: its own values from then on
        twin.view_as(StandardOptions).runner = "FlinkRunner"
        assert opts.view_as(StandardOptions).runner == "DirectRunner"
        assert twin.view_as(StandardOptions).runner == "FlinkRunner"
    assert opts.view_as(StandardOptions).runner == "DirectRunner"  # and after the block, without the cache


def test_beam_is_restored_after_the_block():
    specs, view_as = userstate.get_dofn_specs, PipelineOptions.view_as
    with pytest.raises(RuntimeError), cached_inspection():
        assert userstate.get_dofn_specs is not specs and PipelineOptions.view_as is not view_as
        raise RuntimeError("a failed build")
    assert userstate.get_dofn_specs is specs and PipelineOptions.view_as is view_as
