"""The synthetic-text model: files and operating point, combiner, calibrator and the scorer."""

from __future__ import annotations

import functools
import importlib.resources
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from transforms.quality import normalize_lang
from transforms.synthetic.features import (
    FEATURES,
    FULL_EVIDENCE_WORDS,
    LOG_FEATURES,
    SUPPORTED_LANGS,
    WORD_RE,
    _passage_features,
    count_chatbot_phrases,
    fasttext_line,
    normalize_for_detection,
    passages,
)

# --------------------------------------------------------------------------------------------------
# Model files and the operating point
# --------------------------------------------------------------------------------------------------

MODEL_DIR = "models"  # inside the `transforms` package (package data: Dataflow workers get it)
FASTTEXT_FILE = "synthetic.ftz"
PARAMS_FILE = "synthetic.json"
METRICS_FILE = "synthetic_metrics.json"
MODEL_CARD = "SYNTHETIC_MODEL_CARD.md"

LABEL_SYNTHETIC = "__label__synthetic"
LABEL_HUMAN = "__label__human"


def model_dir() -> Path:
    """The shipped model directory (`transforms/models`, package data)."""
    return Path(str(importlib.resources.files("transforms") / MODEL_DIR))


def _load_params(directory: Path | None = None) -> dict | None:
    path = (directory or model_dir()) / PARAMS_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


_SHIPPED = _load_params() or {}
_OP = _SHIPPED.get("operating_point", {})

#: Calibrated score at or above which a document counts as flagged in population estimates. 0.5 under
#: equal priors is where the likelihood ratio is 1, i.e. the threshold maximising TPR - FPR (Forman's
#: "Max" method), which keeps the variance of the adjusted estimate smallest.
FLAG_THRESHOLD: float = float(_OP.get("threshold", 0.5))
#: TPR / FPR at FLAG_THRESHOLD used by the population estimate: measured on held-out domains and
#: generators (leave-one-domain-out and leave-one-generator-out on L2R, pooled), the situation the web is
#: in. In-domain (held-out L2R pairs) rates are kept too: they are optimistic for the web.
TPR: float | None = _OP.get("out_of_domain", {}).get("tpr")
FPR: float | None = _OP.get("out_of_domain", {}).get("fpr")
TPR_N: int | None = _OP.get("out_of_domain", {}).get("n_pos")
FPR_N: int | None = _OP.get("out_of_domain", {}).get("n_neg")
TPR_IN_DOMAIN: float | None = _OP.get("in_domain", {}).get("tpr")
FPR_IN_DOMAIN: float | None = _OP.get("in_domain", {}).get("fpr")

#: Columns this stage adds to the document row.
SYNTHETIC_COLUMNS: list[tuple[str, pa.DataType, str]] = [
    (
        "synthetic_score",
        pa.float32(),
        "calibrated P(AI-generated) under equal priors, in [0, 1] (null: not English, or no words)",
    ),
    (
        "sample_weight",
        pa.float32(),
        "training weight for the synthetic 'weight' mode: 1 - synthetic_score (1 when the score is null)",
    ),
    (
        "synthetic_phrases",
        pa.int32(),
        "leaked chatbot phrases found ('As an AI language model', 'Sure! Here is a revised version:' ...)",
    ),
]
SYNTHETIC_COLUMN_NAMES = [name for name, _, _ in SYNTHETIC_COLUMNS]


# --------------------------------------------------------------------------------------------------
# The combiner and the calibrator (numpy; fitted by pipeline/train_synthetic.py)
# --------------------------------------------------------------------------------------------------

#: Inputs of the combiner, in order: the fastText margin, then the style features.
INPUTS: tuple[str, ...] = ("fasttext_margin", *FEATURES)


def design_matrix(rows: Iterable[dict]) -> np.ndarray:
    """Rows of {input name: value or None} -> float matrix over INPUTS (NaN = missing; LOG_FEATURES
    as log1p)."""
    x = np.array([[np.nan if r.get(k) is None else r[k] for k in INPUTS] for r in rows], dtype=np.float64)
    x = x.reshape(-1, len(INPUTS))
    for j, name in enumerate(INPUTS):
        if name in LOG_FEATURES:
            x[:, j] = np.log1p(x[:, j])
    return x


class Standardizer:
    """Clip each input to the training range, standardise, and put missing values at the mean (0):
    a feature that cannot be measured contributes nothing. Clipping keeps web pages unlike anything in
    training from extrapolating the linear model."""

    def __init__(self, lo, hi, mean, std):
        self.lo, self.hi = np.asarray(lo, float), np.asarray(hi, float)
        self.mean, self.std = np.asarray(mean, float), np.asarray(std, float)

    @classmethod
    def fit(cls, x: np.ndarray) -> Standardizer:
        lo = np.nanpercentile(x, 0.5, axis=0)
        hi = np.nanpercentile(x, 99.5, axis=0)
        # rare count features (a chatbot phrase in 2% of texts) keep their full range
        rare = hi <= lo
        hi[rare] = np.nanmax(x, axis=0)[rare]
        clipped = np.clip(x, lo, hi)
        mean = np.nanmean(clipped, axis=0)
        std = np.nanstd(clipped, axis=0)
        std[~(std > 0)] = 1.0
        return cls(lo, hi, mean, std)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        z = (np.clip(x, self.lo, self.hi) - self.mean) / self.std
        return np.where(np.isnan(z), 0.0, z)

    def to_dict(self) -> dict:
        return {k: getattr(self, k).tolist() for k in ("lo", "hi", "mean", "std")}


