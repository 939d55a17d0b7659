"""What the command line rejects before anything runs, without loading Apache Beam: `UsageError` (printed as
one line, exit code 2) and the checks of a thresholds config and a quality model. The checks that list
files or probe the output through Beam's FileSystems are in `pipeline.run`."""

from __future__ import annotations


class UsageError(Exception):
    """A mistake in the command line or its inputs: printed as one line, exit code 2."""


def check_thresholds(path: str | None) -> None:
    from transforms.decide import load_thresholds

    try:
        load_thresholds(path)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def check_model(path: str | None, what: str) -> None:
    if path is None:
        return
    from transforms.signals.quality_model import QualityModel

    try:
        QualityModel.load(path)
    except (RuntimeError, ValueError) as exc:
        raise UsageError(f"{what} {path!r}: {exc}") from exc
