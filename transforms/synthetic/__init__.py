"""Synthetic (AI-generated) text: a per-document likelihood, its explanation, and population estimates.

Per-document detectors are brittle outside their training data; population estimates are far more
trustworthy. This module has both, as pure functions (no Beam at import):

- ``normalize_for_detection(text)``: whitespace, quotes, dashes, ellipses, cp1252 mojibake -> one form, so
  that neither the model nor the features learn how a data set was *typeset* instead of who wrote it.
- ``style_features(text, lang)``: cheap, robust style signals (``FEATURES``).
- ``SyntheticScorer``: the shipped model (``transforms/models/``: a small fastText classifier scored by its
  raw margin, a logistic-regression combiner of that margin with the style features, and an isotonic
  calibrator), with ``score_batch`` (calibrated P(synthetic) in [0, 1]) and ``explain`` (per-feature
  contributions in logit units). Trained by ``pipeline/train/synthetic/``; see
  ``transforms/models/SYNTHETIC_MODEL_CARD.md`` for data, licence, metrics and blind spots.
- ``auroc``, ``tpr_at_fpr``, ``ece``: the metrics every report uses.
- ``mixture_estimate``, ``domain_estimate``, ``group_estimate``: the AI share of a group of documents as
  the excess of its score histogram over a human reference of the same kind (``population``), and
  ``EstimateSyntheticShare`` (``transforms.synthetic.beam``) per domain, crawl and cohort in one pass;
  ``adjusted_share`` (adjusted classify-and-count) for labelled evaluation sets.

Scores are calibrated to *equal class priors*: 0.5 means "as likely human as synthetic", whatever the
share of synthetic text in the training set (4:1 in L2R) or on the web (unknown, and what the population
estimate is for). Only English is scored (``SUPPORTED_LANGS``): the model and most features are English;
other languages, and texts without a word, get ``None`` (not applicable), like the quality signals do.
"""

from transforms.synthetic.features import *  # noqa: F403
from transforms.synthetic.metrics import *  # noqa: F403
from transforms.synthetic.model import *  # noqa: F403
from transforms.synthetic.population import *  # noqa: F403