def fit_logistic(
    z: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None, l2: float = 1.0, max_iter: int = 100
) -> tuple[np.ndarray, float]:
    """L2-penalised logistic regression by Newton's method (IRLS): (coefficients, intercept).

    `weights` default to balanced classes (each class weighs half). The intercept is not penalised.
    """
    y = np.asarray(y, dtype=np.float64)
    n, d = z.shape
    if weights is None:
        pos = y.mean()
        weights = np.where(y == 1, 0.5 / pos, 0.5 / (1 - pos))
    a = np.hstack([z, np.ones((n, 1))])
    beta = np.zeros(d + 1)
    penalty = l2 * np.eye(d + 1)
    penalty[-1, -1] = 0.0
    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(-np.clip(a @ beta, -35, 35)))
        grad = a.T @ (weights * (p - y)) + penalty @ beta
        hess = (a * (weights * p * (1 - p))[:, None]).T @ a + penalty
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-10:
            break
    return beta[:-1], float(beta[-1])


def fit_isotonic(
    x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None, prior: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Isotonic (non-decreasing) regression of y on x by pool-adjacent-violators: (knots x, knots y).

    Each block's value is smoothed towards 0.5 by `prior` pseudo-observations (so no score is exactly 0
    or 1), and sits at the weighted mean x of its block; ``calibrate`` interpolates linearly between
    knots and holds the end values beyond them.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, float)
    order = np.argsort(x, kind="mergesort")
    x, y, w = x[order], y[order], w[order]
    # tied x values form one initial block
    uniq, start = np.unique(x, return_index=True)
    sw = np.add.reduceat(w, start)
    swy = np.add.reduceat(w * y, start)
    swx = np.add.reduceat(w * x, start)
    blocks: list[list[float]] = []  # [sum w, sum w*y, sum w*x]
    for i in range(len(uniq)):
        blocks.append([sw[i], swy[i], swx[i]])
        while len(blocks) > 1 and blocks[-2][1] / blocks[-2][0] >= blocks[-1][1] / blocks[-1][0]:
            b = blocks.pop()
            blocks[-1] = [blocks[-1][0] + b[0], blocks[-1][1] + b[1], blocks[-1][2] + b[2]]
    knots_x = np.array([b[2] / b[0] for b in blocks])
    knots_y = np.array([(b[1] + 0.5 * prior) / (b[0] + prior) for b in blocks])
    return knots_x, knots_y


def calibrate(logits: np.ndarray, knots_x: np.ndarray, knots_y: np.ndarray) -> np.ndarray:
    return np.interp(np.asarray(logits, float), knots_x, knots_y)


def sample_weight(score: float | None) -> float:
    """The synthetic 'weight' mode's training weight: 1 - score (1 when there is no score)."""
    return 1.0 if score is None else float(1.0 - score)


# --------------------------------------------------------------------------------------------------
# The scorer
# --------------------------------------------------------------------------------------------------


