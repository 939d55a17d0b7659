"""The synthetic-text model: files and operating point, combiner, calibrator and the scorer."""

from __future__ import annotations

import functools
import importlib.resources
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from transforms.schema import SYNTHETIC_COLUMN_NAMES, SYNTHETIC_COLUMNS  # noqa: F401  (exported)
from transforms.synthetic.features import (
    ABSTAIN_NOT_ENGLISH,
    CHATBOT_CAP,
    FEATURES,
    LLM_WORDS,
    LOG_FEATURES,
    MIN_PROSE_FRACTION,
    MIN_PROSE_WORDS,
    MIN_WORDS,
    SAMPLE_CHARS,
    SUPPORTED_LANGS,
    WORD_RE,
    _passage_features,
    abstain_reason,
    count_chatbot_phrases,
    count_markdown,
    fasttext_line,
    normalize_for_detection,
    prose_lines,
    prose_sample,
)
from transforms.text import normalize_lang

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

#: Calibrated score at or above which a document counts as flagged: chosen in training at a measured
#: false-positive rate of ~1.5% on held-out pre-LLM web text (the calibration split of the pipeline's own
#: extraction of the shared web pages), not at 0.5.
FLAG_THRESHOLD: float = float(_OP.get("threshold", 0.5))
#: TPR / FPR at FLAG_THRESHOLD used by the population estimate: FPR on held-out (test split) pre-LLM
#: human web text, TPR on held-out AI text (L2R rewrites, pooled leave-one-generator-out: each scored by a
#: model trained without its generator). In-domain (held-out L2R pairs) rates are kept too.
TPR: float | None = _OP.get("out_of_domain", {}).get("tpr")
FPR: float | None = _OP.get("out_of_domain", {}).get("fpr")
TPR_N: int | None = _OP.get("out_of_domain", {}).get("n_pos")
FPR_N: int | None = _OP.get("out_of_domain", {}).get("n_neg")
TPR_IN_DOMAIN: float | None = _OP.get("in_domain", {}).get("tpr")
FPR_IN_DOMAIN: float | None = _OP.get("in_domain", {}).get("fpr")


# --------------------------------------------------------------------------------------------------
# The combiner and the calibrator (numpy; fitted by pipeline/train/synthetic/)
# --------------------------------------------------------------------------------------------------

#: Inputs of the combiner, in order: the fastText margin, then the style features.
INPUTS: tuple[str, ...] = ("fasttext_margin", *FEATURES)


def design_matrix(rows: Iterable[dict], inputs: Sequence[str] = INPUTS) -> np.ndarray:
    """Rows of {input name: value or None} -> float matrix over `inputs` (NaN = missing; LOG_FEATURES
    as log1p)."""
    x = np.array([[np.nan if r.get(k) is None else r[k] for k in inputs] for r in rows], dtype=np.float64)
    x = x.reshape(-1, len(inputs))
    for j, name in enumerate(inputs):
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


