"""Training: every model pristine trains, from data the project reads or derives itself.

- ``fasttext``: the one fastText wrapper (labelled lines in, a deterministic supervised model out);
- ``quality``: the quality classifier of ``pristine train quality`` (scored by ``transforms.signals.quality_model``);
- ``synthetic``: the shipped synthetic-text model (``make models``, ``pristine train synthetic``; scored at run
  time by ``transforms.synthetic``), with its held-out measurements and model card;
- ``web_text``: the human web text it is trained and tested on (the shared pages as ``pristine run``
  extracts them).

Measuring a model on labelled data afterwards is ``pipeline.evaluate``.
"""
