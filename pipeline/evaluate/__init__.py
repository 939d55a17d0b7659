"""Evaluation: how well a stage or a model does on annotated shared data.

- ``extraction``: main-text extraction against the AEB benchmark's hand-annotated article bodies
  (``python -m pipeline.evaluate.extraction aeb``);
- ``synthetic``: the synthetic-text score on labelled text and the false-positive rate on held-out human web
  text (``pristine evaluate synthetic``).

The held-out measurements made while training the synthetic model (they set its operating point) are part
of its training: ``pipeline.train.synthetic.heldout``.
"""
