"""The signals stage: every per-document signal a row gets before dedup and decide.

Modules: ``langid`` (fastText lid.176), ``quality`` (Gopher, C4 and FineWeb heuristics, one column each),
``quality_model`` (scoring with an optional fastText quality classifier, trained by
``pipeline.train.quality``), ``score`` (every signal
of a batch of rows in one call, language, quality and synthetic likelihood, used by the pipeline and by
`pristine score` alike) and ``beam`` (the ``Score`` composite). The synthetic likelihood itself lives in
``transforms.synthetic``.
"""

from transforms.signals.langid import identify, lid176_path, load_model
from transforms.signals.quality import quality_signals, words
from transforms.signals.quality_model import QualityModel
from transforms.signals.score import Scorers, score_rows

__all__ = [
    "QualityModel",
    "Scorers",
    "identify",
    "lid176_path",
    "load_model",
    "quality_signals",
    "score_rows",
    "words",
]
