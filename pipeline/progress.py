"""Progress of a running job on the local runner: files read of total, documents, docs/s, ETA.

Workers count what they finish (`transforms.progress.tick`: a file read, an HTML response read, a document extracted) in
memory and, at most once a second, write their process's totals to a small JSON file in the directory
named by the environment variable PRISTINE_PROGRESS_DIR (set by the command line; worker processes of
``--direct_running_mode multi_processing`` inherit it). The `Reporter` thread of the command sums those
files and prints a line: live (rewritten in place) on a terminal, a plain line every ~10 s otherwise.
Without the variable (tests, remote workers) `tick` does nothing. On remote runners the runner's own UI
shows progress (`remote_hint`).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time

from transforms.progress import ENV, tick, write_counts  # noqa: F401  (tick: what workers count, see there)

INTERVAL_ENV = "PRISTINE_PROGRESS_SECONDS"  # seconds between plain lines (default 10)
LOCAL_RUNNERS = (
    None,
    "DirectRunner",
    "direct",
    "FnApiRunner",
    "BundleBasedDirectRunner",
    "SwitchingDirectRunner",
)


def totals(directory: str) -> dict[str, int]:
    """The sum of every worker's counts in `directory`."""
    out: dict[str, int] = {}
    try:
        names = [n for n in os.listdir(directory) if n.endswith(".json")]
    except OSError:
        return out
    for name in names:
        try:
            with open(os.path.join(directory, name)) as f:
                counts = json.load(f)
        except (OSError, ValueError):
            continue
        for key, n in counts.items():
            out[key] = out.get(key, 0) + n
    return out


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def line(counts: dict[str, int], total_files: int | None, elapsed: float) -> str:
    """One progress line: files read / total, HTML responses read, documents extracted, docs/s, ETA.

    ETA: the HTML responses still to extract (those of the files not read yet estimated from the files
    read so far) at the extraction rate so far; '?' until documents are being extracted."""
    files, html = counts.get("files", 0), counts.get("html", 0)
    done = counts.get("extracted", 0) if html else counts.get("scored", 0)  # text input: nothing to extract
    rate = done / elapsed if elapsed > 0 else 0.0
    eta = None
    if files and rate > 0:
        expected = html * (total_files / files) if total_files else html
        eta = max(0.0, expected - done) / rate
    of_total = f"/{total_files}" if total_files else ""
    if not html and done:
        return f"progress: {done:,} documents scored, {rate:.1f} docs/s, elapsed {_clock(elapsed)}"
    return (
        f"progress: files {files}{of_total} read, {html:,} HTML responses, {done:,} documents extracted, "
        f"{rate:.1f} docs/s, elapsed {_clock(elapsed)}, ETA {_clock(eta)}"
    )


def remote_hint(runner: str | None) -> str | None:
    """Where to watch a job on a remote runner (None on the local runner, which prints progress itself)."""
    if runner in LOCAL_RUNNERS:
        return None
    if runner and "Dataflow" in runner:
        return (
            "progress: see the job in the Dataflow console (https://console.cloud.google.com/dataflow/jobs)"
        )
    if runner and "Flink" in runner:
        return "progress: see the job in the Flink web UI (the JobManager's REST port, 8081 by default)"
    return f"progress: see {runner}'s own UI"


class Reporter:
    """Prints progress lines while a job runs (a daemon thread); `stop` prints the last one."""

    def __init__(self, total_files: int | None, out=None, interval: float | None = None):
        self.total_files = total_files
        self.out = out or sys.stderr
        self.live = hasattr(self.out, "isatty") and self.out.isatty()
        default = float(os.environ.get(INTERVAL_ENV, 10.0))
        self.interval = interval if interval is not None else (1.0 if self.live else default)
        self.directory = tempfile.mkdtemp(prefix="pristine-progress-")
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pristine-progress", daemon=True)
        self._previous = os.environ.get(ENV)

    def __enter__(self):
        os.environ[ENV] = self.directory
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def _print(self, final: bool = False) -> None:
        text = line(totals(self.directory), self.total_files, time.monotonic() - self.started)
        if self.live:
            self.out.write("\r\x1b[K" + text + ("\n" if final else ""))
        else:
            self.out.write(text + "\n")
        self.out.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._print()

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join()
        write_counts()  # this process's last counts (the in-memory runner)
        self._print(final=True)
        if self._previous is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = self._previous
        for name in os.listdir(self.directory):
            os.unlink(os.path.join(self.directory, name))
        os.rmdir(self.directory)