# fit_logistic and fit_isotonic stay hand-written (numpy, ~60 lines): `make models` must give the same bytes,
# and scikit-learn's lbfgs LogisticRegression stops at a tolerance (its coefficients would move the shipped
# synthetic.json), while its IsotonicRegression has neither the block-mean knots nor the prior smoothing.
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
    """The shipped synthetic-text model. Per document: normalise; keep the prose lines (``prose_lines``);
    abstain when there is nothing to judge (``abstain_reason``); else read an evenly spread sample of at
    most SAMPLE_CHARS of the prose (``prose_sample``): one fastText margin plus the few style features the
    model uses -> logistic combiner -> isotonic calibration. Load once per worker (``DoFn.setup``);
    scoring is thread-compatible, not thread-safe (fastText's Python binding)."""

    def __init__(self, params: dict, fasttext_model, directory: Path | None = None):
        self.params = params
        self.directory = directory
        self.ft = fasttext_model
        self.direction = np.asarray(params["fasttext"]["direction"], dtype=np.float64)
        c = params["combiner"]
        self.inputs = tuple(c["inputs"])
        unknown = [name for name in self.inputs if name not in INPUTS]
        if unknown or not self.inputs or self.inputs[0] != "fasttext_margin":
            raise ValueError(
                f"model inputs {list(self.inputs)} do not match this code's {list(INPUTS)}: retrain"
            )
        self._log = np.array([name in LOG_FEATURES for name in self.inputs])
        self._fast = set(self.inputs) <= _FAST_INPUTS
        self.standardizer = Standardizer(**c["standardizer"])
        self.coef = np.asarray(c["coef"], float)
        self.intercept = float(c["intercept"])
        self.knots_x = np.asarray(params["calibration"]["x"], float)
        self.knots_y = np.asarray(params["calibration"]["y"], float)
        self.threshold = float(params.get("operating_point", {}).get("threshold", FLAG_THRESHOLD))
        rule = params.get("abstain", {})
        self.rule = {
            "min_words": int(rule.get("min_words", MIN_WORDS)),
            "min_prose_words": int(rule.get("min_prose_words", MIN_PROSE_WORDS)),
            "min_prose_fraction": float(rule.get("min_prose_fraction", MIN_PROSE_FRACTION)),
        }
        self.sample_chars = int(params.get("sample_chars", SAMPLE_CHARS))

    @classmethod
    def load(cls, directory: str | Path | None = None) -> SyntheticScorer:
        """Load the model from `directory` (default: the shipped ``transforms/models``)."""
        import fasttext

        d = Path(directory) if directory else model_dir()
        params = _load_params(d)
        if params is None:
            raise FileNotFoundError(
                f"synthetic model parameters {d / PARAMS_FILE} missing or unreadable: run `make models` "
                "(python -m pipeline.train.synthetic)"
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

    def prepare(self, text: str | None, lang: str | None) -> tuple[str | None, str, int | None]:
        """(abstain reason or None, the prose sample that is scored, chatbot phrases in the whole text)."""
        lang = normalize_lang(lang)
        if lang is not None and lang not in SUPPORTED_LANGS:
            return ABSTAIN_NOT_ENGLISH, "", None
        t = normalize_for_detection(text)
        n_phrases = count_chatbot_phrases(t, normalized=True) if t else 0
        n_words, prose_words, lines = prose_lines(t)
        reason = abstain_reason(lang, n_words, prose_words, **self.rule)
        if reason is not None:
            return reason, "", n_phrases
        return None, prose_sample(lines, self.sample_chars), n_phrases

    def sample_inputs(self, sample: str, n_phrases: int, lang: str | None = None) -> np.ndarray:
        """The combiner inputs (model order, LOG_FEATURES as log1p, NaN = missing) of one prose sample."""
        row = sample_features(sample, n_phrases, self.inputs, lang)
        row["fasttext_margin"] = self.margin(fasttext_line(sample, normalized=True))
        x = np.array([np.nan if row.get(k) is None else row[k] for k in self.inputs], dtype=np.float64)
        x[self._log] = np.log1p(x[self._log])
        return x

    def _logit(self, x: np.ndarray) -> float:
        return float(self.standardizer(x[None, :])[0] @ self.coef + self.intercept)

    def _finish(self, logit: float) -> float:
        return float(calibrate(np.array([logit]), self.knots_x, self.knots_y)[0])

    # -- public API -----------------------------------------------------------------------------

    def score_one(
        self, text: str | None, lang: str | None = None
    ) -> tuple[float | None, str | None, int | None]:
        """(score, abstain reason, chatbot phrases) of one text; score None when it abstains."""
        reason, sample, n_phrases = self.prepare(text, lang)
        if reason is not None:
            return None, reason, n_phrases
        return self._finish(self._logit(self.sample_inputs(sample, n_phrases, lang))), None, n_phrases

    def score_batch(self, texts: Sequence[str | None], langs: Sequence[str | None] | None = None) -> list:
        """Calibrated P(synthetic) in [0, 1] per text (see the model card for the prior), or None where
        the scorer abstains (``abstain_reason``: not English, too short, not prose). Without `langs` every
        text is taken as English."""
        langs = langs if langs is not None else [None] * len(texts)
        if len(langs) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(langs)} languages")
        return [self.score_one(text, lang)[0] for text, lang in zip(texts, langs, strict=True)]

    def score(self, text: str | None, lang: str | None = None) -> float | None:
        return self.score_one(text, lang)[0]

    def columns_batch(self, texts: Sequence[str | None], langs: Sequence[str | None] | None = None) -> list:
        """The SYNTHETIC_COLUMNS of each text (dicts ready to update a document row). Where the scorer
        abstains: score None, ``sample_weight`` 1.0 and ``synthetic_abstain_reason`` set."""
        langs = langs if langs is not None else [None] * len(texts)
        if len(langs) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(langs)} languages")
        out = []
        for text, lang in zip(texts, langs, strict=True):
            score, reason, phrases = self.score_one(text, lang)
            out.append(
                {
                    "synthetic_score": score,
                    "sample_weight": sample_weight(score),
                    "synthetic_phrases": phrases,
                    "synthetic_abstain_reason": reason,
                }
            )
        return out

    def explain(self, text: str | None, lang: str | None = None) -> dict:
        """Why a text scores what it does.

        Returns ``score`` (as score_batch), ``logit`` (combiner output before calibration),
        ``contributions`` ({input: logit contribution}; with ``intercept`` they sum to ``logit``;
        positive = pushes towards synthetic), ``features`` (raw input values), ``sample`` (the prose that
        was read) and ``abstain_reason``; ``applicable`` is False (and the rest None) where it abstains.
        """
        reason, sample, n_phrases = self.prepare(text, lang)
        if reason is not None:
            return {
                "applicable": False,
                "abstain_reason": reason,
                "score": None,
                "logit": None,
                "intercept": self.intercept,
                "contributions": None,
                "features": None,
                "sample": None,
            }
        x = self.sample_inputs(sample, n_phrases, lang)
        contrib = self.standardizer(x[None, :])[0] * self.coef
        logit = float(contrib.sum() + self.intercept)
        return {
            "applicable": True,
            "abstain_reason": None,
            "score": self._finish(logit),
            "logit": logit,
            "intercept": self.intercept,
            "contributions": {name: float(c) for name, c in zip(self.inputs, contrib, strict=True)},
            "features": {
                name: (None if np.isnan(v) else float(np.expm1(v) if lg else v))
                for name, v, lg in zip(self.inputs, x, self._log, strict=True)
            },
            "sample": sample,
        }