class SyntheticScorer:
    """The shipped synthetic-text model: fastText margin + style features -> logistic combiner ->
    isotonic calibration. Load once per worker (``DoFn.setup``); scoring is thread-compatible, not
    thread-safe (fastText's Python binding)."""

    def __init__(self, params: dict, fasttext_model, directory: Path | None = None):
        self.params = params
        self.directory = directory
        self.ft = fasttext_model
        self.direction = np.asarray(params["fasttext"]["direction"], dtype=np.float64)
        c = params["combiner"]
        if list(c["inputs"]) != list(INPUTS):
            raise ValueError(f"model inputs {c['inputs']} do not match this code's {list(INPUTS)}: retrain")
        self.standardizer = Standardizer(**c["standardizer"])
        self.coef = np.asarray(c["coef"], float)
        self.intercept = float(c["intercept"])
        self.knots_x = np.asarray(params["calibration"]["x"], float)
        self.knots_y = np.asarray(params["calibration"]["y"], float)
        self.threshold = float(params.get("operating_point", {}).get("threshold", FLAG_THRESHOLD))

    @classmethod
    def load(cls, directory: str | Path | None = None) -> SyntheticScorer:
        """Load the model from `directory` (default: the shipped ``transforms/models``)."""
        import fasttext

        d = Path(directory) if directory else model_dir()
        params = _load_params(d)
        if params is None:
            raise FileNotFoundError(
                f"synthetic model parameters {d / PARAMS_FILE} missing or unreadable: run `make models` "
                "(python -m pipeline.train_synthetic)"
            )
        path = d / params["fasttext"]["file"]
        try:
            model = fasttext.load_model(str(path))
        except Exception as exc:  # fastText raises ValueError / RuntimeError on bad files
            raise RuntimeError(f"cannot load fastText model {path}: {exc}") from exc
        return cls(params, model, d)

    # -- pieces ---------------------------------------------------------------------------------

    def margin(self, line: str) -> float:
        """Raw fastText margin (synthetic minus human logit) of one fastText input line: the sentence
        vector times the difference of the two label vectors. Unlike predict()'s probabilities it does
        not saturate, so it ranks well at low false-positive rates."""
        if not line:
            return 0.0
        return float(self.ft.get_sentence_vector(line) @ self.direction)

    def _inputs(self, text: str | None, lang: str | None) -> tuple[list[dict], int, int] | None:
        """Combiner inputs of each passage, chatbot-phrase count, word count; None = not applicable."""
        lang = normalize_lang(lang)
        if lang is not None and lang not in SUPPORTED_LANGS:
            return None
        t = normalize_for_detection(text)
        n_words = len(t.split())
        if not WORD_RE.search(t):
            return None
        n_phrases = count_chatbot_phrases(t, normalized=True)
        rows = []
        for p in passages(t):
            row = _passage_features(p, lang, n_phrases)
            row["fasttext_margin"] = self.margin(fasttext_line(p, normalized=True))
            rows.append(row)
        return rows, n_phrases, n_words

    def _logits(self, rows: list[dict]) -> np.ndarray:
        return self.standardizer(design_matrix(rows)) @ self.coef + self.intercept

    def _finish(self, logit: float, n_words: int) -> float:
        p = float(calibrate(np.array([logit]), self.knots_x, self.knots_y)[0])
        evidence = min(1.0, n_words / FULL_EVIDENCE_WORDS)
        return float(min(1.0, max(0.0, 0.5 + (p - 0.5) * evidence)))

    # -- public API -----------------------------------------------------------------------------

    def _score_one(self, text: str | None, lang: str | None) -> tuple[float | None, int | None]:
        """(score, chatbot phrases) of one text; (None, None) when not applicable."""
        inputs = self._inputs(text, lang)
        if inputs is None:
            return None, None
        rows, n_phrases, n_words = inputs
        return self._finish(float(self._logits(rows).mean()), n_words), n_phrases

    def score_batch(self, texts: Sequence[str | None], langs: Sequence[str | None] | None = None) -> list:
        """Calibrated P(synthetic) in [0, 1] per text (equal priors), or None when not applicable
        (a `lang` other than English, or no word). Without `langs` every text is scored as English.

        A document is scored as passages of training size (``passages``); its logit is the mean of
        theirs, so long pages are neither more nor less confident than a passage.
        """
        langs = langs if langs is not None else [None] * len(texts)
        if len(langs) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(langs)} languages")
        return [self._score_one(text, lang)[0] for text, lang in zip(texts, langs, strict=True)]

    def score(self, text: str | None, lang: str | None = None) -> float | None:
        return self._score_one(text, lang)[0]

    def columns_batch(self, texts: Sequence[str | None], langs: Sequence[str | None] | None = None) -> list:
        """The SYNTHETIC_COLUMNS of each text (dicts ready to update a document row); all None but
        ``sample_weight`` (1.0) where the score is not applicable."""
        langs = langs if langs is not None else [None] * len(texts)
        if len(langs) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(langs)} languages")
        out = []
        for text, lang in zip(texts, langs, strict=True):
            score, phrases = self._score_one(text, lang)
            out.append(
                {
                    "synthetic_score": score,
                    "sample_weight": sample_weight(score),
                    "synthetic_phrases": phrases,
                }
            )
        return out

    def explain(self, text: str | None, lang: str | None = None) -> dict:
        """Why a text scores what it does.

        Returns ``score`` (as score_batch), ``logit`` (combiner output before calibration),
        ``contributions`` ({input: logit contribution}, averaged over passages; with ``intercept`` they
        sum to ``logit``; positive = pushes towards synthetic), ``features`` (raw input values, averaged
        over passages), ``passages`` and ``words``; ``applicable`` is False (and the rest None) for
        other languages and texts without words.
        """
        inputs = self._inputs(text, lang)
        if inputs is None:
            return {
                "applicable": False,
                "score": None,
                "logit": None,
                "intercept": self.intercept,
                "contributions": None,
                "features": None,
                "passages": 0,
                "words": len(normalize_for_detection(text).split()),
            }
        rows, _, n_words = inputs
        z = self.standardizer(design_matrix(rows))
        contrib = (z * self.coef).mean(axis=0)
        logit = float(contrib.sum() + self.intercept)
        raw = {}
        for name in INPUTS:
            vals = [r[name] for r in rows if r.get(name) is not None]
            raw[name] = float(np.mean(vals)) if vals else None
        return {
            "applicable": True,
            "score": self._finish(logit, n_words),
            "logit": logit,
            "intercept": self.intercept,
            "contributions": {name: float(c) for name, c in zip(INPUTS, contrib, strict=True)},
            "features": raw,
            "passages": len(rows),
            "words": n_words,
        }


@functools.cache
def shipped_scorer() -> SyntheticScorer:
    """The shipped model, loaded once per process."""
    return SyntheticScorer.load()
