"""Shared fixtures: the real third-party data in ../shared/data (read-only, never copied)."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
WARC_SAMPLES = SHARED_DATA / "warc-samples"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared test data not found at {SHARED_DATA}: the repo must sit beside ../shared")
    return SHARED_DATA
