"""Within `cached_inspection()`, Beam inspects each DoFn class once and parses the option flags once per view.

Beam repeats two pieces of work that give the same answer every time:

1. ``apache_beam.transforms.userstate.get_dofn_specs(dofn)``, a DoFn's state and timer specs, runs
   ``inspect.signature`` on each of the ~30 methods ``dir(dofn)`` lists. Beam calls it four times per ParDo
   while it builds and translates the graph, and twice more per DoFn when the local runner builds its bundle
   processors. The specs are the defaults of the methods' parameters, which belong to the class, so they are
   kept per class. A DoFn holding a bound method of its own (``beam.Map(obj.method)`` stores one) is
   inspected by Beam's function every time, since ``dir(dofn)`` sees that method too.
2. ``PipelineOptions.view_as(cls)`` builds an argparse parser and parses every flag again on each call, and
   Beam calls it about three times per applied transform. A view keeps no values of its own (they live in
   the options' shared ``_all_options``, which every view reads and writes), so one view per options object
   and class serves every call.

Building and translating ``pristine run``'s graph (210 leaf transforms) takes 0.43 instead of 1.33 CPU-s
with them (medians of 5, ``python -m bench.pipeline_bench construction``), and the local runner's bundle
processors are built with them too: a cost every run pays, whatever its input. tests/test_beam_cache.py
checks that the graph built with the caches is the one built without, and that views still share their
values.
"""

from __future__ import annotations

import types
import weakref
from contextlib import contextmanager

from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.transforms import userstate


@contextmanager
def cached_inspection():
    """Cache DoFn specs per class and option views per options object until the block ends (not for two
    threads entering it at once: the second would restore what the first put in place)."""
    beam_specs, beam_view_as = userstate.get_dofn_specs, PipelineOptions.view_as
    specs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # DoFn class -> (state, timer specs)
    views: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # options -> {view class: view}

    def get_dofn_specs(dofn):
        own = getattr(dofn, "__dict__", None)
        if own is None or any(isinstance(value, types.MethodType) for value in own.values()):
            return beam_specs(dofn)
        cls = type(dofn)
        found = specs.get(cls)
        if found is None:
            found = specs[cls] = beam_specs(dofn)  # raises for an invalid DoFn, as without the cache
        return set(found[0]), set(found[1])  # callers get their own sets, as from Beam

    def view_as(options, cls):
        of_options = views.get(options)
        if of_options is None:
            of_options = views[options] = {}
        view = of_options.get(cls)
        if view is None:
            view = of_options[cls] = beam_view_as(options, cls)
        return view

    userstate.get_dofn_specs, PipelineOptions.view_as = get_dofn_specs, view_as
    try:
        yield
    finally:
        userstate.get_dofn_specs, PipelineOptions.view_as = beam_specs, beam_view_as