#: Inputs computed without the full feature pass (``sample_features``' fast path).
_FAST_INPUTS = frozenset({"fasttext_margin", "chatbot_phrases", "llm_vocab_rate", "markdown_rate"})


def sample_features(
    sample: str, n_phrases: int | None, inputs: Sequence[str] = INPUTS, lang: str | None = None
) -> dict[str, float | None]:
    """Style features (raw values) of a normalised prose sample; only `inputs` are guaranteed. The few
    features the shipped model uses are computed directly; any other set takes ``_passage_features``."""
    if not set(inputs) <= _FAST_INPUTS:
        return _passage_features(sample, lang, n_phrases)
    out: dict[str, float | None] = {}
    if "chatbot_phrases" in inputs:
        out["chatbot_phrases"] = None if n_phrases is None else float(min(CHATBOT_CAP, n_phrases))
    if "llm_vocab_rate" in inputs:
        ws = WORD_RE.findall(sample.lower())
        out["llm_vocab_rate"] = 100.0 * sum(1 for w in ws if w in LLM_WORDS) / len(ws) if ws else None
    if "markdown_rate" in inputs:
        n_tokens = len(sample.split())
        out["markdown_rate"] = 100.0 * count_markdown(sample) / n_tokens if n_tokens else None
    return out


@functools.cache
def shipped_scorer() -> SyntheticScorer:
    """The shipped model, loaded once per process."""
    return SyntheticScorer.load()
