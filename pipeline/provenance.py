"""What produced a run: recorded in stats.json (``provenance``) and in every Parquet file's key-value metadata.

``run_record`` gathers, on the machine that launches the job: pristine's version and git commit, the full
command line and the Beam options given, the extractor, the thresholds config (its path, sha256 and whole
content) and the sha256 of every model file that scores rows (lid.176, the shipped synthetic model, a
``--quality-model``). A recurated run records the config it applied and the run it re-decided.

Read it back: ``json.loads(pq.read_metadata(path).metadata[b"pristine"])`` or ``stats.json["provenance"]``.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.resources
import json
import subprocess
import sys
from pathlib import Path

PARQUET_KEY = "pristine"  # the Parquet key-value metadata key holding the record as JSON


def sha256_of(path: str | Path) -> str | None:
    """sha256 (hex) of a local file or any Beam filesystem path; None when it cannot be read."""
    digest = hashlib.sha256()
    try:
        if "://" in str(path):
            from apache_beam.io.filesystems import FileSystems

            f = FileSystems.open(str(path), compression_type="uncompressed")
        else:
            f = open(path, "rb")  # noqa: SIM115 - closed below
        with f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def package_version() -> str | None:
    try:
        return importlib.metadata.version("pristine")
    except importlib.metadata.PackageNotFoundError:
        return None


def git_commit() -> dict | None:
    """{commit, dirty} of the checkout pristine runs from; None when it is no git checkout."""
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return None
        # --no-optional-locks: status must not take .git/index.lock to refresh the index, or a run killed
        # at this moment (Ctrl-C, a resumed backfill's kill) leaves the lock behind and git refuses to work
        status = subprocess.run(
            ["git", "--no-optional-locks", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


def thresholds_record(path: str | None) -> dict:
    """The thresholds config a run decided with: path, sha256 and content (the packaged default if None)."""
    from transforms.decide import default_thresholds_path

    resolved = Path(path) if path else default_thresholds_path()
    try:
        content = resolved.read_bytes()
    except OSError:
        return {"path": str(resolved), "sha256": None, "content": None}
    return {
        "path": str(resolved),
        "sha256": hashlib.sha256(content).hexdigest(),
        "content": content.decode("utf-8", "replace"),
    }


def model_files(quality_model: str | None = None) -> dict[str, str | None]:
    """{file: sha256} of every model that scores rows: lid.176, the shipped models, a quality model."""
    from transforms.signals.langid import lid176_path

    models: dict[str, str | None] = {}
    try:
        lid = lid176_path()
        models[Path(lid).name] = sha256_of(lid)
    except FileNotFoundError:
        models["lid.176.ftz"] = None
    shipped = Path(str(importlib.resources.files("transforms") / "models"))
    for path in sorted(shipped.glob("*")):
        if path.is_file() and path.suffix != ".md" and "metrics" not in path.name:
            models[f"transforms/models/{path.name}"] = sha256_of(path)
    if quality_model:
        models[quality_model] = sha256_of(quality_model)
    return models


def beam_options(options) -> dict:
    """The pipeline options given (not every default), JSON-safe."""
    given = options.get_all_options(drop_default=True, retain_unknown_options=True)
    return json.loads(json.dumps(given, default=str))


def run_record(
    options, extractor: str | None, thresholds: str | None, quality_model: str | None, **extra
) -> dict:
    """What produced this run (see the module docstring); `extra` adds e.g. recurated_from."""
    return {
        "pristine_version": package_version(),
        "git": git_commit(),
        "python": sys.version.split()[0],
        "command_line": list(sys.argv),
        "beam_options": beam_options(options),
        "extractor": extractor,
        "thresholds": thresholds_record(thresholds),
        "models": model_files(quality_model),
        **extra,
    }


def parquet_metadata(record: dict | None) -> dict[bytes, bytes]:
    """The record as Parquet key-value metadata ({b'pristine': JSON})."""
    if not record:
        return {}
    return {PARQUET_KEY.encode(): json.dumps(record, sort_keys=True).encode()}
