"""The workers' side of a local job's progress: counts of what this process finished, written to a file.

`tick` counts in memory; a daemon thread writes the process's totals, at most once a second, to a small
JSON file in the directory named by the environment variable PRISTINE_PROGRESS_DIR (set by the command
line, which sums the files: ``pipeline.progress.Reporter``). Without the variable `tick` does nothing.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time

ENV = "PRISTINE_PROGRESS_DIR"
FLUSH_SECONDS = 1.0

_counts: dict[str, int] = {}
_directory: str | None = None  # the job _counts belong to
_dirty = False
_lock = threading.Lock()
_flusher: threading.Thread | None = None


def tick(what: str, n: int = 1, flush: bool = False) -> None:
    """Count `n` of `what` ('files', 'html', 'extracted', 'scored') done in this process; cheap, never raises.
    A daemon thread writes the totals at most once a second (`flush=True`: now)."""
    global _directory, _dirty, _flusher
    directory = os.environ.get(ENV)
    if not directory:
        return
    with _lock:
        if directory != _directory:  # a new job in this process
            _counts.clear()
            _directory = directory
        _counts[what] = _counts.get(what, 0) + n
        _dirty = True
        if _flusher is None:
            _flusher = threading.Thread(
                target=_flush_every_second, name="pristine-progress-flush", daemon=True
            )
            _flusher.start()
    if flush:
        write_counts()


def _flush_every_second() -> None:
    while True:
        time.sleep(FLUSH_SECONDS)
        write_counts()


def write_counts() -> None:
    global _dirty
    with _lock:
        if not _dirty or _directory is None:
            return
        snapshot, directory, _dirty = dict(_counts), _directory, False
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(snapshot, f)
        os.replace(tmp, os.path.join(directory, f"{os.getpid()}.json"))
    except OSError:
        pass  # progress is best effort (the job's directory may be gone): the job goes on
